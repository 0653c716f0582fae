"""Where a POS page's time goes in a busy restaurant: a CPU profile of one page.

    python -m bench.odoo_profile --odoo-src PATH [--workers 4] [--terminals 7]
        [--open-orders 100] [--seconds 20] [--on-order | --leave | --edits-on-screen N]
        [--off-screen-wait-ms MS] [--watch] [--top 25] [--save FILE]

Odoo runs as ``bench.odoo`` runs it (workers behind nginx), the protocol terminals open
the open orders and edit them at a waiter's pace (``bench/odoo_restaurant.py``), and one
POS page with possync on follows them: on the floor plan, on an order of its own
(``--on-order``, as terminals B and C in ``bench.odoo``), or leaving an order for the floor
plan as the profile starts (``--leave``; ``action_s``: until the floor plan shows).
Chromium's sampling profiler (CDP ``Profiler``) records that page for ``--seconds``.
``--off-screen-wait-ms 0`` has the page write each change from elsewhere as it arrives
(``PosOrderSync.offScreenWaitMs``); ``--watch`` also runs the bench's arrival sampler
(``posPage.watch``) on one of the open orders, as B and C run it in ``bench.odoo``.
``--edits-on-screen N`` has a second browser terminal, A, on the page's own order type N
quantities on its line during the profile, half a second apart (``edits_on_screen``: what
B pays for each change to the order it shows, as in ``bench.odoo``).
Prints one JSON object: the page's CPU ms (CDP ``Performance`` TaskDuration) per change
of the other terminals in that time, and the functions with the most self and total time.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.odoo import configure, parse_server_args, server_parser
from bench.odoo_pos import Terminal, log
from bench.odoo_restaurant import WAITER_PACE_S, keep_for_a, open_fleet, tables
from devkit.chromium import CHROMIUM, CHROMIUM_ARGS
from devkit.machine import loadavg

STATE_DIR = "/var/tmp/possync-state-bench-profile"
SAMPLING_US = 200
EDIT_GAP_S = 0.5  # between A's edits of the order on the profiled page's screen


@dataclass
class Node:
    """One function of the profile's call tree, by name and place."""

    key: str
    self_ms: float
    children: list[int]


def function_key(frame: dict[str, Any]) -> str:
    name = frame["functionName"] or "(anonymous)"
    url = frame["url"].rsplit("/", 1)[-1].split("?")[0]
    return f"{name} {url}:{frame['lineNumber'] + 1}" if url else name


def tree(profile: dict[str, Any]) -> dict[int, Node]:
    """The profile's nodes with their self time, from its samples and time deltas."""
    nodes = {
        n["id"]: Node(function_key(n["callFrame"]), 0.0, n.get("children", []))
        for n in profile["nodes"]
    }
    for sample, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        nodes[sample].self_ms += delta / 1000
    return nodes


def top_functions(profile: dict[str, Any], top: int) -> dict[str, list[tuple[str, float]]]:
    """The ``top`` functions by self time and by total time (a function counted once in
    each stack, however deep it recurses)."""
    nodes = tree(profile)
    self_ms: dict[str, float] = defaultdict(float)
    total_ms: dict[str, float] = defaultdict(float)
    root = profile["nodes"][0]["id"]

    def walk(node_id: int, on_stack: frozenset[str]) -> float:
        node = nodes[node_id]
        spent = node.self_ms + sum(walk(child, on_stack | {node.key}) for child in node.children)
        self_ms[node.key] += node.self_ms
        if node.key not in on_stack:
            total_ms[node.key] += spent
        return spent

    walk(root, frozenset())
    idle = {"(idle)", "(root)", "(program)", "(garbage collector)"}

    def ranked(table: dict[str, float]) -> list[tuple[str, float]]:
        rows = sorted(table.items(), key=lambda kv: -kv[1])
        return [(k, round(v, 1)) for k, v in rows if k not in idle or k == "(garbage collector)"][
            :top
        ]

    return {"self": ranked(self_ms), "total": ranked(total_ms)}


def task_ms(session: Any) -> float:
    metrics = session.send("Performance.getMetrics")["metrics"]
    return 1000 * next(m["value"] for m in metrics if m["name"] == "TaskDuration")


