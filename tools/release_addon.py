"""Build the addon's release zips, one per Odoo series.

    python -m tools.release_addon [--out DIR]   # dist/pos_restaurant_sync-<series>.<x.y.z>.zip

The source manifest holds the addon's own version, ``x.y.z``: Odoo 18 and 19 both prefix
such a version with their series, so the one folder installs on both (``compat.py`` covers
the rest). A release needs the series in the version, as the Apps store, pylint-odoo and
manifestoo expect: each zip is the same tree with ``"version": "<series>.x.y.z"``. Before
building, the tool checks that what the zips carry is there and current: the icon, the
Apps page, the README.rst generated from ``readme/`` and the ``.pot`` export.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from tools import gen_addon_readme

ROOT = Path(__file__).resolve().parents[1]
MODULE = "pos_restaurant_sync"
ADDON_DIR = ROOT / "addon" / MODULE
DIST = ROOT / "dist"
SERIES = ("18.0", "19.0")
# Files a release must carry, relative to the module (the README is checked separately).
REQUIRED = (
    "static/description/icon.png",
    "static/description/index.html",
    f"i18n/{MODULE}.pot",
    "LICENSE",
)
SKIPPED_PARTS = {"__pycache__", ".pytest_cache"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}
VERSION_LINE = re.compile(r'^(\s*"version":\s*")([^"]+)(",)$', re.M)
# Zip entries get one fixed date, so a rebuild of the same tree is the same file.
ZIP_DATE = (2020, 1, 1, 0, 0, 0)


class ReleaseError(RuntimeError):
    """The addon is not ready to release; the message says what to do."""


def manifest(addon_dir: Path) -> dict:
    tree = ast.parse((addon_dir / "__manifest__.py").read_text(encoding="utf-8"))
    return ast.literal_eval(tree.body[0].value)


def base_version(addon_dir: Path = ADDON_DIR) -> str:
    """The source manifest's ``x.y.z``; refuses a version that already names a series."""
    version = manifest(addon_dir)["version"]
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise ReleaseError(f"the source manifest's version must be x.y.z, not {version!r}")
    return version


def series_version(series: str, addon_dir: Path = ADDON_DIR) -> str:
    return f"{series}.{base_version(addon_dir)}"


def check_ready(addon_dir: Path = ADDON_DIR) -> None:
    """Raise :class:`ReleaseError` if a file the release carries is missing or stale."""
    missing = [name for name in REQUIRED if not (addon_dir / name).is_file()]
    if missing:
        raise ReleaseError(f"{addon_dir} lacks {', '.join(missing)} (see docs/releasing.md)")
    readme = addon_dir / "README.rst"
    if readme.read_text(encoding="utf-8") != gen_addon_readme.render(addon_dir):
        raise ReleaseError("README.rst differs from readme/: run python -m tools.gen_addon_readme")


def module_files(addon_dir: Path) -> Iterator[Path]:
    """The module's files, sorted, without caches and compiled Python."""
    for path in sorted(addon_dir.rglob("*")):
        relative = path.relative_to(addon_dir)
        if path.is_file() and not (
            SKIPPED_PARTS & set(relative.parts) or path.suffix in SKIPPED_SUFFIXES
        ):
            yield path


def with_series(manifest_text: str, series: str) -> str:
    """The manifest's text with ``x.y.z`` turned into ``<series>.x.y.z``."""
    text, count = VERSION_LINE.subn(rf"\g<1>{series}.\g<2>\g<3>", manifest_text)
    if count != 1:
        raise ReleaseError('the manifest needs exactly one line `"version": "x.y.z",`')
    return text


def stage(series: str, target: Path, addon_dir: Path = ADDON_DIR) -> Path:
    """Copy the module into ``target/<module>`` with the series in its version."""
    if series not in SERIES:
        raise ReleaseError(f"series {series!r} is not one of {', '.join(SERIES)}")
    staged = target / addon_dir.name
    for path in module_files(addon_dir):
        copy = staged / path.relative_to(addon_dir)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
    manifest_path = staged / "__manifest__.py"
    manifest_path.write_text(
        with_series(manifest_path.read_text(encoding="utf-8"), series), encoding="utf-8"
    )
    return staged


def zip_tree(staged: Path, zip_path: Path) -> None:
    """Zip ``staged`` with its folder name as the one top-level entry, as Odoo's
    "Import Module" and the Apps store expect."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in module_files(staged):
            name = path.relative_to(staged.parent).as_posix()
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())


def build(series: str, out_dir: Path = DIST, addon_dir: Path = ADDON_DIR) -> Path:
    """``out_dir/<module>-<series>.x.y.z.zip`` for one series; returns its path."""
    zip_path = out_dir / f"{addon_dir.name}-{series_version(series, addon_dir)}.zip"
    with tempfile.TemporaryDirectory(prefix="possync-release-") as tmp:
        zip_tree(stage(series, Path(tmp), addon_dir), zip_path)
    return zip_path


def build_all(out_dir: Path = DIST, addon_dir: Path = ADDON_DIR) -> list[Path]:
    check_ready(addon_dir)
    return [build(series, out_dir, addon_dir) for series in SERIES]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.release_addon", description=__doc__)
    parser.add_argument("--out", type=Path, default=DIST, help="where to write (default: dist/)")
    args = parser.parse_args(argv)
    try:
        zips = build_all(args.out)
    except ReleaseError as exc:
        print(f"release_addon: {exc}", file=sys.stderr)
        return 1
    for path in zips:
        print(os.path.relpath(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
