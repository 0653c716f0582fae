"""Attacks on the LAN side of the agent (issue #13, items 2, 3 and 5): forged, replayed,
misaddressed, stale and oversized peer requests, revoked devices, connection floods,
mDNS hijacks and floods, and a sniffer between two tablets.

Agents run in-process with real TLS peer ports on loopback (tests/agent/peering.py),
or as real processes where memory is measured; the server is the stand-in
(devkit/standin_odoo.py). Each attack gets a clear refusal and changes nothing.
"""

# ruff: noqa: F811 - pytest fixtures are imported, then named as test arguments

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import sys
import uuid
from pathlib import Path

import aiohttp
import pytest

from agent.app import PEERS
from agent.clock import device_ms as now_ms
from agent.devices import Device, DeviceList
from agent.peer_auth import answer_is_signed, sign_request
from agent.peer_server import MAX_BODY, MAX_CONNECTIONS
from agent.peers import MAX_PEERS
from devkit.changes import change
from devkit.fault_proxy import FaultProxy
from devkit.processes import AgentProcess
from devkit.waiting import eventually

# The agent tests' fixtures, used here by name (hence the file-wide F811 exemption above).
from tests.agent.conftest import http, settings, start  # noqa: F401
from tests.agent.peering import (
    SERVER,
    Running,
    device,
    impostor,
    introduce,
    outsider,
    pair,
    registered_pair,
    signed,
)

NOTE = "note-only-a-sniffer-would-want-" + uuid.uuid4().hex


def push_body(*changes: dict) -> bytes:
    return json.dumps({"changes": list(changes)}).encode()


def with_note(note: str) -> dict:
    values = {"product_id": 1, "qty": 1, "internal_note": note}
    return change(ops=[{"op": "line.add", "line": uuid.uuid4().hex[:16], "values": values}])


def _tls() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def raw_request(
    port: int, head: str, body: bytes = b""
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=_tls())
    writer.write(head.encode() + body)
    await writer.drain()
    return reader, writer


def request_head(method: str, target: str, length: int, headers: dict[str, str]) -> str:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {length}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return "\r\n".join(lines) + "\r\n\r\n"


async def status_of(reader: asyncio.StreamReader, timeout: float = 3) -> int:
    line = await asyncio.wait_for(reader.readline(), timeout)
    return int(line.split()[1])


# --- forged, replayed, misaddressed, stale ------------------------------------------------


async def test_forged_peer_push_is_refused(start, http, tmp_path):
    a, b = await pair(start)
    forger = outsider(tmp_path)  # a valid Ed25519 key, but not on the POS's list
    status, answer = await signed(http, forger, a, "POST", "/peer/push", push_body(change()))
    assert status == 401 and b"not an active device" in answer
    claimed = sign_request(forger, "POST", "/peer/push", push_body(change()), a.terminal, now_ms())
    claimed["X-Possync-Terminal"] = b.terminal  # posing as B, signing with its own key
    status, answer = await signed(
        http, forger, a, "POST", "/peer/push", push_body(change()), headers=claimed
    )
    assert status == 401 and b"bad signature" in answer
    assert await a.log_ids() == []


async def test_replayed_peer_request_is_refused(start, http):
    a, b = await pair(start)
    await (await a.page()).push([change()])
    captured = sign_request(b.identity, "GET", "/peer/changes?after=0", b"", a.terminal, now_ms())
    first = await signed(http, b.identity, a, "GET", "/peer/changes?after=0", headers=captured)
    assert first[0] == 200 and json.loads(first[1])["changes"]
    again = await signed(http, b.identity, a, "GET", "/peer/changes?after=0", headers=captured)
    assert again[0] == 401 and b"replayed" in again[1]
    body = push_body(pushed := change())
    captured = sign_request(b.identity, "POST", "/peer/push", body, a.terminal, now_ms())
    first = await signed(http, b.identity, a, "POST", "/peer/push", body, headers=captured)
    replay = await signed(http, b.identity, a, "POST", "/peer/push", body, headers=captured)
    assert (first[0], replay[0]) == (200, 401)
    assert (await a.log_ids()).count(pushed["id"]) == 1


