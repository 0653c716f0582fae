"""The addon's release zips (``python -m tools.release_addon``), without Odoo: what each
holds and its manifest version. tests/realodoo/test_addon_release.py installs them."""

from __future__ import annotations

import ast
import re
import shutil
import struct
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tools import release_addon
from tools.release_addon import ADDON_DIR, MODULE, SERIES, ReleaseError

DESCRIPTION = ADDON_DIR / "static" / "description"


@pytest.fixture(scope="module")
def zips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    paths = release_addon.build_all(tmp_path_factory.mktemp("dist"))
    return dict(zip(SERIES, paths, strict=True))


def manifest_in(archive: zipfile.ZipFile) -> dict:
    return ast.literal_eval(archive.read(f"{MODULE}/__manifest__.py").decode())


def test_one_zip_per_series_named_for_its_version(zips: dict[str, Path]) -> None:
    version = release_addon.base_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    for series, path in zips.items():
        assert path.name == f"{MODULE}-{series}.{version}.zip"


def test_each_manifest_carries_its_series_and_nothing_else_changes(zips: dict[str, Path]) -> None:
    source = release_addon.manifest(ADDON_DIR)
    for series, path in zips.items():
        with zipfile.ZipFile(path) as archive:
            released = manifest_in(archive)
        assert released["version"] == f"{series}.{source['version']}"
        assert released | {"version": source["version"]} == source


def test_the_zips_differ_only_in_the_manifest(zips: dict[str, Path]) -> None:
    first, second = (zipfile.ZipFile(zips[series]) for series in SERIES)
    with first, second:
        assert first.namelist() == second.namelist()
        differ = [n for n in first.namelist() if first.read(n) != second.read(n)]
    assert differ == [f"{MODULE}/__manifest__.py"]


def test_a_zip_holds_the_module_folder_and_what_the_apps_store_needs(
    zips: dict[str, Path],
) -> None:
    with zipfile.ZipFile(zips["19.0"]) as archive:
        names = archive.namelist()
        readme = archive.read(f"{MODULE}/README.rst")
        icon = archive.read(f"{MODULE}/static/description/icon.png")
    assert all(name.startswith(f"{MODULE}/") for name in names)
    for required in (*release_addon.REQUIRED, "README.rst", "__init__.py"):
        assert f"{MODULE}/{required}" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    assert readme == (ADDON_DIR / "README.rst").read_bytes()
    assert icon[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", icon[16:24]) == (128, 128)


def test_a_rebuild_of_the_same_tree_is_the_same_file(
    zips: dict[str, Path], tmp_path: Path
) -> None:
    again = release_addon.build("18.0", tmp_path)
    assert again.read_bytes() == zips["18.0"].read_bytes()


class AppsPage(HTMLParser):
    """What the Apps page uses: its tags, attributes and pictures."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")


def test_the_apps_page_is_plain_html_whose_pictures_are_shipped() -> None:
    page = AppsPage()
    page.feed((DESCRIPTION / "index.html").read_text(encoding="utf-8"))
    # The Apps store strips scripts, styles and event handlers: none is relied on.
    assert not page.tags & {"script", "style", "iframe", "form", "link"}
    assert not [a for a in page.attributes if a.startswith("on") or a == "style"]
    assert page.images
    for src in page.images:
        assert "/" not in src and (DESCRIPTION / src).is_file(), src


# --- refusals: a release that would be wrong is not built ---------------------------------


@pytest.fixture
def addon_copy(tmp_path: Path) -> Path:
    copy = tmp_path / MODULE
    shutil.copytree(ADDON_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_a_source_version_that_already_names_a_series_is_refused(addon_copy: Path) -> None:
    manifest = addon_copy / "__manifest__.py"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(release_addon.with_series(text, "19.0"), encoding="utf-8")
    with pytest.raises(ReleaseError, match="must be x.y.z"):
        release_addon.build("19.0", addon_copy.parent / "dist", addon_copy)


def test_a_missing_icon_is_refused_by_name(addon_copy: Path) -> None:
    (addon_copy / "static/description/icon.png").unlink()
    with pytest.raises(ReleaseError, match="icon.png"):
        release_addon.build_all(addon_copy.parent / "dist", addon_copy)
    assert not (addon_copy.parent / "dist").exists()


def test_a_readme_that_differs_from_its_fragments_is_refused(addon_copy: Path) -> None:
    with (addon_copy / "readme" / "USAGE.md").open("a", encoding="utf-8") as usage:
        usage.write("\nOne more paragraph.\n")
    with pytest.raises(ReleaseError, match="gen_addon_readme"):
        release_addon.build_all(addon_copy.parent / "dist", addon_copy)


def test_an_unknown_series_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="17.0"):
        release_addon.build("17.0", tmp_path)
    assert not list(tmp_path.iterdir())
