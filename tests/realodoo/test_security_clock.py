"""A terminal whose own clock is ten minutes ahead, on real Odoo 18/19 and chromium (issue #13,
item 6; docs/protocol.md, "The corrected clock").

Terminal A's page runs with every `Date` ten minutes ahead, as on a tablet whose clock was
set wrong. It stamps with its clock corrected by the server's `time_ms`: nothing it sends is
refused as from the future, an edit B makes after A's still wins, and A's indicator says
that its clock is off.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from devkit.odoo import OdooInstance
from devkit.pos_page import PosPage

from .test_pos_scenarios import (  # noqa: F401 (fixtures)
    Tables,
    assert_server_order,
    free_tables,
    seen_within,
    synced_odoo,
    terminals_a_and_b,
    wait_until,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

TEN_MINUTES_MS = 600_000
# Every Date of the page ten minutes ahead; performance.now() (monotonic) is left alone.
SKEWED_DATE = """(() => {
    const SKEW = TEN_MINUTES_MS;
    const RealDate = Date;
    const realNow = RealDate.now.bind(RealDate);
    class SkewedDate extends RealDate {
        constructor(...args) {
            if (args.length) {
                super(...args);
            } else {
                super(realNow() + SKEW);
            }
        }
        static now() {
            return realNow() + SKEW;
        }
    }
    globalThis.Date = SkewedDate;
})();""".replace("TEN_MINUTES_MS", str(TEN_MINUTES_MS))


@pytest.fixture
def ahead_and_in_step(
    request: pytest.FixtureRequest, browser: Browser, free_tables: Tables  # noqa: F811
) -> Iterator[tuple[PosPage, PosPage]]:
    """Terminal A with its clock ten minutes ahead, terminal B in step, on one POS."""
    with terminals_a_and_b(request, browser, free_tables.odoo, a_script=SKEWED_DATE) as pair:
        yield pair


def clock_of(terminal: PosPage) -> dict:
    return terminal.status().get("clock") or {}


def rejected_from(odoo: OdooInstance, terminal: PosPage) -> list[dict]:
    domain = [("terminal", "=", terminal.terminal()), ("status", "=", "rejected")]
    return odoo.jsonrpc("pos_restaurant_sync.change", "search_read", [domain, ["reason"]])


def test_security_a_page_ten_minutes_ahead_is_corrected_and_says_so(
    ahead_and_in_step, free_tables, synced_odoo  # noqa: F811
):
    a, b = ahead_and_in_step
    assert a.page.evaluate("() => Date.now() - performance.timeOrigin - performance.now()") > (
        TEN_MINUTES_MS - 5_000
    ), "the page's clock is not skewed"
    table = free_tables.take()
    a.open_table(table)
    a.add_product("Coca-Cola")
    wait_until(lambda: clock_of(a).get("source") == "server", what="A measured its offset")
    clock = clock_of(a)
    assert clock["farOff"] and abs(clock["offsetMs"] + TEN_MINUTES_MS) < 2_000, clock
    assert not clock_of(b).get("farOff")

    button = a.indicator
    assert button.locator(".possync-clock").count() == 1
    assert "ahead of the server's" in button.get_attribute("title")
    assert b.indicator.locator(".possync-clock").count() == 0

    # A raises the quantity, then B, later in real time: B's edit must win everywhere
    # (stamped with A's own clock, A's edit would win for ten minutes).
    wait_until(lambda: b.table_occupied(table), what=f"B sees table {table} occupied")
    b.open_table(table)
    seen_within(b.line("Coca-Cola"))
    a.select_line("Coca-Cola")
    a.numpad("2")
    wait_until(lambda: b.qty_of("Coca-Cola").startswith("2"), what="B sees A's quantity")
    b.select_line("Coca-Cola")
    b.numpad("3")
    wait_until(lambda: a.qty_of("Coca-Cola").startswith("3"), what="A sees B's later quantity")
    assert_server_order(synced_odoo, table, {"Coca-Cola": 3})
    assert rejected_from(synced_odoo, a) == [] and rejected_from(synced_odoo, b) == []
    assert a.pending() == 0 and b.pending() == 0
