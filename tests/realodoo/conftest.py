"""Fixtures of the real-Odoo tier: a running Odoo (``odoo``) and a headless chromium (``browser``).

The tier runs only when ``ODOO_SRC`` points at an Odoo 18.0 or 19.0 source tree; otherwise
every test in this folder is skipped with a message that says how to turn it on.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from devkit.chromium import CHROMIUM, CHROMIUM_ARGS
from devkit.odoo import Harness, OdooInstance
from devkit.odoo.proxy import NGINX, NGINX_MISSING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext

HERE = Path(__file__).parent
SKIP_REASON = (
    "real-Odoo tier skipped: set ODOO_SRC to an Odoo 18.0 or 19.0 checkout "
    "(see tests/realodoo/README.md)"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "realodoo: needs a real Odoo 18.0/19.0 in ODOO_SRC")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests that need a running Odoo get the marker, so `-m "not realodoo"` leaves them out;
    # the harness's own unit tests here need no Odoo and keep running everywhere.
    for item in items:
        needs_odoo = {"odoo", "odoo_harness"} & set(getattr(item, "fixturenames", ()))
        if needs_odoo and HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.realodoo)


@pytest.fixture(scope="session")
def odoo_harness() -> Iterator[Harness]:
    """The harness for ``$ODOO_SRC``; stops Odoo and PostgreSQL at the end of the session."""
    src = os.environ.get("ODOO_SRC")
    if not src:
        pytest.skip(SKIP_REASON)
    with Harness(src) as harness:
        if harness.shape.proxy and not NGINX.is_file():
            pytest.skip(f"POSSYNC_ODOO_PROXY={harness.shape.proxy}: {NGINX_MISSING}")
        yield harness


@pytest.fixture(scope="session")
def odoo(odoo_harness: Harness) -> OdooInstance:
    """A running Odoo on a fresh demo database with the restaurant POS session open."""
    return odoo_harness.up()


@pytest.fixture(scope="session")
def browser(odoo_harness: Harness) -> Iterator[Browser]:
    """Debian's chromium driven by Playwright (never ``playwright install``).

    Depends on the harness so that it skips before Playwright starts: Playwright's sync API
    keeps an event loop running in the main thread for the rest of the session, which
    breaks every later ``asyncio.run`` (the shell's tests).
    """
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile per test: no cookies, no IndexedDB left by another test."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    yield context
    context.close()
