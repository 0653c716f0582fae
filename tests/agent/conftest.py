"""Fixtures for the agent's tests: settings in a temporary folder, an in-process agent
(the in-process stand-in server, `standin`, is in tests/conftest.py)."""

from __future__ import annotations

import aiohttp
import pytest

from agent.app import create_app
from agent.settings import Settings
from devkit.page_client import TOKEN
from devkit.processes import FAST
from tests.agent.peering import starter


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        data_dir=tmp_path / "agent",
        peer_port=0,
        peer_host="127.0.0.1",
        mdns=False,
        page_token=TOKEN,
        allowed_origins=["http://pos.test"],
        device_key_store="file",
        **FAST,
    )


@pytest.fixture
async def agent_client(aiohttp_client, settings):
    """The agent's page API in-process (with its peer port and loops running)."""
    return await aiohttp_client(create_app(settings))


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def start(aiohttp_client, settings, tmp_path):
    """`await start(**setting_changes)`: one more agent in-process (tests/agent/peering.py)."""
    return starter(aiohttp_client, settings, tmp_path)
