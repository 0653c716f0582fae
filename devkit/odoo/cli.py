"""``python -m devkit.odoo``: the harness from a terminal (up, test, pot, venv, clean)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from .addon import ADDONS_DIR, SYNC_MODULE
from .harness import Harness
from .proxy import PROXIES
from .venv import ensure_venv

POT_PATH = ADDONS_DIR / SYNC_MODULE / "i18n" / f"{SYNC_MODULE}.pot"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devkit.odoo",
        description="Run a real Odoo 18.0/19.0 for possync tests.",
    )
    parser.add_argument(
        "--odoo-src",
        default=os.environ.get("ODOO_SRC"),
        help="Odoo source tree (default: $ODOO_SRC)",
    )
    parser.add_argument(
        "--without-addon",
        action="store_true",
        help="plain Odoo, without pos_restaurant_sync (also: POSSYNC_WITHOUT_ADDON=1)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="Odoo's HTTP workers; the websocket then needs the proxy "
        "(default: $POSSYNC_ODOO_WORKERS or 0, one process)",
    )
    parser.add_argument(
        "--proxy",
        choices=PROXIES,
        default=None,
        help="nginx in front, with docs/nginx/possync-site.conf; nginx-no-websocket "
        "leaves out its /websocket route (default: $POSSYNC_ODOO_PROXY or none)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start Odoo, print one JSON line, run until Ctrl-C")
    test = sub.add_parser("test", help="run Odoo's own tests of the sync addon")
    test.add_argument("--tags", default=f"/{SYNC_MODULE}", help="Odoo --test-tags")
    pot = sub.add_parser("pot", help="export the sync addon's translation template (.pot)")
    pot.add_argument("--out", type=Path, default=POT_PATH, help="where to write it")
    sub.add_parser("venv", help="only build the cached virtualenv; print its python")
    sub.add_parser("clean", help="drop this version's cluster, templates and filestore")
    args = parser.parse_args(argv)
    if not args.odoo_src:
        parser.error("--odoo-src or ODOO_SRC is required")
    return args


def serve_until_interrupted(harness: Harness) -> int:
    started = time.monotonic()
    instance = harness.up()
    info = instance.describe() | {"startup_s": round(time.monotonic() - started, 1)}
    print(json.dumps(info), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            signal.pause()
    return 0


def run_tests(harness: Harness, tags: str) -> int:
    result = harness.run_addon_tests(tags)
    summary = {"ok": result.ok, "returncode": result.returncode, "summary": result.summary}
    print(json.dumps(summary | {"log": str(result.log_path)}))
    return 0 if result.ok else 1


def export_pot(harness: Harness, path: Path) -> int:
    log = harness.export_pot(path)
    print(json.dumps({"pot": str(path), "log": str(log)}))
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with_addon = False if args.without_addon else None
    harness = Harness(args.odoo_src, with_addon=with_addon, workers=args.workers, proxy=args.proxy)
    if args.command == "venv":
        print(ensure_venv(harness.tree))
        return 0
    if args.command == "clean":
        harness.clean()
        return 0
    # SIGTERM unwinds like Ctrl-C, so the with-block still stops Odoo and PostgreSQL.
    signal.signal(signal.SIGTERM, _interrupt)
    with harness:
        if args.command == "up":
            return serve_until_interrupted(harness)
        if args.command == "pot":
            return export_pot(harness, args.out)
        return run_tests(harness, args.tags)
