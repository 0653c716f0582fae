"""After a heal: the agent notices a returning server by its health check, not at the end
of a grown backoff (agent/server_sync.py `_probe_loop`), and does not hammer a server that
answers the health check but fails the calls; a peer that was away is looked for at the
pull pace (agent/peers.py `PeerAway`)."""

from __future__ import annotations

import asyncio
import dataclasses

import aiohttp
import pytest

from agent.app import PEERS
from agent.core import Agent
from agent.odoo_client import OdooClient
from agent.odoo_rpc import ServerFailing, ServerUnreachable
from agent.server_sync import ServerSync
from agent.store import Store
from devkit.changes import change
from devkit.fault_proxy import FaultProxy
from devkit.processes import AgentProcess, StandInProcess
from devkit.waiting import eventually

from .peering import over_wifi

# A backoff far longer than any wait below: only the health check can end it in time.
SLOW_BACKOFF = {"POSSYNC_BACKOFF_MIN_S": "240", "POSSYNC_BACKOFF_MAX_S": "240"}
NOTICED_S = 60.0  # generous for a loaded machine, and still under the 120 s least backoff


def server_of(page) -> dict:
    return page.statuses[-1]["server"] if page.statuses else {}


async def test_a_server_back_after_an_outage_is_noticed_by_its_health_check(tmp_path, http):
    standin = await StandInProcess(tmp_path / "standin.db").start()
    wifi = await FaultProxy(standin.port).start()
    agent = AgentProcess(tmp_path / "agent", server=wifi.url, env=SLOW_BACKOFF)
    try:
        await agent.start()
        page = await agent.page(http)
        await page.until(lambda: server_of(page).get("path") == "bus", timeout=NOTICED_S)
        wifi.partition(True)  # a dead access point: connections hang
        await page.push([c := change()])
        await page.until(lambda: server_of(page).get("reachable") is False, timeout=NOTICED_S)
        wifi.partition(False)  # the hanging calls are reset: every loop starts its backoff
        await page.until(lambda: page.statuses[-1]["pending"] == 0, timeout=NOTICED_S)
        await page.until(lambda: server_of(page).get("reachable") is True, timeout=NOTICED_S)
        log = await standin.log_of(http)
    finally:
        await agent.stop()
        await standin.stop()
        await wifi.close()
    assert c["id"] in {entry["change"]["id"] for entry in log["changes"]}


@pytest.fixture
async def sync(settings, standin):
    """A ServerSync against the in-process stand-in, its loops not running."""
    settings = dataclasses.replace(
        settings, server=standin.url, db="possync", login="admin", config_id=1, password="admin"
    )
    agent = Agent(Store.open(settings.db_path), server_configured=True)
    agent.start()
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    yield ServerSync(agent, OdooClient(http, standin.url, "possync", "admin", "admin", 3), settings)
    await http.close()
    await agent.close()


async def test_a_server_up_but_failing_gets_one_early_retry_per_loss_not_one_a_second(sync):
    probe = asyncio.create_task(sync._probe_loop())
    try:
        sync._report(ServerFailing("/pos_restaurant_sync/push: HTTP 500", 500))
        await eventually(sync._answering.is_set)  # its health check answers: retry now
        assert not sync._lost.is_set()
        sync._answering.clear()
        sync._report(ServerFailing("/pos_restaurant_sync/push: HTTP 500", 500))
        await asyncio.sleep(2.5)  # two probe periods: nothing is probed
        assert not sync._lost.is_set() and not sync._answering.is_set()
        sync._answered()  # a call succeeded: the next loss is probed for again
        sync._report(ServerUnreachable("cannot reach the server: timed out"))
        assert sync._lost.is_set()
    finally:
        probe.cancel()


async def test_a_call_that_succeeds_during_a_health_check_leaves_the_next_loss_probed(sync):
    async def answered_meanwhile(timeout: float) -> bool:
        sync._answered()  # a pull came back while the health check was under way
        return True

    sync.client.healthy = answered_meanwhile
    probe = asyncio.create_task(sync._probe_loop())
    try:
        sync._report(ServerUnreachable("cannot reach the server: timed out"))
        await eventually(lambda: not sync._lost.is_set())
        await asyncio.sleep(0)  # the probe loop is past its health check
        sync._report(ServerUnreachable("cannot reach the server: timed out"))
        assert sync._lost.is_set(), "the next loss is looked for with the health check"
    finally:
        probe.cancel()


async def test_a_server_that_does_not_answer_its_health_check_is_not_announced_back(sync, standin):
    standin.faults.down = True  # every route, the health check too, answers 503
    probe = asyncio.create_task(sync._probe_loop())
    try:
        sync._report(ServerFailing("/pos_restaurant_sync/info: HTTP 503", 503))
        await asyncio.sleep(2.5)
        assert sync._lost.is_set() and not sync._answering.is_set()
        standin.faults.down = False
        await eventually(sync._answering.is_set)
    finally:
        probe.cancel()


async def test_a_peer_back_after_a_partition_is_noticed_at_the_pull_pace_not_a_backoff(start):
    a, b = await start(backoff_min_s=240, backoff_max_s=240), await start()
    to_b, to_a = await over_wifi(a, b)
    page_a, page_b = await a.page(), await b.page()
    await page_b.push([first := change()])
    await page_a.wait_for({first["id"]}, timeout=NOTICED_S)
    to_b.partition(True)
    to_a.partition(True)
    [link] = a.app[PEERS].known.values()
    await eventually(lambda: not link.reachable, timeout=NOTICED_S)  # a's pulls of b fail
    to_b.partition(False)
    to_a.partition(False)
    await page_b.push([after := change()])
    await page_a.wait_for({after["id"]}, timeout=NOTICED_S)
    await to_a.close()
    await to_b.close()
