"""The desktop app on a real Odoo 18 or 19: the window, its injection, its agent, doctor.

The app runs offscreen in its own process (tests/shell/gui_driver.py, scenario
``real-odoo``) with a timeout, so a Qt hang fails this test instead of hanging pytest. It
is set up as after the setup screen (the password in the in-memory test keyring) and
checked as a person would: the POS opens logged in, the addon's script syncs through the
agent, a line added in the POS reaches Odoo, and ``possync doctor`` passes. The server
announces a newer app (its system parameter): the indicator and doctor say an update is
available.

``POSSYNC_SHELL_SHOTS=DIR`` under ``xvfb-run -a -s "-screen 0 1280x800x24"`` also saves
the app's window as ``DIR/pos-odoo<major>.png``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from agent.version import version
from devkit.e2e.views import odoo_orders
from devkit.odoo import OdooInstance
from tests.addon_lib import load
from tests.shell.test_window import run_scenario

APP_VERSIONS = load("app_version")
NEWER_APP = "99.0"

# A cold POS load (assets, every product) takes 20-40 s on a busy machine; the driver's
# own watchdog (REAL_ODOO_TIMEOUT_S) fires first and reports what it saw.
SCENARIO_TIMEOUT_S = 480
SHOTS = os.environ.get("POSSYNC_SHELL_SHOTS")


def detail(results: list[dict], check: str) -> str:
    [found] = [r["detail"] for r in results if r["check"] == check]
    return found


def wait_for_line(odoo: OdooInstance, order_uuid: str, line_uuid: str) -> dict:
    """The order as Odoo stores it, once the line is there (the agent's push applies it)."""
    deadline = time.monotonic() + 30
    while True:
        order = odoo_orders(odoo, [order_uuid]).get(order_uuid)
        if (order and line_uuid in order["lines"]) or time.monotonic() > deadline:
            return order or {}
        time.sleep(0.5)


def test_the_app_opens_the_pos_and_syncs_through_its_agent(
    odoo: OdooInstance, tmp_path: Path
) -> None:
    # What the POS manager does first: switch Real-Time Sync on for this POS, and make its
    # terminals kiosks.
    values = {"possync_enabled": True, "possync_mode": "bus", "possync_kiosk": True}
    odoo.jsonrpc("pos.config", "write", [[odoo.config_id], values])
    # ... and, having published a newer app to the tablets, says so (docs/protocol.md,
    # "The desktop app's version").
    latest = APP_VERSIONS.PARAMETERS[1]
    odoo.jsonrpc("ir.config_parameter", "set_param", [latest, NEWER_APP])
    options = [
        "--server",
        odoo.base_url,
        "--db",
        odoo.db,
        "--login",
        odoo.login,
        "--password",
        odoo.password,
        "--config-id",
        str(odoo.config_id),
    ]
    if SHOTS:
        options += ["--shots", SHOTS]

    try:
        results = run_scenario("real-odoo", tmp_path, *options, timeout=SCENARIO_TIMEOUT_S)
    finally:
        odoo.jsonrpc("ir.config_parameter", "set_param", [latest, False])
    for r in results:
        print(f"odoo {odoo.version} [{r['at_s']:>6} s] ok {r['check']}: {r['detail'][:400]}")

    # 1. The URL form the app chose is the one this server serves its POS at.
    opened = json.loads(detail(results, "opened at the URL the app computes for this version"))
    assert opened["odoo_major"] == odoo.tree.major
    assert opened["pos_url"] == odoo.pos_url

    # 2. /info named the app versions; the indicator and doctor show the update.
    app = json.loads(detail(results, "the agent read the app versions from the server's /info"))
    assert app["min_version"] == APP_VERSIONS.APP_MIN_VERSION
    assert (app["state"], app["latest_version"]) == ("update_available", NEWER_APP)
    shown = detail(results, "the indicator shows the update and what to do")
    assert f"update available ({version()} → {NEWER_APP})" in shown, shown
    assert "update possync on this tablet" in shown, shown
    assert detail(results, "possync doctor warns of the update").startswith("WARN")

    # 3. The line added in the app's POS is in Odoo's pos.order, sent by this terminal.
    edit = json.loads(detail(results, "edit made in the app's POS"))
    order = wait_for_line(odoo, edit["order"], edit["line"])
    assert order.get("lines", {}).get(edit["line"], ())[:3] == (
        edit["product"],
        1.0,
        round(edit["price"], 2),
    ), order
    assert order["table_id"] == edit["table"], order
    terminal = detail(results, "the page and the agent are one terminal")
    changes = odoo.jsonrpc(
        "pos_restaurant_sync.change",
        "search_read",
        [[("order_uuid", "=", edit["order"])], ["terminal", "status"]],
    )
    assert changes and {c["terminal"] for c in changes} == {terminal}, changes
    print(f"odoo {odoo.version}: pos.order {edit['order']} = {order}; changes {changes}")

    # 4. The POS's Kiosk Terminals reached the app, kept for its next start.
    kiosk = json.loads(detail(results, "the POS's kiosk setting was read from the server"))
    assert kiosk == {"server_kiosk": True}, kiosk
