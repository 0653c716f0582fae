"""Two terminals on one restaurant POS, in real Odoo 18/19 and real chromium (issue #4).

What a waiter does on terminal A shows on terminal B while both stay on the table, and the
two lost updates measured on native Odoo 19 lose nothing:

1. B has an unsent new line while A leaves the table (native 19 drops B's line);
2. B raises a line's quantity while A adds a line and sends it to the kitchen (native 18 and
   19 overwrite B's quantity).

Each test takes its own free table, so the tests share one database.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from devkit.odoo import OdooInstance
from devkit.pos_page import PosPage, kitchen_printer_values
from devkit.waiting import SHOWS_WITHIN_S

from .shots import FAILURE_SHOTS, SCREENSHOTS

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator

# 19's POS runs a service worker, and Playwright routes (holds, fakes) what goes through one
# only with this switch; it is read when the session's browser starts, after collection.
os.environ.setdefault("PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS", "1")


def wait_until(check, timeout: float = SHOWS_WITHIN_S, what: str = "condition") -> float:
    """Seconds until ``check()`` is true; fails the test after ``timeout``."""
    started = time.monotonic()
    while True:
        if check():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.05)


def seen_within(locator: Locator, timeout: float = SHOWS_WITHIN_S) -> float:
    started = time.monotonic()
    locator.first.wait_for(timeout=timeout * 1000)
    return time.monotonic() - started


# --- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synced_odoo(odoo: OdooInstance) -> OdooInstance:
    """The POS with possync switched on (Bus mode), as its manager would in the settings.

    19's kitchen button only shows with an order printer: a stand-in Epson printer, whose
    answers the terminals fake (``PosPage.stand_in_kitchen_printer``); 18's demo has one.
    """
    values = {"possync_enabled": True, "possync_mode": "bus", **kitchen_printer_values(odoo)}
    odoo.jsonrpc("pos.config", "write", [[odoo.config_id], values])
    return odoo


class Tables:
    """Free tables of the main floor, one per use; whatever a test left open on them is
    cancelled afterwards, so the next test finds them free again."""

    def __init__(self, odoo: OdooInstance) -> None:
        self.odoo = odoo
        self.taken: list[int] = []

    def open_orders(self, numbers: list[int]) -> list[int]:
        domain = [("state", "=", "draft"), ("table_id.table_number", "in", numbers)]
        return self.odoo.jsonrpc("pos.order", "search", [domain])

    def take(self) -> int:
        tables = self.odoo.jsonrpc(
            "restaurant.table",
            "search_read",
            [[("floor_id.name", "=", "Main Floor")], ["table_number"]],
        )
        for number in sorted(t["table_number"] for t in tables):
            if number not in self.taken and not self.open_orders([number]):
                self.taken.append(number)
                return number
        raise AssertionError("no free table left on the main floor")

    def release(self) -> None:
        if orders := self.open_orders(self.taken):
            self.odoo.jsonrpc("pos.order", "action_pos_order_cancel", [orders])


@pytest.fixture
def free_tables(synced_odoo: OdooInstance) -> Iterator[Tables]:
    tables = Tables(synced_odoo)
    yield tables
    tables.release()


@contextmanager
def terminals_a_and_b(
    request: pytest.FixtureRequest,
    browser: Browser,
    odoo: OdooInstance,
    a_script: str = "",
    setup: Callable[[PosPage], None] | None = None,
) -> Iterator[tuple[PosPage, PosPage]]:
    """Terminals A and B: two browser profiles on the floor plan of the same POS (A's with
    ``a_script`` as an init script; ``setup`` called on each before it loads the POS);
    screenshots of both if the test fails."""
    contexts = [browser.new_context(viewport={"width": 1366, "height": 900}) for _ in "AB"]
    if a_script:
        contexts[0].add_init_script(a_script)
    terminals = []
    for context in contexts:
        terminal = PosPage(context.new_page(), odoo.tree.major)
        if setup:
            setup(terminal)
        terminal.stand_in_kitchen_printer()
        terminal.open(odoo)
        terminals.append(terminal)
    failed_before = request.session.testsfailed
    yield terminals[0], terminals[1]
    if request.session.testsfailed > failed_before:
        for name, terminal in zip("AB", terminals, strict=True):
            shot = FAILURE_SHOTS / f"{request.node.name}-{terminal.major}-{name}.png"
            terminal.page.screenshot(path=str(shot))
            print(f"screenshot of terminal {name}: {shot}")
    for context in contexts:
        context.close()


@pytest.fixture
def two(
    request: pytest.FixtureRequest, browser: Browser, free_tables: Tables
) -> Iterator[tuple[PosPage, PosPage]]:
    """Terminals A and B on the POS with possync on.

    Takes ``free_tables`` so that its clean-up runs after the screenshots of a failure.
    """
    with terminals_a_and_b(request, browser, free_tables.odoo) as pair:
        yield pair


def both_on_table(two: tuple[PosPage, PosPage], table: int, first: str) -> None:
    """A starts an order on ``table`` with ``first``; B opens the same table and sees it."""
    a, b = two
    a.open_table(table)
    a.add_product(first)
    wait_until(lambda: b.table_occupied(table), what=f"B sees table {table} occupied")
    b.open_table(table)
    seen_within(b.line(first))


# --- what A does shows on B -----------------------------------------------------------


def test_a_product_added_on_a_appears_on_b_while_both_stay_on_the_table(two, free_tables):
    a, b = two
    both_on_table(two, free_tables.take(), "Coca-Cola")
    a.add_product("Fanta")
    print(f"line added on A seen on B after {seen_within(b.line('Fanta')):.2f} s")


def test_a_line_turned_into_json_names_only_its_model_id_and_uuid(two, free_tables):
    """Odoo 19 logs every price recompute by copying it to JSON: that copy stays short."""
    a, _ = two
    a.open_table(free_tables.take())
    a.add_product("Coca-Cola")
    line = a.page.evaluate(
        """() => {
            const order = window.posmodel.models["pos.order"].find((o) => o.lines.length);
            const line = order.lines[0];
            return { json: JSON.parse(JSON.stringify(line)), uuid: line.uuid };
        }"""
    )
    assert sorted(line["json"]) == ["id", "model", "uuid"]
    assert line["json"]["model"] == "pos.order.line"
    assert line["json"]["uuid"] == line["uuid"]


def test_records_from_another_terminal_are_listed_under_their_uuid(two, free_tables):
    """An order and its lines that B creates from A's changes are indexed by their uuid in
    every list that holds them, like B's own: 18 otherwise lists them under no key, and
    deleting such records later crashes the floor plan."""
    a, b = two
    a.open_table(free_tables.take())
    for product in ("Coca-Cola", "Fanta", "Water"):
        a.add_product(product)
    wait_until(lambda: len(b.products_on(a.current_table)) == 3, what="B has A's 3 lines")
    unkeyed = b.page.evaluate(
        """() => {
            const models = Object.values(window.posmodel.models).filter((m) => m?.getAll);
            return models.flatMap((m) => m.getAll()).flatMap((record) =>
                Object.entries(record._indexMaps || {})
                    .filter(([, index]) => index.has(undefined))
                    .map(([field]) => `${record.model.modelName} ${record.id}: ${field}`));
        }"""
    )
    assert unkeyed == []


def test_a_quantity_typed_on_a_numpad_appears_on_b(two, free_tables):
    a, b = two
    both_on_table(two, free_tables.take(), "Coca-Cola")
    a.select_line("Coca-Cola")
    a.numpad("4")
    elapsed = wait_until(lambda: b.qty_of("Coca-Cola").startswith("4"), what="B sees qty 4")
    print(f"quantity typed on A seen on B after {elapsed:.2f} s")


def test_a_discount_typed_on_a_numpad_appears_on_b(two, free_tables):
    a, b = two
    both_on_table(two, free_tables.take(), "Coca-Cola")
    a.select_line("Coca-Cola")
    a.numpad("%", "1", "5")
    elapsed = seen_within(b.line("Coca-Cola").filter(has_text="15%"))
    print(f"discount typed on A seen on B after {elapsed:.2f} s")


def test_a_customer_set_on_a_appears_on_b(two, free_tables):
    a, b = two
    both_on_table(two, free_tables.take(), "Coca-Cola")
    a.set_customer("Billy Fox")
    elapsed = seen_within(b.customer("Billy Fox"))
    print(f"customer set on A seen on B after {elapsed:.2f} s")


def test_a_kitchen_note_on_a_appears_on_b(two, free_tables):
    a, b = two
    both_on_table(two, free_tables.take(), "Coca-Cola")
    a.select_line("Coca-Cola")
    a.kitchen_note("No ice please")
    elapsed = seen_within(b.line("Coca-Cola").filter(has_text="No ice please"))
    print(f"kitchen note from A seen on B after {elapsed:.2f} s")


def test_a_payment_on_a_closes_the_order_on_b_with_a_notice(two, free_tables):
    a, b = two
    table = free_tables.take()
    both_on_table(two, table, "Coca-Cola")
    a.pay_cash()
    elapsed = seen_within(b.floor_screen)
    noticed = elapsed + seen_within(b.notification("paid on another terminal"))
    print(f"order paid on A left on B after {elapsed:.2f} s, the notice after {noticed:.2f} s")
    wait_until(lambda: not b.table_occupied(table), what="B shows the table free again")
    assert b.errors == [], "B's screen failed to draw as it left the paid order"


def test_a_paid_order_leaves_the_paying_page_once_its_waiter_moves_on(two, free_tables):
    """Odoo keeps an order paid on a terminal in its records; with possync on it goes once
    sent and off screen (docs/protocol.md "What a page remembers")."""
    a, _ = two
    both_on_table(two, free_tables.take(), "Coca-Cola")
    order = a.current_order()
    a.pay_cash()
    seen_within(a.page.get_by_text("New Order").first)
    assert a.copies(order), "the receipt screen still has the paid order"
    a.page.get_by_text("New Order").first.click()
    wait_until(lambda: not a.copies(order), what="A no longer holds the paid order")


def test_an_order_paid_at_another_table_leaves_the_page_of_a_waiter_on_a_table(two, free_tables):
    """A waiter may stay on a table's order all evening: the orders closed meanwhile at
    other tables go once sent and seen closed, the table's own stay (docs/protocol.md "What
    a page remembers")."""
    a, _ = two
    shown, other = free_tables.take(), free_tables.take()
    a.open_table(shown)
    a.add_product("Coca-Cola")
    catalog = a.catalog()
    other_id = a.js(
        """(number) => window.posmodel.models["restaurant.table"]
            .find((t) => t.table_number === number).id""",
        other,
    )
    order = a.new_order(other_id)
    a.add_line(order, catalog["products"][0]["id"])
    assert a.pay(order, catalog["cash"])["answer"] == "accepted"
    wait_until(lambda: not a.copies(order), what="A no longer holds the order paid elsewhere")
    assert a.products_on(shown) == ["Coca-Cola"]


