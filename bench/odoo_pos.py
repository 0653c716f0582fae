"""Terminals of ``bench.odoo``: one Playwright page each, in a browser context of its own."""

from __future__ import annotations

import re
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bench.odoo_js import BENCH_JS
from devkit.odoo import OdooInstance
from devkit.pos_ui import POS_LOAD_TIMEOUT_MS, open_pos

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Request

ARRIVAL_TIMEOUT_MS = 10_000


def log(message: str) -> None:
    print(f"[bench.odoo] {message}", file=sys.stderr, flush=True)


# Requests whose round trip (request sent until response end) is recorded, by path.
TIMED_PREFIX = "/pos_restaurant_sync/"


class RequestLog:
    """HTTP requests a browser context sends to the Odoo server, by path, while counting.

    Playwright's ``request`` event fires for HTTP requests only: frames on the bus
    websocket are not requests, and neither is the websocket's own upgrade counted here.
    """

    def __init__(self, base_url: str) -> None:
        self.origin = urlsplit(base_url).netloc
        self.counting = False
        self.paths: Counter[str] = Counter()
        self.round_trips: dict[str, list[float]] = {}

    def on_request(self, request: Request) -> None:
        url = urlsplit(request.url)
        if self.counting and url.netloc == self.origin and url.scheme in ("http", "https"):
            self.paths[url.path] += 1

    def on_finished(self, request: Request) -> None:
        path = urlsplit(request.url).path
        if self.counting and path.startswith(TIMED_PREFIX):
            self.round_trips.setdefault(path, []).append(request.timing["responseEnd"])

    @property
    def total(self) -> int:
        return sum(self.paths.values())


class Terminal:
    """One POS screen logged in as admin on the restaurant floor plan."""

    def __init__(self, name: str, browser: Browser, odoo: OdooInstance) -> None:
        self.name = name
        self.odoo = odoo
        self.context: BrowserContext = browser.new_context(viewport={"width": 1366, "height": 900})
        self.context.add_init_script(BENCH_JS)
        self.requests = RequestLog(odoo.base_url)
        self.context.on("request", self.requests.on_request)
        self.context.on("requestfinished", self.requests.on_finished)
        self.page: Page = self.context.new_page()
        self.page.on("pageerror", lambda error: log(f"terminal {name}: page error {error}"))

    def open(self) -> None:
        open_pos(self.page, self.odoo)
        self.page.wait_for_function(
            "() => window.__possyncBench.ready()", timeout=POS_LOAD_TIMEOUT_MS, polling=100
        )

    def js(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)

    def open_table(self, number: int) -> None:
        label = self.page.locator(".label", has_text=re.compile(rf"^\s*{number}\s*$"))
        self.page.locator(".floor-map .table").filter(has=label).click()
        self.page.locator(".product-list .product").first.wait_for(timeout=POS_LOAD_TIMEOUT_MS)

    def wait_for_order(self, uuid: str) -> None:
        self.page.wait_for_function(
            "(u) => window.__possyncBench.hasOrder(u)", arg=uuid, timeout=30_000, polling=50
        )

    def arrival(self, sig: str) -> int | None:
        """Wall-clock ms when this page's store first held the state ``sig`` (None: never)."""
        try:
            self.page.wait_for_function(
                "(s) => window.__possyncBench.seenAt(s) !== null",
                arg=sig,
                timeout=ARRIVAL_TIMEOUT_MS,
                polling=10,
            )
        except Exception:  # noqa: BLE001 - a timeout is a missed change, counted by the caller
            return None
        return self.js("(s) => window.__possyncBench.seenAt(s)", sig)

    def close(self) -> None:
        self.context.close()
