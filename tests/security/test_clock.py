"""Clock attacks and wrong clocks (issue #13, item 6; docs/protocol.md, "Clock").

A change stamped far in the future would sort after every later edit and win for good:
pages, agents and the server refuse a change stamped more than 60 s ahead of their
corrected clock. A tablet whose own clock is minutes off keeps working: it stamps with
its clock corrected by the offset to the server. Agents here run in-process with the
stand-in Odoo; each has its own (skewed) device clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable

import aiohttp
import pytest
from aiohttp import web

from agent.app import PEER_PORT, PEERS, create_app
from agent.clock import CorrectedClock, device_ms
from agent.devices import DeviceList
from agent.identity import DeviceIdentity
from agent.page_api import AGENT
from agent.peer_auth import sign_request
from agent.protocol import HybridClock, format_hlc, materialize, parse_hlc
from agent.settings import Settings
from agent.store import Store
from devkit.changes import change
from devkit.page_client import TOKEN, PageClient
from devkit.processes import FAST
from devkit.standin_odoo import StandIn
from devkit.waiting import eventually
from tests.agent.peering import device, outsider

TEN_MINUTES_MS = 10 * 60 * 1000
FAR_FUTURE = "999999999999999-99999"


def skewed(offset_ms: int) -> Callable[[], int]:
    """A device clock `offset_ms` off the true time (ahead when positive)."""
    return lambda: device_ms() + offset_ms


@dataclasses.dataclass
class Terminal:
    """One in-process agent (with its own device clock) and how to reach it."""

    app: web.Application
    client: object
    device: Callable[[], int]

    @property
    def agent(self):
        return self.app[AGENT]

    @property
    def peer_url(self) -> str:
        return f"https://127.0.0.1:{self.app[PEER_PORT]}"

    async def status(self) -> dict:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        return await (await self.client.get("/status", headers=headers)).json()

    async def log_ids(self) -> set[str]:
        return {e.change["id"] for e in await self.agent.changes_after(0, 10_000)}


class Page:
    """A POS page on a terminal: it stamps with the device clock corrected by the offset
    its agent's welcome gives (what sync_client.js does), so its clock follows the server's."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal
        self.clock = HybridClock()
        self.offset_ms = 0
        self.client: PageClient | None = None

    async def open(self) -> Page:
        device = self.terminal.device
        sent = device()
        client = self.terminal.client
        self.client = await PageClient.connect(client.session, client.port)
        welcome = self.client.welcome
        self.offset_ms = welcome["time_ms"] - (sent + device()) // 2
        self.clock.observe(welcome["hlc"], self.now())
        return self

    def now(self) -> int:
        return self.terminal.device() + self.offset_ms

    async def sees(self, made: dict) -> None:
        """Wait until `made` reaches this page, whose clock then observes its stamp."""
        await self.client.wait_for({made["id"]}, timeout=20)
        self.clock.observe(made["hlc"], self.now())

    def change(self, order: str, *ops: dict) -> dict:
        terminal = self.client.welcome["terminal"]
        stamp = self.clock.tick(self.now())
        return change(order, list(ops), terminal) | {"hlc": stamp}


@pytest.fixture
def start(aiohttp_client, tmp_path):
    """Start an agent whose device clock is `offset_ms` off, with the stand-in or alone."""
    count = iter(range(100))

    async def start(offset_ms: int = 0, standin: StandIn | None = None) -> Terminal:
        settings = Settings(
            data_dir=tmp_path / f"agent{next(count)}",
            peer_port=0,
            peer_host="127.0.0.1",
            mdns=False,
            page_token=TOKEN,
            device_key_store="file",
            **FAST,
        )
        if standin is not None:
            server = {"server": standin.url, "db": "possync", "login": "admin", "config_id": 1}
            settings = dataclasses.replace(settings, password="admin", **server)
        device = skewed(offset_ms)
        app = create_app(settings, wall=CorrectedClock(device=device))
        return Terminal(app, await aiohttp_client(app), device)

    return start


def qty(value: int) -> dict:
    return {"op": "line.set", "line": "l1", "field": "qty", "value": value}


# --- a stamp from the far future -------------------------------------------------------


