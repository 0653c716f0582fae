"""Fixed peer addresses (agent/devices.py, agent/peers.py): where the Wi-Fi keeps the
tablets apart or blocks mDNS, a POS manager sets each tablet's LAN address on the server,
and the other tablets reach it there. The address is only where to knock: the TLS pin on
the certificate the server registered, and the signed hello, still decide who answers."""

from __future__ import annotations

import asyncio
import logging

import pytest

from agent import lan_range
from agent.app import PEERS
from agent.devices import Device, DeviceList, fixed_url
from devkit.changes import change
from devkit.fault_proxy import FaultProxy
from devkit.waiting import eventually
from tests.agent.peering import SERVER, Running, device, introduce


def at(running: Running, address: str) -> Device:
    """`running`'s device as the server lists it with a fixed address."""
    return Device(**running.identity.registration(), lan_address=address)


async def fixed_pair(start) -> tuple[Running, Running]:
    """Two agents with mDNS off that were never told each other's address: only the
    server's list of devices, with each one's fixed address, brings them together."""
    a, b = await start(), await start()
    trusted = DeviceList([at(a, f"127.0.0.1:{a.port}"), at(b, f"127.0.0.1:{b.port}")])
    for running in (a, b):
        await running.agent.set_devices(trusted)
    return a, b


def known(running: Running) -> dict[str, str | None]:
    return {url: peer.terminal for url, peer in running.app[PEERS].known.items()}


def test_a_fixed_address_gets_the_agents_peer_port_when_it_has_none():
    assert fixed_url("192.168.1.21", 8766) == "https://192.168.1.21:8766"
    assert fixed_url("192.168.1.21:9000", 8766) == "https://192.168.1.21:9000"
    assert fixed_url("[fd00::21]", 8766) == "https://[fd00::21]:8766"
    assert fixed_url("[fd00::21]:9000", 8766) == "https://[fd00::21]:9000"
    assert fixed_url("tablet-2.local", 8766) == "https://tablet-2.local:8766"


@pytest.mark.parametrize(
    "address",
    [
        "https://192.168.1.21:8766",
        "user@192.168.1.21",
        "192.168.1.21/peer",
        "192.168.1.21 8766",
        "192.168.1.21:0",
        "192.168.1.21:99999",
        "192.168.1.21:8766\n",
        "x" * 300,
        42,
        ["192.168.1.21"],
    ],
)
def test_a_malformed_fixed_address_from_the_server_is_dropped_and_the_device_kept(address, caplog):
    identity = {"terminal": "t2", "public_key": "A" * 43 + "=", "certificate_sha256": "ab" * 32}
    caplog.set_level(logging.WARNING, "agent.devices")
    listed = DeviceList.parse({"devices": [identity | {"lan_address": address}]})
    assert listed.get("t2") is not None  # trust never hangs on the address
    assert listed.get("t2").lan_address == ""
    assert listed.fixed_addresses() == {}
    assert "ignoring the fixed address of t2" in caplog.text


def test_the_fixed_addresses_survive_the_cache():
    identity = {"terminal": "t2", "public_key": "A" * 43 + "=", "certificate_sha256": "ab" * 32}
    listed = DeviceList.parse({"devices": [identity | {"lan_address": "10.0.0.12:8766"}]})
    assert DeviceList.from_json(listed.to_json()).fixed_addresses() == {"t2": "10.0.0.12:8766"}


async def test_two_agents_with_mdns_off_sync_through_their_fixed_addresses(start):
    a, b = await fixed_pair(start)
    await eventually(lambda: known(a) == {b.peer_url: b.terminal}, timeout=5)
    await eventually(lambda: known(b) == {a.peer_url: a.terminal}, timeout=5)
    page_b = await b.page()
    await (await a.page()).push([c := change()])
    await page_b.wait_for({c["id"]}, timeout=5)
    snapshot = await a.agent.snapshot()
    assert snapshot["fixed_addresses"] == {b.terminal: f"127.0.0.1:{b.port}"}


