"""`possync-agent run` and `possync-agent status`. The command line holds no sync logic."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path

from aiohttp import web

from agent import runtime
from agent.app import PEER_PORT, create_app
from agent.clock import describe_status
from agent.page_api import AGENT
from agent.settings import Settings, SettingsError, default_data_dir, load
from agent.store import StoreError
from agent.version import describe as describe_version

EXIT_SETTINGS = 2
EXIT_STORAGE = 3
EXIT_RUNNING = 4


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="possync-agent", description="possync's local sync agent for one POS terminal."
    )
    parser.add_argument("--version", action="version", version=describe_version("possync-agent"))
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the agent until SIGTERM or Ctrl-C")
    run.add_argument("--data-dir", type=Path, help="folder of the database and settings")
    run.add_argument("--page-port", type=int, help="loopback port for the page (0 = any free)")
    run.add_argument("--peer-port", type=int, help="port for other agents (0 = any free)")
    run.add_argument("--peer-host", help="address the peer port listens on (default 0.0.0.0)")
    run.add_argument("--server", help="Odoo server URL, e.g. https://pos.example.com")
    run.add_argument("--db", help="Odoo database name")
    run.add_argument("--login", help="Odoo login (the password comes from POSSYNC_PASSWORD)")
    run.add_argument("--config-id", type=int, help="id of the pos.config to sync")
    run.add_argument(
        "--allowed-origin",
        action="append",
        dest="allowed_origins",
        metavar="ORIGIN",
        help="origin a page may connect from (repeatable; default: the server's origin)",
    )
    run.add_argument(
        "--peer", action="append", dest="peers", metavar="URL", help="a peer agent (repeatable)"
    )
    run.add_argument(
        "--no-mdns", action="store_false", dest="mdns", default=None, help="no LAN discovery"
    )
    status = commands.add_parser("status", help="print the running agent's status")
    status.add_argument("--data-dir", type=Path, help="folder of the running agent")
    status.add_argument("--json", action="store_true", help="print the raw JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "status":
        return show_status(args.data_dir, as_json=args.json)
    return run(args)


def run(args: argparse.Namespace) -> int:
    flags = {k: v for k, v in vars(args).items() if k != "command"}
    try:
        settings = load(flags)
    except SettingsError as exc:
        return _fail(str(exc), EXIT_SETTINGS)
    if not settings.page_token:
        settings.page_token = secrets.token_urlsafe(32)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        asyncio.run(serve(settings))
    except runtime.AlreadyRunning as exc:
        return _fail(str(exc), EXIT_RUNNING)
    except StoreError as exc:
        return _fail(str(exc), EXIT_STORAGE)
    return 0


def _fail(message: str, code: int) -> int:
    print(f"possync-agent: {message}", file=sys.stderr)
    return code


async def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT; print the `listening` line once both ports are open."""
    lock = runtime.lock(settings.data_dir)
    stop = _stop_on_signals()  # before anyone learns our ports and may signal us
    runner = web.AppRunner(create_app(settings), handle_signals=False, access_log=None)
    try:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", settings.page_port).start()
        app = runner.app
        listening = {
            "event": "listening",
            "page_port": runner.addresses[0][1],
            "peer_port": app[PEER_PORT],
            "terminal": app[AGENT].terminal,
        }
        ports = {k: listening[k] for k in ("page_port", "peer_port", "terminal")}
        runtime.write(
            settings.data_dir, {"pid": os.getpid(), **ports, "token": settings.page_token}
        )
        print(json.dumps(listening), flush=True)
        await stop.wait()
    finally:
        runtime.remove(settings.data_dir)
        await runner.cleanup()
        lock.close()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # Windows: plain handlers, woken thread-safely
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
    return stop


def show_status(data_dir: Path | None, *, as_json: bool) -> int:
    data_dir = data_dir or Path(os.environ.get("POSSYNC_DATA_DIR") or default_data_dir())
    info = runtime.read(data_dir)
    if info is None:
        return _fail(f"no agent is running on {data_dir}", 1)
    request = urllib.request.Request(
        f"http://127.0.0.1:{info['page_port']}/status",
        headers={"Authorization": f"Bearer {info['token']}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            status = json.load(resp)
    except (OSError, ValueError) as exc:
        return _fail(f"the agent (pid {info.get('pid')}) does not answer: {exc}", 1)
    print(json.dumps(status, indent=2) if as_json else describe(status))
    return 0


def describe(status: dict) -> str:
    """The status as a few lines for a person."""
    server = status["server"]
    if not server["configured"]:
        line = "not configured (peers and page only)"
    elif server["reachable"]:
        line = f"reachable, receiving by {server['path'] or '…'}"
    else:
        line = "unreachable"
    if server["cause"] and server["configured"]:
        line += f" ({server['cause']})"
    lines = [
        f"terminal  {status['terminal']}",
        f"pending   {status['pending']} change(s) not yet on the server",
        f"server    {line}; last sync {server['last_sync'] or 'never'}",
        f"peers     {len(status['peers'])} seen; last sync {status['last_peer_sync'] or 'never'}",
        f"clock     {describe_status(status['clock'])}",
    ]
    if status.get("peer_cause"):
        lines.insert(4, f"          off: {status['peer_cause']}")  # under the peers line
    if status.get("app", {}).get("cause"):
        lines.append(f"app       {status['app']['cause']}")
    rejected = status["rejected"]
    if rejected["count"]:
        reason = rejected["last"]["reason"]
        lines.append(f"refused   {rejected['count']} change(s) by the server; last: {reason}")
    for peer in status["peers"]:
        lines.append(f"          {peer['terminal']} {peer['url']} seen {peer['last_seen']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
