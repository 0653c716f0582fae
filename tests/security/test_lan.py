"""Attacks on what the tablet sends to Odoo and shows about its LAN: a redirect that would
carry the password elsewhere, tablets announced by a stranger on the Wi-Fi, and a port left
behind by a killed agent. Each is refused and changes nothing."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from agent import runtime
from agent.discovery import announced_peer, config_tag
from agent.odoo_rpc import AUTHENTICATE, OdooSession, Redirected
from agent.settings import Settings as AgentSettings
from shell import lan_checks

ESCAPES = "\x1b]52;c;aGk=\x07fake"  # an OSC 52 clipboard write, then a name


async def test_a_redirect_never_carries_the_password_elsewhere(aiohttp_server) -> None:
    received: list[bytes] = []

    async def elsewhere(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.json_response({"jsonrpc": "2.0", "id": 1, "result": {"uid": 2}})

    thief = await aiohttp_server(_app("/{tail:.*}", elsewhere))

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(str(thief.make_url("/steal")))

    odoo = await aiohttp_server(_app(AUTHENTICATE, redirect))
    async with aiohttp.ClientSession() as http:
        session = OdooSession(http, str(odoo.make_url("")), 5)
        with pytest.raises(Redirected):
            await session.login("restaurant", "waiter", "hunter2")
    assert received == []


@pytest.mark.parametrize("name", [ESCAPES, "x" * 200, "", "t-me"])
def test_a_forged_mdns_tablet_name_is_dropped(name: str) -> None:
    tag = config_tag("https://pos.example", "restaurant", 2)
    assert announced_peer({"config": tag, "terminal": name}, tag, own="t-me") is None
    assert announced_peer({"config": tag, "terminal": "t-a"}, tag, own="t-me") == "t-a"
    assert announced_peer({"config": "other", "terminal": "t-a"}, tag, own="t-me") is None


def test_a_tablet_announced_by_a_stranger_is_not_named_by_doctor(tmp_path: Path) -> None:
    settings = AgentSettings(data_dir=tmp_path, peer_host="10.0.0.5")
    status = {"peers": [], "devices": ["t-a"], "peer_cause": None}
    agent = lan_checks.RunningAgent("t-me", 8765, status, settings)
    seen = {"t-a": "https://10.0.0.6:8765", "t-evil": "https://10.0.0.66:8765"}
    result = lan_checks._mdns(agent, seen)
    assert "t-a" in result.message and "1 more not on the server's list" in result.message
    assert "t-evil" not in result.message
    alone = lan_checks._mdns(agent, {"t-evil": "https://10.0.0.66:8765"})
    assert alone.outcome == "WARN" and "t-evil" not in alone.message


def test_a_killed_agents_port_is_never_sent_the_page_token(tmp_path: Path) -> None:
    runtime.write(tmp_path, {"page_port": 1, "token": "secret", "terminal": "t-me"})
    assert runtime.read(tmp_path) is None  # nobody holds the lock: the agent is gone
    held = runtime.lock(tmp_path)
    try:
        assert runtime.read(tmp_path)["token"] == "secret"
    finally:
        held.close()


def _app(path: str, handler) -> web.Application:
    app = web.Application()
    app.router.add_post(path, handler)
    return app