def test_b_floor_plan_shows_a_table_as_occupied(two, free_tables):
    a, b = two
    table = free_tables.take()
    assert not b.table_occupied(table)
    a.open_table(table)
    a.add_product("Coca-Cola")
    elapsed = wait_until(lambda: b.table_occupied(table), what="B sees the table occupied")
    print(f"table occupied by A shown on B's floor plan after {elapsed:.2f} s")


def test_a_line_with_an_attribute_value_on_a_shows_it_on_b_and_on_the_server(
    two, free_tables, synced_odoo
):
    a, b = two
    table = free_tables.take()
    both_on_table(two, table, "Coca-Cola")
    attribute_value = a.attribute_value()
    assert attribute_value, "the demo data has a POS product with a no-variant attribute"
    a.add_line(a.current_order(), attribute_value["product_id"], value_ids=[attribute_value["id"]])
    shown = b.line(attribute_value["product"]).filter(has_text=attribute_value["name"])
    print(f"line with an attribute value from A seen on B after {seen_within(shown):.2f} s")
    domain = [("order_id.state", "=", "draft"), ("order_id.table_id.table_number", "=", table)]

    def server_values() -> list[list[int]]:
        lines = synced_odoo.jsonrpc(
            "pos.order.line", "search_read", [domain, ["attribute_value_ids"]]
        )
        return sorted(line["attribute_value_ids"] for line in lines)

    wait_until(
        lambda: server_values() == [[], [attribute_value["id"]]],
        what="the server's line has the attribute value",
    )


