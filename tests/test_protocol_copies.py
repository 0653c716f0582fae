"""The addon carries its own copy of the protocol module so it installs by folder copy."""

from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_the_addon_copy_of_the_protocol_module_is_identical():
    canonical = (ROOT / "agent" / "protocol.py").read_bytes()
    copy = (ROOT / "addon" / "pos_restaurant_sync" / "lib" / "protocol.py").read_bytes()
    assert copy == canonical, "edit agent/protocol.py, then copy it over the addon's lib/"
