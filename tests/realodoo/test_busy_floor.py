"""Changes from elsewhere on a busy floor (docs/protocol.md "Changes from elsewhere, on a
busy floor"): a change to an order B is not showing, that keeps it open at its table, may
wait to be written with the others; everything else is written at once.

B's wait is lengthened to a minute (``PosOrderSync.offScreenWaitMs``), so an order that
waits stays behind for the whole test: what shows on B then was written at once.
"""

from __future__ import annotations

import time

import pytest

from devkit.pos_page import PosPage

from . import test_pos_scenarios as scenarios
from .test_pos_scenarios import seen_within, wait_until

synced_odoo, free_tables, two = scenarios.synced_odoo, scenarios.free_tables, scenarios.two

LONG_WAIT_MS = 60_000
# Past A's push and the bus hop: the change has reached B's sync client by then.
ARRIVED_S = 3.0


def order_on(terminal: PosPage) -> tuple[str, str]:
    """The order on ``terminal``'s screen and its first line."""
    order = terminal.current_order()
    assert order
    return order, next(iter(view_of(terminal, order)["lines"]))


def view_of(terminal: PosPage, order: str) -> dict:
    [view] = [v for v in terminal.views() if v["uuid"] == order]
    return view


def qty_on(terminal: PosPage, order: str, line: str) -> float:
    return view_of(terminal, order)["lines"][line]["qty"]


def a_takes_a_table(two: tuple[PosPage, PosPage], table: int) -> tuple[str, str]:
    """A starts an order on ``table``; B, on the floor plan, shows the table taken. Returns
    the order and its line."""
    a, b = two
    a.open_table(table)
    a.add_product("Coca-Cola")
    wait_until(lambda: b.table_occupied(table), what=f"B shows table {table} taken at once")
    return order_on(a)


@pytest.fixture
def b_waits(two: tuple[PosPage, PosPage]) -> tuple[PosPage, PosPage]:
    two[1].set_off_screen_wait(LONG_WAIT_MS)
    return two


def test_an_edit_off_screen_waits_on_b_and_shows_when_b_opens_the_table(b_waits, free_tables):
    a, b = b_waits
    table = free_tables.take()
    order, line = a_takes_a_table(b_waits, table)
    a.set_qty(order, line, 7)
    assert a.wait_pushed()
    time.sleep(ARRIVED_S)
    assert qty_on(b, order, line) == 1, "the edit waits while B shows the floor plan"
    b.open_table(table)
    elapsed = wait_until(
        lambda: qty_on(b, order, line) == 7, what="B's order caught up once opened"
    )
    print(f"order behind caught up on B {elapsed:.2f} s after B opened it")


def test_a_transfer_off_screen_shows_on_b_at_once(b_waits, free_tables):
    """The scenario's transfer, with B waiting a minute for changes off screen."""
    scenarios.test_a_transfer_to_a_free_table_shows_on_b(b_waits, free_tables)


def test_a_payment_off_screen_frees_the_table_on_b_at_once(b_waits, free_tables):
    a, b = b_waits
    table = free_tables.take()
    a_takes_a_table(b_waits, table)
    a.pay_cash()
    wait_until(lambda: not b.table_occupied(table), what="B shows the table free at once")


def test_an_edit_off_screen_reaches_b_within_the_wait(two, free_tables):
    a, b = two
    table = free_tables.take()
    order, line = a_takes_a_table(two, table)
    a.set_qty(order, line, 5)
    elapsed = wait_until(lambda: qty_on(b, order, line) == 5, what="B's records caught up")
    print(f"edit off screen written on B after {elapsed:.2f} s")
    b.open_table(table)
    seen_within(b.line("Coca-Cola"))


def test_the_floor_plan_draws_each_table_as_odoo_computes_it(two, free_tables):
    """B's floor plan, drawn from possync's one-pass index of orders by table
    (overrides/screens/floor_screen.js), shows every table as Odoo's own per-table
    searches answer outside a draw: occupied or free, and its kitchen changes badge."""
    a, b = two
    first, second = free_tables.take(), free_tables.take()
    a_takes_a_table(two, first)
    a.add_product("Coca-Cola")
    a.back_to_floor()
    a_takes_a_table(two, second)

    def drawn_as_computed() -> bool:
        computed = b.floor_computed()
        return all(computed[t] == shown for t, shown in b.floor_drawn().items())

    wait_until(drawn_as_computed, what="B's floor plan drawn as Odoo computes it")
    drawn = b.floor_drawn()
    assert sum(t["occupied"] for t in drawn.values()) >= 2
    assert any(t["changes"] for t in drawn.values()), "a kitchen badge was compared"
