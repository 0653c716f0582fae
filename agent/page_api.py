"""The page's side: a loopback WebSocket for changes both ways and `GET /status`.

Messages are those of docs/protocol.md, "Page ↔ local agent". Only a caller on loopback
that holds this launch's token, and whose Origin (when it sends one, as browsers always
do) is an allowed one, gets anything at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from agent.core import Agent
from agent.feed import Subscription
from agent.incoming import is_seq
from agent.protocol import PROTOCOL_VERSION, InvalidChange, parse_change
from agent.store import Entry

MAX_MESSAGE = 1024 * 1024  # the protocol's limit for one text frame
# aiohttp closes the socket above this; between the two limits the page gets `too_large`.
HARD_LIMIT = 16 * MAX_MESSAGE
REPLAY_CHUNK = 500  # changes per `changes` message when replaying the log
PUSHES_IN_FLIGHT = 64  # concurrent pushes per page, so their commits can share an fsync
LOOPBACK = ("127.0.0.1", "::1")

log = logging.getLogger(__name__)

AGENT = web.AppKey("agent", Agent)
TOKEN = web.AppKey("page_token", str)
ALLOWED_ORIGINS = web.AppKey("allowed_origins", list)
PAGES = web.AppKey("pages", set)


class MessageError(Exception):
    """A page message that is refused; `code` is the protocol's error code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def setup_page_api(app: web.Application, token: str, origins: list[str]) -> None:
    """Routes and guard of the page API; app[AGENT] is set when the store opens."""
    app[TOKEN] = token
    app[ALLOWED_ORIGINS] = origins
    app[PAGES] = set()
    app.middlewares.append(page_guard)
    app.router.add_get("/page", page_socket)
    app.router.add_get("/status", status_endpoint)
    app.on_shutdown.append(_close_pages)


async def _close_pages(app: web.Application) -> None:
    # Open sockets would hold the server's graceful shutdown for its whole timeout.
    for page in list(app[PAGES]):
        await page.ws.close(code=WSCloseCode.GOING_AWAY, message=b"agent stopping")


def _refuse(status: int, error: str, detail: str) -> web.Response:
    return web.json_response({"error": error, "detail": detail}, status=status)


@web.middleware
async def page_guard(request: web.Request, handler: Callable[[web.Request], Awaitable]):
    """Loopback, then Origin, then the token; nothing else runs for a stranger."""
    if request.remote not in LOOPBACK:
        return _refuse(403, "forbidden", "the page API answers on loopback only")
    origin = request.headers.get("Origin")
    if origin is not None and origin not in request.app[ALLOWED_ORIGINS]:
        return _refuse(403, "forbidden", f"origin {origin} is not allowed")
    if not _token_ok(request):
        return _refuse(401, "unauthorized", "missing or wrong token")
    return await handler(request)


def _token_ok(request: web.Request) -> bool:
    if request.path == "/page":
        given = request.query.get("token", "")
    else:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
    return hmac.compare_digest(given.encode(), request.app[TOKEN].encode())


async def status_endpoint(request: web.Request) -> web.Response:
    return web.json_response(await request.app[AGENT].snapshot())


async def page_socket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=HARD_LIMIT, heartbeat=30)
    await ws.prepare(request)
    page = PageSession(ws, request.app[AGENT])
    request.app[PAGES].add(page)
    try:
        await page.run()
    finally:
        request.app[PAGES].discard(page)
    return ws


