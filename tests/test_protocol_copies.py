"""The addon carries its own copy of the protocol module so it installs by folder copy."""

from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_the_addon_copy_of_the_protocol_module_is_identical():
    canonical = (ROOT / "agent" / "protocol.py").read_bytes()
    copy = (ROOT / "addon" / "pos_restaurant_sync" / "lib" / "protocol.py").read_bytes()
    assert copy == canonical, "edit agent/protocol.py, then copy it over the addon's lib/"


def test_the_agent_and_the_addon_name_the_same_lan_ranges() -> None:
    """A fixed LAN address passes the same IPv4 ranges on the server (what a manager types)
    and in the agent (what a name resolves to): agent/lan_range.py copies the addon's."""
    from agent import lan_range
    from tests import addon_lib

    assert set(lan_range.LAN_V4) == set(addon_lib.load("lan_address").IPV4_LAN)