async def test_far_future_clock_is_refused(start):
    terminal = await start()
    page = await PageClient.connect(terminal.client.session, terminal.client.port)
    future = change() | {"hlc": FAR_FUTURE}
    await page.ws.send_json({"type": "push", "changes": [change(), future]})
    await page.until(lambda: page.errors)
    error = page.errors[-1]
    assert error["error"] == "invalid_change"
    assert "ahead of this terminal" in error["detail"] and "Nothing was stored" in error["detail"]
    assert await terminal.log_ids() == set()
    # The far-future reading moved nothing: the next reading is today's.
    welcome = await page.hello()
    assert abs(parse_hlc(welcome["hlc"])[0] - device_ms()) < 5_000


async def test_far_future_change_is_refused_by_the_peer_endpoint(start, http, tmp_path):
    terminal = await start()
    peer = outsider(tmp_path, "t-peer")
    await _trust(terminal, peer)
    body = json.dumps({"changes": [change() | {"hlc": FAR_FUTURE}]}).encode()
    headers = _signed(peer, terminal, "POST", "/peer/push", body)
    async with http.post(
        terminal.peer_url + "/peer/push", data=body, headers=headers, ssl=False
    ) as resp:
        assert resp.status == 400
        assert "ahead of this terminal" in (await resp.json())["error"]
    assert await terminal.log_ids() == set()


async def test_far_future_change_pulled_from_a_peer_is_skipped(start):
    terminal = await start()
    future = change() | {"hlc": FAR_FUTURE}
    now = change()
    answer = {"changes": [{"seq": 1, "change": future}, {"seq": 2, "change": now}]}
    peers = terminal.app[PEERS]
    assert await peers._store_pulled("t-peer", answer) == 1
    assert await terminal.log_ids() == {now["id"]}


async def test_a_change_the_server_refuses_as_future_is_set_aside_and_shown(start, standin):
    # A lone tablet ten minutes ahead, without the server since it started: its page's
    # stamps are ten minutes ahead. Once the server is back it refuses them for good; the
    # agent keeps them aside, never sends them again, and its status says why.
    standin.faults.down = True
    terminal = await start(TEN_MINUTES_MS, standin)
    page = await Page(terminal).open()
    made = page.change("o1", {"op": "line.add", "line": "l1", "values": {"qty": 1}})
    await page.client.push([made])
    standin.faults.down = False
    status = await eventually(lambda: _rejected(terminal), timeout=15)
    assert status["rejected"]["count"] == 1 and status["pending"] == 0
    assert status["rejected"]["last"]["id"] == made["id"]
    assert "ahead of the server" in status["rejected"]["last"]["reason"]
    assert status["clock"]["far_off"] and status["clock"]["source"] == "server"
    terminal.agent.outbox_event.set()  # a push round: nothing left to send
    await asyncio.sleep(0.5)
    assert standin.push_counts()[made["id"]] == {"rejected": 1}


# --- a tablet whose own clock is wrong ---------------------------------------------------


async def test_terminals_ten_minutes_off_keep_working(start, standin):
    ahead = await start(TEN_MINUTES_MS, standin)
    behind = await start(-TEN_MINUTES_MS, standin)
    for terminal, offset in ((ahead, -TEN_MINUTES_MS), (behind, TEN_MINUTES_MS)):
        status = await eventually(lambda t=terminal: _measured(t), timeout=15)
        assert abs(status["clock"]["offset_ms"] - offset) < 1_000 and status["clock"]["far_off"]
    pages = {"ahead": await Page(ahead).open(), "behind": await Page(behind).open()}
    # Waiters edit one line in turn, each once the other's edit is on their screen; the
    # last edit is the slow clock's. Every stamp is the true time, give or take the
    # offsets' measuring error (half a round trip each), not ten minutes off.
    made = [pages["ahead"].change("o1", {"op": "line.add", "line": "l1", "values": {"qty": 1}})]
    await pages["ahead"].client.push(made[-1:])
    for value in range(2, 8):
        page = pages["ahead" if value % 2 == 0 else "behind"]
        await page.sees(made[-1])
        made.append(page.change("o1", qty(value)))
        assert abs(parse_hlc(made[-1]["hlc"])[0] - device_ms()) < 1_000
        await page.client.push(made[-1:])
    ids = {c["id"] for c in made}
    # Nothing refused, nothing lost: every change on the server once, and on both terminals.
    await eventually(lambda: ids <= {e["change"]["id"] for e in standin.changes()}, timeout=20)
    assert all(standin.push_counts()[i] == {"applied": 1} for i in ids)
    for terminal in (ahead, behind):
        await eventually(lambda t=terminal: _settled(t, ids), timeout=20)
        assert (await terminal.status())["rejected"]["count"] == 0
    # Merge order still right: each edit sorts after the one its waiter saw, the last wins.
    assert sorted(made, key=lambda c: c["hlc"]) == made
    on_server = materialize("o1", [e["change"] for e in standin.changes()])
    assert on_server["lines"]["l1"]["qty"] == 7
    for terminal in (ahead, behind):
        log = [e.change for e in await terminal.agent.changes_after(0, 100)]
        assert materialize("o1", log) == on_server


