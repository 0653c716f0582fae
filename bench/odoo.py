"""possync on a real Odoo 18/19: how fast an edit on one terminal reaches the others.

    python -m bench.odoo --odoo-src PATH [--edits 45] [--gap-ms 300] [--json]

Starts Odoo with the real-Odoo tier's harness (its own state folder,
``/var/tmp/possync-state-bench`` unless ``POSSYNC_STATE_DIR`` says otherwise), opens three
POS terminals A, B, C (chromium pages in separate browser contexts) on one table, and makes
``--edits`` edits on A through the POS store (add a product, set its quantity, set its
discount, in turn), one at a time, ``--gap-ms`` plus a random 0–500 ms (seeded) after the
previous edit reached B and C.

Prints one JSON line (the last line on stdout):

- ``bus_p50_ms``, ``bus_p95_ms``: Bus mode; from just before the edit on A until B's POS
  store holds the edited lines (wall clock, ``Date.now()`` in both pages, sampled every 2 ms).
- ``interval_p95_ms``: the same in Interval mode at ``possync_interval_ms`` = 500.
- ``requests_per_change``: Bus mode; HTTP requests from all three pages to the Odoo server
  while the edits run (from the first edit until 0.5 s after the last one arrived),
  divided by the number of edits. Every request counts (JSON-RPC, assets, images,
  anything); bus websocket frames are not HTTP requests and are not counted.
  ``requests_by_path`` breaks them down.
- ``price_recompute``: Odoo 19 only (null on 18): after the Bus-mode edits, on A, the
  median time of Odoo's recompute of the order's prices (``triggerRecomputeAllPrices``,
  run on every line added or changed) with possync's short JSON of a record and without
  it, alternately in the same page, and ``ratio`` = with / without.

Targets: bus p95 ≤ 300 ms, interval p95 ≤ 650 ms, requests per change ≤ 1.5.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import signal
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench.odoo_js import PRICE_RECOMPUTE
from devkit.chromium import CHROMIUM, CHROMIUM_ARGS

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from bench.odoo_pos import Terminal
    from devkit.odoo import OdooInstance

STATE_DIR = "/var/tmp/possync-state-bench"
TARGETS = {"bus_p95_ms": 300, "interval_p95_ms": 650, "requests_per_change": 1.5}
EDIT_KINDS = ("add", "qty", "discount")
SETTLE_S = 0.5
JITTER_S = 0.5  # one Interval-mode period


def log(message: str) -> None:
    print(f"[bench.odoo] {message}", file=sys.stderr, flush=True)


@dataclass
class PhaseResult:
    """One mode's run: latencies to B and to C (None: never arrived) and requests."""

    mode: str
    planned: int
    to_b: list[float | None] = field(default_factory=list)
    to_c: list[float | None] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    by_terminal: dict[str, int] = field(default_factory=dict)
    round_trips: dict[str, list[float]] = field(default_factory=dict)
    duration_s: float = 0.0
    loadavg: list[float] = field(default_factory=list)
    price_recompute: dict[str, Any] | None = None  # on A, once the edits are done

    @property
    def edits(self) -> int:
        return len(self.to_b)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0–100) of the values, None if there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)], 1)


# --------------------------------------------------------------------------- Odoo side


def configure(odoo: OdooInstance, mode: str, interval_ms: int = 500) -> None:
    values = {"possync_enabled": True, "possync_mode": mode, "possync_interval_ms": interval_ms}
    odoo.jsonrpc("pos.config", "write", [[odoo.config_id], values])
    log(f"config {odoo.config_id}: {values}")


def free_tables(odoo: OdooInstance, count: int) -> list[int]:
    """Table numbers of the main floor with no open order."""
    tables = odoo.jsonrpc(
        "restaurant.table",
        "search_read",
        [[("floor_id.name", "=", "Main Floor")], ["table_number"]],
    )
    busy = odoo.jsonrpc("pos.order", "search_read", [[("state", "=", "draft")], ["table_id"]])
    taken = {order["table_id"][0] for order in busy if order["table_id"]}
    free = sorted(t["table_number"] for t in tables if t["id"] not in taken)
    if len(free) < count:
        raise RuntimeError(f"only {len(free)} free tables on the main floor")
    return free[:count]


# --------------------------------------------------------------------------- one phase


def open_terminals(browser: Browser, odoo: OdooInstance) -> list[Terminal]:
    from bench.odoo_pos import Terminal

    terminals = [Terminal(name, browser, odoo) for name in "ABC"]
    for terminal in terminals:
        started = time.monotonic()
        terminal.open()
        log(f"terminal {terminal.name} on the floor plan in {time.monotonic() - started:.1f} s")
    return terminals