def profile_page(
    terminal: Terminal, fleet: Any, args: argparse.Namespace, action: Callable[[], Any] | None
) -> dict[str, Any]:
    """Profile ``terminal``'s page for ``args.seconds``, ``action`` done first in them."""
    session = terminal.context.new_cdp_session(terminal.pos.page)
    session.send("Performance.enable")
    session.send("Profiler.enable")
    session.send("Profiler.setSamplingInterval", {"interval": SAMPLING_US})
    pushed, cpu = len(fleet.pushed()), task_ms(session)
    session.send("Profiler.start")
    started = time.monotonic()
    if action:
        action()
    acted_s = time.monotonic() - started
    time.sleep(max(0.0, args.seconds - acted_s))
    profile = session.send("Profiler.stop")["profile"]
    if args.save:
        with open(args.save, "w", encoding="utf-8") as file:
            json.dump(profile, file)
    cpu, changes = task_ms(session) - cpu, len(fleet.pushed()) - pushed
    return {
        "seconds": args.seconds,
        "action_s": round(acted_s, 2) if action else None,
        "remote_changes": changes,
        "page_cpu_ms": round(cpu),
        "page_cpu_ms_per_change": round(cpu / changes, 1) if changes else None,
        "loadavg": loadavg(),
        **top_functions(profile, args.top),
    }


def edits_on_screen(terminal: Terminal, browser: Any, odoo: Any, count: int) -> Callable[[], None]:
    """Terminal A opens the order ``terminal`` shows, with a line added there; the action
    returned types ``count`` quantities on that line from A."""
    order = terminal.pos.current_order() or ""
    product = terminal.pos.catalog()["products"][0]
    line = terminal.pos.add_line(order, product["id"], product["price"]) or ""
    a = Terminal("A", browser, odoo)
    a.open(True)
    a.pos.wait_for_order(order)
    a.pos.open_table(terminal.pos.current_table)

    def edit() -> None:
        for index in range(count):
            a.pos.set_qty(order, line, 2 + index % 7)
            time.sleep(EDIT_GAP_S)

    return edit


def run(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from devkit.odoo import Harness

    proxy = "nginx" if args.workers else None
    with Harness(args.odoo_src, workers=args.workers, proxy=proxy) as harness:
        odoo = harness.up()
        every = tables(odoo, at_least=args.open_orders + 2)
        mine = keep_for_a(every, 2)
        theirs = [t for t in every if t not in mine]
        configure(odoo, "bus")
        fleet = open_fleet(odoo, args.terminals, theirs, args.open_orders)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                terminal = Terminal("B", browser, odoo)
                terminal.open(True)
                action = None
                if args.on_order or args.leave or args.edits_on_screen:
                    terminal.pos.open_table(mine[0].number)
                if args.edits_on_screen:
                    action = edits_on_screen(terminal, browser, odoo, args.edits_on_screen)
                if args.off_screen_wait_ms is not None:
                    terminal.pos.set_off_screen_wait(args.off_screen_wait_ms)
                if args.watch:
                    terminal.pos.watch(terminal.pos.views()[0]["uuid"])
                fleet.each("follow", "bus")
                fleet.start_serving(WAITER_PACE_S)
                time.sleep(3.0)  # past the loads of opening the POS
                if args.leave:
                    action = terminal.pos.back_to_floor
                result = profile_page(terminal, fleet, args, action)
                fleet.stop_serving()
                browser.close()
        finally:
            fleet.close()
        shown = (
            "order, then the floor plan"
            if args.leave
            else "order"
            if args.on_order or args.edits_on_screen
            else "floor plan"
        )
        return {
            "off_screen_wait_ms": args.off_screen_wait_ms,
            "odoo": odoo.version,
            "workers": args.workers,
            "shown": shown,
            "watch": args.watch,
            "edits_on_screen": args.edits_on_screen,
            **result,
        }


def main(argv: list[str] | None = None) -> int:
    parser = server_parser("python -m bench.odoo_profile", __doc__)
    parser.add_argument("--terminals", type=int, default=7, help="protocol terminals")
    parser.add_argument("--open-orders", type=int, default=100, help="opened by them first")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the profile")
    shown = parser.add_mutually_exclusive_group()  # what the page shows while profiled
    shown.add_argument("--on-order", action="store_true", help="the page shows an order")
    shown.add_argument(
        "--leave", action="store_true", help="the page leaves an order for the floor plan"
    )
    parser.add_argument(
        "--off-screen-wait-ms", type=int, help="the page's wait for orders off screen"
    )
    shown.add_argument("--edits-on-screen", type=int, default=0, help="A's edits of its order")
    parser.add_argument("--watch", action="store_true", help="run the bench's arrival sampler")
    parser.add_argument("--top", type=int, default=25, help="functions listed")
    parser.add_argument("--save", help="also write the raw profile (.cpuprofile) there")
    args = parse_server_args(parser, argv, STATE_DIR)
    log("profiling one POS page")
    print(json.dumps(run(args), indent=2), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
