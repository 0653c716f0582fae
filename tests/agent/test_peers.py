"""The other terminals' side (agent/peers.py, agent/peer_server.py, agent/discovery.py):
docs/protocol.md, "Agent ↔ agent". Agents here run in-process, on loopback, each with
its own TLS peer port. The attacks on it are in tests/security/test_peers.py."""

from __future__ import annotations

import asyncio
import json

import keyring
from aiohttp import web
from keyring.backends import fail

from agent.app import PEER_PORT, PEERS
from agent.clock import device_ms
from agent.devices import DeviceList
from agent.discovery import config_tag
from agent.peer_auth import sign_request
from agent.peer_server import MAX_BODY
from agent.peers import push_batches
from devkit.changes import change
from devkit.fault_proxy import FaultProxy
from devkit.waiting import eventually
from tests.agent.peering import (
    SERVER,
    Running,
    device,
    introduce,
    outsider,
    over_wifi,
    pair,
    registered_pair,
    signed,
)


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


async def test_agents_of_another_pos_exchange_nothing(start):
    a, b = await start(), await start()
    await introduce(a, to=(a,))  # each server lists only its own device
    await introduce(b, to=(b,))
    a.meet(b)
    b.meet(a)
    await (await a.page()).push([change()])
    await (await b.page()).push([change()])
    await asyncio.sleep(1.0)  # several pull rounds (peer_pull_s = 0.3 s) go by
    assert len(await a.log_ids()) == 1 and len(await b.log_ids()) == 1
    assert a.app[PEERS].known[b.peer_url].terminal is None
    assert a.agent.status.peers == {}


async def test_an_unsigned_or_tampered_request_gets_401_and_changes_nothing(start, http):
    a, b = await pair(start)
    body = json.dumps({"changes": [change()]}).encode()
    status, _ = await signed(http, b.identity, a, "POST", "/peer/push", body, headers={"X": "y"})
    assert status == 401  # no signature headers at all
    headers = _signed_for(b, a, "/peer/elsewhere", body)
    status, _ = await signed(http, b.identity, a, "POST", "/peer/push", body, headers=headers)
    assert status == 401  # signed for another path
    tampered = body.replace(b'"qty": 1', b'"qty": 9')
    assert tampered != body
    headers = _signed_for(b, a, "/peer/push", body)
    status, _ = await signed(http, b.identity, a, "POST", "/peer/push", tampered, headers=headers)
    assert status == 401
    assert await a.log_ids() == []


def _signed_for(sender: Running, to: Running, target: str, body: bytes) -> dict:
    return sign_request(sender.identity, "POST", target, body, to.terminal, device_ms())


async def test_a_change_pushed_twice_is_acknowledged_twice_and_stored_once(start, http):
    a, b = await pair(start)
    page = await a.page()
    body = json.dumps({"changes": [c := change()]}).encode()
    for _ in range(3):  # three requests, each signed afresh
        status, answer = await signed(http, b.identity, a, "POST", "/peer/push", body)
        assert status == 200 and json.loads(answer)["acked"] == [c["id"]]
    assert await a.log_ids() == [c["id"]]
    await page.wait_for({c["id"]})
    assert page.duplicates == 0


async def test_a_signed_but_malformed_push_is_refused_whole(start, http):
    a, b = await pair(start)
    bad = change() | {"extra": True}
    body = json.dumps({"changes": [change(), bad]}).encode()
    status, _ = await signed(http, b.identity, a, "POST", "/peer/push", body)
    assert status == 400
    assert await a.log_ids() == []


async def test_an_address_serving_an_unknown_certificate_is_sent_nothing(
    start, aiohttp_server, tmp_path
):
    seen: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.Response(status=503)

    impostor = web.Application()
    impostor.router.add_route("*", "/{tail:.*}", anything)
    stranger = outsider(tmp_path)
    server = await aiohttp_server(impostor, ssl=stranger.server_ssl_context(tmp_path))
    a, b = await pair(start)
    a.app[PEERS].add(f"https://127.0.0.1:{server.port}", None, "static")
    await asyncio.sleep(1.0)
    assert seen == []  # not even a signed hello: its certificate is nobody's on the list
    assert all(p.terminal != stranger.terminal for p in a.app[PEERS].known.values())


async def test_after_a_partition_agents_catch_up_by_their_cursors(start):
    a, b = await start(), await start()
    to_b, to_a = await over_wifi(a, b)
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
    await introduce(a, b, c)
    a.meet(b)
    c.meet(b)
    page_c = await c.page()
    await (await a.page()).push([made := change()])
    await page_c.wait_for({made["id"]}, timeout=5)


async def test_with_the_server_down_terminals_keep_in_sync_and_it_gets_each_change_once(
    start, standin
):
    a, b = await registered_pair(start, standin)
    standin.faults.down = True
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


