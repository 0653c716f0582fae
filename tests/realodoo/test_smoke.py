"""The harness itself works: a real Odoo serves the restaurant POS to a real chromium."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from devkit.odoo import OdooInstance
from devkit.pos_page import PosPage

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

SCREENSHOTS = Path(os.environ.get("POSSYNC_SCREENSHOTS", "/tmp"))


def test_session_is_opened_by_the_harness(odoo: OdooInstance) -> None:
    # Opened over JSON-RPC, so the POS goes straight to the floor plan (no cash popup).
    [session] = odoo.jsonrpc("pos.session", "read", [[odoo.session_id], ["state", "config_id"]])
    assert session["state"] == "opened"
    assert session["config_id"][0] == odoo.config_id


def test_admin_sees_the_floor_plan_in_chromium(odoo: OdooInstance, context: BrowserContext) -> None:
    page = context.new_page()
    started = time.monotonic()
    floor = PosPage(page, odoo.tree.major).open(odoo)
    tables = floor.locator(".table")
    tables.first.wait_for()
    elapsed = time.monotonic() - started
    shot = SCREENSHOTS / f"possync-realodoo-floor-{odoo.version}.png"
    page.screenshot(path=str(shot))
    print(f"floor plan of Odoo {odoo.version} after {elapsed:.1f} s; screenshot {shot}")
    # The demo restaurant's "Main Floor" has a dozen tables; what matters is that they render.
    assert tables.count() >= 5
    assert page.get_by_text("Open Register").count() == 0
