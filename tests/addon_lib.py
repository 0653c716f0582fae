"""The addon's pure modules (addon/pos_restaurant_sync/lib), importable without Odoo.

The addon package itself imports Odoo; its ``lib`` folder does not, so tests load it by
path as a package of its own.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

LIB = Path(__file__).resolve().parents[1] / "addon" / "pos_restaurant_sync" / "lib"
PACKAGE = "possync_addon_lib"


def load(module: str) -> ModuleType:
    """``addon/pos_restaurant_sync/lib/<module>.py``, with its relative imports working."""
    if PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACKAGE, LIB / "__init__.py", submodule_search_locations=[str(LIB)]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"{PACKAGE}.{module}")
