"""A terminal at the protocol level: a real agent and, instead of a browser, the page side of
its WebSocket (``devkit/page_client.PageClient``) driven by a waiter.

The page makes the changes a POS page makes for the same actions (docs/protocol.md "The
mission's actions as changes"), keeps every change it made or received, and shows its open
orders as ``materialize`` computes them: the service checks that view against the truth as
it checks a browser page's. It takes the actions the protocol alone can carry: add,
quantity, discount, line note, customer, kitchen note, transfer. Payment, split and merge
run Odoo's own flows in a browser (docs/e2e.md).
"""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp

from agent.clock import device_ms
from agent.protocol import HybridClock, materialize
from devkit.changes import line_add, line_set, order_set, stamped
from devkit.page_client import PageClient

from .agents import Agent
from .terminal import Station

Runner = Callable[[Coroutine[Any, Any, Any]], Any]  # runs a coroutine on the network's loop
PROTOCOL_ACTIONS = ("add", "qty", "discount", "line_note", "customer", "order_note", "transfer")


class ProtocolPage:
    """The waiter's page: the same methods as ``PosPage`` for the actions it takes."""

    def __init__(self, agent: Agent, run: Runner, major: int) -> None:
        self.agent, self._run, self.major = agent, run, major
        self.client: PageClient | None = None
        self.session: aiohttp.ClientSession | None = None
        self.clock = HybridClock()
        self.terminal = ""
        self.seq = 0  # the highest seq received: the next hello's ``since``
        self.received = 0  # how many of the current client's changes were read
        self.by_order: dict[str, dict[str, dict]] = defaultdict(dict)  # order -> id -> change
        self.cached: dict[str, dict] = {}  # order -> its view, until a change of it arrives
        self.unacked: dict[str, dict] = {}
        self.new_tables: dict[str, int] = {}  # a new order's table, sent with its first line

    # --- the WebSocket ------------------------------------------------------------------

    def connect(self) -> None:
        """Say hello (again) after the last seq seen, then push what is not acknowledged."""
        self.client = self._run(self._connect())
        self.received = 0
        welcome = self.client.welcome or {}
        self.terminal = welcome.get("terminal", self.terminal)
        if welcome.get("hlc"):
            self.clock.observe(welcome["hlc"], device_ms())
        for change in list(self.unacked.values()):
            self._send(change)

    async def _connect(self) -> PageClient:
        if self.session is None:
            self.session = aiohttp.ClientSession()
        spec = self.agent.spec
        return await PageClient.connect(
            self.session, spec.page_port, token=spec.token, origin=spec.origin, since=self.seq
        )

    def close(self) -> None:
        async def close() -> None:
            if self.client is not None:
                await self.client.close()
            if self.session is not None:
                await self.session.close()

        self._run(close())
        self.client = self.session = None

    def _connected(self) -> bool:
        """Connected, or connected again when the agent came back (as a page reconnects)."""
        if self.client is not None and not self.client.ws.closed:
            return True
        try:
            self.connect()
        except (TimeoutError, OSError, aiohttp.ClientError, AssertionError):
            self.client = None
            return False
        return True

    def _refresh(self) -> None:
        """Take in the changes and acknowledgements that arrived since the last look."""
        if not self._connected():
            return
        assert self.client is not None
        client, start = self.client, self.received

        async def read() -> tuple[list[dict], set[str], int]:
            return list(client.changes.values())[start:], set(client.acked), client.max_seq

        changes, acked, seq = self._run(read())
        self.received += len(changes)
        self.seq = max(self.seq, seq)
        for change in changes:
            self.clock.observe(change["hlc"], device_ms())
            self._keep(change)
        for change_id in acked & self.unacked.keys():
            del self.unacked[change_id]

    def _keep(self, change: dict) -> None:
        self.by_order[change["order"]][change["id"]] = change
        self.cached.pop(change["order"], None)

    def _send(self, change: dict) -> None:
        client = self.client
        if client is None:
            return
        message = {"type": "push", "changes": [change]}
        try:
            self._run(client.ws.send_json(message))
        except (OSError, aiohttp.ClientError, ConnectionError, RuntimeError):
            self.client = None  # pushed again at the reconnect

    def _change(self, order: str, ops: list[dict]) -> None:
        """A change of ``order`` as the page captures it, kept and pushed at once."""
        self._refresh()
        change = stamped(order, ops, self.terminal, self.clock)
        self._keep(change)
        self.unacked[change["id"]] = change
        self._send(change)

    # --- what the page shows -------------------------------------------------------------

    def views(self) -> list[dict]:
        """Every open order with lines, as its changes say (``PosPage.views``' shape)."""
        self._refresh()
        out = []
        for order, changes in self.by_order.items():
            if order not in self.cached:
                self.cached[order] = materialize(order, changes.values())
            view = self.cached[order]
            if view.get("state", "draft") == "draft" and view.get("lines"):
                out.append(view)
        return out

    def wait_pushed(self, timeout: float = 20) -> bool:
        """Whether the agent acknowledged every change of this page within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            self._refresh()
            if not self.unacked or time.monotonic() > deadline:
                return not self.unacked
            time.sleep(0.1)

    # --- the waiter's actions (``PosPage``'s names) ---------------------------------------

    def new_order(self, table_id: int) -> str:
        order = uuid.uuid4().hex
        self.new_tables[order] = table_id
        return order

    def add_line(self, order: str, product_id: int, price: float | None = None) -> str:
        line = uuid.uuid4().hex
        values: dict[str, Any] = {"product_id": product_id, "qty": 1}
        if price is not None:
            values["price_unit"] = price
        ops = [line_add(line, values)]
        if order in self.new_tables:  # the first capture of a new order holds its table
            ops.insert(0, order_set("table_id", self.new_tables.pop(order)))
        self._change(order, ops)
        return line

    def set_qty(self, order: str, line: str, qty: float) -> None:
        self._change(order, [line_set(line, "qty", qty)])

    def set_discount(self, order: str, line: str, discount: float) -> None:
        self._change(order, [line_set(line, "discount", discount)])

    def set_line_note(self, order: str, line: str, text: str) -> None:
        self._change(order, [line_set(line, "customer_note", text)])

    def set_partner(self, order: str, partner_id: int) -> None:
        self._change(order, [order_set("partner_id", partner_id)])

    def set_order_note(self, order: str, text: str) -> str:
        """The kitchen note as the POS's Note button stores it (19: a JSON list of tags,
        which 19's screens parse); returns what is stored."""
        note = text
        if self.major >= 19:
            note = json.dumps([{"text": text, "colorIndex": 0}], separators=(",", ":"))
        self._change(order, [order_set("internal_note", note)])
        return note

    def transfer(self, order: str, table_id: int) -> None:
        self._change(order, [order_set("table_id", table_id)])


class HeadlessTerminal(Station[ProtocolPage]):
    """``Terminal``'s interface for a protocol-level terminal (no browser, no UI)."""

    browser = False
    ui_crashes = 0

    def __init__(self, name: str, agent: Agent, run: Runner, major: int) -> None:
        super().__init__(name, agent)
        self._run, self.major = run, major

    def open(self, _browser: Any = None) -> None:
        self._pos = ProtocolPage(self.agent, self._run, self.major)
        self._pos.connect()

    def heap_mb(self) -> float | None:
        """A protocol page lives in the run's own process: nothing of its own to measure."""
        return None

    def switch_off(self) -> None:
        self.agent.kill()
        if self._pos is not None:
            self._pos.close()
            self._pos = None

    def close(self) -> None:
        if self._pos is not None:
            self._pos.close()
            self._pos = None
        self.agent.stop()
