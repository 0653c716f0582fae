"""An Odoo source tree: which version it is, and what differs between 18 and 19."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import HarnessError

SUPPORTED_MAJORS = (18, 19)
ODOO_BIN = "odoo-bin"


@dataclass(frozen=True)
class OdooTree:
    """An Odoo source checkout: ``odoo-bin``, the ``odoo`` package and ``addons/``."""

    root: Path
    major: int
    minor: int

    @classmethod
    def detect(cls, root: str | Path) -> OdooTree:
        root = Path(root).resolve()
        release = root / "odoo" / "release.py"
        if not (root / ODOO_BIN).is_file() or not release.is_file():
            raise HarnessError(f"{root} is not an Odoo source tree (no odoo-bin / odoo/release.py)")
        # Parsed, not imported: release.py of an arbitrary tree must not run in our process.
        match = re.search(r"^version_info\s*=\s*\((\d+),\s*(\d+)", release.read_text(), re.M)
        if not match:
            raise HarnessError(f"no version_info in {release}")
        tree = cls(root, int(match[1]), int(match[2]))
        if tree.major not in SUPPORTED_MAJORS:
            raise HarnessError(f"{root} is Odoo {tree.version}; possync targets 18.0 and 19.0")
        return tree

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}"

    def requirements(self) -> bytes:
        """The tree's ``requirements.txt``, as Odoo's own install reads it."""
        return (self.root / "requirements.txt").read_bytes()

    def demo_args(self) -> list[str]:
        # 18 loads demo data unless told not to; 19 only with --with-demo.
        return ["--with-demo"] if self.major >= 19 else []

    def pos_path(self, config_id: int) -> str:
        # 19 routes /pos/ui/<config_id>; 18 only knows the query-string form.
        return f"/pos/ui/{config_id}" if self.major >= 19 else f"/pos/ui?config_id={config_id}"
