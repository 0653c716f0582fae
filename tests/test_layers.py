"""bench/ and devkit/ stand on their own: nothing in them imports from tests/.

Tests import the development kit, never the other way round, so a bench runs from a
checkout without the test suite and a change to a test cannot break a bench.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STANDALONE = sorted([*REPO.glob("bench/**/*.py"), *REPO.glob("devkit/**/*.py")])


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports by absolute name, at any depth of its code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_the_layers_are_found() -> None:
    names = {p.relative_to(REPO).as_posix() for p in STANDALONE}
    assert {"bench/agent.py", "devkit/odoo/harness.py"} <= names


@pytest.mark.parametrize("path", STANDALONE, ids=lambda p: p.relative_to(REPO).as_posix())
def test_nothing_imports_tests(path: Path) -> None:
    from_tests = {m for m in imported_modules(path) if m == "tests" or m.startswith("tests.")}
    assert not from_tests, f"{path.relative_to(REPO)} imports {sorted(from_tests)}"