# --- transfer, split, merge -------------------------------------------------------------


def test_a_transfer_to_a_free_table_shows_on_b(two, free_tables):
    a, b = two
    source, target = free_tables.take(), free_tables.take()
    a.open_table(source)
    a.add_product("Coca-Cola")
    wait_until(lambda: b.table_occupied(source), what="B sees the source table occupied")
    a.transfer_to(target)
    elapsed = wait_until(
        lambda: b.table_occupied(target) and not b.table_occupied(source),
        what="B sees the order moved to the target table",
    )
    print(f"transfer on A seen on B's floor plan after {elapsed:.2f} s")
    b.open_table(target)
    seen_within(b.line("Coca-Cola"))


def test_a_merge_onto_an_occupied_table_shows_on_b(two, free_tables):
    a, b = two
    source, target = free_tables.take(), free_tables.take()
    a.open_table(target)
    a.add_product("Fanta")
    a.back_to_floor()
    a.open_table(source)
    a.add_product("Coca-Cola")
    wait_until(lambda: b.table_occupied(source), what="B sees the source table occupied")
    b.open_table(target)
    seen_within(b.line("Fanta"))
    a.transfer_to(target)
    elapsed = seen_within(b.line("Coca-Cola"))
    print(f"merge on A seen on B (target order on screen) after {elapsed:.2f} s")
    b.back_to_floor()
    wait_until(lambda: not b.table_occupied(source), what="B sees the source table free")


def test_a_split_shows_on_b(two, free_tables):
    a, b = two
    table = free_tables.take()
    both_on_table(two, table, "Coca-Cola")
    a.add_product("Fanta")
    seen_within(b.line("Fanta"))
    a.split_off("Fanta")
    elapsed = wait_until(
        lambda: b.line("Fanta").count() == 0, what="B sees the split line leave the table"
    )
    print(f"split on A seen on B after {elapsed:.2f} s")
    assert b.products_on(table) == ["Coca-Cola"]
    wait_until(lambda: "Fanta" in b.products_on(None), what="B holds the split-off order")


# --- the lost updates of native Odoo ------------------------------------------------------


