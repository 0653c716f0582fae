"""docs/security.md and the attack tests agree: every attack test is cited there, and every
test the page cites exists (a renamed or deleted test fails here, not silently in the doc)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
# Where attack tests live: this folder, the real-Odoo tier's security files, the addon's own.
ATTACK_FILES = sorted(
    [
        *ROOT.glob("tests/security/test_*.py"),
        *ROOT.glob("tests/realodoo/test_security*.py"),
        *ROOT.glob("addon/pos_restaurant_sync/tests/test_security*.py"),
    ]
)
CITED = re.compile(r"`([\w/.]+\.py)::(test_\w+)`")
# A JS test file with the names of its tests: `tests/js/x.test.js` ("name", "prefix: …").
CITED_JS = re.compile(r'`(tests/js/[\w.]+\.test\.js)` \(((?:"[^"]*"(?:, )?)+)\)')


def defined_tests(path: Path) -> set[str]:
    """The test functions and methods defined in one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def _attack_tests() -> list[tuple[str, str]]:
    return [
        (str(path.relative_to(ROOT)), name)
        for path in ATTACK_FILES
        if path.name != "test_docs.py"
        for name in sorted(defined_tests(path))
    ]


@pytest.mark.parametrize(("path", "name"), _attack_tests())
def test_every_attack_test_is_cited_in_security_md(path: str, name: str) -> None:
    assert f"`{path}::{name}`" in DOC, f"docs/security.md does not cite {path}::{name}"


@pytest.mark.parametrize(("path", "name"), sorted(set(CITED.findall(DOC))))
def test_every_test_security_md_cites_exists(path: str, name: str) -> None:
    file = ROOT / path
    assert file.is_file(), f"docs/security.md cites {path}, which does not exist"
    assert name in defined_tests(file), f"docs/security.md cites {path}::{name}, not defined there"


def _cited_js_tests() -> list[tuple[str, str]]:
    return sorted(
        {
            (path, name)
            for path, names in CITED_JS.findall(DOC)
            for name in re.findall(r'"([^"]*)"', names)
        }
    )


def test_security_md_cites_js_tests_by_name() -> None:
    assert len(_cited_js_tests()) >= 5, "the JS citations are no longer in the form read here"


@pytest.mark.parametrize(("path", "name"), _cited_js_tests())
def test_every_js_test_security_md_cites_exists(path: str, name: str) -> None:
    """A name ending in "…" is the fixed start of tests named in a loop (a template string)."""
    file = ROOT / path
    assert file.is_file(), f"docs/security.md cites {path}, which does not exist"
    source = file.read_text(encoding="utf-8")
    if name.endswith("…"):
        found = f"test(`{name[:-1]}" in source
    else:
        found = any(f"test({quote}{name}{quote}" in source for quote in "\"'`")
    assert found, f"docs/security.md cites {path} ({name!r}), no such test there"
