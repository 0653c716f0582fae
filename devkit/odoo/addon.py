"""The sync addon as the harness sees it: is it there, where it lives, what installing it
depends on."""

from __future__ import annotations

import os
from pathlib import Path

from .files import short_hash
from .tree import OdooTree

REPO_ROOT = Path(__file__).resolve().parents[2]
ADDONS_DIR = REPO_ROOT / "addon"
SYNC_MODULE = "pos_restaurant_sync"
# Parts of the addon that Odoo reads at run time, never at install time.
RUNTIME_ONLY_PARTS = {"static", "tests", "readme", "__pycache__"}


def sync_addon_present() -> bool:
    return (ADDONS_DIR / SYNC_MODULE / "__manifest__.py").is_file()


def addon_wanted() -> bool:
    """Use the sync addon unless it has no manifest yet or ``POSSYNC_WITHOUT_ADDON`` is set.

    Without it the harness serves plain Odoo: what the native baselines are measured on, and
    a way to keep working while the addon is broken.
    """
    return sync_addon_present() and os.environ.get("POSSYNC_WITHOUT_ADDON", "") in ("", "0")


def addons_paths(tree: OdooTree, with_addon: bool) -> list[Path]:
    """``addons/`` of the tree, plus the repo's ``addon/`` when the sync addon is used.

    ``odoo/addons`` (base) is added by Odoo itself in 18 and 19. Odoo rejects an addons path
    without any manifest, so ``addon/`` is only added once the module has one.
    """
    paths = [tree.root / "addons"]
    if with_addon and sync_addon_present():
        paths.append(ADDONS_DIR)
    return paths


def addon_fingerprint() -> str:
    """Hash of what installing the sync addon depends on: the template cache key.

    ``static/`` and ``tests/`` are read from disk at run time, so editing JS or a test does
    not force a new template; Python, data files and the manifest do.
    """
    module = ADDONS_DIR / SYNC_MODULE
    if not sync_addon_present():
        return "no-addon"
    parts: list[str | bytes] = []
    for path in sorted(module.rglob("*")):
        relative = path.relative_to(module)
        if path.is_file() and not set(relative.parts) & RUNTIME_ONLY_PARTS:
            parts += [str(relative), path.read_bytes()]
    return short_hash(*parts)