def test_b_unsent_new_line_survives_a_leaving_the_table(two, free_tables, synced_odoo):
    """Lost update 1: native 19 drops B's line when A's sync makes B re-read the order."""
    a, b = two
    table = free_tables.take()
    both_on_table(two, table, "Coca-Cola")
    with b.pushes_held():
        b.add_product("Fanta")
        wait_until(lambda: b.pending() == 1, what="B's line waits in its outbox")
        with b.native_reload_seen():
            a.back_to_floor()
        assert b.line("Fanta").count() == 1, "B's unsent line was lost"
    a.open_table(table)
    elapsed = seen_within(a.line("Fanta"))
    print(f"B's line, unsent while A left the table, reached A {elapsed:.2f} s after release")
    assert_server_order(synced_odoo, table, {"Coca-Cola": 1, "Fanta": 1})


def test_b_quantity_survives_a_adding_a_line_and_sending_it_to_the_kitchen(
    two, free_tables, synced_odoo
):
    """Lost update 2: native 18 and 19 overwrite B's quantity with A's older copy."""
    a, b = two
    table = free_tables.take()
    both_on_table(two, table, "Coca-Cola")
    with b.pushes_held():
        b.select_line("Coca-Cola")
        b.numpad("3")
        wait_until(lambda: b.pending() == 1, what="B's quantity waits in its outbox")
        a.add_product("Fanta")
        with b.native_reload_seen():
            a.send_to_kitchen()  # 19 syncs the order here, 18 when A leaves the table
            a.back_to_floor()
        assert b.qty_of("Coca-Cola").startswith("3"), "B's quantity was overwritten"
    seen_within(b.line("Fanta"))
    a.open_table(table)
    wait_until(lambda: a.qty_of("Coca-Cola").startswith("3"), what="A sees B's quantity")
    assert_server_order(synced_odoo, table, {"Coca-Cola": 3, "Fanta": 1})


def assert_server_order(odoo: OdooInstance, table: int, expected: dict[str, float]) -> None:
    """The server's open order on ``table`` ends up with exactly these quantities."""

    def quantities() -> dict[str, float]:
        lines = odoo.jsonrpc(
            "pos.order.line",
            "search_read",
            [
                [("order_id.state", "=", "draft"), ("order_id.table_id.table_number", "=", table)],
                ["full_product_name", "qty"],
            ],
        )
        result: dict[str, float] = {}
        for line in lines:
            result[line["full_product_name"]] = (
                result.get(line["full_product_name"], 0) + line["qty"]
            )
        return result

    deadline = time.monotonic() + SHOWS_WITHIN_S
    while (found := quantities()) != expected:
        if time.monotonic() > deadline:
            pytest.fail(f"server order on table {table} is {found}, not {expected}")
        time.sleep(0.2)


# --- the sync indicator and the modes ---------------------------------------------------


# The popover fades in once it is placed: a picture waits until no animation is left.
FADED_IN = """el => {
    const popover = el.closest('.o_popover');
    return !popover.getAnimations().length && getComputedStyle(popover).opacity === '1';
}"""


def indicator_shot(terminal: PosPage, state: str) -> None:
    """The right half of the navbar (and the details popover, if open), for the readme."""
    path = SCREENSHOTS / f"sync_indicator_{state}_{terminal.major}.png"
    terminal.page.screenshot(path=str(path), clip={"x": 766, "y": 0, "width": 600, "height": 170})


def test_the_navbar_indicator_shows_synced_pending_and_unreachable(two, free_tables):
    a, _ = two
    button = a.indicator
    a.open_table(free_tables.take())
    a.add_product("Coca-Cola")
    wait_until(lambda: button.get_attribute("data-state") == "synced", what="all synced")
    assert "Last sync:" in button.get_attribute("title")
    indicator_shot(a, "synced")

    with a.pushes_held():
        a.add_product("Fanta")
        wait_until(
            lambda: button.get_attribute("data-state") == "syncing", what="a push on its way"
        )
        assert button.locator(".possync-pending").inner_text() == "1"
        indicator_shot(a, "pending")
    wait_until(lambda: button.get_attribute("data-state") == "synced", what="synced again")

    with a.server_unreachable():
        a.add_product("Water")
        wait_until(lambda: button.get_attribute("data-state") == "error", what="a red indicator")
        button.click()
        details = a.sync_details
        assert "Not synced: server unreachable" in details.inner_text()
        wait_until(lambda: details.evaluate(FADED_IN), what="the details fully shown")
        indicator_shot(a, "unreachable")
    wait_until(lambda: button.get_attribute("data-state") == "synced", what="recovery")
    assert a.pending() == 0


# Two screenshots side by side, each scaled to half its width, for the Apps page.
SIDE_BY_SIDE = """<body style="margin:0;display:flex;gap:8px;background:#dee2e6">
<img style="width:683px" src="data:image/png;base64,{}">
<img style="width:683px" src="data:image/png;base64,{}"></body>"""


