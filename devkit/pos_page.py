"""The restaurant POS in a Playwright page, as a waiter and a test see it (Odoo 18 and 19).

``PosPage`` is the one page object the real-Odoo tests, the end-to-end service and the
benches drive: logging in and opening the POS, the floor plan, the order screen (taps on
products, the numpad, the customer, notes, transfer, split, payment), the POS store (read and
edited through ``window.posPage`` of ``pos_page.js``, an init script) and possync's sync
state on the page. Every selector is here; what differs between the 18 and 19 screens is in
``SCREENS``, what differs in their store methods is in ``pos_page.js``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .odoo import OdooInstance
from .waiting import SHOWS_WITHIN_MS

if TYPE_CHECKING:
    from playwright.sync_api import (
        APIResponse,
        EventContextManager,
        Locator,
        Page,
        Response,
        Route,
    )

PAGE_JS = Path(__file__).with_name("pos_page.js")
# The POS loads every product and compiles its assets on first use: be generous.
POS_LOAD_TIMEOUT_MS = 120_000
ARRIVAL_TIMEOUT_MS = 10_000
# What ``window.posPage`` throws when an action does not apply here (no such order or line).
REFUSED = "posPage:"
# Owl's last words when a render fails: the POS screen is gone, only a reload brings it back.
UI_CRASH = "Destroying the root component"
# What Odoo logs when a component's render failed (its error dialog follows).
RENDER_FAILED = ("OwlError", UI_CRASH)
KITCHEN_PRINTER_IP = "192.0.2.10"  # TEST-NET-1: never a real printer
EPOS_PRINTED = '<response success="true" code="" status="0"/>'
SYNC_ROUTE = "**/pos_restaurant_sync/**"  # possync's requests to the server
PUSH_ROUTE = "**/pos_restaurant_sync/push"
ODOO_READ_ROUTE = "**/read_config_open_orders"  # Odoo's own device sync reading open orders

# States ``arrival`` waits for besides an order's own: the order paid, cancelled or gone
# (after it was seen), and a new notification shown to the waiter.
CLOSED = "closed"
NOTICE = "notice"
# The numpad's mode keys (Qty, %, Price) on 18 and 19.
NUMPAD_MODES = {"quantity": "numpad-qty", "discount": "numpad-discount", "price": "numpad-price"}

PRODUCTS = ".product-list .product"
ORDER_LINES = ".order-container .orderline"


@dataclass(frozen=True)
class Screens:
    """What differs between Odoo 18's and 19's POS screens."""

    floor_button: str  # the header button back to the floor plan
    line_note_button: str  # the selected line's kitchen note
    actions_button: str  # opens the dialog with the order's other actions (split, transfer…)
    occupied: str  # JS on a floor-plan table: is an order open on it?
    kitchen_leaves_table: bool  # after the kitchen printed, the floor plan shows
    kitchen_before_payment: bool  # what the kitchen has not seen is sent before a payment


# 18 only paints an occupied table (a free one: #00000020); 19 gives it a class.
PAINTED = "el => getComputedStyle(el).backgroundColor !== 'rgba(0, 0, 0, 0.125)'"
CLASSED = "el => el.classList.contains('occupied')"
SCREENS = {  # in the order of the fields of Screens
    18: Screens("Plan", "Kitchen Note", "role=button[name='Actions']", PAINTED, False, False),
    19: Screens("Tables", "Note", ".control-buttons .more-btn", CLASSED, True, True),
}


class PosPage:
    """One POS screen in a browser page; give it the page before the POS loads."""

    def __init__(self, page: Page, major: int) -> None:
        self.page = page
        self.major = major
        self.screens = SCREENS[min(major, 19)]
        self.current_table: int | None = None
        self.errors: list[str] = []  # uncaught errors and failed renders, as they came
        page.add_init_script(path=str(PAGE_JS))
        page.on("pageerror", lambda error: self.errors.append(str(error)[:2000]))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if message.type == "error" and any(sign in message.text for sign in RENDER_FAILED):
            self.errors.append(message.text[:2000])

    # --- login ----------------------------------------------------------------------

    def open(self, odoo: OdooInstance, via: str | None = None) -> Locator:
        """Log in as ``odoo``'s admin (unless this profile still is) and get to the floor
        plan; returns its locator. ``via``: another base URL for the same Odoo (a proxy).

        18 and 19 first show a cashier screen with an "Open Register" button (the harness
        already opened the session, so no cash popup follows); a waiter clicks it, so do we.
        """
        page = self.page
        path = odoo.pos_url.removeprefix(odoo.base_url)
        url = f"{via or odoo.base_url}/web/login?redirect={quote(path, safe='')}"
        page.goto(url, timeout=POS_LOAD_TIMEOUT_MS)
        login = page.locator("input[name=login]")
        floor = self.floor
        register = page.locator(".login-overlay .open-register-btn")
        login.or_(floor).or_(register).first.wait_for(timeout=POS_LOAD_TIMEOUT_MS)
        if login.is_visible():
            login.fill(odoo.login)
            page.fill("input[name=password]", odoo.password)
            page.click("form button[type=submit]")
        floor.or_(register).first.wait_for(timeout=POS_LOAD_TIMEOUT_MS)
        if register.is_visible():
            register.click()
        floor.wait_for(timeout=POS_LOAD_TIMEOUT_MS)
        return floor

    def wait_ready(self, synced: bool = True) -> None:
        """Until the POS store is loaded and (when ``synced``: possync is on) possync's page
        script knows its terminal."""
        self.page.wait_for_function(
            "(synced) => window.posPage && window.posPage.ready(synced)",
            arg=synced,
            timeout=POS_LOAD_TIMEOUT_MS,
            polling=100,
        )

    def stand_in_kitchen_printer(self) -> None:
        """Answer for the kitchen printer at ``KITCHEN_PRINTER_IP`` (an Epson: every
        ticket prints) and for the web fonts a ticket waits for (Odoo's CDN, unreachable
        here)."""
        self.page.route(f"http*://{KITCHEN_PRINTER_IP}/**", _epos_printed)
        self.page.route("https://fonts.odoocdn.com/**", lambda route: route.fulfill(status=200))

    # --- floor plan -----------------------------------------------------------------

    @property
    def floor_screen(self) -> Locator:
        """The floor plan's screen, shown before its map is drawn."""
        return self.page.locator(".floor-screen")

    @property
    def floor(self) -> Locator:
        """The floor plan's map, with its tables."""
        return self.floor_screen.locator(".floor-map")

    def table(self, number: int) -> Locator:
        label = self.page.locator(".label", has_text=re.compile(rf"^\s*{number}\s*$"))
        return self.page.locator(".floor-map .table").filter(has=label)

    def table_occupied(self, number: int) -> bool:
        return self.table(number).evaluate(self.screens.occupied)

    def floor_drawn(self) -> dict[int, dict[str, Any]]:
        """Each table the floor plan shows: ``{id: {occupied, changes}}`` (its kitchen
        changes badge, 0 when none), as drawn."""
        drawn = {}
        for table in self.floor.locator(".table").all():
            table_id = int(re.search(r"tableId-(\d+)", table.get_attribute("class")).group(1))
            badge = table.locator(".order-count")
            drawn[table_id] = {
                "occupied": table.evaluate(self.screens.occupied),
                "changes": float(badge.inner_text()) if badge.count() else 0,
            }
        return drawn

    def floor_computed(self) -> dict[int, dict[str, Any]]:
        """The same tables as Odoo's own code computes them outside a draw."""
        return {int(k): v for k, v in self._call("floorAsComputed").items()}

    def open_table(self, number: int) -> None:
        self.current_table = number
        self.table(number).click()
        self._order_screen_shown()

    def back_to_floor(self) -> None:
        """Leave the table for the floor plan (Odoo syncs the order then)."""
        floor = self.floor
        if not floor.is_visible():
            header = self.page.locator(".pos-leftheader button", has_text=self.screens.floor_button)
            header.first.click()
        floor.wait_for()

    def _order_screen_shown(self) -> None:
        self.page.locator(PRODUCTS).first.wait_for(timeout=POS_LOAD_TIMEOUT_MS)

    # --- order screen ---------------------------------------------------------------

    def product(self, name: str) -> Locator:
        return self.page.locator(PRODUCTS, has_text=name).first

    def add_product(self, name: str) -> None:
        self.product(name).click()

    def line(self, product: str) -> Locator:
        return self.page.locator(ORDER_LINES, has_text=product)

    def select_line(self, product: str) -> None:
        # A click on the selected line unselects it (and hides the numpad) 300 ms later.
        line = self.line(product).first
        if "selected" not in (line.get_attribute("class") or "").split():
            line.click()

    def qty_of(self, product: str) -> str:
        return self.line(product).first.locator(".qty").inner_text().strip()

    def numpad(self, *keys: str) -> None:
        pad = self.page.locator(".numpad")
        for key in keys:
            pad.get_by_role("button", name=key, exact=True).click()

    def numpad_edit(self, order: str, line: str, mode: str, keys: str) -> None:
        """Select ``line`` of the order on screen, tap the numpad's ``mode`` key
        (``NUMPAD_MODES``: quantity, discount, price) and then ``keys``, as a waiter does
        (clicks on the keys, dispatched in the page); the edit's start (``edited``) is the
        last tap."""
        self._call("numpad", order, line, NUMPAD_MODES[mode], keys)

    def customer(self, name: str) -> Locator:
        """The order's customer button, once it shows ``name``."""
        return self.page.get_by_role("button", name=name)

    def set_customer(self, name: str) -> None:
        self.page.get_by_role("button", name="Customer").first.click()
        self.page.locator(".modal").get_by_text(name, exact=True).first.click()

    def kitchen_note(self, text: str) -> None:
        """The kitchen (internal) note of the selected line."""
        self.page.get_by_role("button", name=self.screens.line_note_button, exact=True).click()
        self.page.locator(".modal textarea").fill(text)
        self.page.locator(".modal").get_by_role("button", name="Apply").click()

    def send_to_kitchen(self) -> None:
        """Send what is new to the kitchen, and wait until it printed: 18 then shows no
        more count on the button, 19 goes back to the floor plan."""
        self.page.locator(".submit-order").click()
        if self.screens.kitchen_leaves_table:
            self.floor.wait_for()
        else:
            self.page.locator(".submit-order label").first.wait_for(state="detached")

    def action(self, name: str) -> None:
        """A button of the dialog with the order's other actions (split, transfer…)."""
        self.page.locator(self.screens.actions_button).click()
        self.page.locator(".modal button", has_text=name).first.click()

    def transfer_to(self, table: int) -> None:
        self.action("Transfer")
        self.table(table).click()
        self._order_screen_shown()

    def split_off(self, product: str) -> None:
        """Split the whole quantity of one line off into a new order."""
        self.action("Split")
        self.page.locator(".splitbill-screen .orderline", has_text=product).first.click()
        self.page.get_by_text("Split Order", exact=True).click()
        self._order_screen_shown()

    def pay_cash(self) -> None:
        if self.screens.kitchen_before_payment:
            self.send_to_kitchen()
            assert self.current_table is not None, "pay_cash: open a table first"
            self.open_table(self.current_table)
        self.page.get_by_role("button", name="Payment").click()
        self.page.locator(".paymentmethods .paymentmethod", has_text="Cash").first.click()
        self.page.get_by_text("Validate", exact=True).click()

    def notification(self, text: str) -> Locator:
        return self.page.locator(".o_notification", has_text=text)

    # --- the POS store, through window.posPage ----------------------------------------

    def js(self, expression: str, arg: Any = None) -> Any:
        """Evaluate ``expression`` (a JS function of ``arg``) in the page."""
        return self.page.evaluate(expression, arg)

    def _call(self, name: str, *args: Any) -> Any:
        return self.js(f"(args) => window.posPage.{name}(...args)", list(args))

    def catalog(self) -> dict[str, Any]:
        """``{products: [{id, price}], partners, tables, cash}``: what a waiter picks from."""
        return self._call("catalog")

    def current_order(self) -> str | None:
        return self._call("current")

    def views(self) -> list[dict]:
        """Every open order with lines, as the addon reads it (docs/protocol.md views)."""
        return self._call("views")

    def orders_on(self, table: int | None) -> list[str]:
        """Uuids of the open orders on ``table`` as this POS holds them."""
        return self._call("ordersOn", table)

    def products_on(self, table: int | None) -> list[str]:
        """Product names of the open orders on ``table`` (None: of those without a table),
        as this POS holds them (orders not on screen have no DOM to read)."""
        return self._call("productsOn", table)

    def wait_for_order(self, order: str, timeout_ms: float = 30_000) -> None:
        """Until this POS holds ``order`` with a line."""
        self.page.wait_for_function(
            "(u) => window.posPage.hasOrder(u)", arg=order, timeout=timeout_ms, polling=50
        )

    def attribute_value(self) -> dict | None:
        """A value of a no-variant attribute of a product this POS loaded (the demo
        burgers' sides, a desk's options): ``{"id", "name", "product_id", "product"}``."""
        return self._call("attributeValue")

    def new_order(self, table_id: int) -> str:
        return self._call("newOrder", table_id)

    def add_line(
        self, order: str, product_id: int, price: float | None = None, value_ids: Sequence[int] = ()
    ) -> str | None:
        """A line added to ``order`` as the product screen (or, with ``value_ids``, the
        product configurator) adds it; returns its uuid. A given ``price`` keeps Odoo from
        merging it into a line of the same product."""
        return self._call("addLine", order, product_id, price, list(value_ids))

    def set_qty(self, order: str, line: str, qty: float) -> None:
        self._call("setQty", order, line, qty)

    def set_discount(self, order: str, line: str, discount: float) -> None:
        self._call("setDiscount", order, line, discount)

    def set_line_note(self, order: str, line: str, text: str) -> None:
        self._call("setLineNote", order, line, text)

    def set_partner(self, order: str, partner_id: int) -> None:
        self._call("setPartner", order, partner_id)

    def set_order_note(self, order: str, text: str) -> Any:
        """The order's kitchen note as its Note button writes it; returns what is stored
        (19: a JSON list of tags)."""
        return self._call("setOrderNote", order, text)

    def transfer(self, order: str, table_id: int) -> None:
        self._call("transfer", order, table_id)

    def add_payment(self, order: str, method_id: int) -> None:
        """A payment line for the amount due, as a tap on a payment method adds it."""
        self._call("addPayment", order, method_id)

    def pay(self, order: str, method_id: int) -> dict:
        """Odoo's own payment validation (of the amount due, unless the order has payment
        lines): ``{"view", "answer"}``, the answer "accepted",
        "refused", "deferred" (Odoo's offline mode sends it later) or "error: …"; the view
        is None on plain Odoo."""
        return self._call("pay", order, method_id)

    def split(self, order: str, quantities: dict[str, float]) -> dict | None:
        """The split bill screen's split: ``{"uuid", "made"}`` of the new order, or None."""
        return self._call("split", order, quantities)

    def merge(self, order: str, dest: str) -> dict | None:
        """A transfer onto the table of ``dest``: ``{"dest": view}`` once merged, or None."""
        return self._call("merge", order, dest)

    # --- arrival: when this page first held a state of an order --------------------------

    def watch(self, order: str) -> None:
        """Record, from now on, when this page first holds each state of ``order`` (``CLOSED``
        once it is paid, cancelled or gone) and when a new notification first shows
        (``NOTICE``)."""
        self._call("watch", order)

    def edited(self, order: str) -> dict[str, Any]:
        """``{"at", "sig"}``: wall-clock ms when the last action here started, and the
        state of ``order`` it left (what a watching page waits for)."""
        return self._call("edited", order)

    def sampled(self, order: str) -> str:
        """The state of ``order`` as the arrival sampler reads it now."""
        return self._call("sampled", order)

    def set_off_screen_wait(self, ms: int) -> None:
        """How long this page lets changes to orders off screen wait
        (``PosOrderSync.offScreenWaitMs``; docs/protocol.md)."""
        self.js(
            """(ms) => {
                const sync = odoo.loader.modules.get("@pos_restaurant_sync/pos/order_sync");
                sync.PosOrderSync.offScreenWaitMs = ms;
            }""",
            ms,
        )

    def sampler_errors(self) -> list[Any]:
        """``[count, last error]`` of the arrival sampler's failed ticks since ``watch``."""
        return self._call("samplerErrors")

    def copies(self, order: str) -> list[dict[str, Any]]:
        """Every record of ``order`` this POS holds, ``{"id", "sig"}`` each."""
        return self._call("copies", order)

    def arrival(self, sig: str, timeout_ms: float = ARRIVAL_TIMEOUT_MS) -> int | None:
        """Wall-clock ms when the watched order first had the state ``sig`` here (None:
        not within the timeout)."""
        try:
            self.page.wait_for_function(
                "(s) => window.posPage.seenAt(s) !== null", arg=sig, timeout=timeout_ms, polling=10
            )
        except Exception:  # noqa: BLE001 - a timeout is a missed change, counted by the caller
            return None
        return self._call("seenAt", sig)

    def open_order(self, order: str) -> None:
        """Show ``order`` (open, at a table) as a waiter's tap on its table does."""
        self._call("openOrder", order)
        self._order_screen_shown()

    def open_from_orders(self, order: str) -> None:
        """Show ``order`` as the Orders screen does: it opens the order's table, naming it."""
        self._call("openFromOrders", order)

    def seen_states(self) -> dict[str, int]:
        """Every state of the watched order seen here since ``watch``: wall-clock ms when
        first seen, by state."""
        return self._call("seenStates")

    # --- possync on this page ---------------------------------------------------------

    @property
    def indicator(self) -> Locator:
        """possync's sync indicator in the navbar (``data-state``: synced, syncing, pending,
        degraded, error)."""
        return self.page.locator("button.possync-indicator")

    @property
    def sync_details(self) -> Locator:
        """The indicator's details popover, while open."""
        return self.page.locator(".possync-details")

    def pending(self) -> int:
        """Changes made here that no receiver acknowledged yet (the desktop app's close
        guard reads the same)."""
        return self._call("pending")

    def status(self) -> dict[str, Any]:
        """possync's status of this page (state, transport, clock…)."""
        return self._call("status")

    def terminal(self) -> str:
        """possync's terminal id of this page."""
        return self._call("terminal")

    def wait_pushed(self, timeout: float = 20) -> bool:
        """True once everything edited on this page is acknowledged by its receiver."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending() == 0:
                return True
            time.sleep(0.2)
        return False

    def native_reload_seen(self) -> EventContextManager[Response]:
        """A context that ends once Odoo's own device sync re-read the open orders here."""
        return self.page.expect_response(ODOO_READ_ROUTE, timeout=SHOWS_WITHIN_MS)

    @contextmanager
    def odoo_reads_held(self) -> Iterator[None]:
        """Odoo's own device sync reads the open orders here as usual, but each answer
        reaches the page only when the context ends: the page then loads the orders as they
        were when it asked, like an answer held up on a slow network."""
        held: list[tuple[Route, APIResponse]] = []
        self.page.route(ODOO_READ_ROUTE, lambda route: held.append((route, route.fetch())))
        try:
            yield
        finally:
            self.page.unroute(ODOO_READ_ROUTE)  # first: a read asked meanwhile is not held
            for route, answer in held:
                route.fulfill(response=answer)

    def odoo_read_started(self) -> None:
        """Odoo's own device sync reads the open orders now (as when another terminal
        synced an order); ``odoo_read_done`` waits for it to load them."""
        self.js("() => { window.possyncTestRead = posmodel.deviceSync.readDataFromServer(); }")

    def odoo_read_done(self) -> None:
        """Until the read ``odoo_read_started`` began has loaded what it read."""
        self.js("() => window.possyncTestRead")

    @contextmanager
    def pushes_held(self) -> Iterator[None]:
        """Hold this page's pushes to the server, then let them all through: its edits
        stay unsent meanwhile, like on a slow or lost network."""
        held: list[Route] = []
        self.page.route(PUSH_ROUTE, lambda route: held.append(route))
        try:
            yield
        finally:
            for route in held:
                route.continue_()
            self.page.unroute(PUSH_ROUTE)

    @contextmanager
    def server_unreachable(self) -> Iterator[None]:
        """Every request of possync's page script to the server fails while inside."""
        self.page.route(SYNC_ROUTE, lambda route: route.abort())
        try:
            yield
        finally:
            self.page.unroute(SYNC_ROUTE)


def kitchen_printer_values(odoo: OdooInstance) -> dict[str, Any]:
    """``pos.config`` values that give 19's POS an order printer at ``KITCHEN_PRINTER_IP``
    for every category: its kitchen button only shows with one (the terminals fake its
    answers, ``PosPage.stand_in_kitchen_printer``); none on 18, whose demo has one."""
    if odoo.tree.major < 19:
        return {}
    printer = {
        "name": "Kitchen",
        "printer_type": "epson_epos",
        "epson_printer_ip": KITCHEN_PRINTER_IP,
        "product_categories_ids": [(6, 0, odoo.jsonrpc("pos.category", "search", [[]]))],
    }
    return {"is_order_printer": True, "printer_ids": [(0, 0, printer)]}


def _epos_printed(route: Route) -> None:
    headers = {"Access-Control-Allow-Origin": "*", "Content-Type": "text/xml"}
    route.fulfill(status=200, headers=headers, body=EPOS_PRINTED)