class PageSession:
    """One connected page: its messages in, and changes and status out, in order."""

    def __init__(self, ws: web.WebSocketResponse, agent: Agent) -> None:
        self.ws = ws
        self.agent = agent
        self.outgoing: asyncio.Queue[dict | None] = asyncio.Queue()
        self.pushes = asyncio.Semaphore(PUSHES_IN_FLIGHT)
        self.tasks: set[asyncio.Task] = set()
        self.follower: asyncio.Task | None = None

    def send(self, message: dict) -> None:
        self.outgoing.put_nowait(message)

    async def run(self) -> None:
        writer = asyncio.create_task(self._write())
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.TEXT:
                    await self._dispatch(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self._error(MessageError("bad_json", "send JSON text frames"))
        finally:
            for task in [*self.tasks, self.follower]:
                if task is not None:
                    task.cancel()
            self.outgoing.put_nowait(None)
            await writer

    async def _write(self) -> None:
        while (message := await self.outgoing.get()) is not None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_str(json.dumps(message, separators=(",", ":")))

    async def _dispatch(self, text: str) -> None:
        try:
            message = parse_message(text)
            if message["type"] == "hello":
                await self._hello(message)
            else:
                await self.pushes.acquire()
                task = asyncio.create_task(self._push(message["changes"]))
                self.tasks.add(task)
                task.add_done_callback(self._push_done)
        except MessageError as exc:
            self._error(exc)

    def _push_done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        self.pushes.release()

    async def _push(self, changes: list[dict]) -> None:
        try:
            await self.agent.receive(changes, "page")
        except InvalidChange as exc:  # stamped too far ahead (FutureChange)
            self._error(MessageError("invalid_change", f"{exc}. Nothing was stored."))
            return
        except Exception as exc:
            # Not stored, so not acknowledged: closing makes the page reconnect and send
            # its unacknowledged changes again. The protocol has no error code for this.
            log.error("cannot store changes from a page: %s", exc)
            await self.ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"storage failed")
            return
        self.send({"type": "ack", "ids": [c["id"] for c in changes]})

    async def _hello(self, message: dict) -> None:
        if self.follower is not None:
            self.follower.cancel()
        # Subscribe before reading the log, so nothing committed in between is missed;
        # entries seen in both are sent once (by seq).
        subscription = self.agent.feed.subscribe()
        try:
            latest = await self.agent.latest_seq()
            since = message["since"]
            if since > latest:
                since = 0  # the agent's log was reset (a new database): replay everything
            self.send(
                {
                    "type": "welcome",
                    "v": PROTOCOL_VERSION,
                    "terminal": self.agent.terminal,
                    "hlc": await self.agent.fresh_reading(),
                    "seq": latest,
                    "time_ms": self.agent.wall.now_ms(),
                }
            )
            sent = await self._replay(since)
            self.send({"type": "status", "status": await self.agent.snapshot()})
        except BaseException:
            self.agent.feed.unsubscribe(subscription)
            raise
        self.follower = asyncio.create_task(self._follow(subscription, sent))

    async def _replay(self, since: int) -> int:
        while entries := await self.agent.changes_after(since, REPLAY_CHUNK):
            self._send_changes(entries)
            since = entries[-1].seq
        return since

    async def _follow(self, subscription: Subscription, sent: int) -> None:
        try:
            while (entries := await subscription.get()) is not None:
                unsent = [e for e in entries if e.seq > sent]
                if unsent:
                    self._send_changes(unsent)
                    sent = unsent[-1].seq
            # Too far behind: close, so the page reconnects and asks from its last seq.
            await self.ws.close(message=b"too far behind, reconnect")
        finally:
            self.agent.feed.unsubscribe(subscription)

    def _send_changes(self, entries: list[Entry]) -> None:
        self.send({"type": "changes", "changes": [e.as_json() for e in entries]})

    def _error(self, exc: MessageError) -> None:
        self.send({"type": "error", "error": exc.code, "detail": exc.detail})


def parse_message(text: str) -> dict:
    """Check a page message; raise MessageError with the protocol's code if it is refused."""
    if len(text) > MAX_MESSAGE or len(text.encode("utf-8")) > MAX_MESSAGE:
        raise MessageError("too_large", f"a message may hold at most {MAX_MESSAGE} bytes")
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise MessageError("bad_json", f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise MessageError("bad_json", "a message is a JSON object")
    kind = message.get("type")
    if kind == "hello":
        return _check_hello(message)
    if kind == "push":
        return _check_push(message)
    raise MessageError("unknown_type", f"unknown message type {kind!r:.40}")


def _check_keys(message: dict, allowed: set[str]) -> None:
    extra = set(message) - allowed
    if extra:
        raise MessageError("bad_json", f"unknown keys {sorted(extra)} in {message['type']}")


def _check_hello(message: dict) -> dict:
    _check_keys(message, {"type", "v", "since"})
    if message.get("v") != PROTOCOL_VERSION:
        raise MessageError(
            "version",
            f"this agent speaks protocol {PROTOCOL_VERSION}, the page {message.get('v')!r:.20}: "
            "update possync or the addon",
        )
    since = message.setdefault("since", 0)
    if not is_seq(since):
        raise MessageError("bad_json", "since must be a sequence number (an integer ≥ 0)")
    return message


def _check_push(message: dict) -> dict:
    _check_keys(message, {"type", "changes"})
    changes = message.get("changes")
    if not isinstance(changes, list):
        raise MessageError("bad_json", "push needs changes: a list of changes")
    for index, change in enumerate(changes):
        _check_change(index, change)
    return message


def _check_change(index: int, change: Any) -> None:
    label = f"change {index}"
    if isinstance(change, dict) and isinstance(change.get("id"), str):
        label += f" ({change['id'][:64]})"
    if isinstance(change, dict) and change.get("v") != PROTOCOL_VERSION:
        raise MessageError(
            "version",
            f"{label} has protocol version {change.get('v')!r:.20}; this agent speaks "
            f"{PROTOCOL_VERSION}: update possync or the addon. Nothing was stored.",
        )
    try:
        parse_change(change)
    except InvalidChange as exc:
        raise MessageError("invalid_change", f"{label}: {exc}. Nothing was stored.") from None


async def status_pusher(app: web.Application):
    """Tell connected pages when the status changes (at most a few times a second)."""
    task = asyncio.create_task(_push_status(app))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _push_status(app: web.Application) -> None:
    agent, last = app[AGENT], None
    while True:
        await agent.status_event.wait()
        agent.status_event.clear()
        if app[PAGES]:
            snapshot = await agent.snapshot()
            if snapshot != last:
                for page in list(app[PAGES]):
                    page.send({"type": "status", "status": snapshot})
                last = snapshot
        await asyncio.sleep(0.25)
