"""How fast the desktop app shows the POS with the sync script injected, and its memory.

    python -m bench.shell [--runs 3] [--json]

Each run launches the real `possync` command (offscreen Qt, a private home) configured for
the stand-in Odoo (devkit/standin_odoo.py): it logs in and opens the stand-in POS page,
whose stand-in addon script reports back the moment it receives the agent's address (the
``possync:agent`` event); ``start_to_page_s`` is the time from launching the process to
that moment. ``python_rss_mb`` is the app's own Python process (not Qt
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
import time
from pathlib import Path

from devkit.desktop import offscreen_env
from devkit.standin_odoo import PASSWORD, StandInServer

TARGET_S = 3.0


def _environment(home: Path) -> dict[str, str]:
    # The agent's own settings from the environment: no LAN traffic from a benchmark.
    return offscreen_env(home, POSSYNC_PEER_PORT="0", POSSYNC_MDNS="false")


def _configure(home: Path, server_url: str) -> None:
    """Settings for the stand-in's restaurant, with the password in the consented private
    file (a benchmark has no keyring)."""
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    from shell import settings
    from shell.credentials import Credentials

    configured = settings.Settings(
        server_url, "restaurant", "waiter", 2, "Restaurant", secret_store="file"
    )
    settings.save(configured)
    Credentials().put(configured, PASSWORD)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _page_took_agent(server: StandInServer, timeout: float) -> float | None:
    """When (monotonic) the POS page took the agent's address, or None after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not server.standin.agent_taken and time.monotonic() < deadline:
        time.sleep(0.01)
    return server.standin.agent_taken[0] if server.standin.agent_taken else None


def one_run(server: StandInServer) -> dict[str, float]:
    server.standin.agent_taken.clear()
    server.forget_sessions()
    with tempfile.TemporaryDirectory(prefix="possync-bench-") as tmp:
        home = Path(tmp)
        _configure(home, server.url)
        started = time.monotonic()
        app = subprocess.Popen(
            [sys.executable, "-m", "shell.cli"],
            env=_environment(home),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            taken = _page_took_agent(server, 60)
            if taken is None:
                raise RuntimeError("the page never received the agent's address")
            figures = {
                "start_to_page_s": round(taken - started, 3),
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
    server = StandInServer().start()
    try:
        runs = [one_run(server) for _ in range(args.runs)]
    finally:
        server.stop()
    summary = {
        "start_to_page_s": statistics.median(r["start_to_page_s"] for r in runs),
        "python_rss_mb": statistics.median(r["python_rss_mb"] for r in runs),
        "target_start_to_page_s": TARGET_S,
        "runs": runs,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"start to page (median of {args.runs}): {summary['start_to_page_s']:.2f} s "
            f"(target ≤ {TARGET_S:g} s); Python RSS {summary['python_rss_mb']:.0f} MB"
        )
    return 0 if summary["start_to_page_s"] <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
