"""Licences: no package possync needs at run time may be under the GPL alone (possync is
LGPL-3.0-or-later and ships them all in its bundle). The bundle's third-party notice itself
is checked on the built bundle in tests/test_installer.py."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _third_party() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "third_party", ROOT / "installer" / "third_party.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


third_party = _third_party()


def test_no_runtime_dependency_is_gpl_only() -> None:
    bad = third_party.gpl_only_runtime()
    assert bad == [], "\n".join(f"{c.name} {c.version}: {c.licence}" for c in bad)


def test_runtime_dependencies_are_the_lgpl_qt_binding_and_not_pyqt() -> None:
    names = third_party.runtime_distributions()
    assert {"pyside6", "qtpy", "pywebview", "aiohttp", "zeroconf"} <= names
    assert not {name for name in names if name.startswith("pyqt")}
    # Test and build tools are not shipped.
    assert not {"pytest", "pyinstaller", "pip-licenses"} & names


@pytest.mark.parametrize(
    ("licence", "gpl_only"),
    [
        # PyQt6's metadata, as pip-licenses reads it: what the check exists to catch.
        ("GNU General Public License v3 (GPLv3)", True),
        ("GPL v3", True),
        ("GPL-3.0-only", True),
        ("AGPL-3.0-or-later", True),
        ("MIT AND GPL-2.0-only", True),
        ("UNKNOWN", True),
        # PySide6, shiboken6: the LGPL is one of the choices.
        ("LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only", False),
        ("LGPL-2.1-or-later", False),
        ("GNU Library or Lesser General Public License (LGPL)", False),
        ("GPL-2.0-or-later WITH Bootloader-exception", False),
        ("GPL-2.0-only WITH Classpath-exception-2.0", False),
        ("Apache Software License; GNU General Public License v2 (GPLv2)", False),
        ("(MIT OR GPL-3.0-only)", False),
        ("Apache-2.0 AND MIT", False),
        ("PSF-2.0", False),
    ],
)
def test_gpl_only_reads_every_choice_a_licence_offers(licence: str, gpl_only: bool) -> None:
    assert third_party.gpl_only(licence) is gpl_only