def test_the_apps_page_picture_shows_one_order_on_two_terminals(two, free_tables, browser):
    """A adds products on a table that B has open: both show the same order, synced."""
    a, b = two
    both_on_table(two, free_tables.take(), "Coca-Cola")
    for product in ("Fanta", "Water"):
        a.add_product(product)
        seen_within(b.line(product))
    for terminal in two:
        wait_until(
            lambda t=terminal: t.indicator.get_attribute("data-state") == "synced",
            what="both terminals synced",
        )
    pictures = [base64.b64encode(terminal.page.screenshot()).decode() for terminal in two]
    page = browser.new_page(viewport={"width": 1374, "height": 450})
    page.set_content(SIDE_BY_SIDE.format(*pictures))
    page.wait_for_function("[...document.images].every((img) => img.complete)")
    page.screenshot(path=str(SCREENSHOTS / f"terminals_{a.major}.png"))
    page.close()


# Records the page's live intervals (id → period) from now on, to see a timer outlive its
# component; Odoo's own code keeps the functions it bound at load and is not recorded.
TRACK_INTERVALS = """() => {
    const live = (window.possyncTestIntervals = new Map());
    const { setInterval, clearInterval } = window;
    window.setInterval = (callback, ms, ...args) => {
        const id = setInterval(callback, ms, ...args);
        live.set(id, ms);
        return id;
    };
    window.clearInterval = (id) => {
        live.delete(id);
        clearInterval(id);
    };
}"""
TICKS = "() => [...window.possyncTestIntervals.values()].filter((ms) => ms === 1000).length"


def test_the_indicator_details_follow_the_status_while_open(two, free_tables):
    """The open popover reads the live status, not a copy made when it opened: the pending
    count rises and falls, the cause comes and goes, the age of the last sync ticks; and its
    clock stops when it closes."""
    a, _ = two
    button, details = a.indicator, a.sync_details
    a.open_table(free_tables.take())
    a.add_product("Coca-Cola")
    wait_until(lambda: button.get_attribute("data-state") == "synced", what="all synced")
    a.page.evaluate(TRACK_INTERVALS)
    button.click()

    def lines() -> list[str]:
        return details.inner_text().splitlines()

    wait_until(lambda: lines()[0] == "All changes synced", what="the details open")
    # Reopening would lose this mark: it proves the same popover stays open throughout.
    details.evaluate("el => (el.dataset.opened = 'once')")

    # Nothing happens meanwhile, yet the age of the last sync moves on.
    last_sync = re.compile(r"Last sync: (.+) \((.+)\)$")
    time_shown, age_shown = last_sync.match(lines()[1]).groups()
    wait_until(lambda: last_sync.match(lines()[1]).groups()[1] != age_shown, what="the age ticking")
    assert last_sync.match(lines()[1]).group(1) == time_shown
    assert a.page.evaluate(TICKS) == 1

    # Edits while the server is unreachable. A tap elsewhere would close the popover: the
    # products are added from the keyboard (Space on a focused product card).
    with a.server_unreachable():
        a.product("Water").press("Space")
        wait_until(
            lambda: (
                lines()[0] == "Not synced: server unreachable"
                and "1 change(s) waiting to be sent" in lines()
            ),
            what="the open details turning red with 1 change waiting",
        )
        a.product("Fanta").press("Space")
        wait_until(lambda: "2 change(s) waiting to be sent" in lines(), what="2 changes waiting")
        assert details.evaluate("el => el.firstElementChild.classList.contains('text-danger')")

    wait_until(
        lambda: (
            lines()[0] == "All changes synced" and not any("waiting" in line for line in lines())
        ),
        what="the open details back to synced with nothing waiting",
    )
    assert a.pending() == 0
    assert details.get_attribute("data-opened") == "once"
    wait_until(lambda: details.evaluate(FADED_IN), what="the details fully shown")
    a.page.screenshot(
        path=str(FAILURE_SHOTS / f"sync_details_live_{a.major}.png"),
        clip={"x": 766, "y": 0, "width": 600, "height": 170},
    )

    button.click()
    details.wait_for(state="detached")
    assert a.page.evaluate(TICKS) == 0, "the popover's clock outlived it"


@pytest.fixture
def interval_mode(synced_odoo: OdooInstance) -> Iterator[int]:
    """The POS in Interval mode (500 ms) for one test; Bus mode again afterwards."""
    config = [synced_odoo.config_id]
    synced_odoo.jsonrpc("pos.config", "write", [config, {"possync_mode": "interval"}])
    yield 500
    synced_odoo.jsonrpc("pos.config", "write", [config, {"possync_mode": "bus"}])


def test_interval_mode_brings_a_line_within_the_interval(interval_mode, two, free_tables):
    a, b = two
    pulls: list[float] = []
    b.page.on(
        "request", lambda r: pulls.append(time.monotonic()) if r.url.endswith("/pull") else None
    )
    both_on_table(two, free_tables.take(), "Coca-Cola")
    a.add_product("Fanta")
    # How soon is bench.odoo's ``interval_p95_ms``; here B's pulls bring the line at all.
    elapsed = seen_within(b.line("Fanta"))
    print(f"Interval mode: line added on A seen on B after {elapsed:.2f} s")
    recent = [t for t in pulls if t > time.monotonic() - 2]
    assert 2 <= len(recent) <= 6, f"{len(recent)} pulls in 2 s"


# --- through the local agent of the desktop app -------------------------------------------


