"""How fast the desktop app shows the POS with the sync script injected, and its memory.

    python -m bench.shell [--runs 3] [--json]

Each run launches the real `possync` command (offscreen Qt, a private home) configured for
a local stand-in POS page. The page reports back the moment it receives the agent's
address (the ``possync:agent`` event); ``start_to_page_s`` is the time from launching the
process to that moment. ``python_rss_mb`` is the app's own Python process (not Qt
WebEngine's child processes nor the agent) at that moment. Target: at most 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TARGET_S = 3.0
CONFIG_ID = 1
PAGE = b"""<!doctype html><html><head><title>POS stand-in</title></head><body><h1>POS</h1>
<script>
window.addEventListener("possync:agent", function () { fetch("/injected"); });
</script></body></html>"""


class StandIn(ThreadingHTTPServer):
    """Serves the page and Odoo's version route (the app checks the server is up)."""

    injected = threading.Event()
    injected_at = 0.0


class Handler(BaseHTTPRequestHandler):
    server: StandIn

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/injected":
            self.server.injected_at = time.monotonic()
            self.server.injected.set()
        self._send(PAGE, "text/html")

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        result = {"server_version": "19.0", "server_version_info": [19, 0, 0, "final", 0, ""]}
        self._send(json.dumps({"jsonrpc": "2.0", "id": 1, "result": result}).encode(), "json")

    def _send(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if kind == "json" else kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def _environment(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        # The agent's own settings from the environment: no LAN traffic from a benchmark.
        POSSYNC_PEER_PORT="0",
        POSSYNC_MDNS="false",
    )
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env["QTWEBENGINE_DISABLE_SANDBOX"] = "1"
    return env


def _configure(home: Path, server_url: str) -> None:
    """Settings for the stand-in, with the password in the consented private file (a
    benchmark has no keyring)."""
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    from shell import settings
    from shell.credentials import Credentials

    configured = settings.Settings(
        server_url, "bench", "bench", CONFIG_ID, "Bench", secret_store="file"
    )
    settings.save(configured)
    Credentials().put(configured, "bench")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_run(server: StandIn) -> dict[str, float]:
    server.injected.clear()
    with tempfile.TemporaryDirectory(prefix="possync-bench-") as tmp:
        home = Path(tmp)
        _configure(home, f"http://127.0.0.1:{server.server_address[1]}")
        started = time.monotonic()
        app = subprocess.Popen(
            [sys.executable, "-m", "shell.cli"],
            env=_environment(home),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            if not server.injected.wait(60):
                raise RuntimeError("the page never received the agent's address")
            figures = {
                "start_to_page_s": round(server.injected_at - started, 3),
                "python_rss_mb": round(_rss_mb(app.pid), 1),
            }
        finally:
            app.send_signal(signal.SIGTERM)  # the app closes its window and its agent
            app.wait(30)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    server = StandIn(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    runs = [one_run(server) for _ in range(args.runs)]
    server.shutdown()
    summary = {
        "start_to_page_s": statistics.median(r["start_to_page_s"] for r in runs),
        "python_rss_mb": statistics.median(r["python_rss_mb"] for r in runs),
        "target_start_to_page_s": TARGET_S,
        "runs": runs,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"start to page (median of {args.runs}): {summary['start_to_page_s']:.2f} s "
              f"(target ≤ {TARGET_S:g} s); Python RSS {summary['python_rss_mb']:.0f} MB")
    return 0 if summary["start_to_page_s"] <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
