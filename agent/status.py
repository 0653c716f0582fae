"""What `GET /status`, `possync-agent status` and the page's indicator show."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from agent.app_update import AppCompat
from agent.protocol import PROTOCOL_VERSION
from agent.version import version

NOT_CONFIGURED = "server not configured"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class ServerState:
    configured: bool
    reachable: bool = False
    path: str | None = None  # "bus" or "interval" while receiving from the server
    cause: str | None = None  # why the server is unreachable, or why this path
    # Polling every this many ms because the bus is unavailable (a proxy without the
    # websocket route): sync works without live updates; the page's indicator warns.
    fallback_ms: int | None = None
    last_sync: str | None = None
    # When a pull last answered "reset" (changes after our cursor were pruned): the page
    # re-reads its open orders from Odoo each time this moves.
    reset_at: str | None = None


@dataclass
class PeerSeen:
    terminal: str
    url: str
    last_seen: str


@dataclass
class Status:
    """The agent's health. Parts update it through methods, which tell the listener."""

    terminal: str
    server: ServerState
    peers: dict[str, PeerSeen] = field(default_factory=dict)
    last_peer_sync: str | None = None
    # Why this terminal exchanges nothing with the others (no device key, or the server
    # revoked it); None while LAN sync works.
    peer_cause: str | None = None
    # This app's version against what the server supports (agent/app_update.py).
    app: AppCompat = field(default_factory=lambda: AppCompat(version()))
    on_change: Callable[[], None] = lambda: None

    def set_server(self, **values: object) -> None:
        for name, value in values.items():
            setattr(self.server, name, value)
        self.on_change()

    def set_app(self, app: AppCompat) -> None:
        if app != self.app:
            self.app = app
            self.on_change()

    def server_synced(self) -> None:
        self.set_server(reachable=True, last_sync=now_iso())

    def peer_synced(self, terminal: str, url: str) -> None:
        stamp = now_iso()
        self.peers[terminal] = PeerSeen(terminal, url, stamp)
        self.last_peer_sync = stamp
        self.on_change()

    def peers_off(self, cause: str) -> None:
        self.peer_cause = cause
        self.on_change()

    def snapshot(
        self,
        pending: int,
        rejected: dict,
        clock: dict,
        devices: list[str] | None = None,
        fixed: dict[str, str] | None = None,
    ) -> dict:
        """`rejected`: the changes the server refused for good (`count`, the `last` one's
        id and reason); `clock`: this device's offset to the server (agent/clock.py);
        `devices`: the terminals of this POS on the server's list of devices; `fixed`:
        the LAN address a manager fixed for some of them (possync doctor tries each)."""
        return {
            "terminal": self.terminal,
            "pending": pending,
            "rejected": rejected,
            "clock": clock,
            "server": asdict(self.server),
            "peers": [asdict(p) for p in sorted(self.peers.values(), key=lambda p: p.terminal)],
            "last_peer_sync": self.last_peer_sync,
            "peer_cause": self.peer_cause,
            "devices": sorted(set(devices or []) - {self.terminal}),
            "fixed_addresses": {
                t: a for t, a in sorted((fixed or {}).items()) if t != self.terminal
            },
            "protocol": PROTOCOL_VERSION,
            "app": self.app.as_status(),
        }
