"""POS terminals at the protocol level: real HTTP and bus clients of a real Odoo, no browser.

A ``ProtocolTerminal`` is what a tablet's agent is to the server, without the agent: it
logs in as a POS user with the agent's own client (agent/odoo_client.py ``OdooClient``),
follows the POS's bus channel (or pulls every ``interval_ms`` in Interval mode) and pushes
changes (docs/protocol.md) to orders of its own, at a waiter's pace. It keeps the time it
first received each change, by id, so a bench can tell which changes reached it.

``ProtocolFleet`` runs several on an event loop of its own thread, for blocking callers
(Playwright's sync API): ``bench.odoo`` adds them to its browser terminals so the server
carries a busy restaurant while it measures.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from agent.clock import device_ms
from agent.odoo_client import OdooClient
from agent.protocol import HybridClock
from agent.server_sync import payload_items
from devkit.changes import line_add, line_set, new_line_id, order_set, stamped
from devkit.odoo import OdooInstance

CALL_TIMEOUT_S = 30.0
BUS_HEARTBEAT_S = 30.0
PULL_LIMIT = 500


@dataclass(frozen=True)
class Waiter:
    """A POS user's login, and what the restaurant has for the terminal to pick from."""

    login: str
    password: str
    products: Sequence[tuple[int, float]]  # (id, price) of products the POS sells
    tables: Sequence[int]  # table ids the terminal may open orders on


@dataclass
class OwnOrder:
    """An order this terminal opened, and the lines it added."""

    uuid: str
    lines: list[str] = field(default_factory=list)


WAITER_GROUPS = (("base", "group_user"), ("point_of_sale", "group_pos_user"))


def new_waiter_login(odoo: OdooInstance, login: str) -> str:
    """A new user of ``odoo`` in Point of Sale / User, named and logged in as ``login``
    (which is also the password); returns the login."""
    groups = []
    for module, name in WAITER_GROUPS:
        domain = [("module", "=", module), ("name", "=", name), ("model", "=", "res.groups")]
        [row] = odoo.jsonrpc("ir.model.data", "search_read", [domain, ["res_id"]])
        groups.append(row["res_id"])
    groups_field = "group_ids" if odoo.tree.major >= 19 else "groups_id"
    values = {"name": login, "login": login, "password": login, groups_field: [(6, 0, groups)]}
    odoo.jsonrpc("res.users", "create", [values])
    return login


