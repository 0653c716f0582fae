"""The app's window, offscreen, against the stand-in Odoo and the real agent.

Each scenario runs tests/shell/gui_driver.py in its own process with a timeout, so a Qt
or pywebview hang fails one test instead of hanging the suite. The driver prints one
RESULT line per check; each becomes a line of the assertion message.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from devkit.ports import free_port
from tests.shell.conftest import gui_env

TIMEOUT_S = 150


def run_scenario(
    name: str, home: Path, *options: str, timeout: float = TIMEOUT_S, under: Sequence[str] = ()
) -> list[dict]:
    """``under``: a command to run the driver in (xvfb-run: a real X display, no offscreen)."""
    env = gui_env(home)
    if under:
        env.pop("QT_QPA_PLATFORM", None)
    try:
        done = subprocess.run(
            [*under, sys.executable, "-m", "tests.shell.gui_driver", name, *options],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"scenario {name} hung; output so far:\n{exc.stdout}")
    lines = done.stdout.splitlines()
    results = [json.loads(line.removeprefix("RESULT ")) for line in lines if line[:7] == "RESULT "]
    failed = [r for r in results if not r["ok"]]
    report = "\n".join(f"{r['ok'] and 'ok' or 'FAIL'} {r['check']}: {r['detail']}" for r in results)
    assert "DONE" in done.stdout and not failed and done.returncode == 0, (
        f"{report}\n--- stderr tail ---\n{done.stderr[-3000:]}"
    )
    return results


def assert_scenario_checked(name: str, home: Path, expected: set[str]) -> None:
    """Run scenario ``name``: every check passes, and the ``expected`` ones ran."""
    checks = {r["check"] for r in run_scenario(name, home)}
    assert expected <= checks, f"scenario {name} never checked {sorted(expected - checks)}"


def test_pos_injection_reload_supervision_and_close_guard(home: Path) -> None:
    assert_scenario_checked(
        "pos",
        home,
        {
            "injected exactly once per page load",
            "reload: injected again, once",
            "a killed agent comes back on the same port",
            "closing with unsent changes asks first",
            "the agent stops with the app",
        },
    )


def test_window_print_prints_the_receipt_and_the_window_has_its_icon(home: Path) -> None:
    # Odoo prints receipts with window.print() when no receipt printer is configured.
    run_scenario("print", home)


def test_a_pos_without_the_addon_shows_a_clear_banner(home: Path) -> None:
    run_scenario("no-addon", home)


def test_server_down_at_start_waits_on_the_local_page_then_opens_the_pos(home: Path) -> None:
    run_scenario("offline", home)


def test_setup_speaks_the_systems_language(home: Path) -> None:
    run_scenario("setup-french", home)


def test_first_run_setup_to_pos(home: Path) -> None:
    run_scenario("setup", home)


def test_web_storage_survives_a_restart_of_the_app(home: Path) -> None:
    # Odoo keeps unsynced orders in IndexedDB; a private profile would erase them on exit
    # (odoo/odoo#60939, #56840).
    # Storage belongs to an origin: both launches use the same server address.
    port = str(free_port())
    run_scenario("storage-write", home, "--port", port)
    run_scenario("storage-read", home, "--port", port)
