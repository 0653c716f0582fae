"""The agent's state, shared by the page API, server sync and peers.

Every change, whoever sends it (a page, the server, a peer), enters through
`Agent.receive`: it is stored durably, then published to listeners in commit order.
Clock readings and the refusal of changes from the future use `Agent.wall`, the device
clock corrected by its offset to the server (agent/clock.py).
"""

from __future__ import annotations

import asyncio

from agent.clock import CorrectedClock
from agent.devices import DeviceList
from agent.feed import Feed
from agent.identity import DeviceIdentity
from agent.protocol import HybridClock, check_clock
from agent.status import NOT_CONFIGURED, ServerState, Status
from agent.store import AsyncStore, Entry, Store

CHANGE_ORIGINS = ("page", "server", "peer")  # who sent a change to `Agent.receive`


class Agent:
    """One terminal's agent: its store, clock, feed of committed changes and status."""

    def __init__(
        self,
        store: Store,
        *,
        server_configured: bool,
        identity: DeviceIdentity | None = None,
        wall: CorrectedClock | None = None,
    ) -> None:
        self.terminal = store.terminal
        self.wall = wall or CorrectedClock()
        self.clock = HybridClock(store.get_meta("hlc"))
        latest = store.max_hlc()
        if latest:  # the clock never goes back, even to before what it stored
            self.clock.observe(latest, self.wall.now_ms())
        self.feed = Feed()
        self.outbox_event = asyncio.Event()
        self.status_event = asyncio.Event()
        self.devices_event = asyncio.Event()  # the list of trusted devices changed
        self.devices_wanted = asyncio.Event()  # a peer check failed: read the list again
        server = ServerState(configured=server_configured)
        if not server_configured:
            server.cause = NOT_CONFIGURED
        self.status = Status(self.terminal, server, on_change=self.status_event.set)
        # This device's key (None: no usable key store, so no LAN sync), and the devices
        # of this POS as the server listed them last (agent/devices.py).
        self.identity = identity
        self.devices = DeviceList.from_json(store.get_meta("devices"))
        self.db = AsyncStore(store, self._committed)
        # The ids of the changes pushed to the server and not answered yet: the push in
        # flight, or the last one, which failed (ServerSync.push_pending).
        self.awaiting_answer: frozenset[str] = frozenset()

    def start(self) -> None:
        self.db.start()

    async def close(self) -> None:
        await self.db.close()

    async def receive(
        self, changes: list[dict], origin: str, cursors: dict[str, int] | None = None
    ) -> list[Entry]:
        """Store valid changes durably; return the ones that were new, once committed.

        Changes from pages and peers wait in the outbox for the server; changes from the
        server do not, and leave the outbox if they were there, unless a push of them awaits
        its answer: the server stores and broadcasts a push before it writes the Odoo
        orders, so if that push then fails (a worker killed, Odoo restarted), they are
        pushed again, and the server writes the Odoo orders it left behind. A change from a
        page or a peer stamped more than 60 s ahead of our corrected clock refuses the whole
        call (FutureChange) before anything is stored. The server's changes are not checked
        again: it refused the future ones against its own clock, which ours follows, and
        refusing what it holds would part this terminal from its log.
        """
        assert origin in CHANGE_ORIGINS
        now = self.wall.now_ms()
        if origin != "server":
            self.check_clock(changes, now)
        for change in changes:
            self.clock.observe(change["hlc"], now)
        outbox = origin != "server"
        keep = self.awaiting_answer if origin == "server" else frozenset()
        return await self.db.write(
            lambda s: s.add_changes(changes, origin, outbox=outbox, cursors=cursors, keep=keep)
        )

    def check_clock(self, changes: list[dict], now: int | None = None) -> None:
        """Raise FutureChange if a change is stamped more than 60 s ahead of our clock."""
        now = self.wall.now_ms() if now is None else now
        for change in changes:
            check_clock(change, now, "this terminal")

    async def changes_after(self, seq: int, limit: int) -> list[Entry]:
        return await self.db.read(lambda s: s.changes_after(seq, limit))

    async def latest_seq(self) -> int:
        return await self.db.read(Store.latest_seq)

    async def cursor(self, name: str) -> int:
        return await self.db.read(lambda s: s.cursor(name))

    async def fresh_reading(self) -> str:
        """A clock reading for a page to start from, saved so it is never handed out twice."""
        reading = self.clock.tick(self.wall.now_ms())
        await self.db.write(lambda s: s.set_meta("hlc", reading))
        return reading

    async def snapshot(self) -> dict:
        pending, rejected = await self.db.read(lambda s: (s.pending_count(), s.rejected_summary()))
        devices = [device.terminal for device in self.devices.devices]
        fixed = self.devices.fixed_addresses()
        return self.status.snapshot(pending, rejected, self.wall.snapshot(), devices, fixed)

    async def set_devices(self, devices: DeviceList) -> None:
        """Trust these devices from now on; kept for when the server is away."""
        if devices == self.devices:
            return
        text = devices.to_json()
        await self.db.write(lambda s: s.set_meta("devices", text))
        self.devices = devices
        self.devices_event.set()

    def _committed(self, entries: list[Entry]) -> None:
        self.feed.publish(entries)
        if any(entry.origin != "server" for entry in entries):
            self.outbox_event.set()
        self.status_event.set()
