"""Where the time goes between a tap on terminal A and terminal B's POS store, step by step.

    python -m bench.steps --odoo-src PATH [--runs 3] [--lines 6] [--attach FILE]

Two POS terminals (Playwright pages on Debian's chromium, Bus mode) on one table of a real
Odoo 18/19 from the real-Odoo tier's harness, or of a running one (``--attach``: the JSON
line ``python -m devkit.odoo up`` prints). A taps like a waiter: the numpad's quantity,
discount and price, then Payment, Cash, Validate. ``bench/steps.js`` stamps each step in
both pages (tap, possync's capture, push sent and acknowledged, Odoo's own order sync, B's
receive and apply, B's notice that the order was paid), all on one wall clock; the push's
time inside Odoo comes from Odoo's request log. Prints one JSON object: per edit kind, the
median ms of each step after A's last tap, and the load average.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devkit.chromium import CHROMIUM, CHROMIUM_ARGS
from devkit.machine import loadavg
from devkit.pos_page import PosPage, kitchen_printer_values

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from devkit.odoo import OdooInstance

STEPS_JS = Path(__file__).with_name("steps.js")
STATE_DIR = "/var/tmp/possync-state-steps"
PRODUCTS = ["Coca-Cola", "Water", "Fanta", "Green Tea", "Espresso", "Minute Maid"]
# Numpad keys per edit kind: the mode key, then the value typed (two taps).
EDITS = {"qty": ["Qty", "3", "2"], "discount": ["%", "1", "5"], "price": ["Price", "7", "5"]}
QUIET_S = 1.5  # after the last tap, long enough for every step to have happened
PAID_TIMEOUT_MS = 30_000  # Odoo's own sync of a paid order takes seconds on a busy machine
# Odoo's request log line: time, path, query count, SQL seconds, other seconds.
REQUEST_LINE = re.compile(
    r"^(\S+ \S+),\d+ .*\"POST (\S+) HTTP[^\"]*\" \d+ - (\d+) ([\d.]+) ([\d.]+)"
)


def log(message: str) -> None:
    print(f"[bench.steps] {message}", file=sys.stderr, flush=True)


def attach(path: str, odoo_src: str) -> OdooInstance:
    from devkit.odoo import OdooInstance, OdooRpc, OdooTree

    info = json.loads(Path(path).read_text().strip().splitlines()[-1])
    rpc = OdooRpc(info["url"], info["db"], info["login"], info["password"])
    rpc.authenticate()
    return OdooInstance(
        tree=OdooTree.detect(odoo_src),
        base_url=info["url"],
        db=info["db"],
        config_id=info["config_id"],
        session_id=info["session_id"],
        log_path=Path(info["log"]),
        rpc=rpc,
        with_addon=info["with_addon"],
    )


def configure(odoo: OdooInstance) -> None:
    """Bus mode, and on 19 a kitchen printer (its payment sends to the kitchen first)."""
    values: dict[str, Any] = {"possync_enabled": True, "possync_mode": "bus"}
    config = odoo.jsonrpc("pos.config", "read", [[odoo.config_id], ["printer_ids"]])[0]
    if not config["printer_ids"]:
        values |= kitchen_printer_values(odoo)
    odoo.jsonrpc("pos.config", "write", [[odoo.config_id], values])


def free_table(odoo: OdooInstance) -> int:
    main_floor = [("floor_id.name", "=", "Main Floor")]
    tables = odoo.jsonrpc("restaurant.table", "search_read", [main_floor, ["table_number"]])
    busy = odoo.jsonrpc("pos.order", "search_read", [[("state", "=", "draft")], ["table_id"]])
    taken = {order["table_id"][0] for order in busy if order["table_id"]}
    return min(t["table_number"] for t in tables if t["id"] not in taken)


def open_terminal(browser: Browser, odoo: OdooInstance) -> PosPage:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.add_init_script(path=str(STEPS_JS))
    pos = PosPage(context.new_page(), odoo.tree.major)
    pos.stand_in_kitchen_printer()
    pos.open(odoo)
    pos.wait_ready()
    return pos


def steps_of(pos: PosPage) -> list[dict[str, Any]]:
    return pos.js("() => window.possyncSteps.splice(0)")


def requests_between(odoo: OdooInstance, start_ms: float, end_ms: float) -> list[dict]:
    """Odoo's log lines for POST requests that ended in [start, end] (1 s precision)."""
    found = []
    for line in odoo.log_path.read_text(errors="replace").splitlines()[-400:]:
        if match := REQUEST_LINE.match(line):
            at = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S").timestamp() * 1000
            if start_ms - 1000 <= at <= end_ms + 1000:
                found.append(
                    {
                        "path": match[2].split("#")[0],
                        "queries": int(match[3]),
                        "sql_ms": float(match[4]) * 1000,
                        "other_ms": float(match[5]) * 1000,
                    }
                )
    return found


def timeline(a: list[dict], b: list[dict], last_tap: float) -> dict[str, float]:
    """Each step's ms after A's last tap: A's first of each after the tap, B's last."""
    out: dict[str, float] = {}
    for prefix, events, pick in (("a.", a, min), ("b.", b, max)):
        times: dict[str, list[float]] = defaultdict(list)
        for event in events:
            if event["t"] >= last_tap:
                times[event["ev"]].append(event["t"] - last_tap)
        for name, values in times.items():
            out[prefix + name] = round(pick(values), 1)
    recompute = [e["ms"] for e in a if e["ev"] == "recompute" and e["t"] >= last_tap]
    out["a.recompute_ms_total"] = round(sum(recompute), 1)
    recompute_b = [e["ms"] for e in b if e["ev"] == "recompute" and e["t"] >= last_tap]
    out["b.recompute_ms_total"] = round(sum(recompute_b), 1)
    return out


