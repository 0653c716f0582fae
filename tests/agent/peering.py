"""Agents in-process for the peer tests (tests/agent/test_peers.py and
tests/security/test_peers.py): each one a real aiohttp app with its own TLS peer port."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import aiohttp
from aiohttp import web
from yarl import URL

from agent.app import PEER_PORT, PEERS, SETTINGS, create_app
from agent.clock import device_ms as now
from agent.core import Agent
from agent.devices import Device, DeviceList
from agent.identity import DeviceIdentity, load_identity
from agent.page_api import AGENT
from agent.peer_auth import sign_request
from agent.settings import Settings
from agent.store import Store
from devkit.fault_proxy import FaultProxy
from devkit.page_client import PageClient
from devkit.waiting import eventually

SERVER = {"db": "possync", "login": "admin", "password": "admin", "config_id": 1}


@dataclasses.dataclass
class Running:
    app: web.Application
    client: object

    @property
    def agent(self) -> Agent:
        return self.app[AGENT]

    @property
    def identity(self) -> DeviceIdentity:
        assert self.agent.identity is not None
        return self.agent.identity

    @property
    def port(self) -> int:
        port = self.app[PEER_PORT]
        assert port is not None
        return port

    @property
    def peer_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.app[SETTINGS].data_dir

    @property
    def terminal(self) -> str:
        return self.agent.terminal

    async def page(self) -> PageClient:
        return await PageClient.connect(self.client.session, self.client.port)

    def meet(self, other: Running, url: str | None = None) -> None:
        self.app[PEERS].add(url or other.peer_url, None, "static")

    async def log_ids(self) -> list[str]:
        entries = await self.agent.changes_after(0, 10_000)
        return [e.change["id"] for e in entries]

    async def pending(self) -> int:
        return await self.agent.db.read(Store.pending_count)


def device(identity: DeviceIdentity) -> Device:
    return Device(**identity.registration())


async def introduce(*agents: Running, to: tuple[Running, ...] = ()) -> None:
    """What the server's list of devices would say: each of `to` (default: the agents
    themselves) trusts every one of `agents`."""
    trusted = DeviceList([device(a.identity) for a in agents])
    for running in to or agents:
        await running.agent.set_devices(trusted)


def starter(aiohttp_client, settings: Settings, tmp_path: Path):
    numbers = itertools.count()

    async def start(**changes) -> Running:
        """One more agent; `data_dir=` an earlier one's folder starts that one again."""
        changes.setdefault("data_dir", tmp_path / f"agent{next(numbers)}")
        app = create_app(dataclasses.replace(settings, **changes))
        return Running(app, await aiohttp_client(app))

    return start


async def pair(start, **changes) -> tuple[Running, Running]:
    """Two agents of one POS that trust each other and know each other's address."""
    a, b = await start(**changes), await start(**changes)
    await introduce(a, b)
    a.meet(b)
    b.meet(a)
    return a, b


async def over_wifi(a: Running, b: Running) -> tuple[FaultProxy, FaultProxy]:
    """Introduce `a` and `b` to each other through a fault proxy each way: (to b, to a)."""
    await introduce(a, b)
    to_b = await FaultProxy(b.port).start()
    to_a = await FaultProxy(a.port).start()
    a.meet(b, to_b.url)
    b.meet(a, to_a.url)
    return to_b, to_a


async def registered_pair(start, standin) -> tuple[Running, Running]:
    """Two agents that registered with the stand-in and read each other from its list."""
    a = await start(server=standin.url, **SERVER)
    b = await start(server=standin.url, **SERVER)
    a.meet(b)
    b.meet(a)
    await eventually(lambda: a.agent.devices.get(b.terminal), timeout=5)
    await eventually(lambda: b.agent.devices.get(a.terminal), timeout=5)
    return a, b


async def impostor(aiohttp_server, tmp_path: Path, terminal: str, answer_as: str):
    """A TLS server with a key of its own for `terminal`, answering any request as
    `answer_as`: (the server, the paths it was sent)."""
    seen: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.json_response({"terminal": answer_as})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    fake = outsider(tmp_path, terminal)
    return await aiohttp_server(app, ssl=fake.server_ssl_context(tmp_path)), seen


def outsider(tmp_path: Path, terminal: str = "t-outsider") -> DeviceIdentity:
    """A device identity that belongs to no running agent (a forger's, or a listener's)."""
    folder = tmp_path / terminal
    folder.mkdir(parents=True, exist_ok=True)
    return load_identity("file", folder, terminal, None)


async def signed(
    http: aiohttp.ClientSession,
    identity: DeviceIdentity,
    to: Running,
    method: str,
    target: str,
    body: bytes = b"",
    *,
    stamp: int | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """A request signed by `identity` for `to` (or the given headers, as captured)."""
    stamp = now() if stamp is None else stamp
    headers = headers or sign_request(identity, method, target, body, to.terminal, stamp)
    url = URL(to.peer_url + target, encoded=True)
    async with http.request(method, url, data=body or None, headers=headers, ssl=False) as resp:
        return resp.status, await resp.read()
