"""Fixed peer addresses (agent/devices.py, agent/peers.py): where the Wi-Fi keeps the
tablets apart or blocks mDNS, a POS manager sets each tablet's LAN address on the server,
and the other tablets reach it there. The address is only where to knock: the TLS pin on
the certificate the server registered, and the signed hello, still decide who answers."""

from __future__ import annotations

import asyncio
import logging

import pytest

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