async def test_captured_peer_answer_is_not_accepted_for_another_request(start, http):
    a, b = await pair(start)
    target = "/peer/changes?after=0"
    headers = sign_request(b.identity, "GET", target, b"", a.terminal, now_ms())
    url = a.peer_url + target
    async with http.get(url, headers=headers, ssl=False) as resp:
        answer, answer_headers = await resp.read(), resp.headers
    device_a = b.agent.devices.get(a.terminal)
    assert device_a is not None
    ours = headers["X-Possync-Nonce"]
    assert answer_is_signed(device_a, "GET", target, ours, answer, b.terminal, answer_headers)
    for nonce in ("0" * 32, uuid.uuid4().hex):  # any other request of ours
        assert not answer_is_signed(
            device_a, "GET", target, nonce, answer, b.terminal, answer_headers
        )


async def test_peer_request_for_another_terminal_is_refused(start, http):
    a, b, c = await start(), await start(), await start()
    await introduce(a, b, c)
    body = push_body(change())
    meant_for_c = sign_request(b.identity, "POST", "/peer/push", body, c.terminal, now_ms())
    status, answer = await signed(
        http, b.identity, a, "POST", "/peer/push", body, headers=meant_for_c
    )
    assert status == 401 and b"addressed to" in answer
    assert await a.log_ids() == []


async def test_stale_peer_request_is_refused(start, http):
    a, b = await pair(start)
    for offset_s in (-61, +61, -3600, +3600):
        stamp = now_ms() + offset_s * 1000
        status, answer = await signed(
            http, b.identity, a, "POST", "/peer/push", push_body(change()), stamp=stamp
        )
        assert status == 401 and b"stale" in answer, offset_s
    assert await a.log_ids() == []
    fresh = await signed(
        http, b.identity, a, "POST", "/peer/push", push_body(change()), stamp=now_ms() - 50_000
    )
    assert fresh[0] == 200  # inside the window: tablets' clocks differ a little


async def test_revoked_device_is_refused(start, standin, http):
    a, b = await registered_pair(start, standin)
    assert (await signed(http, b.identity, a, "POST", "/peer/push", push_body(change())))[0] == 200
    standin.revoke(b.terminal)  # a manager revokes B in the backend
    await eventually(lambda: a.agent.devices.get(b.terminal) is None, timeout=5)
    status, answer = await signed(http, b.identity, a, "POST", "/peer/push", push_body(change()))
    assert status == 401 and b"not an active device" in answer
    assert len(await a.log_ids()) == 1
    # And A no longer sends B anything either: B is not a device A may reach.
    await eventually(lambda: not a.app[PEERS].known[b.peer_url].reachable, timeout=5)


# --- the endpoint's caps ------------------------------------------------------------------


async def test_oversized_peer_body_is_refused_before_reading(start):
    a, b = await pair(start)
    length = 4 * 1024 * 1024  # what the agent used to read before checking anything
    headers = sign_request(b.identity, "POST", "/peer/push", b"x" * 16, a.terminal, now_ms())
    reader, writer = await raw_request(a.port, request_head("POST", "/peer/push", length, headers))
    assert await status_of(reader) == 413  # answered with no byte of the body sent
    writer.close()
    # A chunked body declares no length: it is cut at the cap all the same.
    big = push_body(*[with_note("x" * 1900) for _ in range(150)])
    assert len(big) > MAX_BODY
    headers = sign_request(b.identity, "POST", "/peer/push", big, a.terminal, now_ms())

    async def chunks():
        for i in range(0, len(big), 16384):
            yield big[i : i + 16384]

    async with (
        aiohttp.ClientSession() as session,
        session.post(a.peer_url + "/peer/push", data=chunks(), headers=headers, ssl=False) as resp,
    ):
        assert resp.status == 413
    assert await a.log_ids() == []


