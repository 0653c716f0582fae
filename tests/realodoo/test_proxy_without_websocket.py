"""A proxy set up without the websocket route, as docs/deploy.md warns: Odoo's bus never
connects (the request falls to Odoo's HTTP workers, which refuse it), possync notices,
pulls at the POS's interval instead, and its indicator says so in orange."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devkit.odoo import Harness, OdooInstance
from devkit.odoo.proxy import NGINX, NGINX_MISSING

from . import test_pos_scenarios as scenarios
from .test_pos_scenarios import both_on_table, indicator_shot, seen_within, wait_until

# The scenarios' fixtures, used here on this module's ``odoo``.
synced_odoo, free_tables, two = scenarios.synced_odoo, scenarios.free_tables, scenarios.two

NOTICE = "live updates unavailable: checking every 0.5 s"  # the POS's default 500 ms
# The page waits out the bus's own reconnections (4 s) before it falls back.
FALLBACK_SEEN_S = 20


@pytest.fixture(scope="module")
def odoo(odoo_harness: Harness) -> Iterator[OdooInstance]:
    """This module's Odoo: two workers behind nginx without the ``/websocket`` location."""
    if not NGINX.is_file():
        pytest.skip(NGINX_MISSING)
    with odoo_harness.another_server(workers=2, proxy="nginx-no-websocket") as served:
        yield served.instance


def test_without_the_websocket_route_b_polls_says_so_and_still_gets_a_line(two, free_tables):
    a, b = two
    wait_until(lambda: b.status().get("notice"), FALLBACK_SEEN_S, "B notices the bus is out")
    status = b.status()
    assert status["notice"] == NOTICE and status["fallbackMs"] == 500
    assert status["state"] == "degraded" and status["cause"] is None, status
    assert status["transport"] == "server" and status["mode"] == "bus"
    indicator = b.indicator
    assert indicator.get_attribute("data-state") == "degraded"
    assert NOTICE in indicator.get_attribute("title")
    indicator.click()
    assert NOTICE in b.sync_details.inner_text()
    indicator_shot(b, "degraded")
    indicator.click()
    both_on_table(two, free_tables.take(), "Coca-Cola")
    a.add_product("Fanta")
    print(f"line added on A seen on B by polling after {seen_within(b.line('Fanta')):.2f} s")
