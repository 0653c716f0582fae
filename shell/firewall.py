"""The peer port in the firewall: the rules the installers add, and what doctor advises.

Tablets of one POS reach each other's agent on the peer port (agent/settings.py:
DEFAULT_PEER_PORT). The Windows installer adds an inbound rule for it on private networks
only, from the local subnet only, and removes it at uninstall (installer/possync.iss runs
the commands built here); the .deb ships a ufw application profile (made here, written by
installer/build.sh) that an administrator allows with `ufw allow possync`.

    python -m shell.firewall port          the default peer port
    python -m shell.firewall ufw-profile   the .deb's /etc/ufw/applications.d/possync
"""

from __future__ import annotations

import sys

from agent.settings import DEFAULT_PEER_PORT
from shell.i18n import _

RULE_NAME = "possync-peer-port"  # the Windows rule; no spaces, so no quoting anywhere
UFW_APP = "possync"
UFW_PROFILE_PATH = "/etc/ufw/applications.d/possync"


def windows_add_rule(port: int = DEFAULT_PEER_PORT) -> list[str]:
    """netsh's command line: TCP in on `port`, private networks, local subnet only."""
    return [
        "netsh", "advfirewall", "firewall", "add", "rule", f"name={RULE_NAME}", "dir=in",
        "action=allow", "protocol=TCP", f"localport={port}", "profile=private",
        "remoteip=localsubnet",
    ]  # fmt: skip


def windows_delete_rule() -> list[str]:
    return ["netsh", "advfirewall", "firewall", "delete", "rule", f"name={RULE_NAME}"]


def ufw_profile(port: int = DEFAULT_PEER_PORT) -> str:
    return (
        f"[{UFW_APP}]\n"
        "title=possync peer port\n"  # i18n: ignore (a ufw profile, not shown)
        "description=possync: the tablets of a POS sync orders with each other over the LAN"
        " (TLS)\n"  # i18n: ignore
        f"ports={port}/tcp\n"
    )


def open_port_hint(port: int, platform: str | None = None) -> str:
    """How to let the other tablets in, in the words of this platform's firewall (this
    one's, read at the call, unless given)."""
    platform = platform or sys.platform
    if platform == "win32":
        command = " ".join(windows_add_rule(port))
        return _(
            "Allow it in Windows Defender Firewall for private networks: the installer does "
            "this when run as administrator, or run as administrator: {command} "
            "(and set this Wi-Fi to a private network)."
        ).format(command=command)
    if platform.startswith("linux"):
        return _(
            "If a firewall is on, allow it: sudo ufw allow {app} "
            "(or open TCP port {port} from the LAN in your firewall)."
        ).format(app=UFW_APP, port=port)
    return _("Allow incoming TCP connections on port {port} from the LAN in the firewall.").format(
        port=port
    )


def main(argv: list[str]) -> int:
    if argv == ["port"]:
        print(DEFAULT_PEER_PORT)
    elif argv == ["ufw-profile"]:
        print(ufw_profile(), end="")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
