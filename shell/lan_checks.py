"""`possync doctor`'s LAN checks: can the other tablets of the POS reach this one's agent?

During a server outage the tablets sync with each other on the peer port, found by mDNS
(agent/discovery.py), at the fixed addresses a POS manager set on the server (Sync
Devices), or listed in the agent's `peers` setting. Four checks, all of the running agent
(they say so and skip when possync is not running):

- Peer port: the agent answers on each LAN address it announces (a connection to this
  machine's own address, so it proves the port listens there, not that the firewall lets
  the others in: on Windows the installer's firewall rule is looked for too);
- mDNS: a short browse sees the other tablets of this POS;
- Peers: the tablets the server lists against those this agent reached; none reached and
  none seen while the server lists some looks like a Wi-Fi that keeps its clients apart;
- Fixed addresses: each address set on the server answers, and the agent reached that
  tablet there.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent import discovery, runtime
from agent.devices import fixed_url
from agent.peers import peer_url
from agent.settings import Settings as AgentSettings
from agent.settings import SettingsError
from agent.settings import load as load_agent_settings
from shell import firewall, paths, status
from shell.checks import Result, failed, passed, skipped, warned
from shell.i18n import N_, _
from shell.settings import Settings

BROWSE_S = 3.0
CONNECT_TIMEOUT_S = 2.0
NAMES = (N_("Peer-port"), N_("mDNS"), N_("Peers"), N_("Fixed-peers"))
SYNC_DEVICES_MENU = N_("Point of Sale > Configuration > Sync Devices")
FIXED_PEERS_HINT = N_(
    "Give each tablet a fixed address (a DHCP reservation on the router), then in Odoo, "
    "{menu} (a POS manager), type it in each tablet's Fixed LAN Address "
    "(e.g. 10.0.0.12); or list the others in this tablet's `peers` setting (agent.toml, "
    "e.g. https://10.0.0.12:{port}); or turn off client (AP) isolation for the POS Wi-Fi."
)

Browse = Callable[[str, float, list[str], str], Awaitable[dict[str, str]]]


def connect(address: str, port: int, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether a TCP connection to address:port opens."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def windows_rule_present() -> bool:
    """Whether the installer's inbound rule for the peer port is in Windows' firewall."""
    command = ["netsh", "advfirewall", "firewall", "show", "rule", f"name={firewall.RULE_NAME}"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@dataclass
class RunningAgent:
    terminal: str
    peer_port: int | None  # None: no device key, so no LAN sync (status["peer_cause"])
    status: dict[str, Any]
    settings: AgentSettings


def running_agent(data_dir: Path) -> RunningAgent | str:
    """The agent running on `data_dir`, or why there is none to check."""
    info = runtime.read(data_dir)
    if not info:
        return _("possync is not running (start it, then run doctor again)")
    answer = status.fetch_status(int(info["page_port"]), str(info["token"]))
    if answer is None:
        return _("the agent on port {port} does not answer").format(port=info["page_port"])
    settings = agent_settings(data_dir)
    if isinstance(settings, str):
        return settings
    port = info.get("peer_port")
    return RunningAgent(str(info["terminal"]), port and int(port), answer, settings)


def agent_settings(data_dir: Path) -> AgentSettings | str:
    """The settings the app's agent runs with (its agent.toml and POSSYNC_* variables),
    or why they cannot be read."""
    try:
        return load_agent_settings({"data_dir": data_dir})
    except SettingsError as exc:
        return _("the agent's settings cannot be read: {error}").format(error=exc)


@dataclass
class Lan:
    """What the LAN checks read and reach; tests replace any part."""

    agent_data_dir: Path = field(default_factory=paths.agent_data_dir)
    browse: Browse = discovery.browse
    connect: Callable[[str, int], bool] = connect
    rule_present: Callable[[], bool] = windows_rule_present
    platform: str = field(default_factory=lambda: sys.platform)  # read when doctor runs
    browse_s: float = BROWSE_S
    find_agent: Callable[[Path], RunningAgent | str] = running_agent


async def checks(settings: Settings, lan: Lan) -> list[Result]:
    agent = lan.find_agent(lan.agent_data_dir)
    if isinstance(agent, str):
        return [skipped(name, agent) for name in NAMES]
    seen = await _browse(settings, agent, lan)
    return [
        _peer_port(agent, lan),
        _mdns(agent, seen),
        _peers(agent, seen, lan.platform),
        _fixed_addresses(agent, lan),
    ]


async def _browse(settings: Settings, agent: RunningAgent, lan: Lan) -> dict[str, str] | None:
    """The other tablets of this POS mDNS sees; None when the agent does not use mDNS."""
    if not agent.settings.mdns or settings.config_id is None:
        return None
    tag = discovery.config_tag(settings.server_url, settings.database, settings.config_id)
    interfaces = agent.settings.mdns_interfaces
    return await lan.browse(tag, lan.browse_s, interfaces, agent.terminal)


def _peer_port(agent: RunningAgent, lan: Lan) -> Result:
    name, port = N_("Peer-port"), agent.peer_port
    if port is None:
        return skipped(name, _("The agent opened no peer port (Peers says why)."))
    addresses = discovery.lan_addresses(agent.settings.peer_host, agent.settings.mdns_interfaces)
    closed = [a for a in addresses if not lan.connect(a, port)]
    if closed:
        return failed(
            name,
            _("The agent does not answer on {addresses}:{port}.").format(
                addresses=", ".join(closed), port=port
            ),
            _(
                "Set the agent's peer_host to 0.0.0.0 (agent.toml) or to this address, and "
                "restart possync. {firewall}"
            ).format(firewall=firewall.open_port_hint(port, lan.platform)),
        )
    where = {"addresses": ", ".join(addresses), "port": port}
    if lan.platform == "win32" and not lan.rule_present():
        return warned(
            name,
            _(
                "The agent listens on {addresses}:{port} for the other tablets, but Windows' "
                "firewall has no rule letting them in."
            ).format(**where),
            firewall.open_port_hint(port, lan.platform),
        )
    return passed(
        name, _("The agent listens on {addresses}:{port} for the other tablets.").format(**where)
    )


def _mdns(agent: RunningAgent, seen: dict[str, str] | None) -> Result:
    if seen is None:
        static = len(agent.settings.peers)
        fixed = len(agent.status.get("fixed_addresses") or {})
        off = _(
            "off in the agent's settings ({static} fixed peer address(es) there, "
            "{fixed} set on the server)."
        ).format(static=static, fixed=fixed)
        return skipped(N_("mDNS"), off)
    if not seen:
        return warned(
            N_("mDNS"),
            _("No other tablet of this POS answers on the LAN."),
            _("Other tablets show up here while possync runs on them, on the same network."),
        )
    # Anyone on the LAN can announce a tablet: only the server's list is named.
    named = set(seen) & set(agent.status.get("devices") or [])
    strangers = len(seen) - len(named)
    if not named:
        return warned(
            N_("mDNS"),
            _(
                "{n} unknown tablet(s) answer for this POS; none is on the server's list."
            ).format(n=strangers),
            _(
                "Register the tablets with the server (start possync on them while it is "
                "reachable)."
            ),
        )
    sees = {"n": len(named), "names": _list(named), "more": strangers}
    if strangers:
        found = _(
            "Sees {n} other tablet(s) of this POS: {names} ({more} more not on the server's list)."
        ).format(**sees)
    else:
        found = _("Sees {n} other tablet(s) of this POS: {names}.").format(**sees)
    return passed(N_("mDNS"), found)


def _peers(agent: RunningAgent, seen: dict[str, str] | None, platform: str) -> Result:
    name, answer, port = N_("Peers"), agent.status, agent.peer_port or agent.settings.peer_port
    if answer.get("peer_cause"):
        return failed(
            name,
            _("No LAN sync: {cause}.").format(cause=answer["peer_cause"]),
            _("Read the agent's log (possync's logs folder) for the details."),
        )
    listed = set(answer.get("devices") or [])
    reached = {peer["terminal"] for peer in answer.get("peers") or []} & listed
    if not listed:
        return passed(name, _("The server lists no other tablet of this POS."))
    if reached:
        return passed(
            name,
            _("Synced with {n} of the {total} other tablet(s) the server lists: {names}.").format(
                n=len(reached), total=len(listed), names=_list(reached)
            ),
        )
    seen_listed = set(seen or {}) & listed
    if seen_listed:
        return warned(
            name,
            _(
                "The server lists {total} other tablet(s); mDNS sees {names}, but no exchange "
                "has worked yet."
            ).format(total=len(listed), names=_list(seen_listed)),
            firewall.open_port_hint(port, platform),
        )
    return warned(
        name,
        _(
            "The server lists {total} other tablet(s) of this POS ({names}), but none is "
            "reachable or seen by mDNS: the Wi-Fi may keep its clients apart (client "
            "isolation), or they are switched off."
        ).format(total=len(listed), names=_list(listed)),
        _(FIXED_PEERS_HINT).format(menu=_(SYNC_DEVICES_MENU), port=port),
    )


def _fixed_addresses(agent: RunningAgent, lan: Lan) -> Result:
    """Each fixed address the server lists: reached as that tablet, open, or closed."""
    name, fixed = N_("Fixed-peers"), agent.status.get("fixed_addresses") or {}
    menu = _(SYNC_DEVICES_MENU)
    if not fixed:
        return skipped(name, _("None set on the server ({menu}).").format(menu=menu))
    closed, unproven = _unreached(agent, fixed, lan)
    if not closed and not unproven:
        reached = _("Reached {names} at the address(es) set on the server.")
        return passed(name, reached.format(names=_list(fixed)))
    where = _("In Odoo, {menu}, check each tablet's Fixed LAN Address").format(menu=menu)
    if closed:
        port_hint = firewall.open_port_hint(agent.settings.peer_port, lan.platform)
        return warned(
            name,
            _("Nothing answers at {addresses}.").format(addresses=", ".join(closed)),
            _(
                "{where} (a DHCP reservation keeps it from changing); possync must be running "
                "there, with its peer port open. {port_hint}"
            ).format(where=where, port_hint=port_hint),
        )
    return warned(
        name,
        _("{addresses} answer(s), but not yet as that tablet.").format(
            addresses=", ".join(unproven)
        ),
        _(
            "{where}: another machine may have that address. Wait a minute and run doctor again."
        ).format(where=where),
    )


def _unreached(agent: RunningAgent, fixed: dict[str, str], lan: Lan) -> tuple[list[str], list[str]]:
    """The fixed addresses the agent has not synced with: (closed, open but unproven)."""
    reached = {peer.get("terminal"): peer.get("url") for peer in agent.status.get("peers") or []}
    closed, unproven = [], []
    for terminal, address in sorted(fixed.items()):
        url = peer_url(fixed_url(address, agent.settings.peer_port))
        if reached.get(terminal) == url:
            continue
        parts = urlsplit(url)
        where = unproven if lan.connect(parts.hostname or "", parts.port or 0) else closed
        where.append(f"{terminal} at {address}")
    return closed, unproven


def _list(terminals: Any) -> str:
    return ", ".join(sorted(terminals))


def run(settings: Settings, lan: Lan | None = None) -> list[Result]:
    return asyncio.run(checks(settings, lan or Lan()))
