"""Browser steps shared by the real-Odoo tests (Playwright sync API)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from .odoo import OdooInstance

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

# The POS loads every product and compiles its assets on first use: be generous.
POS_LOAD_TIMEOUT_MS = 90_000


def login(page: Page, odoo: OdooInstance, redirect: str = "/odoo") -> None:
    """Log in through Odoo's real login form, landing on ``redirect``."""
    page.goto(f"{odoo.base_url}/web/login?redirect={quote(redirect, safe='')}")
    page.fill("input[name=login]", odoo.login)
    page.fill("input[name=password]", odoo.password)
    page.click("form button[type=submit]")


def open_pos(page: Page, odoo: OdooInstance) -> Locator:
    """Log in as admin and get to the restaurant floor plan; returns its locator.

    18 and 19 first show a cashier screen with an "Open Register" button (the session is
    already opened by the harness, so no cash popup follows); a waiter clicks it, and so do we.
    """
    login(page, odoo, redirect=odoo.pos_url.removeprefix(odoo.base_url))
    floor = page.locator(".floor-screen .floor-map")
    open_register = page.locator(".login-overlay .open-register-btn")
    floor.or_(open_register).first.wait_for(timeout=POS_LOAD_TIMEOUT_MS)
    if open_register.is_visible():
        open_register.click()
    floor.wait_for(timeout=POS_LOAD_TIMEOUT_MS)
    return floor