async def test_without_the_server_an_agent_takes_its_clock_from_a_peer(start, standin):
    # The tablet ten minutes ahead has no server (yet): its peer, in step with the server,
    # gives it the time, so its page's stamps are right and its peer refuses none of them.
    in_step = await start(0, standin)
    await eventually(lambda: _measured(in_step), timeout=15)
    ahead = await start(TEN_MINUTES_MS)
    # Both devices on the server's list: the one in step reads it, the lone one is told.
    standin.add_device(**ahead.agent.identity.registration())
    await _trust(ahead, in_step.agent.identity)
    ahead.app[PEERS].add(in_step.peer_url, None, "static")
    in_step.app[PEERS].add(ahead.peer_url, None, "static")
    status = await eventually(lambda: _from_peer(ahead), timeout=15)
    assert abs(status["clock"]["offset_ms"] + TEN_MINUTES_MS) < 1_000
    page = await Page(ahead).open()
    made = page.change("o1", {"op": "line.add", "line": "l1", "values": {"qty": 1}})
    await page.client.push([made])
    await eventually(lambda: _has(in_step, made["id"]), timeout=15)


async def test_a_peer_change_is_checked_against_the_corrected_clock(start):
    # Ten minutes behind, with its offset measured: a change stamped at the true time is
    # not "ten minutes ahead" of it, and one a real ten minutes ahead still is.
    behind = await start(-TEN_MINUTES_MS)
    sent = behind.device()
    behind.agent.wall.observe_server(device_ms(), sent, behind.device())
    now_change = change() | {"hlc": format_hlc(device_ms(), 0)}
    assert len(await behind.agent.receive([now_change], "peer")) == 1
    later = change() | {"hlc": format_hlc(device_ms() + TEN_MINUTES_MS, 0)}
    with pytest.raises(ValueError, match="ahead of this terminal"):
        await behind.agent.receive([later], "peer")


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def _trust(terminal: Terminal, *others: DeviceIdentity) -> None:
    """What the server's list of devices would tell `terminal`: it and `others` are trusted."""
    identities = [terminal.agent.identity, *others]
    await terminal.agent.set_devices(DeviceList([device(i) for i in identities]))


def _signed(peer: DeviceIdentity, to: Terminal, method: str, target: str, body: bytes) -> dict:
    """The headers of a request from `peer` that passes `to`'s peer endpoint checks."""
    return sign_request(peer, method, target, body, to.agent.terminal, to.agent.wall.now_ms())


async def _rejected(terminal: Terminal) -> dict | None:
    status = await terminal.status()
    return status if status["rejected"]["count"] else None


async def _measured(terminal: Terminal) -> dict | None:
    status = await terminal.status()
    return status if status["clock"]["source"] == "server" else None


async def _from_peer(terminal: Terminal) -> dict | None:
    status = await terminal.status()
    return status if status["clock"]["source"] == "peer" else None


async def _has(terminal: Terminal, change_id: str) -> bool:
    return change_id in await terminal.log_ids()


async def _settled(terminal: Terminal, ids: set[str]) -> bool:
    pending = await terminal.agent.db.read(Store.pending_count)
    return pending == 0 and ids <= await terminal.log_ids()