def all_on_table(terminals: list[Terminal], table: int) -> tuple[str, list[dict[str, Any]]]:
    """A starts an order on ``table``; B and C open it once they hold it. Returns its uuid
    and the products left for the edits."""
    a, *others = terminals
    a.pos.open_table(table)
    products = a.pos.catalog()["products"]
    uuid = a.pos.current_order()
    assert uuid, f"terminal A shows no order on table {table}"
    add(a, uuid, products[-1])
    for terminal in others:
        terminal.pos.wait_for_order(uuid)
        terminal.pos.open_table(table)
        current = terminal.pos.current_order()
        if current != uuid:
            raise RuntimeError(f"terminal {terminal.name} opened {current}, not A's order {uuid}")
        terminal.pos.watch(uuid)
    visible = [t.pos.js("() => document.visibilityState") for t in terminals]
    log(f"A, B, C on table {table}, order {uuid}; page visibility {visible}")
    return uuid, products[:-1]


def edit_args(index: int, products: list[dict[str, Any]]) -> list[Any]:
    """The ``index``-th edit: add a product, then set its quantity, then its discount.

    Every edit leaves the order in a state it never had before, so a state's first
    sighting on a receiver is the arrival of that edit.
    """
    kind = EDIT_KINDS[index % len(EDIT_KINDS)]
    cycle = index // len(EDIT_KINDS)
    value = {"add": None, "qty": 2 + cycle % 5, "discount": 5 + cycle % 40}[kind]
    return [kind, products[cycle % len(products)], value]


def add(terminal: Terminal, order: str, product: dict[str, Any]) -> None:
    """A line of ``product`` at its price, which keeps Odoo from merging it into another."""
    terminal.last_line = terminal.pos.add_line(order, product["id"], product["price"])


def one_edit(terminals: list[Terminal], order: str, args: list[Any]) -> list[float | None]:
    a, *others = terminals
    kind, product, value = args
    if kind == "add":
        add(a, order, product)
    elif kind == "qty":
        a.pos.set_qty(order, a.last_line, value)
    else:
        a.pos.set_discount(order, a.last_line, value)
    done = a.pos.edited(order)
    arrivals = [terminal.pos.arrival(done["sig"]) for terminal in others]
    return [None if at is None else at - done["at"] for at in arrivals]


def run_edits(
    terminals: list[Terminal],
    order: str,
    products: list[dict[str, Any]],
    result: PhaseResult,
    gap_s: float,
) -> None:
    for terminal in terminals:
        terminal.requests.counting = True
    started = time.monotonic()
    edits = result.planned
    # A random extra pause of up to one pull interval: with a fixed pause the edits would
    # lock onto B's pull cadence in Interval mode and always land just before a pull.
    jitter = random.Random(7)
    for index in range(edits):
        to_b, to_c = one_edit(terminals, order, edit_args(index, products))
        result.to_b.append(to_b)
        result.to_c.append(to_c)
        if index % 10 == 9:
            log(f"{result.mode}: {index + 1}/{edits} edits, last to B {to_b} ms")
        time.sleep(gap_s + jitter.uniform(0, JITTER_S))
    time.sleep(max(0.0, SETTLE_S - gap_s))
    result.duration_s = round(time.monotonic() - started, 1)
    result.loadavg = [round(x, 2) for x in os.getloadavg()]  # 1, 5, 15 min, at the end
    for terminal in terminals:
        terminal.requests.counting = False
        result.requests.update(terminal.requests.paths)
        result.by_terminal[terminal.name] = terminal.requests.total
        for path, times in terminal.requests.round_trips.items():
            result.round_trips.setdefault(path, []).extend(times)


def measure(
    browser: Browser, odoo: OdooInstance, mode: str, table: int, edits: int, gap_s: float
) -> PhaseResult:
    result = PhaseResult(mode, planned=edits)
    terminals = open_terminals(browser, odoo)
    try:
        order, products = all_on_table(terminals, table)
        time.sleep(1.0)  # let the loads of opening the table finish before counting
        run_edits(terminals, order, products, result, gap_s)
        result.price_recompute = terminals[0].pos.js(PRICE_RECOMPUTE, 3)
    finally:
        for terminal in terminals:
            terminal.close()
        cancel_open_orders(odoo, table)
    return result


def cancel_open_orders(odoo: OdooInstance, table: int) -> None:
    """Leave the table free. Also needed on 18: a draft order that only possync created on
    the server has no ``pos_reference``, and a POS that loads it then fails to start
    (``this.pos_reference?.startsWith is not a function``, from pos_self_order)."""
    domain = [("state", "=", "draft"), ("table_id.table_number", "=", table)]
    if orders := odoo.jsonrpc("pos.order", "search", [domain]):
        odoo.jsonrpc("pos.order", "action_pos_order_cancel", [orders])


