"""The addon as it is published: its release zip installs on a real Odoo of its series, and
the Apps page's pictures of the backend come from that Odoo.

- The zip ``python -m tools.release_addon`` builds for this tree's series is unpacked into a
  fresh addons path and installed with ``--init`` on a fresh copy of the base template (Odoo,
  ``pos_restaurant``, demo data; not the repo's ``addon/``); the database then records the
  module as installed, with the series in its version.
- The Real-Time Sync setting and the Sync Devices list, as a manager sees them; written to
  ``static/description/`` with ``POSSYNC_README_SHOTS=1`` (see ``shots.py``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

from devkit.odoo import SYNC_MODULE, Harness, OdooInstance
from tools import release_addon

from .shots import SCREENSHOTS

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Locator, Page

BACKEND_TIMEOUT_MS = 120_000
SETTINGS = "point_of_sale.action_pos_configuration"
DEVICES = f"{SYNC_MODULE}.action_pos_restaurant_sync_device"
TABLETS = ("bar-tablet", "terrace-tablet")


def test_the_release_zip_installs_on_its_series(odoo_harness: Harness, tmp_path: Path) -> None:
    series = f"{odoo_harness.tree.major}.0"
    zip_path = release_addon.build(series, tmp_path / "dist")
    addons_dir = tmp_path / "addons"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(addons_dir)

    result = odoo_harness.install_from(addons_dir)

    assert result.ok, f"exit {result.returncode}, state {result.state!r}; {result.log_path}"
    assert result.version == release_addon.series_version(series)


# --- the Apps page's pictures of the backend ---------------------------------------------


@pytest.fixture(scope="module")
def sync_on(odoo: OdooInstance) -> OdooInstance:
    """The restaurant POS with possync on, in Interval mode (its setting then shows every
    field), with two tablets registered by the manager."""
    values = {"possync_enabled": True, "possync_mode": "interval", "possync_interval_ms": 500}
    odoo.jsonrpc("pos.config", "write", [[odoo.config_id], values])
    for terminal in TABLETS:
        identity = {
            "terminal": terminal,
            "public_key": base64.b64encode(os.urandom(32)).decode(),
            "certificate_sha256": hashlib.sha256(os.urandom(32)).hexdigest(),
        }
        odoo.rpc.request(
            f"/{SYNC_MODULE}/device/register", {"config_id": odoo.config_id, **identity}
        )
    return odoo


@pytest.fixture
def manager(context: BrowserContext, sync_on: OdooInstance) -> Iterator[Page]:
    """A page logged in to the backend as the demo's admin, a POS manager."""
    page = context.new_page()
    page.goto(f"{sync_on.base_url}/web/login?redirect={quote('/odoo', safe='')}")
    page.fill("input[name=login]", sync_on.login)
    page.fill("input[name=password]", sync_on.password)
    page.click("form button[type=submit]")
    page.wait_for_url("**/odoo**", timeout=BACKEND_TIMEOUT_MS)
    yield page
    page.close()


def open_action(page: Page, odoo: OdooInstance, xmlid: str) -> None:
    page.goto(f"{odoo.base_url}/odoo/action-{xmlid}", timeout=BACKEND_TIMEOUT_MS)


def shot_around(page: Page, path: Path, *parts: Locator, margin: int = 16) -> None:
    """A picture of the smallest rectangle holding ``parts``, with a margin, within the page."""
    boxes = [part.bounding_box() for part in parts]
    left = max(min(b["x"] for b in boxes) - margin, 0)
    top = max(min(b["y"] for b in boxes) - margin, 0)
    right = max(b["x"] + b["width"] for b in boxes) + margin
    bottom = max(b["y"] + b["height"] for b in boxes) + margin
    viewport = page.viewport_size or {"width": right, "height": bottom}
    clip = {
        "x": left,
        "y": top,
        "width": min(right, viewport["width"]) - left,
        "height": min(bottom, viewport["height"]) - top,
    }
    page.screenshot(path=str(path), clip=clip)


def test_the_apps_page_picture_of_the_setting(manager: Page, sync_on: OdooInstance) -> None:
    open_action(manager, sync_on, SETTINGS)
    setting = manager.locator("#possync")
    setting.wait_for(timeout=BACKEND_TIMEOUT_MS)
    assert "Real-Time Sync" in setting.inner_text()
    assert manager.locator("[name=pos_possync_interval_ms] input").input_value() == "500"
    shot_around(manager, SCREENSHOTS / f"settings_{sync_on.tree.major}.png", setting)


def test_the_apps_page_picture_of_the_sync_devices(manager: Page, sync_on: OdooInstance) -> None:
    open_action(manager, sync_on, DEVICES)
    rows = manager.locator(".o_list_renderer .o_data_row")
    rows.nth(len(TABLETS) - 1).wait_for(timeout=BACKEND_TIMEOUT_MS)
    listed = rows.all_inner_texts()
    assert all(any(tablet in row for row in listed) for tablet in TABLETS), listed
    path = SCREENSHOTS / f"devices_{sync_on.tree.major}.png"
    shot_around(manager, path, manager.locator(".o_control_panel"), rows.last, margin=0)
