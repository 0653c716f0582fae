"""Enrolment on a real Odoo 18 or 19: a manager issues a code in Odoo, the desktop app
takes the QR code's line on its first screen (offscreen, tests/shell/gui_driver.py
``real-odoo-enrol``), the login is typed once and the POS opens logged in. `possync enroll`
then meets the used code and a guessed one with their clear errors.

``POSSYNC_SHELL_SHOTS=DIR`` under ``xvfb-run -a -s "-screen 0 1280x800x24"`` also saves
Odoo's enrolment form as ``DIR/enrolment-odoo<major>.png`` and the app's first screen as
``DIR/enrol-odoo-code.png`` and ``DIR/enrol-odoo-login.png``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from devkit.odoo import OdooInstance
from tests.shell.conftest import gui_env
from tests.shell.test_window import run_scenario

SCENARIO_TIMEOUT_S = 480
SHOTS = os.environ.get("POSSYNC_SHELL_SHOTS")
ENROLMENT = "pos_restaurant_sync.enrolment"
ACTION = "pos_restaurant_sync.action_pos_restaurant_sync_enrolment"


def issue(odoo: OdooInstance) -> dict[str, Any]:
    """What a POS manager does: a new enrolment for the restaurant POS (admin is one)."""
    enrolment_id = odoo.jsonrpc(ENROLMENT, "create", [{"config_id": odoo.config_id}])
    fields = ["code", "state", "enrolment_string", "server_url", "expires_at", "used_from"]
    [enrolment] = odoo.jsonrpc(ENROLMENT, "read", [[enrolment_id], fields])
    return enrolment


def possync_enroll(home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shell.cli", "enroll", *argv],
        env=gui_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )


def registered_device(odoo: OdooInstance) -> list[dict[str, Any]]:
    """The devices of the POS registered by admin, once the agent logged in (up to 60 s)."""
    domain = [("config_id", "=", odoo.config_id), ("revoked", "=", False)]
    deadline = time.monotonic() + 60
    while True:
        found = odoo.jsonrpc(
            "pos_restaurant_sync.device", "search_read", [domain, ["terminal", "user_id"]]
        )
        if found or time.monotonic() > deadline:
            return found
        time.sleep(1)


def shoot_form(odoo: OdooInstance, enrolment_id: int, path: Path) -> None:
    """Odoo's enrolment form, as the manager sees it, in headless chromium."""
    from playwright.sync_api import sync_playwright

    from devkit.chromium import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{odoo.base_url}/web/login")
        page.fill("input[name=login]", odoo.login)
        page.fill("input[name=password]", odoo.password)
        page.click("button[type=submit]")
        page.wait_for_url("**/odoo**", timeout=60_000)
        page.goto(f"{odoo.base_url}/odoo/action-{ACTION}/{enrolment_id}")
        page.wait_for_selector(".o_form_view .o_field_image img", timeout=60_000)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(path))
        browser.close()


def test_a_tablet_enrolled_with_a_code_from_odoo_opens_the_pos_logged_in(
    odoo: OdooInstance, tmp_path: Path
) -> None:
    odoo.jsonrpc("pos.config", "write", [[odoo.config_id], {"possync_enabled": True}])
    odoo.jsonrpc("ir.config_parameter", "set_param", ["web.base.url", odoo.base_url])

    # 1. The manager's code: short, valid for 15 minutes, and the line its QR code holds.
    enrolment = issue(odoo)
    line = enrolment["enrolment_string"]
    assert enrolment["state"] == "valid" and len(enrolment["code"]) == 9, enrolment
    assert line.startswith("possync:enroll?url=http") and f"db={odoo.db}" in line, line
    if SHOTS:
        shoot_form(odoo, enrolment["id"], Path(SHOTS) / f"enrolment-odoo{odoo.tree.major}.png")

    # 2. The app's first screen takes the scanned line, then only the login: the POS opens.
    options = ["--enrolment", line, "--login", odoo.login, "--password", odoo.password]
    if SHOTS:
        options += ["--shots", SHOTS]
    results = run_scenario("real-odoo-enrol", tmp_path, *options, timeout=SCENARIO_TIMEOUT_S)
    for r in results:
        print(f"odoo {odoo.version} [{r['at_s']:>6} s] ok {r['check']}: {r['detail'][:300]}")
    assert {r["check"] for r in results} >= {
        "the code enrolled this terminal",
        "the POS runs in the app",
        "logged in: no login form",
        "settings complete, the password in the keyring",
    }

    # 3. Odoo shows the code used, from this machine; the tablet's agent registered itself.
    [used] = odoo.jsonrpc(ENROLMENT, "read", [[enrolment["id"]], ["state", "code", "used_from"]])
    assert (used["state"], used["code"], used["used_from"]) == ("used", False, "127.0.0.1")
    devices = registered_device(odoo)
    assert devices, "the enrolled tablet's agent registered no device"

    # 4. The same code again, and a guessed one: refused, each with its own message.
    replayed = possync_enroll(tmp_path / "again", line)
    assert replayed.returncode == 1 and "was used already" in replayed.stdout, replayed
    guessed = possync_enroll(tmp_path / "guess", odoo.base_url, "ABCD-EFGH")
    assert guessed.returncode == 1 and "does not exist" in guessed.stdout, guessed


def test_possync_enroll_sets_a_tablet_up_from_the_command_line(
    odoo: OdooInstance, tmp_path: Path
) -> None:
    # A scripted install: the line (or URL and code), the login, the password from a file.
    odoo.jsonrpc("pos.config", "write", [[odoo.config_id], {"possync_enabled": True}])
    enrolment = issue(odoo)
    password_file = tmp_path / "password"
    password_file.write_text(odoo.password + "\n")
    done = possync_enroll(
        tmp_path,
        enrolment["server_url"],
        enrolment["code"],
        "--db",
        odoo.db,
        "--login",
        odoo.login,
        "--password-file",
        str(password_file),
        "--secret-store",
        "file",
    )
    assert done.returncode == 0, done
    assert f"Logged in as {odoo.login}" in done.stdout, done.stdout
