"""Sync on a production-shaped Odoo: two HTTP workers and the gevent process behind nginx,
which serves the site docs/deploy.md recommends (docs/nginx/possync-site.conf).

The key scenarios are those of test_pos_scenarios.py, imported and run here against that
server (the module's ``odoo`` fixture): what reaches B with ``workers=0`` reaches it the
same way, with the same bounds. With ``POSSYNC_ODOO_WORKERS=2 POSSYNC_ODOO_PROXY=nginx``
the whole tier runs that way.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from devkit.odoo import Harness, OdooInstance, ServedOdoo
from devkit.odoo.proxy import NGINX, NGINX_MISSING

from . import test_pos_scenarios as scenarios
from .test_pos_scenarios import both_on_table, seen_within, wait_until

# The scenarios' fixtures and tests, collected here too: they run on this module's ``odoo``.
synced_odoo, free_tables, two = scenarios.synced_odoo, scenarios.free_tables, scenarios.two
test_a_product_added_on_a_appears_on_b_while_both_stay_on_the_table = (
    scenarios.test_a_product_added_on_a_appears_on_b_while_both_stay_on_the_table
)
test_a_quantity_typed_on_a_numpad_appears_on_b = (
    scenarios.test_a_quantity_typed_on_a_numpad_appears_on_b
)
test_a_payment_on_a_closes_the_order_on_b_with_a_notice = (
    scenarios.test_a_payment_on_a_closes_the_order_on_b_with_a_notice
)
test_a_transfer_to_a_free_table_shows_on_b = scenarios.test_a_transfer_to_a_free_table_shows_on_b

WORKERS = 2
# Generous: the bus connects as the POS loads, on two busy cores.
BUS_CONNECTS_S = 20


@pytest.fixture(scope="module")
def served(odoo_harness: Harness) -> Iterator[ServedOdoo]:
    if not NGINX.is_file():
        pytest.skip(NGINX_MISSING)
    with odoo_harness.another_server(workers=WORKERS, proxy="nginx") as served:
        yield served


@pytest.fixture(scope="module")
def odoo(served: ServedOdoo) -> OdooInstance:
    """This module's Odoo: the production-shaped one, for the imported scenarios too."""
    return served.instance


def test_odoo_runs_its_workers_and_a_gevent_process_behind_nginx(served: ServedOdoo) -> None:
    pids = served.pids()
    assert len(pids.http_workers) == WORKERS
    assert pids.gevent is not None
    assert served.proxy is not None and served.instance.base_url == served.proxy.url


def test_the_bus_websocket_reaches_the_gevent_process_through_nginx(two, served) -> None:
    _, b = two
    access_log = served.proxy.prefix / "access.log"
    wait_until(
        lambda: '"GET /websocket' in access_log.read_text() and " 101 " in access_log.read_text(),
        timeout=BUS_CONNECTS_S,
        what="nginx upgrades a /websocket request",
    )
    status = b.status()
    assert status["state"] == "synced" and not status.get("notice"), status


def test_a_killed_http_worker_is_replaced_and_sync_goes_on(two, free_tables, served) -> None:
    a, b = two
    both_on_table(two, free_tables.take(), "Coca-Cola")
    killed = served.kill_http_worker()
    workers = served.pids().http_workers
    assert killed not in workers and len(workers) == WORKERS
    a.add_product("Fanta")
    elapsed = seen_within(b.line("Fanta"))
    print(f"line added on A after a worker was killed, seen on B after {elapsed:.2f} s")


def test_security_a_forged_forwarded_for_counts_against_the_sender_through_the_proxy(
    served: ServedOdoo,
) -> None:
    """Wrong enrolment codes are counted per address (10 lock it out): through the
    recommended site, an address a client writes in ``X-Forwarded-For`` or ``X-Real-IP``
    is not the one Odoo counts (nginx appends the real one, which Odoo's proxy mode takes)."""
    odoo = served.instance
    body = {"jsonrpc": "2.0", "method": "call", "params": {"code": "WRONG-CODE"}}
    forged = {"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9"}
    request = urllib.request.Request(
        f"{odoo.base_url}/pos_restaurant_sync/enroll",
        json.dumps(body).encode(),
        {"Content-Type": "application/json", **forged},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.loads(response.read())
    assert "enrol_code_wrong" in json.dumps(answer), answer
    [attempt] = odoo.jsonrpc(
        "pos_restaurant_sync.enrolment.attempt",
        "search_read",
        [[]],
        {"fields": ["address"], "order": "id desc", "limit": 1},
    )
    assert attempt["address"] == "127.0.0.1"


def test_security_the_database_manager_is_not_served_through_the_site(served: ServedOdoo) -> None:
    """The recommended site keeps Odoo's database manager (back up, drop, restore) off the
    network; the database list, which the app's setup reads, still answers."""
    base = served.instance.base_url
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{base}/web/database/manager", timeout=60)
    assert refused.value.code == 404
    listed = urllib.request.Request(
        f"{base}/web/database/list",
        json.dumps({"jsonrpc": "2.0", "method": "call", "params": {}}).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(listed, timeout=60) as response:
        assert response.status == 200