@contextmanager
def running_agent(odoo: OdooInstance, data_dir: Path, server: str) -> Iterator[dict]:
    """A real possync-agent for this machine's terminal, syncing with ``server``, which
    takes pages of the Odoo under test; yields what the desktop app injects into the page:
    ``{url, token}`` (+ its terminal)."""
    token = secrets.token_urlsafe(16)
    env = {**os.environ, "POSSYNC_PASSWORD": odoo.password, "POSSYNC_PAGE_TOKEN": token}
    command = [
        sys.executable, "-m", "agent.cli", "run", "--data-dir", str(data_dir),
        "--page-port", "0", "--peer-port", "0", "--peer-host", "127.0.0.1", "--no-mdns",
        "--server", server, "--allowed-origin", odoo.base_url, "--db", odoo.db,
        "--login", odoo.login, "--config-id", str(odoo.config_id),
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        listening = json.loads(process.stdout.readline())
        yield {
            "url": f"ws://127.0.0.1:{listening['page_port']}/page",
            "token": token,
            "terminal": listening["terminal"],
        }
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def agent(synced_odoo: OdooInstance, tmp_path: Path) -> Iterator[dict]:
    """The agent of this machine's terminal, syncing with the Odoo under test."""
    with running_agent(synced_odoo, tmp_path / "agent", synced_odoo.base_url) as running:
        yield running


@pytest.fixture
def agent_cut_off(synced_odoo: OdooInstance, tmp_path: Path) -> Iterator[dict]:
    """An agent whose server never answers (a closed port): its page hears of other
    terminals only through Odoo's own sync."""
    with running_agent(synced_odoo, tmp_path / "cut-off", "http://127.0.0.1:9") as running:
        yield running


def test_the_page_moves_to_the_local_agent_when_the_desktop_app_injects_it(two, free_tables, agent):
    """The desktop app's contract: ``window.possyncAgent`` and a ``possync:agent`` event,
    possibly after the addon started; from then on the page syncs only through the agent."""
    a, b = two
    to_server: list[str] = []
    a.page.on(
        "request",
        lambda r: to_server.append(r.url) if "/pos_restaurant_sync/" in r.url else None,
    )
    a.page.evaluate(
        """(agent) => {
            window.possyncAgent = {url: agent.url, token: agent.token};
            window.dispatchEvent(new CustomEvent("possync:agent", {detail: window.possyncAgent}));
        }""",
        agent,
    )
    wait_until(lambda: a.terminal() == agent["terminal"], what="A welcomed by the agent")
    assert a.status()["transport"] == "agent"
    table = free_tables.take()
    a.open_table(table)
    a.add_product("Coca-Cola")
    there = wait_until(lambda: b.table_occupied(table), what="B sees A's table through the agent")
    b.open_table(table)
    b.add_product("Fanta")
    back = seen_within(a.line("Fanta"))
    print(
        f"through A's agent: A's table on B after {there:.2f} s, B's line on A after {back:.2f} s"
    )
    assert to_server == [], "in agent mode the page itself never syncs with the server"
    wait_until(lambda: a.status()["state"] == "synced", what="A synced via agent")


# The page's own socket to the agent, as any holder of the page token may open it.
# A tablet that edits a line has seen the line's add, so its stamp sorts after the add's
# (docs/protocol.md, "Clock": causality), as the page's own clock makes it; a stamp from the
# test's clock alone could sort before an add captured late on a loaded machine, whose values
# would then win.
PUSH_THROUGH_AGENT = """async ({url, token, change}) => {
    const socket = new WebSocket(`${url}?token=${encodeURIComponent(token)}`);
    const messages = [];
    socket.addEventListener("message", (event) => messages.push(JSON.parse(event.data)));
    const until = async (found) => {
        for (const end = Date.now() + 10000; !found() && Date.now() < end; ) {
            await new Promise((resolve) => setTimeout(resolve, 20));
        }
        return found();
    };
    await new Promise((resolve) => socket.addEventListener("open", resolve));
    socket.send(JSON.stringify({type: "hello", v: 1, since: 0}));
    await until(() => messages.some((m) => m.type === "welcome"));
    const edited = change.ops.filter((op) => op.op === "line.set").map((op) => op.line);
    const seen = () => messages.filter((m) => m.type === "changes")
        .flatMap((m) => m.changes.map((item) => item.change))
        .filter((c) => c.order === change.order);
    const adds = (c, line) => c.ops.some((op) => op.op === "line.add" && op.line === line);
    const added = (line) => seen().some((c) => adds(c, line));
    await until(() => edited.every(added));
    const {HybridClock} = odoo.loader.modules.get("@pos_restaurant_sync/lib/protocol");
    const clock = new HybridClock(change.hlc);
    seen().forEach((c) => clock.observe(c.hlc, Date.now()));
    change.hlc = clock.tick(Date.now());
    socket.send(JSON.stringify({type: "push", changes: [change]}));
    await until(() => messages.some((m) => m.type === "ack"));
    socket.close();
    return messages.find((m) => m.type === "ack");
}"""


def on_agent(terminal: PosPage, agent: dict) -> None:
    """``terminal`` handed to ``agent`` as the desktop app does, and welcomed by it."""
    terminal.js(
        """(agent) => window.dispatchEvent(new CustomEvent("possync:agent",
            {detail: (window.possyncAgent = {url: agent.url, token: agent.token})}))""",
        agent,
    )
    wait_until(lambda: terminal.terminal() == agent["terminal"], what="the page on the agent")


def push_from_lan(terminal: PosPage, agent: dict, order: str, op: dict) -> None:
    """A change of ``order`` by another tablet, pushed into ``agent`` through the page's socket."""
    change = {
        "v": 1,
        "id": secrets.token_hex(8),
        "terminal": "lan-peer",
        "hlc": f"{int(time.time() * 1000):015d}-00000",
        "order": order,
        "ops": [op],
    }
    assert terminal.js(PUSH_THROUGH_AGENT, {**agent, "change": change})["ids"] == [change["id"]]


def test_a_plain_text_kitchen_note_from_the_lan_is_drawn_as_a_tag_on_19(two, free_tables, agent):
    """The agents do not know the Odoo series and relay any note between tablets; 19's
    order lines JSON.parse theirs. The page writes it as a tag, and its screen stays up."""
    a, _ = two
    if a.major < 19:
        pytest.skip("18 keeps kitchen notes as plain text")
    on_agent(a, agent)
    a.open_table(free_tables.take())
    a.add_product("Coca-Cola")
    order = a.current_order()
    line = a.js(
        """(uuid) => window.posmodel.models["pos.order"].find((o) => o.uuid === uuid)
            .lines[0].uuid""",
        order,
    )
    push_from_lan(
        a,
        agent,
        order,
        {"op": "line.set", "line": line, "field": "internal_note", "value": "No ice"},
    )

    def note() -> str:
        return a.js(
            """(uuid) => window.posmodel.models["pos.order.line"].find((l) => l.uuid === uuid)
                .note""",
            line,
        )

    wait_until(note, what="the note written into A's line")
    assert json.loads(note()) == [{"text": "No ice", "colorIndex": 0}]
    seen_within(a.line("Coca-Cola").filter(has_text="No ice"))
    a.add_product("Fanta")  # the order screen still works
    seen_within(a.line("Fanta"))


def test_an_order_whose_table_comes_later_stays_off_the_table_open_here(
    two, free_tables, agent, synced_odoo
):
    """A peer's line of its new order can reach A before the change that puts the order on a
    table. Odoo 18 puts an order made on a page on the table open there, and keeps one
    open order a table (its loads of the open orders and its server merge a second one into
    the first): the peer's order must not end up in the order of the table A has open."""
    a, _ = two
    on_agent(a, agent)
    table = free_tables.take()
    a.open_table(table)
    a.add_product("Coca-Cola")
    assert_server_order(synced_odoo, table, {"Coca-Cola": 1})
    product = a.catalog()["products"][0]
    order = secrets.token_hex(16)
    values = {"product_id": product["id"], "qty": 1, "price_unit": product["price"]}
    push_from_lan(
        a, agent, order, {"op": "line.add", "line": secrets.token_hex(16), "values": values}
    )
    a.wait_for_order(order)
    assert a.products_on(table) == ["Coca-Cola"]
    a.js(  # Odoo sends it (the records it answers with are no value for the test)
        """async (uuid) => {
            const orders = window.posmodel.models["pos.order"].filter((o) => o.uuid === uuid);
            await window.posmodel.syncAllOrders({ orders });
        }""",
        order,
    )
    assert_server_order(synced_odoo, table, {"Coca-Cola": 1})


def orders_odoo_reread(terminal: PosPage) -> list[str]:
    """The uuids of the orders Odoo's own device sync reads again on ``terminal`` now."""
    with terminal.native_reload_seen() as answer:
        terminal.odoo_read_started()
    terminal.odoo_read_done()
    records = answer.value.json()["result"]["dynamic_records"]
    return [order["uuid"] for order in records.get("pos.order", [])]


def written_by_odoo(odoo: OdooInstance, table: int) -> None:
    """Odoo itself writes the open order of ``table`` (its guest count), as a backend user,
    a self-order or a payment provider would: outside possync."""
    orders = Tables(odoo).open_orders([table])
    odoo.jsonrpc("pos.order", "write", [orders, {"customer_count": 5}])


def test_an_order_paid_elsewhere_that_odoo_brings_first_leaves_b_for_the_floor_plan(
    two, free_tables, agent_cut_off
):
    """Odoo's own sync may bring B an order paid on A before possync's close does (here it
    alone does: B's agent is cut off from the server). B's order screen replaces a closed
    order with a new one as it draws; B must still leave for the floor plan and say why."""
    a, b = two
    table = free_tables.take()
    both_on_table(two, table, "Coca-Cola")
    # Odoo's own sync brings a paid order only to a page that holds its Odoo id.
    wait_until(lambda: free_tables.open_orders([table]), what="Odoo holds the order")
    orders_odoo_reread(b)
    on_agent(b, agent_cut_off)
    # With its sync status an error, B's own sync reads an order again as Odoo does: if it
    # changed over a second after the write B knows of (`write_date` + 1 s).
    time.sleep(2)
    with b.native_reload_seen():
        a.pay_cash()
    seen_within(b.notification("paid on another terminal"))
    seen_within(b.floor_screen)
    wait_until(lambda: not b.table_occupied(table), what="B shows the table free again")
    assert b.errors == [], "B's screen failed to draw as it left the paid order"
    assert free_tables.open_orders([table]) == [], "B left an empty order on the table"


def test_odoos_reread_brings_b_what_odoo_wrote_not_what_possync_brought(two, free_tables):
    """With sync on, Odoo's re-read of the open orders asks for the orders written outside
    possync since the page's copy: possync brings its own changes, and an order it alone
    changed is not read again by every terminal after every Odoo sync."""
    a, b = two
    table = free_tables.take()
    both_on_table(two, table, "Coca-Cola")
    wait_until(lambda: free_tables.open_orders([table]), what="Odoo holds the order")
    order = a.current_order()
    orders_odoo_reread(b)  # B's copy of the Odoo order, with its id
    a.add_product("Fanta")
    wait_until(lambda: "Fanta" in b.products_on(table), what="B holds A's second line")
    assert a.wait_pushed()
    assert order not in orders_odoo_reread(b), "B read again an order only possync changed"
    written_by_odoo(free_tables.odoo, table)
    assert order in orders_odoo_reread(b), "B did not read an order Odoo wrote"


def test_a_new_order_on_a_table_just_paid_is_not_merged_into_the_paid_one_by_odoos_sync(
    two, free_tables
):
    """A pays table T's order and seats new guests there. B's own Odoo sync loads the paid
    order as it was when it asked, still open (an answer held up on the network): Odoo's
    restaurant, finding two open orders on T, would move the new order's lines into the
    paid one and delete the new order, and B would send its cancel to every terminal."""
    a, b = two
    table = free_tables.take()
    both_on_table(two, table, "Coca-Cola")
    b.back_to_floor()
    with b.odoo_reads_held():
        a.add_product("Water")
        wait_until(lambda: "Water" in b.products_on(table), what="B holds A's second line")
        # Odoo's own sync reads again only an order written outside possync since the
        # page's copy: the read below must carry the order.
        written_by_odoo(free_tables.odoo, table)
        b.odoo_read_started()
        a.pay_cash()
        wait_until(lambda: not b.table_occupied(table), what="B sees the table free")
        a.page.get_by_text("New Order").first.click()
        a.open_table(table)
        a.add_product("Fanta")
        wait_until(lambda: b.products_on(table) == ["Fanta"], what="B holds the new order")
    b.odoo_read_done()
    assert b.wait_pushed(), "B's page still has changes to send"
    assert a.wait_pushed(), "A's page still has changes to send"
    time.sleep(1)  # a cancel B sent would reach A by now
    assert a.products_on(table) == ["Fanta"], "the new order lost its line on A"
    assert b.products_on(table) == ["Fanta"], "the new order lost its line on B"
    seen_within(a.line("Fanta"))
    assert a.errors == [] and b.errors == []


def test_two_terminals_opening_one_free_table_at_once_keep_both_orders(
    two, free_tables, synced_odoo
):
    """A and B open the same free table before either hears of the other's order. Both
    orders stay whole, the same on both terminals and on the server: while each page's own
    Odoo sync loads them (Odoo's restaurant would merge them there, each page by its own
    records), and once both waiters leave the table (Odoo then sends each page's order)."""
    a, b = two
    table = free_tables.take()
    both = ["Coca-Cola", "Fanta"]
    with a.pushes_held():
        a.open_table(table)
        a.add_product("Coca-Cola")
        b.open_table(table)
        b.add_product("Fanta")
        wait_until(lambda: sorted(a.products_on(table)) == both, what="A holds B's order")
    wait_until(lambda: sorted(b.products_on(table)) == both, what="B holds A's order")
    orders = sorted(a.orders_on(table))
    assert len(orders) == 2
    for page in two:
        page.odoo_read_started()
        page.odoo_read_done()
        assert sorted(page.orders_on(table)) == orders, "a page merged the table's orders"
    b.back_to_floor()
    a.back_to_floor()
    assert a.wait_pushed() and b.wait_pushed(), "a page still has changes to send"
    assert_server_order(synced_odoo, table, {"Coca-Cola": 1, "Fanta": 1})
    assert len(free_tables.open_orders([table])) == 2, "the server merged the orders"
    for page in two:
        page.odoo_read_started()
        page.odoo_read_done()
        assert sorted(page.orders_on(table)) == orders
        assert sorted(page.products_on(table)) == both
    for order in orders:  # the waiter reaches each from the Orders screen
        b.open_from_orders(order)
        assert b.current_order() == order
    assert a.errors == [] and b.errors == []
