"""Terminals of ``bench.odoo``: one Playwright page each, in a browser context of its own."""

from __future__ import annotations

import sys
from collections import Counter
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from devkit.odoo import OdooInstance
from devkit.pos_page import PosPage

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Request


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
    """One POS screen of the bench in a browser context of its own, and the requests it
    sends; ``last_line`` is the line its last "add" edit made."""

    def __init__(self, name: str, browser: Browser, odoo: OdooInstance) -> None:
        self.name = name
        self.odoo = odoo
        self.context: BrowserContext = browser.new_context(viewport={"width": 1366, "height": 900})
        self.requests = RequestLog(odoo.base_url)
        self.context.on("request", self.requests.on_request)
        self.context.on("requestfinished", self.requests.on_finished)
        page = self.context.new_page()
        page.on("pageerror", lambda error: log(f"terminal {name}: page error {error}"))
        self.pos = PosPage(page, odoo.tree.major)
        self.last_line: str | None = None

    def open(self) -> None:
        self.pos.open(self.odoo)
        self.pos.wait_ready()

    def close(self) -> None:
        self.context.close()
