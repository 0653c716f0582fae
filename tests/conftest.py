"""Fixtures shared by several folders (a private home, the test keyring, the in-process
stand-in Odoo). The real-Odoo tier has its own conftest in tests/realodoo/."""

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from devkit.desktop import home_env
from devkit.standin_odoo import Options, StandIn
from tests.shell.keyring_memory import MemoryKeyring

_VECTORS_PASSED: list[str] = []


@pytest.fixture
def vector_tally() -> list[str]:
    """Collects the names of passed protocol vectors for the summary line."""
    return _VECTORS_PASSED


def pytest_terminal_summary(terminalreporter):
    if _VECTORS_PASSED:
        terminalreporter.write_line(f"protocol vectors (Python): {len(_VECTORS_PASSED)} passed")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings, web storage and agent data go under tmp_path, never the real home."""
    for name, value in home_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    return tmp_path


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """The keyring is an in-memory one for the test (the desktop app stores passwords there)."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
async def standin(aiohttp_server, tmp_path):
    """The stand-in Odoo server in-process; `standin.url` is its address."""
    fake = StandIn(Options.for_agents(), tmp_path / "standin.db")
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url("")).rstrip("/")
    return fake
