"""The peer port: HTTPS for the other agents of the POS (docs/protocol.md, "Agent ↔ agent").

Routes: `POST /peer/push`, `GET /peer/changes`, `GET /peer/hello`. Every request is
checked in this order, and refused at the first failure with nothing stored:

1. the signature headers are there (else 401, before anything else is looked at);
2. the sender is an active device of this POS, the request is addressed to this
   terminal, its time is within 60 s of ours, its signature holds, its nonce is new
   (else 401; 503 when the nonce memory is full);
3. a declared body is at most MAX_BODY (else 413, without reading it);
4. only then is the body read, capped at MAX_BODY however it is sent (413), and its
   SHA-256 must be the signed one (401).

Answers are signed by this device over the request's nonce. Refusals close the
connection. The listening socket serves TLS 1.3 with the device certificate, lets at most
MAX_CONNECTIONS connections past the handshake (more get a 503 and are closed), gives a
handshake HANDSHAKE_TIMEOUT_S and closes a connection idle for IDLE_TIMEOUT_S.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from agent.core import Agent
from agent.identity import DeviceIdentity
from agent.peer_auth import (
    FROM,
    NonceCache,
    Refused,
    SignedRequest,
    Stale,
    body_hash,
    check_request,
    sign_answer,
)
from agent.protocol import InvalidChange, parse_change

MAX_BODY = 256 * 1024
PAGE_LIMIT = 500  # changes per /peer/changes answer and per push
PAGE_BYTES = 192 * 1024  # an answer page stops growing here (it always holds one change)
MAX_CONNECTIONS = 64
HANDSHAKE_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 20.0  # longer than aiohttp's client keep-alive (15 s), so peers close first

PEER_AGENT = web.AppKey("peer_agent", Agent)
NONCES = web.AppKey("nonces", NonceCache)
BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class PeerRequestError(Exception):
    """A signed request whose content is refused (HTTP 400)."""


def create_peer_app(agent: Agent) -> web.Application:
    app = web.Application(middlewares=[signed_only], client_max_size=MAX_BODY)
    app[PEER_AGENT] = agent
    app[NONCES] = NonceCache()
    app.router.add_post("/peer/push", peer_push)
    app.router.add_get("/peer/changes", peer_changes)
    app.router.add_get("/peer/hello", peer_hello)
    return app


async def serve(
    runner: web.AppRunner, host: str, port: int, identity: DeviceIdentity, scratch: Path
) -> asyncio.AbstractServer:
    """Listen for peers with TLS and the connection cap; `runner` must be set up.
    `scratch` is where the key passes, encrypted, on its way into the TLS context."""
    assert runner.server is not None
    context = await asyncio.to_thread(identity.server_ssl_context, scratch)
    return await asyncio.get_running_loop().create_server(
        Gate(runner.server, MAX_CONNECTIONS),
        host,
        port,
        ssl=context,
        ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S,
    )


def runner_for(agent: Agent) -> web.AppRunner:
    return web.AppRunner(
        create_peer_app(agent),
        handle_signals=False,
        access_log=None,
        keepalive_timeout=IDLE_TIMEOUT_S,
    )


class Gate:
    """The peer port's protocol factory: at most `limit` connections reach aiohttp.

    The count is taken once the TLS handshake is done (connections still in their
    handshake are bounded by its timeout); a connection over the limit gets a 503 and is
    closed, so a flood of connections cannot take the memory or the peers' place.
    """

    def __init__(self, server: web.Server, limit: int) -> None:
        self.server, self.limit = server, limit

    def __call__(self) -> asyncio.Protocol:
        return _GateProtocol(self)


class _GateProtocol(asyncio.Protocol):
    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if len(self.gate.server.connections) >= self.gate.limit:
            transport.write(BUSY)
            transport.close()
            return
        handler = self.gate.server()
        transport.set_protocol(handler)
        handler.connection_made(transport)


@web.middleware
async def signed_only(request: web.Request, handler: Callable[[web.Request], Awaitable]):
    """Check a request as the module says; sign the answer. Handlers return plain dicts."""
    agent = request.app[PEER_AGENT]
    identity = agent.identity
    if identity is None:
        return _refuse(503, "this agent has no device identity")
    try:
        signed = check_request(
            request.headers,
            request.method,
            request.raw_path,
            identity.terminal,
            agent.devices,
            request.app[NONCES],
            agent.wall.now_ms(),
        )
        await _read_body(request, signed.body_sha256)
    except Stale as exc:
        return _signed(request, exc.request, {"error": str(exc)}, status=exc.status)
    except Refused as exc:
        if agent.devices.get(request.headers.get(FROM)) is None:
            agent.devices_wanted.set()  # a device registered since our last look?
        return _refuse(exc.status, str(exc))
    try:
        result = await handler(request)
    except PeerRequestError as exc:
        return _refuse(400, str(exc))
    return _signed(request, signed, result)


def _signed(
    request: web.Request, signed: SignedRequest, result: dict, status: int = 200
) -> web.Response:
    """The answer to a checked request, signed over its nonce. It carries our corrected
    time: a peer without the server sets its clock by it (a refusal as stale too)."""
    agent = request.app[PEER_AGENT]
    assert agent.identity is not None
    result["time_ms"] = agent.wall.now_ms()
    answer = json.dumps(result, separators=(",", ":")).encode()
    sender = signed.sender.terminal
    headers = sign_answer(
        agent.identity, request.method, request.raw_path, signed.nonce, answer, sender
    )
    response = web.Response(
        body=answer, status=status, content_type="application/json", headers=headers
    )
    if status != 200:
        response.force_close()  # whatever is left of the body is not read
    return response


async def _read_body(request: web.Request, signed_hash: str) -> None:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Refused(413, f"a peer request body may hold at most {MAX_BODY} bytes")
    try:
        body = await request.read()  # kept by aiohttp: handlers read it again for free
    except web.HTTPRequestEntityTooLarge:
        raise Refused(413, f"a peer request body may hold at most {MAX_BODY} bytes") from None
    if body_hash(body) != signed_hash:
        raise Refused(401, "the body is not the one that was signed")


def _refuse(status: int, reason: str) -> web.Response:
    response = web.json_response({"error": reason}, status=status)
    response.force_close()  # whatever is left of the body is not read
    return response


async def peer_push(request: web.Request) -> dict:
    try:
        data = json.loads(await request.read())
        changes = data["changes"]
        if not isinstance(changes, list) or set(data) != {"changes"}:
            raise ValueError("changes must be a list")
        for change in changes:
            parse_change(change)
        request.app[PEER_AGENT].check_clock(changes)  # FutureChange: stamped too far ahead
    except (ValueError, KeyError, TypeError, InvalidChange) as exc:
        raise PeerRequestError(f"refused, nothing stored: {exc}") from None
    await request.app[PEER_AGENT].receive(changes, "peer")
    return {"acked": [c["id"] for c in changes]}


async def peer_changes(request: web.Request) -> dict:
    try:
        after = int(request.query.get("after", "0"))
        limit = min(max(int(request.query.get("limit", str(PAGE_LIMIT))), 1), 1000)
    except ValueError:
        raise PeerRequestError("after and limit must be integers") from None
    entries = await request.app[PEER_AGENT].changes_after(max(after, 0), limit + 1)
    page, size = [], 0
    for entry in entries[:limit]:
        size += len(json.dumps(entry.change, separators=(",", ":")))
        if page and size > PAGE_BYTES:
            break
        page.append(entry)
    return {
        "changes": [e.as_json() for e in page],
        "cursor": page[-1].seq if page else after,
        "more": len(page) < len(entries),
    }


async def peer_hello(request: web.Request) -> dict:
    """The signed challenge: the answer proves this device holds its key, now."""
    return {"terminal": request.app[PEER_AGENT].terminal}