async def test_agents_registered_with_the_server_follow_the_addresses_a_manager_sets(
    start, standin
):
    a = await start(server=standin.url, **SERVER)
    b = await start(server=standin.url, **SERVER)
    await eventually(lambda: a.agent.devices.get(b.terminal), timeout=5)
    assert known(a) == {}  # mDNS off, no static peers: no way to reach B yet
    standin.set_lan_address(a.terminal, f"127.0.0.1:{a.port}")
    standin.set_lan_address(b.terminal, f"127.0.0.1:{b.port}")
    for running in (a, b):
        running.agent.devices_wanted.set()  # what the next refresh of the list would read
    await eventually(lambda: known(a) == {b.peer_url: b.terminal}, timeout=10)
    standin.faults.down = True  # from here on, only the LAN carries changes
    page_a = await a.page()
    await (await b.page()).push([c := change()])
    await page_a.wait_for({c["id"]}, timeout=10)


async def test_a_fixed_address_wins_over_any_other_and_mdns_cannot_move_it(start):
    a, b = await start(), await start()
    await introduce(a, b)
    a.meet(b)  # B known at its own address first (as mDNS or a static peer would find it)
    await eventually(lambda: known(a) == {b.peer_url: b.terminal}, timeout=5)
    relay = await FaultProxy(b.port).start()  # B's fixed address: another way to B
    fixed = f"https://127.0.0.1:{relay.port}"
    await a.agent.set_devices(DeviceList([device(a.identity), at(b, f"127.0.0.1:{relay.port}")]))
    await eventually(lambda: known(a) == {fixed: b.terminal}, timeout=5)
    a.app[PEERS].add(b.peer_url, b.terminal, "mdns")  # an announcement of the old address
    await asyncio.sleep(0.5)
    assert known(a) == {fixed: b.terminal}
    page_b = await b.page()
    await (await a.page()).push([c := change()])
    await page_b.wait_for({c["id"]}, timeout=5)
    await relay.close()


async def test_an_unproven_fixed_address_does_not_cut_a_working_peer(start, caplog):
    """A manager mistypes B's fixed address: A keeps syncing with B where it reached it."""
    a, b = await start(), await start()
    await introduce(a, b)
    a.meet(b)  # B reached at its own address (as mDNS or a static peer would find it)
    await eventually(lambda: known(a) == {b.peer_url: b.terminal}, timeout=5)
    nobody = FaultProxy(b.port)
    await nobody.start()
    typo = f"127.0.0.1:{nobody.port}"
    await nobody.close()  # nothing answers there
    caplog.set_level(logging.WARNING, logger="agent.peers")
    await a.agent.set_devices(DeviceList([device(a.identity), at(b, typo)]))
    await eventually(lambda: "did not prove it there" in caplog.text, timeout=10)
    assert known(a) == {b.peer_url: b.terminal}, "the working route is kept"
    page_b = await b.page()
    await (await a.page()).push([c := change()])
    await page_b.wait_for({c["id"]}, timeout=5)


@pytest.mark.parametrize(
    ("resolved", "on_lan"),
    [({"192.168.1.21"}, True), ({"fd00::21"}, True), ({"8.8.8.8"}, False),
     ({"10.0.0.5", "203.0.113.9"}, False), (set(), False)],
)  # fmt: skip
async def test_attack_a_fixed_host_name_resolving_off_the_lan_is_refused(
    monkeypatch, resolved, on_lan
):
    """The server takes a host name as typed; where it resolves, it must be the LAN."""

    async def resolve(_host: str) -> set[str]:
        return resolved

    monkeypatch.setattr(lan_range, "resolve", resolve)
    assert await lan_range.host_on_the_lan("till-2.restaurant.lan") is on_lan


async def test_attack_a_fixed_host_name_off_the_lan_gets_no_connection(start, monkeypatch):
    a, b = await start(), await start()
    await introduce(a, b)
    knocks: list[int] = []

    async def knocked(_reader, writer) -> None:
        knocks.append(1)
        writer.close()

    listener = await asyncio.start_server(knocked, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]

    async def resolve(_host: str) -> set[str]:
        return {"8.8.8.8"}  # what the name resolves to here, says the attacker's DNS

    monkeypatch.setattr(lan_range, "resolve", resolve)
    await a.agent.set_devices(DeviceList([device(a.identity), at(b, f"localhost:{port}")]))
    await asyncio.sleep(1.0)
    assert knocks == [], "nothing, not even a TLS handshake, went to that host"
    assert all(peer.terminal is None for peer in a.app[PEERS].known.values())
    listener.close()
    await listener.wait_closed()
