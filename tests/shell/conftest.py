"""Fixtures for the desktop app's tests: a private home, a test keyring, a fake Odoo."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from tests.shell.fake_odoo import FakeOdoo, Options
from tests.shell.keyring_memory import MemoryKeyring


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings, web storage and agent data go under tmp_path, never the real home."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def fake_odoo() -> Iterator[FakeOdoo]:
    server = FakeOdoo(Options()).start()
    yield server
    server.stop()


def gui_env(home: Path) -> dict[str, str]:
    """The environment of a GUI test's subprocess: offscreen Qt, the private home."""
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        PYTHON_KEYRING_BACKEND="tests.shell.keyring_memory.MemoryKeyring",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env["QTWEBENGINE_DISABLE_SANDBOX"] = "1"
    return env