@pytest.mark.skipif(sys.platform != "linux", reason="reads the agent's memory from /proc")
async def test_unsigned_body_is_not_read(tmp_path: Path):
    agent = await AgentProcess(tmp_path / "agent").start()
    port = agent.listening["peer_port"]
    try:
        head = request_head("POST", "/peer/push", 4 * 1024 * 1024, {"Content-Type": "x"})
        half = b"x" * (64 * 1024)
        for reader, writer in [await raw_request(port, head, half) for _ in range(3)]:
            assert await status_of(reader) == 401  # warm-up: TLS and HTTP code paths loaded
            writer.close()
        await asyncio.sleep(0.5)
        before = _rss_kib(agent.pid)
        links = [await raw_request(port, head, half) for _ in range(25)]
        statuses = [await status_of(reader) for reader, _ in links]
        assert statuses == [401] * 25  # refused while each body is still being sent
        after = _rss_kib(agent.pid)
        for _, writer in links:
            writer.close()
        # 25 bodies of 4 MiB once took an agent from 43 to 146 MiB. Now none is read: what
        # grows is the 25 TLS connections themselves (about 250 KiB each with OpenSSL 3).
        assert after - before < 16 * 1024, (before, after)
    finally:
        await agent.stop()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_peer_connections_are_capped(start):
    a, b = await pair(start)
    page_a, page_b = await a.page(), await b.page()
    await page_a.push([first := change()])
    await page_b.wait_for({first["id"]}, timeout=5)
    # B keeps a connection or two to A; the flood takes every other place.
    idle = []
    for _ in range(MAX_CONNECTIONS):
        idle.append(await asyncio.open_connection("127.0.0.1", a.port, ssl=_tls()))
    reader, writer = await asyncio.open_connection("127.0.0.1", a.port, ssl=_tls())
    assert await asyncio.wait_for(reader.read(), 3) == (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    for _, w in idle:
        w.close()
    # Once the flood is gone, peers get through again.
    await eventually(lambda: _answers(b, a), timeout=5)
    await page_b.push([later := change()])
    await page_a.wait_for({later["id"]}, timeout=10)


async def _answers(client: Running, server: Running) -> bool:
    try:
        await client.app[PEERS].hello(server.peer_url, server.terminal)
    except Exception:
        return False
    return True


async def test_idle_peer_connections_are_closed(start, monkeypatch):
    monkeypatch.setattr("agent.peer_server.IDLE_TIMEOUT_S", 0.5)
    a = await start()
    reader, writer = await asyncio.open_connection("127.0.0.1", a.port, ssl=_tls())
    writer.write(b"POST /peer/push HTTP/1.1\r\nHost: x\r\n")  # headers that never end
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


# --- discovery ----------------------------------------------------------------------------


async def test_mdns_announcement_cannot_hijack_a_verified_peer(
    start,
    aiohttp_server,
    tmp_path,
):
    a, b = await pair(start)
    await eventually(lambda: a.app[PEERS].known[b.peer_url].reachable, timeout=5)
    # B's terminal id is public; B's key is not.
    server, seen = await impostor(aiohttp_server, tmp_path, b.terminal, b.terminal)
    a.app[PEERS].add(f"https://127.0.0.1:{server.port}", b.terminal, "mdns")
    await asyncio.sleep(1.0)
    assert list(a.app[PEERS].known) == [b.peer_url]  # B stays where it proved to be
    assert seen == []  # TLS pinned to B's certificate: the impostor got no request
    page_b = await b.page()
    await (await a.page()).push([c := change()])
    await page_b.wait_for({c["id"]}, timeout=5)
    # The real B, announced at a new address, is moved there once it answers the challenge
    # (at its next announcement: one challenge per terminal every few seconds).
    moved = await FaultProxy(b.port).start()
    there = f"https://127.0.0.1:{moved.port}"

    def announced_and_moved() -> bool:
        a.app[PEERS].add(moved.url, b.terminal, "mdns")
        return list(a.app[PEERS].known) == [there]

    await eventually(announced_and_moved, timeout=15, every=0.5)
    await moved.close()


async def test_fake_announcements_do_not_grow_the_peer_table(start):
    a, b = await pair(start)
    peers = a.app[PEERS]
    await eventually(lambda: peers.known[b.peer_url].terminal == b.terminal, timeout=5)
    for i in range(20_000):  # what a flood of mDNS answers hands to the discovery callback
        peers.add(f"https://10.{i // 65536}.{i // 256 % 256}.{i % 256}:8765", f"t-fake{i}", "mdns")
    for i in range(20_000):  # and B's public terminal id at addresses of the attacker's
        peers.add(f"https://127.0.0.2:{1024 + i}", b.terminal, "mdns")
    assert list(peers.known) == [b.peer_url]
    assert len(peers.candidates) <= MAX_PEERS
    moving = [p.moving for p in peers.known.values() if p.moving and not p.moving.done()]
    assert len(moving) <= 1  # one challenge at a time per terminal
    for i in range(2 * MAX_PEERS):  # a static list cannot grow it past the cap either
        peers.add(f"https://127.0.0.3:{2000 + i}", None, "static")
    assert len(peers.known) == MAX_PEERS


# --- the wire, and the server away ------------------------------------------------------


class RecordingProxy(FaultProxy):
    """The LAN sniffer: a TCP proxy between two agents that keeps every byte."""

    def __init__(self, target_port: int) -> None:
        super().__init__(target_port)
        self.seen = bytearray()

    async def _pump(self, link, source, sink) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                self.seen += data
                sink.write(data)
                await sink.drain()
        link.abort()


async def test_lan_sniffer_sees_no_order_content(start):
    a, b = await start(), await start()
    await introduce(a, b)
    to_b, to_a = await RecordingProxy(b.port).start(), await RecordingProxy(a.port).start()
    a.meet(b, to_b.url)
    b.meet(a, to_a.url)
    page_a, page_b = await a.page(), await b.page()
    await page_a.push([made := with_note(NOTE)])
    await page_b.wait_for({made["id"]}, timeout=5)
    await page_b.push([back := with_note(NOTE + "-b")])
    await page_a.wait_for({back["id"]}, timeout=5)
    wire = bytes(to_a.seen + to_b.seen)
    assert len(wire) > 1000  # the exchange did go through the sniffer
    for secret in (NOTE.encode(), made["id"].encode(), b"/peer/", b"X-Possync", b"changes"):
        assert secret not in wire
    await to_a.close()
    await to_b.close()


async def test_peer_sync_works_while_the_server_is_down(start, standin):
    a, b = await registered_pair(start, standin)
    data_a, data_b = a.data_dir, b.data_dir
    await a.client.close()
    await b.client.close()
    standin.faults.down = True  # and the tablets restart: only their cached lists remain
    a = await start(server=standin.url, **SERVER, data_dir=data_a)
    b = await start(server=standin.url, **SERVER, data_dir=data_b)
    a.meet(b)
    b.meet(a)
    page_a, page_b = await a.page(), await b.page()
    await page_a.push([one := change()])
    await page_b.push([two := change()])
    await page_b.wait_for({one["id"]}, timeout=5)
    await page_a.wait_for({two["id"]}, timeout=5)
    assert standin.changes() == []


# --- fixed addresses ----------------------------------------------------------------------


async def test_fixed_address_pointing_at_an_impostor_is_sent_nothing(
    start, aiohttp_server, tmp_path
):
    # A wrong (or forged) fixed address for B leads to a host with another certificate:
    # the TLS pin on B's registered certificate refuses it before any request is sent.
    a, b = await start(), await start()
    server, seen = await impostor(aiohttp_server, tmp_path, "t-impostor", b.terminal)
    b_listed = Device(**b.identity.registration(), lan_address=f"127.0.0.1:{server.port}")
    await a.agent.set_devices(DeviceList([device(a.identity), b_listed]))
    await asyncio.sleep(1.0)
    assert seen == []
    assert [p.terminal for p in a.app[PEERS].known.values()] == [None]  # never proven
    assert (await a.agent.snapshot())["peers"] == []


async def test_fixed_address_pointing_at_another_tablet_is_refused(start):
    # B's fixed address set to C's (a real tablet of the POS, with its own certificate):
    # A reaches neither B nor C through it, and C is sent nothing as if it were B.
    a, b, c = await start(), await start(), await start()
    await introduce(a, b, c)
    b_at_c = Device(**b.identity.registration(), lan_address=f"127.0.0.1:{c.port}")
    await a.agent.set_devices(DeviceList([device(a.identity), b_at_c, device(c.identity)]))
    await (await a.page()).push([change()])
    await asyncio.sleep(1.5)
    assert (await a.agent.snapshot())["peers"] == []
    assert await c.log_ids() == [] and await b.log_ids() == []


async def test_fixed_address_pointing_at_loopback_reaches_only_ourselves(start):
    # A manager may set 127.0.0.1 (tests, one-machine demos): on a tablet whose own agent
    # answers there, that is this agent's certificate, not B's, so nothing is exchanged.
    a, b = await start(), await start()
    b_at_a = Device(**b.identity.registration(), lan_address=f"127.0.0.1:{a.port}")
    await a.agent.set_devices(DeviceList([device(a.identity), b_at_a]))
    await (await a.page()).push([change()])
    await asyncio.sleep(1.0)
    assert (await a.agent.snapshot())["peers"] == []
    assert await b.log_ids() == []