def edit_split(a: list[dict], b: list[dict], at: float, seen: float) -> dict[str, float] | None:
    """Where the time of one line added on A went until B's store held it (bench.e2e
    --steps), in ms: Odoo's add on A until possync captured it (``a_odoo``, Odoo's price
    recompute ``a_recompute`` in it), the change's way to B's page (``to_b``: A's push, the
    agents, the server or the peer link), B's apply (``b_apply``, Odoo's recompute
    ``b_recompute`` in it), then until B's sampler read it (``b_seen``). None when a step
    is missing (a change captured with another)."""
    capture = _first(a, "capture", at, "line.add")
    receive = capture and _first(b, "receive", capture["t"], "line.add")
    applied = receive and _first(b, "apply.end", receive["t"])
    if not applied:
        return None
    ct, rt, at_ = capture["t"], receive["t"], applied["t"]
    return {
        "a_odoo": ct - at,
        "a_recompute": sum(e["ms"] for e in a if e["ev"] == "recompute" and at <= e["t"] <= ct),
        "to_b": rt - ct,
        "b_apply": at_ - rt,
        "b_recompute": sum(e["ms"] for e in b if e["ev"] == "recompute" and rt <= e["t"] <= at_),
        "b_seen": seen - at_,
    }


def _first(events: list[dict], name: str, after: float, op: str | None = None) -> dict | None:
    """The first event ``name`` at or after ``after`` (with ``op`` among its ops)."""
    for event in events:
        if event["ev"] == name and event["t"] >= after and (op is None or op in event["ops"]):
            return event
    return None


def last_tap_of(events: list[dict]) -> float:
    return max(e["t"] for e in events if e["ev"] == "click")


def numpad_edit(odoo: OdooInstance, a: PosPage, b: PosPage, kind: str) -> dict[str, Any]:
    a.select_line(PRODUCTS[0])
    time.sleep(0.5)
    steps_of(a), steps_of(b)
    a.numpad(*EDITS[kind])
    time.sleep(QUIET_S)
    ea, eb = steps_of(a), steps_of(b)
    tap = last_tap_of(ea)
    out = timeline(ea, eb, tap)
    out["pushes"] = sum(1 for e in ea if e["ev"] == "send")
    out["requests"] = requests_between(odoo, tap - 2000, tap + QUIET_S * 1000)
    return out


def payment(odoo: OdooInstance, a: PosPage, b: PosPage) -> dict[str, Any]:
    if a.screens.kitchen_before_payment:
        a.send_to_kitchen()
        a.open_table(a.current_table)
    a.page.get_by_role("button", name="Payment").click()
    a.page.locator(".paymentmethods .paymentmethod", has_text="Cash").first.click()
    time.sleep(1.0)
    steps_of(a), steps_of(b)
    a.page.get_by_text("Validate", exact=True).click()
    b.notification("paid on another terminal").first.wait_for(timeout=PAID_TIMEOUT_MS)
    time.sleep(0.5)
    ea, eb = steps_of(a), steps_of(b)
    tap = last_tap_of(ea)
    out = timeline(ea, eb, tap)
    out["requests"] = requests_between(odoo, tap - 200, tap + 3000)
    return out


def one_run(browser: Browser, odoo: OdooInstance, lines: int) -> dict[str, Any]:
    a, b = open_terminal(browser, odoo), open_terminal(browser, odoo)
    try:
        table = free_table(odoo)
        a.open_table(table)
        for product in PRODUCTS[:lines]:
            a.add_product(product)
        b.page.wait_for_timeout(1500)
        b.open_table(table)
        b.line(PRODUCTS[lines - 1]).first.wait_for(timeout=10_000)
        result = {kind: numpad_edit(odoo, a, b, kind) for kind in EDITS}
        result["payment"] = payment(odoo, a, b)
        return result
    except Exception:
        for name, pos in (("A", a), ("B", b)):
            pos.page.screenshot(path=f"/tmp/bench-steps-{name}.png")
        log("failed: screenshots in /tmp/bench-steps-A.png and -B.png")
        raise
    finally:
        a.page.context.close()
        b.page.context.close()


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in runs[0]:
        keys = {k for run in runs for k, v in run[kind].items() if isinstance(v, (int, float))}
        out[kind] = {
            k: round(statistics.median(run[kind][k] for run in runs if k in run[kind]), 1)
            for k in sorted(keys)
        }
        out[kind]["requests"] = [run[kind]["requests"] for run in runs]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.steps", description=__doc__)
    parser.add_argument("--odoo-src", default=os.environ.get("ODOO_SRC"), required=False)
    parser.add_argument("--attach", help="JSON line of `python -m devkit.odoo up`")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lines", type=int, default=6, help="lines on the order")
    args = parser.parse_args(argv)
    os.environ.setdefault("POSSYNC_STATE_DIR", STATE_DIR)
    from playwright.sync_api import sync_playwright

    from devkit.odoo import Harness

    # An attached Odoo belongs to another harness, which holds the cluster's lock.
    with contextlib.nullcontext() if args.attach else Harness(args.odoo_src) as harness:
        odoo = attach(args.attach, args.odoo_src) if args.attach else harness.up()
        configure(odoo)
        runs = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for index in range(args.runs):
                runs.append(one_run(browser, odoo, args.lines))
                log(f"run {index + 1}: {json.dumps(runs[-1])}")
            browser.close()
    result = {"odoo": odoo.version, "runs": args.runs, "loadavg": loadavg(), **medians(runs)}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
