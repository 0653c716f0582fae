"""The other terminals' side (agent/peers.py, agent/discovery.py): docs/protocol.md,
"Agent ↔ agent". Agents here run in-process, on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json

import pytest
from aiohttp import web

from agent.app import PEER_PORT, PEERS, create_app
from agent.page_api import AGENT
from agent.peers import SIGNATURE_HEADER, TERMINAL_HEADER, sign
from agent.store import Store
from tests.agent.helpers import PageClient, change, eventually
from tests.fault_proxy import FaultProxy

SECRET = "config-secret-1"


@dataclasses.dataclass
class Running:
    app: web.Application
    client: object

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.app[PEER_PORT]}"

    @property
    def terminal(self) -> str:
        return self.app[AGENT].terminal

    async def page(self) -> PageClient:
        return await PageClient.connect(self.client.session, self.client.port)

    def meet(self, other: Running, url: str | None = None) -> None:
        self.app[PEERS].add(url or other.peer_url, None, "static")

    async def log_ids(self) -> list[str]:
        entries = await self.app[AGENT].changes_after(0, 10_000)
        return [e.change["id"] for e in entries]

    async def pending(self) -> int:
        return await self.app[AGENT].db.read(Store.pending_count)


@pytest.fixture
def start(aiohttp_client, settings, tmp_path):
    numbers = itertools.count()

    async def start(**changes) -> Running:
        changes.setdefault("peer_secret", SECRET)
        data_dir = tmp_path / f"agent{next(numbers)}"
        app = create_app(dataclasses.replace(settings, data_dir=data_dir, **changes))
        return Running(app, await aiohttp_client(app))

    return start


async def pair(start, **changes) -> tuple[Running, Running]:
    a, b = await start(**changes), await start(**changes)
    a.meet(b)
    b.meet(a)
    return a, b


async def test_a_change_on_one_terminal_reaches_the_other_terminals_page(start):
    a, b = await pair(start)
    page_a, page_b = await a.page(), await b.page()
    await page_a.push([c := change()])
    await page_b.wait_for({c["id"]}, timeout=2)
    assert await b.pending() == 1  # and B keeps it for the server too


async def test_each_agent_lists_the_peers_it_has_seen(start):
    a, b = await pair(start)
    page = await a.page()
    await page.until(lambda: any(s["peers"] for s in page.statuses), timeout=3)
    seen = page.statuses[-1]["peers"][0]
    assert seen["terminal"] == b.terminal and seen["url"] == b.peer_url
    assert page.statuses[-1]["last_peer_sync"]


async def test_agents_with_another_secret_exchange_nothing(start):
    a = await start()
    b = await start(peer_secret="another-config")
    a.meet(b)
    b.meet(a)
    await (await a.page()).push([change()])
    await (await b.page()).push([change()])
    await asyncio.sleep(1.0)  # several pull rounds (peer_pull_s = 0.3 s) go by
    assert len(await a.log_ids()) == 1 and len(await b.log_ids()) == 1
    assert a.app[PEERS].known[b.peer_url].terminal is None
    assert a.app[AGENT].status.peers == {}


async def test_an_unsigned_or_tampered_request_gets_401_and_changes_nothing(start, http):
    a = await start()
    body = json.dumps({"changes": [change()]}).encode()
    good = sign(SECRET, "POST", "/peer/push", body)
    attempts = [
        {},  # no headers at all
        {TERMINAL_HEADER: "t-x", SIGNATURE_HEADER: sign("guess", "POST", "/peer/push", body)},
        {TERMINAL_HEADER: "t-x", SIGNATURE_HEADER: sign(SECRET, "POST", "/peer/changes", body)},
        {SIGNATURE_HEADER: good},  # no terminal
    ]
    for headers in attempts:
        async with http.post(a.peer_url + "/peer/push", data=body, headers=headers) as resp:
            assert resp.status == 401
    tampered = body.replace(b'"qty": 1', b'"qty": 9')
    assert tampered != body
    headers = {TERMINAL_HEADER: "t-x", SIGNATURE_HEADER: good}
    async with http.post(a.peer_url + "/peer/push", data=tampered, headers=headers) as resp:
        assert resp.status == 401
    assert await a.log_ids() == []


async def test_a_replayed_request_is_acknowledged_but_stores_nothing_new(start, http):
    a = await start()
    page = await a.page()
    body = json.dumps({"changes": [c := change()]}).encode()
    headers = {TERMINAL_HEADER: "t-x", SIGNATURE_HEADER: sign(SECRET, "POST", "/peer/push", body)}
    for _ in range(3):
        async with http.post(a.peer_url + "/peer/push", data=body, headers=headers) as resp:
            assert resp.status == 200 and (await resp.json())["acked"] == [c["id"]]
    assert await a.log_ids() == [c["id"]]
    await page.wait_for({c["id"]})
    assert page.duplicates == 0


async def test_a_signed_but_malformed_push_is_refused_whole(start, http):
    a = await start()
    bad = change() | {"extra": True}
    body = json.dumps({"changes": [change(), bad]}).encode()
    headers = {TERMINAL_HEADER: "t-x", SIGNATURE_HEADER: sign(SECRET, "POST", "/peer/push", body)}
    async with http.post(a.peer_url + "/peer/push", data=body, headers=headers) as resp:
        assert resp.status == 400
    assert await a.log_ids() == []


async def test_an_impostor_that_cannot_sign_its_answers_feeds_us_nothing(start, aiohttp_server):
    async def changes(request: web.Request) -> web.Response:
        body = json.dumps({"changes": [{"seq": 1, "change": change()}], "cursor": 1, "more": False})
        headers = {TERMINAL_HEADER: "t-impostor", SIGNATURE_HEADER: "sha256=00"}
        return web.Response(body=body.encode(), headers=headers)

    impostor = web.Application()
    impostor.router.add_get("/peer/changes", changes)
    server = await aiohttp_server(impostor)
    a = await start()
    a.app[PEERS].add(str(server.make_url("")), None, "static")
    await eventually(lambda: a.app[PEERS].known, timeout=1)
    peer = next(iter(a.app[PEERS].known.values()))
    with pytest.raises(Exception, match="not signed"):
        await a.app[PEERS].pull_from(peer)
    assert await a.log_ids() == []


async def test_after_a_partition_agents_catch_up_by_their_cursors(start):
    a, b = await start(), await start()
    to_b, to_a = (
        await FaultProxy(b.app[PEER_PORT]).start(),
        await FaultProxy(a.app[PEER_PORT]).start(),
    )
    a.meet(b, to_b.url)
    b.meet(a, to_a.url)
    page_a, page_b = await a.page(), await b.page()
    await page_a.push([first := change()])
    await page_b.wait_for({first["id"]}, timeout=2)
    to_b.partition(True)
    to_a.partition(True)
    during_a = [change() for _ in range(30)]
    during_b = [change() for _ in range(30)]
    await page_a.push(during_a)
    await page_b.push(during_b)
    assert not ({c["id"] for c in during_a} & page_b.changes.keys())
    to_b.partition(False)
    to_a.partition(False)
    await page_b.wait_for({c["id"] for c in during_a}, timeout=8)
    await page_a.wait_for({c["id"] for c in during_b}, timeout=8)
    assert sorted(await a.log_ids()) == sorted(await b.log_ids())
    await to_a.close()
    await to_b.close()


async def test_changes_are_relayed_to_a_peer_we_cannot_reach_directly(start):
    # A and C know only B: what A makes still reaches C, which reads B's log.
    a, b, c = await start(), await start(), await start()
    a.meet(b)
    c.meet(b)
    page_c = await c.page()
    await (await a.page()).push([made := change()])
    await page_c.wait_for({made["id"]}, timeout=5)


async def test_with_the_server_down_terminals_keep_in_sync_and_it_gets_each_change_once(
    start, standin
):
    server = {"server": standin.url, "db": "possync", "login": "admin", "password": "admin"}
    standin.faults.down = True
    a, b = await pair(start, config_id=1, **server)
    page_a, page_b = await a.page(), await b.page()
    made_a = [change() for _ in range(10)]
    made_b = [change() for _ in range(10)]
    await page_a.push(made_a)
    await page_b.push(made_b)
    everything = {c["id"] for c in made_a + made_b}
    await page_a.wait_for(everything, timeout=3)
    await page_b.wait_for(everything, timeout=3)
    assert standin.changes() == []
    standin.faults.down = False
    await eventually(lambda: {c["change"]["id"] for c in standin.changes()} == everything, 10)
    await eventually(lambda: _both_empty(a, b), timeout=10)
    assert all(n.get("applied") == 1 for n in standin.push_counts().values())


async def _both_empty(a: Running, b: Running) -> bool:
    return await a.pending() == 0 and await b.pending() == 0


async def test_the_peer_secret_can_come_from_the_server(start, standin):
    server = {"server": standin.url, "db": "possync", "login": "admin", "password": "admin"}
    a, b = await pair(start, peer_secret=None, config_id=1, **server)
    standin.faults.down = False
    page_b = await b.page()
    await eventually(lambda: a.app[AGENT].peer_secret == standin.peer_secret, timeout=3)
    await eventually(lambda: b.app[AGENT].peer_secret == standin.peer_secret, timeout=3)
    await page_b.until(lambda: page_b.statuses and page_b.statuses[-1]["peers"], timeout=3)


async def test_without_a_secret_the_peer_port_answers_503(start, http):
    a = await start(peer_secret=None)
    async with http.get(a.peer_url + "/peer/changes?after=0") as resp:
        assert resp.status == 503


async def test_agents_of_one_configuration_find_each_other_by_mdns(start):
    mdns = {"mdns": True, "mdns_interfaces": ["127.0.0.1"]}
    a, b = await start(**mdns), await start(**mdns)
    stranger = await start(peer_secret="another-config", **mdns)
    page_b = await b.page()
    await (await a.page()).push([c := change()])
    await page_b.wait_for({c["id"]}, timeout=10)
    terminals = {p.terminal for p in a.app[PEERS].known.values()}
    assert b.terminal in terminals and stranger.terminal not in terminals


async def test_peers_never_see_our_odoo_session_cookie(start, standin, aiohttp_server):
    # Cookies ignore ports: a peer on the Odoo host (loopback here) must still get none.
    seen: list[str | None] = []

    async def changes(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        return web.Response(status=503)

    listener = web.Application()
    listener.router.add_get("/peer/changes", changes)
    server = await aiohttp_server(listener)
    odoo = {"server": standin.url, "db": "possync", "login": "admin", "password": "admin"}
    a = await start(config_id=1, **odoo)
    await eventually(lambda: standin.sessions, timeout=3)  # logged in: a cookie exists
    a.app[PEERS].add(str(server.make_url("")), None, "static")
    await eventually(lambda: seen, timeout=3)
    assert seen[0] is None