class ProtocolTerminal:
    """One terminal at the protocol level on one POS config."""

    def __init__(self, name: str, base_url: str, db: str, config_id: int, waiter: Waiter) -> None:
        self.name = name
        self.terminal = f"t-proto-{name}-{uuid.uuid4().hex[:8]}"
        self.base_url, self.db, self.config_id = base_url, db, config_id
        self.waiter = waiter
        self.random = random.Random(name)
        self.clock = HybridClock()
        self.orders: list[OwnOrder] = []
        self.pushed: list[str] = []  # ids of the changes this terminal made
        self.received: dict[str, int] = {}  # change id -> wall ms of its first arrival
        self.cursor = 0
        self.info: dict[str, Any] = {}
        self._http: aiohttp.ClientSession | None = None
        self._client: OdooClient | None = None
        self._follow: asyncio.Task[None] | None = None

    @property
    def client(self) -> OdooClient:
        assert self._client is not None, "start() first"
        return self._client

    async def start(self) -> None:
        """Log in and read the POS's sync settings (its bus channel, its mode)."""
        self._http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self._client = OdooClient(
            self._http,
            self.base_url,
            self.db,
            self.waiter.login,
            self.waiter.password,
            CALL_TIMEOUT_S,
        )
        await self.client.authenticate()
        self.info = await self.client.info(self.config_id)

    async def close(self) -> None:
        await self.stop_following()
        if self._http:
            await self._http.close()

    # --- receiving ---------------------------------------------------------------------

    async def follow(self, mode: str) -> None:
        """Receive every change from now on: by the bus (``"bus"``) or by pulls."""
        await self.stop_following()
        self.info = await self.client.info(self.config_id)
        if mode == "bus":
            ws = await self.client.open_bus(await self.client.websocket_version(), BUS_HEARTBEAT_S)
            subscribe = {"channels": [self.info["channel"]], "last": 0}
            await ws.send_json({"event_name": "subscribe", "data": subscribe})
            self._follow = asyncio.create_task(self._read_bus(ws))
        else:
            self._follow = asyncio.create_task(self._pull_every(self.info["interval_ms"] / 1000))

    async def stop_following(self) -> None:
        if self._follow:
            self._follow.cancel()
            await asyncio.gather(self._follow, return_exceptions=True)
            self._follow = None

    async def _read_bus(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        kind = str(self.info["bus_type"])
        try:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    notifications = json.loads(message.data)
                    self._got([i for n in notifications for i in payload_items(n, kind)])
        finally:
            await ws.close()

    async def _pull_every(self, every_s: float) -> None:
        while True:
            started = time.monotonic()
            await self.pull()
            await asyncio.sleep(max(0.0, every_s - (time.monotonic() - started)))

    async def pull(self) -> None:
        """Everything after this terminal's cursor."""
        more = True
        while more:
            answer = await self.client.pull(self.config_id, self.cursor, PULL_LIMIT)
            self._got(answer["changes"])
            self.cursor, more = answer["cursor"], answer["more"]

    def _got(self, items: list[dict]) -> None:
        at = device_ms()
        for item in items:
            self.received.setdefault(item["change"]["id"], at)
            self.cursor = max(self.cursor, item["seq"])

    # --- pushing -----------------------------------------------------------------------

    async def push(self, order: str, ops: list[dict]) -> str:
        """One change to ``order``, which the server must apply; returns its id."""
        change = stamped(order, ops, self.terminal, self.clock)
        answer = await self.client.push(self.config_id, [change])
        [ack] = answer["acks"]
        if ack["status"] != "applied":
            raise RuntimeError(f"terminal {self.name}: change {ack['status']}: {ack.get('reason')}")
        self.pushed.append(change["id"])
        return change["id"]

    def _new_line(self) -> tuple[str, dict]:
        product, price = self.random.choice(self.waiter.products)
        line = new_line_id()
        values = {"product_id": product, "qty": self.random.randint(1, 3), "price_unit": price}
        return line, line_add(line, values)

    async def open_order(self, table: int, lines: int) -> OwnOrder:
        """A new order on ``table`` with ``lines`` lines, in one change."""
        order = OwnOrder(uuid.uuid4().hex)
        ops = [order_set("table_id", table)]
        for _ in range(lines):
            line, op = self._new_line()
            order.lines.append(line)
            ops.append(op)
        await self.push(order.uuid, ops)
        self.orders.append(order)
        return order

    async def open_orders(self, count: int) -> None:
        """``count`` orders of one to four lines, round this terminal's tables."""
        tables = self.waiter.tables
        for index in range(count):
            await self.open_order(tables[index % len(tables)], 1 + index % 4)

    async def edit(self) -> str:
        """A waiter's edit of one of this terminal's orders: a new line, a quantity, a
        discount, a note or the guest count."""
        order = self.random.choice(self.orders)
        line = self.random.choice(order.lines)
        kind = self.random.choice(("add", "qty", "discount", "note", "guests"))
        if kind == "add":
            line, op = self._new_line()
            order.lines.append(line)
        elif kind == "guests":
            op = order_set("customer_count", self.random.randint(1, 8))
        else:
            field_, value = {
                "qty": ("qty", self.random.randint(1, 9)),
                "discount": ("discount", self.random.randint(0, 30)),
                "note": ("customer_note", f"note {self.random.randint(1, 10**6)}"),
            }[kind]
            op = line_set(line, field_, value)
        return await self.push(order.uuid, [op])

    async def serve(self, pace_s: tuple[float, float]) -> None:
        """Edit this terminal's orders until cancelled, one edit every ``pace_s`` seconds
        (a random pause between the two bounds)."""
        while True:
            await asyncio.sleep(self.random.uniform(*pace_s))
            await self.edit()


class ProtocolFleet:
    """Protocol-level terminals on an event loop of their own thread."""

    def __init__(self, terminals: Sequence[ProtocolTerminal]) -> None:
        self.terminals = list(terminals)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._serving: list[asyncio.Future[Any]] = []

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def each(self, method: str, *args: Any, timeout: float = 120) -> list[Any]:
        """``await terminal.method(*args)`` on every terminal at once."""
        return self.together([getattr(t, method)(*args) for t in self.terminals], timeout)

    def together(self, coroutines: list[Coroutine[Any, Any, Any]], timeout: float) -> list[Any]:
        """The coroutines at once; their results."""

        async def all_of() -> list[Any]:
            return await asyncio.gather(*coroutines)

        return self.run(all_of(), timeout)

    def start_serving(self, pace_s: tuple[float, float]) -> None:
        for terminal in self.terminals:
            future = asyncio.run_coroutine_threadsafe(terminal.serve(pace_s), self._loop)
            self._serving.append(future)

    def stop_serving(self) -> None:
        """Stop the waiters' edits; an edit that failed is raised here."""
        futures, self._serving = self._serving, []
        for future in futures:
            if future.done() and not future.cancelled() and future.exception():
                raise RuntimeError("a protocol terminal failed") from future.exception()
            future.cancel()

    def missing(self, change_ids: Sequence[str]) -> int:
        """How many (terminal, change) pairs of ``change_ids`` never arrived."""
        return sum(1 for t in self.terminals for c in change_ids if c not in t.received)

    def pushed(self) -> list[str]:
        return [c for t in self.terminals for c in t.pushed]

    def close(self) -> None:
        self.stop_serving()
        try:
            self.each("close", timeout=30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
