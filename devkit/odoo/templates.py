"""Template databases, so a run copies a template in seconds instead of installing for minutes.

Two layers: the base (``pos_restaurant`` with demo data) and the full template (the base plus
``pos_restaurant_sync`` when the addon is used, with the POS assets compiled). An edit to the
addon costs one module install on a copy of the base, not a new database with demo data.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .addon import SYNC_MODULE, addon_fingerprint
from .errors import HarnessError, Log
from .files import short_hash, tail
from .postgres import PgCluster
from .process import OdooProcess
from .tree import OdooTree

BASE_MODULES = ("pos_restaurant",)
# Bump when the way the base template (Odoo + demo data) or the full one is built changes.
BASE_TEMPLATE_RECIPE = "1"
TEMPLATE_RECIPE = "2"

# Bundles that the login page and the POS load (seen in Odoo's log on a first visit, 18 and 19).
WARM_ASSETS_SCRIPT = """
bundles = {
    "web.assets_frontend_minimal": ("js",),
    "web.assets_frontend": ("css",),
    "web.assets_frontend_lazy": ("js",),
    "point_of_sale.assets_prod": ("css", "js"),
    "bus.websocket_worker_assets": ("js",),
}
for name, kinds in bundles.items():
    bundle = env["ir.qweb"]._get_asset_bundle(name, css="css" in kinds, js="js" in kinds)
    for kind in kinds:
        getattr(bundle, kind)()
env.cr.commit()
"""


@dataclass
class Templates:
    """The databases of one cluster and their filestores: the two templates and their copies."""

    tree: OdooTree
    pg: PgCluster
    data_dir: Path
    with_addon: bool
    odoo: Callable[[str, str], OdooProcess]  # (database, purpose) -> an odoo-bin on it
    log: Log

    def names(self) -> tuple[str, str]:
        """(base template: Odoo + pos_restaurant + demo, full template: + the sync addon)."""
        base_key = short_hash(str(self.tree.root), BASE_TEMPLATE_RECIPE, *BASE_MODULES)
        base = f"possync_base_{self.tree.major}_{base_key}"
        addon = addon_fingerprint() if self.with_addon else "no-addon"
        full = f"possync_tpl_{self.tree.major}_{short_hash(base, addon, TEMPLATE_RECIPE)}"
        return base, full

    def ensure(self) -> str:
        """Name of the up-to-date full template, building the missing layers."""
        base, full = self.ensure_base(), self.names()[1]
        if not self.pg.exists(full):
            self._build_full(base, full)
        return full

    def ensure_base(self) -> str:
        """Name of the base template (Odoo, ``pos_restaurant``, demo data), built if missing."""
        base = self.names()[0]
        if not self.pg.exists(base):
            self._build_base(base)
        return base

    def copy(self, source: str, target: str) -> None:
        self.pg.copy_database(source, target)
        # Attachments (images, compiled assets) live in the filestore, not in the database.
        # Odoo never rewrites a stored file in place, so hard links are a safe, instant copy.
        src = self.data_dir / "filestore" / source
        if src.is_dir():
            shutil.copytree(src, self.data_dir / "filestore" / target, copy_function=os.link)

    def drop(self, name: str) -> None:
        self.pg.drop_database(name)
        shutil.rmtree(self.data_dir / "filestore" / name, ignore_errors=True)

    def drop_all(self, prefix: str, keep: str = "") -> None:
        """Drop every database whose name starts with ``prefix``, except ``keep``."""
        for db in self.pg.databases(prefix):
            if db != keep:
                self.drop(db)

    def _build_base(self, name: str) -> None:
        self.drop_all(f"possync_base_{self.tree.major}_", keep=name)
        self.log(f"creating {name}: {', '.join(BASE_MODULES)} with demo data (about a minute)")
        started = time.monotonic()
        self._install(name, BASE_MODULES, extra=self.tree.demo_args())
        self.log(f"{name} ready in {time.monotonic() - started:.0f} s")

    def _build_full(self, base: str, name: str) -> None:
        self.drop_all(f"possync_tpl_{self.tree.major}_", keep=name)
        self.copy(base, name)
        try:
            if self.with_addon:
                self.log(f"creating {name}: installing {SYNC_MODULE}")
                self._install(name, [SYNC_MODULE])
            self._warm_assets(name)
        except BaseException:
            self.drop(name)
            raise

    def _warm_assets(self, db: str) -> None:
        # Compiling the login page and POS bundles takes about 5 s on first load; done once
        # here, every run's first POS load finds them in its copy of the template.
        process = self.odoo(db, "assets")
        code = process.run_shell(WARM_ASSETS_SCRIPT)
        if code:
            self.log(f"warming assets failed ({code}), continuing; see {process.log_path}")

    def _install(self, db: str, modules: Sequence[str], extra: Sequence[str] = ()) -> None:
        process = self.odoo(db, "install")
        code = process.run_to_end(["--init", ",".join(modules), *extra])
        if code:
            self.drop(db)
            raise HarnessError(
                f"installing {modules} into {db} failed ({code}); see "
                f"{process.log_path}\n{tail(process.log_path)}"
            )
