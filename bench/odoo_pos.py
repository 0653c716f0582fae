"""Terminals of ``bench.odoo``: one Playwright page each, in a browser context of its own."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from devkit.odoo import OdooInstance
from devkit.pos_page import POS_LOAD_TIMEOUT_MS, PosPage

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Request


def log(message: str) -> None:
    print(f"[bench.odoo] {message}", file=sys.stderr, flush=True)


# Requests whose round trip (request sent until response end) is recorded, by path.
TIMED_PREFIX = "/pos_restaurant_sync/"
PUSH_PATH = TIMED_PREFIX + "push"


class RequestLog:
    """HTTP requests a browser context sends to the Odoo server, by path, while counting.

    Playwright's ``request`` event fires for HTTP requests only: frames on the bus
    websocket are not requests, and neither is the websocket's own upgrade counted here.
    ``pushed`` keeps the ids of the changes the page pushed while counting.
    """

    def __init__(self, base_url: str) -> None:
        self.origin = urlsplit(base_url).netloc
        self.counting = False
        self.paths: Counter[str] = Counter()
        self.round_trips: dict[str, list[float]] = {}
        self.pushed: list[str] = []

    def on_request(self, request: Request) -> None:
        url = urlsplit(request.url)
        if self.counting and url.netloc == self.origin and url.scheme in ("http", "https"):
            self.paths[url.path] += 1
            if url.path == PUSH_PATH:
                changes = (request.post_data_json or {}).get("params", {}).get("changes", [])
                self.pushed += [change["id"] for change in changes]

    def on_finished(self, request: Request) -> None:
        path = urlsplit(request.url).path
        if self.counting and path.startswith(TIMED_PREFIX):
            self.round_trips.setdefault(path, []).append(request.timing["responseEnd"])

    @property
    def total(self) -> int:
        return sum(self.paths.values())


# bench.steps' stamps of each step in a page: what a receiver did when it missed an edit.
STEPS_JS = Path(__file__).with_name("steps.js")
STEPS_SHOWN = (
    "capture",
    "send",
    "acked",
    "receive",
    "catchup.start",
    "catchup.end",
    "load.start",
    "load.end",
    "deleted",
    "created",
    "odoo.mergeOrders",
    "odoo.transferOrder",
    "odoo.mergeTableOrders",
    "closed",
    "notice",
    "screen",
    "odoo.delete",
)


class Terminal:
    """One POS screen of the bench in a browser context of its own, and the requests it
    sends."""

    def __init__(self, name: str, browser: Browser, odoo: OdooInstance) -> None:
        self.name = name
        self.odoo = odoo
        self.context: BrowserContext = browser.new_context(viewport={"width": 1366, "height": 900})
        self.context.add_init_script(path=str(STEPS_JS))  # read when a receiver misses an edit
        self.requests = RequestLog(odoo.base_url)
        self.context.on("request", self.requests.on_request)
        self.context.on("requestfinished", self.requests.on_finished)
        page = self.context.new_page()
        # Ten terminals on a busy restaurant keep a shared 2-core machine busy: be patient.
        page.set_default_timeout(POS_LOAD_TIMEOUT_MS)
        page.on("pageerror", lambda error: log(f"terminal {name}: page error {error}"))
        self.pos = PosPage(page, odoo.tree.major)

    def open(self, synced: bool = True) -> None:
        """Log in and open the POS; ``synced``: possync is on."""
        self.pos.open(self.odoo)
        self.pos.wait_ready(synced)

    def steps_since(self, at_ms: float, order: str) -> list[tuple[Any, ...]]:
        """This page's steps since ``at_ms`` (wall clock) that concern ``order``: when it
        received changes to it (their fields) and when it applied changes, in ms after."""
        steps = self.pos.js(
            """([at, order]) => (window.possyncSteps || []).filter((s) => s.t >= at &&
                (s.ev !== "receive" || (s.orders || []).includes(order)))""",
            [at_ms, order],
        )
        return [
            (
                round(s["t"] - at_ms),
                s["ev"],
                ",".join(s.get("ops", [])) or s.get("text", ""),
                s.get("orders"),
                s.get("lines"),
            )
            for s in steps
            if s["ev"] in STEPS_SHOWN
        ]

    def close(self) -> None:
        self.context.close()
