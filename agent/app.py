"""The agent as one aiohttp application.

`create_app(settings)` serves the page API (bind it to 127.0.0.1) and, through cleanup
contexts started in dependency order, opens the store and this device's identity, the
HTTP client, the peer server (its own runner and TLS listener on `peer_host:peer_port`,
so the LAN never reaches the page API), LAN discovery, and server sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine

import aiohttp
from aiohttp import web

from agent import server_tls
from agent.clock import CorrectedClock, device_ms
from agent.core import Agent
from agent.discovery import Discovery, config_tag
from agent.identity import (
    DeviceIdentity,
    IdentityUnavailable,
    certificate_pem,
    load_identity,
)
from agent.odoo_client import OdooClient
from agent.page_api import AGENT, setup_page_api, status_pusher
from agent.peer_server import runner_for, serve
from agent.peers import Peers
from agent.server_sync import ServerSync
from agent.settings import Settings
from agent.store import Store

SETTINGS = web.AppKey("settings", Settings)
WALL = web.AppKey("wall", CorrectedClock)
ODOO_HTTP = web.AppKey("odoo_http", aiohttp.ClientSession)
PEER_HTTP = web.AppKey("peer_http", aiohttp.ClientSession)
PEER_PORT = web.AppKey("peer_port", int | None)  # None: no device identity, no peer port
PEERS = web.AppKey("peers", Peers)
SERVER_SYNC = web.AppKey("server_sync", ServerSync)

PRUNE_EVERY_S = 3600.0
KEEP_CLOSED_MS = 24 * 3600 * 1000  # closed orders stay replayable to pages for a day

log = logging.getLogger(__name__)


def create_app(settings: Settings, wall: CorrectedClock | None = None) -> web.Application:
    """The agent; `wall` replaces the device clock it corrects (tests skew it)."""
    if not settings.page_token:
        raise ValueError("settings.page_token is required (the CLI makes one per launch)")
    app = web.Application()
    app[SETTINGS] = settings
    app[WALL] = wall or CorrectedClock()
    setup_page_api(app, settings.page_token, settings.origins())
    app.cleanup_ctx.extend([storage, http_client, peers, server_sync, status_pusher])
    return app


async def storage(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    store = await asyncio.to_thread(Store.open, settings.db_path)
    identity, trouble = await asyncio.to_thread(_identity, settings, store)
    agent = Agent(
        store, server_configured=settings.server_configured, identity=identity, wall=app[WALL]
    )
    if trouble:
        agent.status.peers_off(trouble)
    agent.start()
    app[AGENT] = agent
    pruner = _spawn(_prune_forever(agent), "pruner")
    yield
    await _stop(pruner)
    await agent.close()


def _identity(settings: Settings, store: Store) -> tuple[DeviceIdentity | None, str | None]:
    """This device's key and certificate, or why there is none: then the agent runs, but
    exchanges nothing with other terminals."""
    try:
        identity = load_identity(
            settings.device_key_store,
            settings.data_dir,
            store.terminal,
            store.get_meta("device_certificate"),
        )
    except IdentityUnavailable as exc:
        trouble = f"no device key, so no sync with other terminals: {exc}"
        log.error("%s", trouble)
        return None, trouble
    pem = certificate_pem(identity)
    if store.get_meta("device_certificate") != pem:
        store.set_meta("device_certificate", pem)
    return identity, None


async def _prune_forever(agent: Agent) -> None:
    while True:
        await agent.db.write(lambda s: s.prune(device_ms() - KEEP_CLOSED_MS))
        await asyncio.sleep(PRUNE_EVERY_S)


async def http_client(app: web.Application) -> AsyncIterator[None]:
    # unsafe=True keeps cookies of servers addressed by IP (a LAN Odoo, loopback in tests).
    # No automatic User-Agent: Odoo's bus refuses a User-Agent with a version it does not
    # know, so odoo_rpc decides per request (see OdooSession.open_websocket).
    odoo = aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True), skip_auto_headers=("User-Agent",)
    )
    # Peers get a session without cookies: cookies ignore ports, so an agent on the Odoo
    # host would otherwise be handed our Odoo session.
    peer = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    app[ODOO_HTTP], app[PEER_HTTP] = odoo, peer
    yield
    await odoo.close()
    await peer.close()


async def peers(app: web.Application) -> AsyncIterator[None]:
    settings, agent = app[SETTINGS], app[AGENT]
    app[PEERS] = exchange = Peers(agent, app[PEER_HTTP], settings)
    app[PEER_PORT] = None
    if agent.identity is None:
        yield
        return
    runner = runner_for(agent)
    await runner.setup()
    listener = await serve(
        runner, settings.peer_host, settings.peer_port, agent.identity, settings.data_dir
    )
    app[PEER_PORT] = listener.sockets[0].getsockname()[1]
    tasks = [_spawn(exchange.run(), "peers")]
    if settings.mdns and settings.server_configured:
        tasks.append(_spawn(_announce(app, exchange), "mdns"))
    yield
    for task in tasks:
        await _stop(task)
    listener.close()
    await runner.cleanup()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(listener.wait_closed(), 2)


async def _announce(app: web.Application, exchange: Peers) -> None:
    settings, agent = app[SETTINGS], app[AGENT]
    assert settings.server and settings.db and settings.config_id is not None
    port = app[PEER_PORT]
    assert port is not None
    discovery = Discovery(
        agent.terminal,
        port,
        settings.peer_host,
        settings.mdns_interfaces,
        lambda terminal, url: exchange.add(url, terminal, "mdns"),
    )
    try:
        await discovery.start(config_tag(settings.server, settings.db, settings.config_id))
        await asyncio.Event().wait()
    finally:
        await discovery.close()


async def server_sync(app: web.Application) -> AsyncIterator[None]:
    settings, agent = app[SETTINGS], app[AGENT]
    if not settings.server_configured:
        yield
        return
    assert settings.server and settings.db and settings.login
    client = OdooClient(
        app[ODOO_HTTP],
        settings.server,
        settings.db,
        settings.login,
        settings.password or "",
        settings.http_timeout_s,
        tls=server_tls.client_context(settings.server_ca_file),
        clock=agent.wall,
    )
    app[SERVER_SYNC] = sync = ServerSync(agent, client, settings)
    task = _spawn(sync.run(), "server sync")
    yield
    await _stop(task)


def _spawn(coro: Coroutine, name: str) -> asyncio.Task:
    """A background loop; if it ever dies of a bug, the log says so at once."""
    task = asyncio.create_task(coro, name=name)
    task.add_done_callback(_report_crash)
    return task


def _report_crash(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped", task.get_name(), exc_info=task.exception())


async def _stop(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