# --------------------------------------------------------------------------- report


def summary(result: PhaseResult) -> dict[str, Any]:
    to_b = [v for v in result.to_b if v is not None]
    to_c = [v for v in result.to_c if v is not None]
    return {
        "p50_ms": percentile(to_b, 50),
        "p95_ms": percentile(to_b, 95),
        "max_ms": percentile(to_b, 100),
        "mean_ms": round(statistics.fmean(to_b), 1) if to_b else None,
        "c_p50_ms": percentile(to_c, 50),
        "c_p95_ms": percentile(to_c, 95),
        "missed": result.to_b.count(None) + result.to_c.count(None),
        "edits": result.edits,
        "requests": sum(result.requests.values()),
        "requests_per_change": round(sum(result.requests.values()) / result.edits, 2),
        "requests_by_terminal": result.by_terminal,
        "requests_by_path": dict(result.requests.most_common()),
        "round_trip_ms": {
            path.rsplit("/", 1)[-1]: {"p50": percentile(t, 50), "p95": percentile(t, 95)}
            for path, t in result.round_trips.items()
        },
        "duration_s": result.duration_s,
        "loadavg": result.loadavg,
    }


def report(version: str, bus: PhaseResult, interval: PhaseResult) -> dict[str, Any]:
    b, i = summary(bus), summary(interval)
    out: dict[str, Any] = {
        "odoo_version": version,
        "bus_p50_ms": b["p50_ms"],
        "bus_p95_ms": b["p95_ms"],
        "interval_p50_ms": i["p50_ms"],
        "interval_p95_ms": i["p95_ms"],
        "requests_per_change": b["requests_per_change"],
        "price_recompute": price_recompute(bus.price_recompute),
        "terminals": 3,
        "edits": bus.edits,
        "bus": b,
        "interval": i,
        "machine": machine(),
    }
    out["met"] = {k: out[k] is not None and out[k] <= v for k, v in TARGETS.items()}
    return out


def price_recompute(timings: dict[str, Any] | None) -> dict[str, Any] | None:
    """Odoo 19's recompute of the order's prices, median ms with possync's short record
    JSON and without it (same page, alternating), and their ratio; None on 18."""
    if not timings:
        return None
    with_ms = statistics.median(timings["with_ms"])
    without_ms = statistics.median(timings["without_ms"])
    return {
        "lines": timings["lines"],
        "with_ms": round(with_ms, 1),
        "without_ms": round(without_ms, 1),
        "ratio": round(with_ms / without_ms, 2),
    }


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


# --------------------------------------------------------------------------- main


def run(odoo_src: str, edits: int, gap_s: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from devkit.odoo import Harness

    with Harness(odoo_src) as harness:
        started = time.monotonic()
        odoo = harness.up()
        log(f"Odoo {odoo.version} up in {time.monotonic() - started:.0f} s at {odoo.base_url}")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                return both_modes(browser, odoo, edits, gap_s)
            finally:
                browser.close()


def both_modes(browser: Browser, odoo: OdooInstance, edits: int, gap_s: float) -> dict[str, Any]:
    tables = free_tables(odoo, 2)
    configure(odoo, "bus")
    bus = measure(browser, odoo, "bus", tables[0], edits, gap_s)
    log(f"bus: {json.dumps(summary(bus))}")
    configure(odoo, "interval", 500)
    interval = measure(browser, odoo, "interval", tables[1], edits, gap_s)
    log(f"interval: {json.dumps(summary(interval))}")
    return report(odoo.version, bus, interval)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.odoo", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--odoo-src", default=os.environ.get("ODOO_SRC"), help="Odoo 18/19 tree")
    parser.add_argument("--edits", type=int, default=45, help="edits on A per mode")
    parser.add_argument("--gap-ms", type=int, default=300, help="pause after each arrival")
    parser.add_argument("--json", action="store_true", help="only the JSON line on stdout")
    args = parser.parse_args(argv)
    if not args.odoo_src:
        parser.error("--odoo-src or ODOO_SRC is required")
    # Other engineers run the harness at the same time: a state folder of our own.
    os.environ.setdefault("POSSYNC_STATE_DIR", STATE_DIR)
    signal.signal(signal.SIGTERM, _interrupt)
    result = run(args.odoo_src, args.edits, args.gap_ms / 1000)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2), flush=True)
    return 0 if all(result["met"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
