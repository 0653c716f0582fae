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
from shell.settings import Settings

BROWSE_S = 3.0
CONNECT_TIMEOUT_S = 2.0
NAMES = ("Peer-port", "mDNS", "Peers", "Fixed-peers")
SYNC_DEVICES_MENU = "Point of Sale > Configuration > Sync Devices"
FIXED_PEERS_HINT = (
    "Give each tablet a fixed address (a DHCP reservation on the router), then in Odoo, "
    f"{SYNC_DEVICES_MENU} (a POS manager), type it in each tablet's Fixed LAN Address "
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
        return "possync is not running (start it, then run doctor again)"
    answer = status.fetch_status(int(info["page_port"]), str(info["token"]))
    if answer is None:
        return f"the agent on port {info['page_port']} does not answer"
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
        return f"the agent's settings cannot be read: {exc}"


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
    name, port = "Peer-port", agent.peer_port
    if port is None:
        return skipped(name, "The agent opened no peer port (Peers says why).")
    addresses = discovery.lan_addresses(agent.settings.peer_host, agent.settings.mdns_interfaces)
    closed = [a for a in addresses if not lan.connect(a, port)]
    if closed:
        return failed(
            name,
            f"The agent does not answer on {', '.join(closed)}:{port}.",
            f"Set the agent's peer_host to 0.0.0.0 (agent.toml) or to this address, and "
            f"restart possync. {firewall.open_port_hint(port, lan.platform)}",
        )
    listening = f"The agent listens on {', '.join(addresses)}:{port} for the other tablets"
    if lan.platform == "win32" and not lan.rule_present():
        return warned(
            name,
            f"{listening}, but Windows' firewall has no rule letting them in.",
            firewall.open_port_hint(port, lan.platform),
        )
    return passed(name, f"{listening}.")


def _mdns(agent: RunningAgent, seen: dict[str, str] | None) -> Result:
    if seen is None:
        static = len(agent.settings.peers)
        fixed = len(agent.status.get("fixed_addresses") or {})
        return skipped(
            "mDNS",
            f"off in the agent's settings ({static} fixed peer address(es) there, "
            f"{fixed} set on the server).",
        )
    if not seen:
        return warned(
            "mDNS",
            "No other tablet of this POS answers on the LAN.",
            "Other tablets show up here while possync runs on them, on the same network.",
        )
    # Anyone on the LAN can announce a tablet: only the server's list is named.
    named = set(seen) & set(agent.status.get("devices") or [])
    strangers = len(seen) - len(named)
    if not named:
        return warned(
            "mDNS",
            f"{strangers} unknown tablet(s) answer for this POS; none is on the server's list.",
            "Register the tablets with the server (start possync on them while it is reachable).",
        )
    also = f" ({strangers} more not on the server's list)" if strangers else ""
    return passed("mDNS", f"Sees {len(named)} other tablet(s) of this POS: {_list(named)}{also}.")


def _peers(agent: RunningAgent, seen: dict[str, str] | None, platform: str) -> Result:
    name, answer, port = "Peers", agent.status, agent.peer_port or agent.settings.peer_port
    if answer.get("peer_cause"):
        return failed(
            name,
            f"No LAN sync: {answer['peer_cause']}.",
            "Read the agent's log (possync's logs folder) for the details.",
        )
    listed = set(answer.get("devices") or [])
    reached = {peer["terminal"] for peer in answer.get("peers") or []} & listed
    if not listed:
        return passed(name, "The server lists no other tablet of this POS.")
    if reached:
        return passed(
            name,
            f"Synced with {len(reached)} of the {len(listed)} other "
            f"tablet(s) the server lists: {_list(reached)}.",
        )
    seen_listed = set(seen or {}) & listed
    if seen_listed:
        return warned(
            name,
            f"The server lists {len(listed)} other tablet(s); mDNS sees "
            f"{_list(seen_listed)}, but no exchange has worked yet.",
            firewall.open_port_hint(port, platform),
        )
    return warned(
        name,
        f"The server lists {len(listed)} other tablet(s) of this POS ({_list(listed)}), but "
        "none is reachable or seen by mDNS: the Wi-Fi may keep its clients apart "
        "(client isolation), or they are switched off.",
        FIXED_PEERS_HINT.format(port=port),
    )


def _fixed_addresses(agent: RunningAgent, lan: Lan) -> Result:
    """Each fixed address the server lists: reached as that tablet, open, or closed."""
    name, fixed = "Fixed-peers", agent.status.get("fixed_addresses") or {}
    if not fixed:
        return skipped(name, f"None set on the server ({SYNC_DEVICES_MENU}).")
    closed, unproven = _unreached(agent, fixed, lan)
    if not closed and not unproven:
        return passed(name, f"Reached {_list(fixed)} at the address(es) set on the server.")
    where = f"In Odoo, {SYNC_DEVICES_MENU}, check each tablet's Fixed LAN Address"
    if closed:
        port_hint = firewall.open_port_hint(agent.settings.peer_port, lan.platform)
        return warned(
            name,
            f"Nothing answers at {', '.join(closed)}.",
            f"{where} (a DHCP reservation keeps it from changing); possync must be running "
            f"there, with its peer port open. {port_hint}",
        )
    return warned(
        name,
        f"{', '.join(unproven)} answer(s), but not yet as that tablet.",
        f"{where}: another machine may have that address. Wait a minute and run doctor again.",
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
