"""possync on a production-shaped Odoo 18/19: how fast every kind of edit on one terminal
reaches the others, with ten terminals on a busy restaurant.

    python -m bench.odoo --odoo-src PATH [--workers 4] [--terminals 10] [--repeats 10]
        [--short-repeats 4] [--gap-ms 300] [--open-orders 100] [--json]

Starts Odoo with the real-Odoo tier's harness (its own state folder,
``/var/tmp/possync-state-bench`` unless ``POSSYNC_STATE_DIR`` says otherwise): with
``--workers N`` (N > 0) Odoo runs N prefork workers behind nginx, which routes
``/websocket`` to Odoo's gevent port; every terminal goes through nginx. Then:

- ``--terminals`` − 3 terminals at the protocol level (``devkit.protocol_terminal``:
  the agent's Odoo client, logged in as POS users of their own) open ``--open-orders``
  (100) orders through
  the protocol on the tables of every floor, follow the POS's bus channel and edit their
  own orders at a waiter's pace (one edit every 2–6 s each) while the phases run;
- three browser terminals A, B, C (chromium pages in browser contexts of their own,
  ``bench/odoo_pos.py``) play rounds on two tables of the main floor: in each round A
  makes every kind of edit once (``bench/odoo_edits.py``: add, numpad qty, discount and
  price, line note, customer, split, transfer, merge, payment line, payment validation),
  each measured from its start on A until B's and C's POS stores first hold its state.

Phases, one after the other on the same server: ``bus`` (Bus mode, every terminal,
``--repeats`` rounds), ``bus_3`` (Bus mode, the protocol terminals idle and off the bus),
``interval`` (Interval mode at 500 ms, every terminal) and ``native`` (Real-Time Sync off:
A leaves the table after each edit, Odoo's own sync), ``--short-repeats`` rounds each.
Each next edit starts ``--gap-ms`` plus a seeded random 0–500 ms after the previous one
reached B and C, so in Interval mode edits land at any phase of B's pull cadence.

Prints one JSON object (the last line on stdout; progress on stderr). The keys and what
they measure: docs/benchmarks.md, "Odoo (real server)". Exit 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from bench.odoo_cpu import cpu_ms
from bench.odoo_edits import SLOW_MS, Round, run_round
from bench.odoo_js import PRICE_RECOMPUTE
from bench.odoo_pos import log
from bench.odoo_report import Phase, report, summary
from bench.odoo_restaurant import OPEN_ORDERS, WAITER_PACE_S, keep_for_a, open_fleet, tables
from devkit.chromium import CHROMIUM, CHROMIUM_ARGS
from devkit.machine import loadavg

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from bench.odoo_pos import Terminal
    from devkit.odoo import Harness, OdooInstance
    from devkit.protocol_terminal import ProtocolFleet

STATE_DIR = "/var/tmp/possync-state-bench"
BROWSER_TERMINALS = 3
INTERVAL_MS = 500
JITTER_S = 0.5  # one Interval-mode period
RECOMPUTE_LINES = 16
SETTLE_S = 2.0  # after the last edit, inside the phase's request and CPU counts
ARRIVALS_WITHIN_S = 20.0  # a protocol terminal's change not there by then is missed


# --------------------------------------------------------------------------- Odoo side


def configure(odoo: OdooInstance, mode: str | None) -> None:
    """possync on in ``mode`` (bus, interval), or off (None: Odoo's own sync)."""
    values: dict[str, Any] = {"possync_enabled": mode is not None}
    if mode:
        values |= {"possync_mode": mode, "possync_interval_ms": INTERVAL_MS}
    odoo.jsonrpc("pos.config", "write", [[odoo.config_id], values])
    log(f"config {odoo.config_id}: {values}")


def logged_changes(odoo: OdooInstance) -> int:
    """Changes the server's log holds for the POS (every terminal's)."""
    domain = [("config_id", "=", odoo.config_id), ("status", "=", "applied")]
    return odoo.jsonrpc("pos_restaurant_sync.change", "search_count", [domain])


def odoo_pids(harness: Harness) -> list[int]:
    """Odoo's processes: the server (with workers: the master, its workers, the gevent
    process)."""
    return list(harness.odoo_pids().all)


def cancel_open_orders(odoo: OdooInstance, numbers: list[int]) -> None:
    """Leave A's tables free for the next round, whatever a failed round left there."""
    domain = [("state", "=", "draft"), ("table_id.table_number", "in", numbers)]
    if orders := odoo.jsonrpc("pos.order", "search", [domain]):
        odoo.jsonrpc("pos.order", "action_pos_order_cancel", [orders])


# --------------------------------------------------------------------------- one phase


def open_terminals(browser: Browser, odoo: OdooInstance, synced: bool) -> list[Terminal]:
    from bench.odoo_pos import Terminal

    terminals = [Terminal(name, browser, odoo) for name in "ABC"]
    for terminal in terminals:
        started = time.monotonic()
        terminal.open(synced)
        log(f"terminal {terminal.name} on the floor plan in {time.monotonic() - started:.1f} s")
    return terminals


@contextmanager
def measured(phase: Phase, harness: Harness, odoo: OdooInstance) -> Iterator[None]:
    """Odoo's CPU time and the changes its log took while inside, into ``phase``."""
    cpu, changes, started = cpu_ms(odoo_pids(harness)), logged_changes(odoo), time.monotonic()
    yield
    phase.cpu_ms = cpu_ms(odoo_pids(harness)) - cpu
    phase.changes = logged_changes(odoo) - changes
    phase.duration_s = round(time.monotonic() - started, 1)
    phase.loadavg = loadavg()


class Bench:
    """One server, its browser and protocol terminals, and the phases run on them."""

    def __init__(
        self, harness: Harness, odoo: OdooInstance, browser: Browser, args: argparse.Namespace
    ) -> None:
        self.harness, self.odoo, self.browser = harness, odoo, browser
        self.gap_s = args.gap_ms / 1000
        self.slow_ms = args.slow_ms
        self.protocol_terminals = max(0, args.terminals - BROWSER_TERMINALS)
        every = tables(odoo, at_least=args.open_orders + 3)
        # Two tables for the rounds, one for each page's first look at a table (warm_up).
        self.mine = keep_for_a(every, 3)
        self.table_ids = {t.number: t.id for t in self.mine}
        theirs = [t for t in every if t not in self.mine]
        started = time.monotonic()
        configure(odoo, "bus")  # the open orders come through possync
        # The open orders are there whatever the terminals: one seeder opens them if no
        # protocol terminal is asked for.
        count = max(1, self.protocol_terminals)
        self.fleet: ProtocolFleet = open_fleet(odoo, count, theirs, args.open_orders)
        log(
            f"{len(self.fleet.terminals)} protocol terminals, {args.open_orders} open orders on "
            f"{len(theirs)} tables in {time.monotonic() - started:.0f} s"
        )

    def phase(self, name: str, mode: str | None, with_fleet: bool, rounds: int) -> Phase:
        configure(self.odoo, mode)
        fleet = self.fleet if with_fleet and self.protocol_terminals else None
        phase = Phase(name, BROWSER_TERMINALS + (len(fleet.terminals) if fleet else 0))
        terminals = open_terminals(self.browser, self.odoo, synced=mode is not None)
        if fleet:
            fleet.each("follow", mode)
            fleet.start_serving(WAITER_PACE_S)
        try:
            self.rounds(phase, terminals, rounds, mode is None, fleet)
            if name == "bus":
                phase.price_recompute = self.price_recompute(terminals[0])
        finally:
            for terminal in terminals:
                terminal.close()
            if fleet:
                fleet.stop_serving()
                fleet.each("stop_following")
            cancel_open_orders(self.odoo, list(self.table_ids))
        log(f"{name}: {json.dumps(summary(phase))}")
        return phase

    def price_recompute(self, a: Terminal) -> dict[str, Any] | None:
        """On A, an order of ``RECOMPUTE_LINES`` lines: Odoo 19's recompute of its prices
        with possync's short record JSON and without it (``bench/odoo_js.py``)."""
        pos = a.pos
        pos.back_to_floor()
        pos.open_table(self.mine[0].number)
        order = pos.current_order()
        products = pos.catalog()["products"]
        for index in range(RECOMPUTE_LINES):
            product = products[index % len(products)]
            pos.add_line(order, product["id"], product["price"])
        return pos.js(PRICE_RECOMPUTE, 3)

    def rounds(
        self,
        phase: Phase,
        terminals: list[Terminal],
        rounds: int,
        native: bool,
        fleet: ProtocolFleet | None,
    ) -> None:
        catalog = terminals[0].pos.catalog()
        # A random extra pause of up to one pull interval: with a fixed pause the edits
        # would lock onto B's pull cadence in Interval mode and always land before a pull.
        jitter = random.Random(7)
        warm_up(terminals, self.mine[2].number)
        time.sleep(1.0)  # let the loads of opening the POS finish before counting
        for terminal in terminals:
            terminal.requests.counting = True
        pushed_before = fleet.pushed() if fleet else []
        with measured(phase, self.harness, self.odoo):
            for index in range(rounds):
                numbers = (self.mine[0].number, self.mine[1].number)
                rnd = Round(terminals, numbers, self.table_ids, catalog, index, native)
                rnd.slow_ms = self.slow_ms
                phase.edits += run_round(rnd, self.gap_s, lambda: jitter.uniform(0, JITTER_S))
                log(f"{phase.name}: round {index + 1}/{rounds}, last to B {phase.edits[-1].to}")
            time.sleep(SETTLE_S)
        for terminal in terminals:
            terminal.requests.counting = False
            phase.requests.update(terminal.requests.paths)
        if fleet:
            theirs = [c for c in fleet.pushed() if c not in set(pushed_before)]
            phase.protocol_missed = missing_after(fleet, terminals[0].requests.pushed + theirs)


def warm_up(terminals: list[Terminal], table: int) -> None:
    """Each page shows a table's order once, on a table no round uses: the product
    screen's images (the browser keeps them) are loads of opening the POS, not of an edit."""
    for terminal in terminals:
        terminal.pos.open_table(table)
        terminal.pos.back_to_floor()


def missing_after(
    fleet: ProtocolFleet, change_ids: list[str], within_s: float = ARRIVALS_WITHIN_S
) -> int:
    """The (protocol terminal, change) pairs of ``change_ids`` still not arrived
    ``within_s`` after the phase: ``missed`` counts changes lost, not late (on a loaded
    machine a pulling terminal may get the phase's last changes seconds after it ends)."""
    until = time.monotonic() + within_s
    while (missing := fleet.missing(change_ids)) and time.monotonic() < until:
        time.sleep(0.25)
    return missing


# --------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from devkit.odoo import Harness

    proxy = "nginx" if args.workers else None
    with Harness(args.odoo_src, workers=args.workers, proxy=proxy) as harness:
        started = time.monotonic()
        odoo = harness.up()
        log(f"Odoo {odoo.version} up in {time.monotonic() - started:.0f} s at {odoo.base_url}")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            bench = Bench(harness, odoo, browser, args)
            try:
                phases = {
                    "bus": bench.phase("bus", "bus", True, args.repeats),
                    "bus_3": bench.phase("bus_3", "bus", False, args.short_repeats),
                    "interval": bench.phase("interval", "interval", True, args.short_repeats),
                    "native": bench.phase("native", None, False, args.short_repeats),
                }
            finally:
                bench.fleet.close()
                browser.close()
        return report(odoo.version, args.workers, phases)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def server_parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """The command line of a bench on a harness Odoo: ``--odoo-src`` and ``--workers``."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.split("\n")[0])
    parser.add_argument("--odoo-src", default=os.environ.get("ODOO_SRC"), help="Odoo 18/19 tree")
    parser.add_argument("--workers", type=int, default=4, help="Odoo workers (0: one process)")
    return parser


def parse_server_args(
    parser: argparse.ArgumentParser, argv: list[str] | None, state_dir: str
) -> argparse.Namespace:
    """``parser``'s arguments, with an Odoo tree; the harness's state goes to ``state_dir``
    unless ``POSSYNC_STATE_DIR`` says otherwise (others run the harness at the same time)."""
    args = parser.parse_args(argv)
    if not args.odoo_src:
        parser.error("--odoo-src or ODOO_SRC is required")
    os.environ.setdefault("POSSYNC_STATE_DIR", state_dir)
    return args


def main(argv: list[str] | None = None) -> int:
    parser = server_parser("python -m bench.odoo", __doc__)
    parser.add_argument("--terminals", type=int, default=10, help="3 browsers + protocol ones")
    parser.add_argument("--repeats", type=int, default=10, help="rounds of the bus phase")
    parser.add_argument("--short-repeats", type=int, default=4, help="rounds of the others")
    parser.add_argument("--gap-ms", type=int, default=300, help="pause after each arrival")
    parser.add_argument("--open-orders", type=int, default=OPEN_ORDERS, help="before the phases")
    parser.add_argument(
        "--slow-ms", type=int, default=SLOW_MS, help="log every page's steps past this"
    )
    parser.add_argument("--json", action="store_true", help="only the JSON line on stdout")
    args = parse_server_args(parser, argv, STATE_DIR)
    if args.terminals < BROWSER_TERMINALS:
        parser.error(f"--terminals is at least {BROWSER_TERMINALS} (A, B and C)")
    signal.signal(signal.SIGTERM, _interrupt)
    result = run(args)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2), flush=True)
    return 0 if all(v is not False for v in result["met"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
