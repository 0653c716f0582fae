"""One round of ``bench.odoo``: every kind of edit, once, by terminal A on one table.

A opens a free table, starts an order O with a line, and B and C open it once they hold it.
Then, each time through the POS's own store methods or the numpad's keys
(``devkit.pos_page``), and each measured from its start on A until B (and C) first hold
the state it left:

    add (a second line L) · qty, discount, price (L, typed on the numpad: its mode key,
    then one digit) · note (L's customer note) · customer · split (the first line off into
    a new order O2) · transfer (O2 to a second free table) · merge (O2 back onto O's table)
    · payment_line (cash for the amount due) · payment (Odoo's validation; B and C count
    it once the order is closed there and a notice shows)

Natively (Real-Time Sync off) B and C stay on the floor plan and A leaves the table after
each edit (Odoo's own sync), re-opening it for the next: the kinds up to the customer, and
the payment (Odoo syncs a paid order at once). Split, transfer and merge are left out
there: each is a sync of its own in Odoo.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench.odoo_pos import log
from bench.odoo_report import PAYMENT, Edit
from devkit.pos_page import CLOSED, NOTICE

if TYPE_CHECKING:
    from bench.odoo_pos import Terminal

NATIVE_KINDS = ("add", "qty", "discount", "price", "note", "customer", PAYMENT)
ARRIVAL_TIMEOUT_MS = 10_000
# An edit slower than this to B or C logs what every page did meanwhile (steps.js).
SLOW_MS = 2_000
START_TIMEOUT_MS = 60_000  # B and C hold the round's new order (a loaded machine is slow)


@dataclass
class Round:
    """What one round works on: the terminals, its tables and what A picks from."""

    terminals: list[Terminal]
    tables: tuple[int, int]  # table numbers: where O starts, where O2 is transferred
    table_ids: dict[int, int]  # table number -> id
    catalog: dict[str, Any]
    index: int  # which round of the phase: values and products vary with it
    native: bool = False
    slow_ms: int = SLOW_MS  # an edit slower than this to B or C logs every page's steps
    order: str = ""
    lines: list[str] = field(default_factory=list)
    split_off: str = ""

    @property
    def a(self) -> Terminal:
        return self.terminals[0]

    @property
    def receivers(self) -> list[Terminal]:
        return self.terminals[1:]

    def product(self, offset: int) -> dict[str, Any]:
        products = self.catalog["products"]
        return products[(self.index * 2 + offset) % len(products)]

    def digit(self, offset: int) -> str:
        return str(2 + (self.index + offset) % 8)


def requests_sent(terminals: list[Terminal]) -> int:
    return sum(t.requests.total for t in terminals)


def start(rnd: Round) -> None:
    """A opens the round's table and starts an order; B and C open it once they hold it
    (natively they stay on the floor plan, and A leaves the table so Odoo syncs it)."""
    table = rnd.tables[0]
    rnd.a.pos.back_to_floor()
    rnd.a.pos.open_table(table)
    rnd.order = rnd.a.pos.current_order() or ""
    assert rnd.order, f"terminal A shows no order on table {table}"
    first = rnd.product(0)
    rnd.lines = [rnd.a.pos.add_line(rnd.order, first["id"], first["price"])]
    if rnd.native:
        rnd.a.pos.back_to_floor()
    for terminal in rnd.receivers:
        terminal.pos.wait_for_order(rnd.order, START_TIMEOUT_MS)
        if not rnd.native:
            terminal.pos.back_to_floor()
            terminal.pos.open_table(table)
            shown = terminal.pos.current_order()
            assert shown == rnd.order, f"{terminal.name} opened {shown}, not A's {rnd.order}"


def measure(rnd: Round, kind: str, watched: str, edit: Callable[[], Any]) -> Edit:
    """``edit`` on A, timed until each receiver holds the state of ``watched`` it left."""
    for terminal in rnd.receivers:
        terminal.pos.watch(watched)
    before = requests_sent(rnd.terminals)
    if rnd.native:
        rnd.a.pos.open_table(rnd.tables[0])
    edit()
    done = rnd.a.pos.edited(watched)
    if rnd.native and kind != PAYMENT:
        rnd.a.pos.back_to_floor()  # Odoo's own sync of the order
    to = {t.name: arrival(t, done, kind, rnd.native, watched) for t in rnd.receivers}
    if not rnd.native and any(t is None or t > rnd.slow_ms for t in to.values()):
        for terminal in rnd.terminals:
            log(f"{terminal.name}'s steps: {terminal.steps_since(done['at'], watched)[:60]}")
            if terminal in rnd.receivers:
                seen = terminal.pos.seen_states().items()
                log(f"{terminal.name} saw: {[(t - done['at'], s[:50]) for s, t in seen]}")
    return Edit(kind, to, requests_sent(rnd.terminals) - before)


def arrival(
    terminal: Terminal, done: dict[str, Any], kind: str, native: bool, watched: str
) -> float | None:
    """ms from the edit's start on A until ``terminal`` held its state; for a payment
    (with possync), until the order is closed there and the notice shows. A miss is logged
    with the state A left and the one ``terminal`` holds."""
    signs = [CLOSED, NOTICE] if kind == PAYMENT and not native else [done["sig"]]
    times = [terminal.pos.arrival(sig, ARRIVAL_TIMEOUT_MS) for sig in signs]
    if any(t is None for t in times):
        seen = dict(zip(signs, times, strict=True))
        holds, sampled = terminal.pos.edited(watched)["sig"], terminal.pos.sampled(watched)
        log(f"{terminal.name} missed a {kind}: {seen}; A left {done['sig']}, it holds {holds}")
        if (errors := terminal.pos.sampler_errors())[0]:
            log(f"{terminal.name}'s arrival sampler failed {errors[0]} times: {errors[1]}")
        if sampled != holds:
            log(f"{terminal.name}'s arrival sampler reads another record: {sampled}")
            log(f"{terminal.name}'s records of the order: {terminal.pos.copies(watched)}")
        return None
    return max(times) - done["at"]  # type: ignore[type-var, operator]


def edits_of_round(rnd: Round) -> dict[str, tuple[Callable[[], str], Callable[[], Any]]]:
    """Each kind's watched order (read when the edit starts) and edit on A, in the order
    they run."""
    pos, order = rnd.a.pos, rnd.order
    cash = rnd.catalog["cash"]
    partners = rnd.catalog["partners"]
    partner = partners[rnd.index % len(partners)]
    note = f"round {rnd.index}"
    second = rnd.product(1)

    def add() -> None:
        rnd.lines.append(pos.add_line(order, second["id"], second["price"]))

    def numpad(mode: str, offset: int) -> Callable[[], None]:
        return lambda: pos.numpad_edit(order, rnd.lines[1], mode, rnd.digit(offset))

    def split() -> None:
        made = pos.split(order, {rnd.lines[0]: 1})
        assert made, "the split made no order"
        rnd.split_off = made["uuid"]

    def transfer() -> None:
        pos.transfer(rnd.split_off, rnd.table_ids[rnd.tables[1]])

    def merge() -> None:
        assert pos.merge(rnd.split_off, order), "the merge did not end"

    def pay() -> None:
        answer = pos.pay(order, cash)["answer"]
        assert answer == "accepted", f"payment {answer}"

    def on(target: str) -> Callable[[], str]:
        return lambda: target

    return {
        "add": (on(order), add),
        "qty": (on(order), numpad("quantity", 0)),
        "discount": (on(order), numpad("discount", 1)),
        "price": (on(order), numpad("price", 2)),
        "note": (on(order), lambda: pos.set_line_note(order, rnd.lines[1], note)),
        "customer": (
            on(order),
            lambda: pos.set_partner(order, partner),
        ),
        "split": (on(order), split),
        "transfer": (lambda: rnd.split_off, transfer),
        "merge": (on(order), merge),
        "payment_line": (on(order), lambda: pos.add_payment(order, cash)),
        PAYMENT: (on(order), pay),
    }


def run_round(rnd: Round, gap_s: float, pause: Callable[[], float]) -> list[Edit]:
    """Every kind of edit once (the native ones when ``rnd.native``), ``gap_s`` plus
    ``pause()`` seconds apart."""
    start(rnd)
    done = []
    for kind, (watched, edit) in edits_of_round(rnd).items():
        if rnd.native and kind not in NATIVE_KINDS:
            continue
        done.append(measure(rnd, kind, watched(), edit))
        log(f"round {rnd.index}: {kind} {done[-1].to}")
        time.sleep(gap_s + pause())
    return done
