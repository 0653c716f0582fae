"""Debian's chromium, as every browser test and bench starts it.

Playwright's own browser downloads are not reachable here, so Playwright drives the system
chromium (``POSSYNC_CHROMIUM`` overrides the path).
"""

from __future__ import annotations

import os

CHROMIUM = os.environ.get("POSSYNC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # we run as root, where chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
