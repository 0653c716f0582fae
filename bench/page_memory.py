"""What a POS page keeps of the orders it saw closed: its JS heap while orders come and go.

    python -m bench.page_memory --odoo-src PATH [--orders 40] [--lines 4] [--workers 0]

A restaurant's evening opens and closes orders all along; a page that keeps a little of
each closed one grows all evening (the 60-minute ``bench.e2e`` reports it as
``rss_growth_pct``; this bench says which orders are kept, in minutes). Odoo runs as
``bench.odoo`` runs it (``--workers 0``, the default here: one process, as only the page is
measured). Terminal A opens an order on a table, adds ``--lines`` lines and pays it (Odoo's
own validation); terminal B, possync on, follows on the floor plan: it gets each order and
then its close, and removes it. The tables are used in turn.

Prints one JSON object with, for each page (``pages``: ``A``, which pays, and ``B``, which
follows), its JS heap in use right after a garbage collection (CDP
``Performance.getMetrics`` ``JSHeapUsedSize``) once the first ``WARM_UP`` orders are closed
(``heap_mb_warm``) and at the end (``heap_mb_end``), the growth between per order closed
(``heap_kib_per_order``), and ``kept``: the orders and lines in its heap (CDP
``Runtime.queryObjects`` on Odoo's classes) beyond those its models hold. Odoo keeps the
orders paid on a terminal in its models, so A's heap grows with them by Odoo's design; B's
should not grow.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from bench.odoo import configure, parse_server_args, server_parser
from bench.odoo_pos import Terminal, log
from devkit.chromium import CHROMIUM, CHROMIUM_ARGS
from devkit.e2e.memory import js_heap_mb
from devkit.machine import loadavg

STATE_DIR = "/var/tmp/possync-state-bench-memory"
WARM_UP = 5  # orders closed before the first heap figure: Odoo's screens loaded by then
CLOSED_WITHIN_S = 20.0
# Odoo's record classes (module, class) and the model whose records they are.
RECORD_CLASSES = {
    "pos.order": ("@point_of_sale/app/models/pos_order", "PosOrder"),
    "pos.order.line": ("@point_of_sale/app/models/pos_order_line", "PosOrderline"),
}


class PageHeap:
    """B's heap through a CDP session of its page."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal
        self.session = terminal.context.new_cdp_session(terminal.pos.page)
        self.session.send("Performance.enable")

    def used_mb(self) -> float:
        return round(js_heap_mb(self.session), 2)

    def instances(self, module: str, name: str) -> int:
        """Objects in the heap that are instances of the class ``name`` of ``module``. The
        array CDP returns is released: it would keep every record found alive."""
        group = {"objectGroup": "possync-bench"}
        expression = f"odoo.loader.modules.get({json.dumps(module)}).{name}.prototype"
        proto = self.session.send("Runtime.evaluate", {"expression": expression, **group})
        found = self.session.send(
            "Runtime.queryObjects", {"prototypeObjectId": proto["result"]["objectId"], **group}
        )
        count = self.session.send(
            "Runtime.callFunctionOn",
            {
                "objectId": found["objects"]["objectId"],
                "functionDeclaration": "function () { return this.length; }",
                "returnByValue": True,
            },
        )
        self.session.send("Runtime.releaseObjectGroup", group)
        return count["result"]["value"]

    def kept(self) -> dict[str, int]:
        """Per model, the records in the heap that its model no longer holds."""
        live = self.terminal.pos.js(
            "(names) => names.map((name) => window.posmodel.models[name].length)",
            list(RECORD_CLASSES),
        )
        return {
            model: self.instances(*where) - held
            for (model, where), held in zip(RECORD_CLASSES.items(), live, strict=True)
        }


def serve_one(a: Terminal, b: Terminal, table: int, lines: int, catalog: dict) -> None:
    """A opens an order on ``table``, adds ``lines`` lines and pays it, once B holds it;
    returns once B no longer shows it."""
    order = a.pos.new_order(table)
    products = catalog["products"]
    for index in range(lines):
        product = products[index % len(products)]
        a.pos.add_line(order, product["id"], product["price"])
    b.pos.wait_for_order(order)
    paid = a.pos.pay(order, catalog["cash"])
    assert paid["answer"] == "accepted", f"payment {paid['answer']}"
    until = time.monotonic() + CLOSED_WITHIN_S
    while any(v["uuid"] == order for v in b.pos.views()):
        assert time.monotonic() < until, f"B still shows order {order} open"
        time.sleep(0.1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from devkit.odoo import Harness

    proxy = "nginx" if args.workers else None
    with Harness(args.odoo_src, workers=args.workers, proxy=proxy) as harness:
        odoo = harness.up()
        configure(odoo, "bus")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            a, b = Terminal("A", browser, odoo), Terminal("B", browser, odoo)
            a.open(True)
            b.open(True)
            catalog = a.pos.catalog()
            heaps = {"A": PageHeap(a), "B": PageHeap(b)}
            warm: dict[str, float] = {}
            for index in range(args.orders):
                tables = catalog["tables"]
                serve_one(a, b, tables[index % len(tables)], args.lines, catalog)
                if index + 1 == WARM_UP:
                    warm = {name: heap.used_mb() for name, heap in heaps.items()}
                    log(f"{WARM_UP} orders closed: heaps {warm} MiB")
            pages = {name: figures(heap, warm[name], args.orders) for name, heap in heaps.items()}
            browser.close()
    return {
        "odoo": odoo.version,
        "orders": args.orders,
        "lines_per_order": args.lines,
        "pages": pages,
        "loadavg": loadavg(),
    }


def figures(heap: PageHeap, warm: float, orders: int) -> dict[str, Any]:
    """One page's figures at the end, from its heap once warm."""
    end, closed = heap.used_mb(), orders - WARM_UP
    return {
        "heap_mb_warm": warm,
        "heap_mb_end": end,
        "heap_kib_per_order": round((end - warm) * 1024 / closed, 1),
        "kept": heap.kept(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = server_parser("python -m bench.page_memory", __doc__)
    parser.set_defaults(workers=0)
    parser.add_argument("--orders", type=int, default=40, help="orders opened and paid on A")
    parser.add_argument("--lines", type=int, default=4, help="lines of each order")
    args = parse_server_args(parser, argv, STATE_DIR)
    if args.orders <= WARM_UP:
        parser.error(f"--orders must be more than {WARM_UP}")
    log("a page's memory while orders come and go")
    print(json.dumps(run(args), indent=2), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
