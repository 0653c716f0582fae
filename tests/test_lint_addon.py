"""The addon passes Odoo's linters with zero messages.

- pylint-odoo with OCA's configuration (``addon/.pylintrc``, mandatory and optional checks),
  on each series' release tree: the source manifest's version is ``x.y.z`` and the release
  tool writes ``<series>.x.y.z``, which pylint-odoo's manifest check wants.
- ESLint with the rules of Odoo's own JS tooling (``addon/.eslintrc.json``: eslint's
  recommended rules, Prettier at 4 spaces and 100 columns, Odoo's extra rules), pinned in
  ``package.json``; ``./run test`` installs it (``npm ci``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import release_addon

ROOT = Path(__file__).resolve().parents[1]
PYLINTRC = ROOT / "addon" / ".pylintrc"
ESLINT = ROOT / "node_modules" / ".bin" / "eslint"


@pytest.mark.parametrize("series", release_addon.SERIES)
def test_pylint_odoo_finds_nothing_in_the_release_tree(series: str, tmp_path: Path) -> None:
    pytest.importorskip("pylint_odoo", reason="pip install -e '.[test]' brings pylint-odoo")
    staged = release_addon.stage(series, tmp_path)
    command = [
        sys.executable,
        "-m",
        "pylint",
        f"--rcfile={PYLINTRC}",
        f"--valid-odoo-versions={series}",
        "--output-format=text",
        str(staged),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_eslint_with_odoo_rules_finds_nothing_in_the_addon() -> None:
    if not ESLINT.exists():
        if not shutil.which("npm"):
            pytest.skip("npm is not installed: ESLint cannot be installed (apt-get install npm)")
        pytest.fail("ESLint is not installed: run npm ci (./run test does)")
    result = subprocess.run(
        [str(ESLINT), "--max-warnings=0", "addon"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_lint_configurations_are_outside_the_released_module(tmp_path: Path) -> None:
    """The linters' files sit beside the module, so no release zip carries them."""
    staged = release_addon.stage("19.0", tmp_path)
    assert not list(staged.rglob(".pylintrc*")) and not list(staged.rglob(".eslintrc*"))
