"""Fixtures for the desktop app's tests: a private home, a test keyring, the stand-in Odoo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.desktop import offscreen_env
from devkit.standin_odoo import StandInServer, running
from tests.shell.keyring_memory import MemoryKeyring


@pytest.fixture(autouse=True)
def private_home(home: Path, memory_keyring: MemoryKeyring) -> None:
    """Every test here: settings and web storage under tmp_path, passwords in memory
    (both fixtures are in tests/conftest.py)."""


@pytest.fixture
def standin_server() -> Iterator[StandInServer]:
    """The stand-in Odoo (the desktop app's restaurant) on its own thread."""
    with running() as server:
        yield server


def gui_env(home: Path) -> dict[str, str]:
    """The environment of a GUI test's subprocess: offscreen Qt, the private home, the
    test keyring."""
    return offscreen_env(
        home,
        PYTHON_KEYRING_BACKEND="tests.shell.keyring_memory.MemoryKeyring",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