async def test_each_device_registers_and_trusts_the_servers_list(start, standin):
    a, b = await registered_pair(start, standin)
    listed = {d["terminal"]: d for d in standin.active_devices()}
    assert listed[a.terminal] == a.identity.registration()
    assert {d.terminal for d in a.agent.devices.devices} == {a.terminal, b.terminal}
    assert a.agent.devices.get(b.terminal) == device(b.identity)
    # /status names the others the server lists (possync doctor compares them with peers).
    assert (await a.agent.snapshot())["devices"] == [b.terminal]
    page_b = await b.page()
    await page_b.until(lambda: page_b.statuses and page_b.statuses[-1]["peers"], timeout=3)


async def test_without_a_usable_key_store_the_agent_runs_without_a_peer_port(start):
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        a = await start(device_key_store="keyring")
    finally:
        keyring.set_keyring(previous)
    assert a.app[PEER_PORT] is None and a.agent.identity is None
    assert "no device key" in (await a.agent.snapshot())["peer_cause"]
    await (await a.page()).push([change()])  # the page and the outbox still work
    assert await a.pending() == 1


async def test_agents_of_one_configuration_find_each_other_by_mdns(start, standin):
    mdns = {"mdns": True, "mdns_interfaces": ["127.0.0.1"], "server": standin.url, **SERVER}
    a, b = await start(**mdns), await start(**mdns)
    stranger = await start(**(mdns | {"db": "another-db"}))  # another POS: another tag
    await eventually(lambda: a.agent.devices.get(b.terminal), timeout=5)
    await eventually(lambda: b.agent.devices.get(a.terminal), timeout=5)
    standin.faults.down = True  # from here on, only the LAN carries changes
    page_b = await b.page()
    await (await a.page()).push([c := change()])
    await page_b.wait_for({c["id"]}, timeout=10)
    terminals = {p.terminal for p in a.app[PEERS].known.values()}
    assert b.terminal in terminals and stranger.terminal not in terminals


async def test_peers_never_see_our_odoo_session_cookie(start, standin, aiohttp_server, tmp_path):
    # Cookies ignore ports: a peer on the Odoo host (loopback here) must still get none.
    seen: list[str | None] = []

    async def hello(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        return web.Response(status=503)

    listener = web.Application()
    listener.router.add_get("/peer/hello", hello)
    device_b = outsider(tmp_path, "t-listener")
    server = await aiohttp_server(listener, ssl=device_b.server_ssl_context(tmp_path))
    a = await start(server=standin.url, **SERVER)
    await eventually(lambda: standin.sessions, timeout=3)  # logged in: a cookie exists
    await a.agent.set_devices(DeviceList([device(a.identity), device(device_b)]))
    a.app[PEERS].add(str(server.make_url("")), None, "static")
    await eventually(lambda: seen, timeout=3)
    assert seen[0] is None


def test_pushes_are_split_under_the_peer_body_cap():
    note = {"internal_note": "n" * 1900}
    big = [change(ops=[{"op": "line.set", "line": "l1", "field": "internal_note", "value": "x"}])]
    many = [change(ops=[{"op": "line.add", "line": f"l{i}", "values": note}]) for i in range(400)]
    huge = change(
        ops=[
            {"op": "line.set", "line": f"l{i}", "field": "internal_note", "value": "h" * 1900}
            for i in range(200)
        ]
    )
    batches = push_batches(big + many + [huge])
    assert len(batches) > 1
    for batch in batches:
        assert len(json.dumps({"changes": batch}).encode()) <= MAX_BODY
    sent = [c["id"] for batch in batches for c in batch]
    assert sent == [c["id"] for c in big + many]  # the huge one travels by catch-up only


def test_the_mdns_tag_names_one_pos_and_no_other():
    one = config_tag("https://Odoo.example:443/", "db", 1)
    assert one == config_tag("https://odoo.example:443", "db", 1)
    others = {config_tag("https://odoo.example:443", "db", 2), config_tag("https://x:443", "db", 1)}
    assert one not in others and len(one) == 16


class CountingProxy(FaultProxy):
    def __init__(self, target_port: int) -> None:
        super().__init__(target_port)
        self.connections = 0

    async def _accept(self, reader, writer) -> None:
        self.connections += 1
        await super()._accept(reader, writer)


async def test_peers_keep_their_tls_connections_open(start):
    # A TLS handshake per request would cost its round trips on every change.
    a, b = await start(), await start()
    await introduce(a, b)
    to_b = await CountingProxy(b.port).start()
    a.meet(b, to_b.url)
    # Only B's address is known to A, so only A's pusher carries the changes: wait until
    # it reaches B (a push made before would wait for B's puller, which has no address).
    await eventually(lambda: any(p.reachable for p in a.app[PEERS].known.values()), 5)
    page_a, page_b = await a.page(), await b.page()
    for _ in range(20):
        await page_a.push([made := change()])
        await page_b.wait_for({made["id"]}, timeout=5)
    assert to_b.connections <= 4  # the certificate read, then the pooled connections
    await to_b.close()
