"""The other terminals' side: agents of one POS configuration exchange changes over the LAN.

Each agent serves `POST /peer/push` and `GET /peer/changes` (docs/protocol.md, "Agent ↔
agent") and, for each peer it knows (a static list, or found by mDNS), runs two loops:
a pusher that sends every change a page made here as soon as it is committed (fast path),
and a puller that reads the peer's log after the cursor saved for that peer (catch-up
after a partition, and relaying of what the peer heard from others).

Requests are signed with HMAC-SHA256 of the per-configuration secret, as the protocol
says. Answers are signed too (header `X-Possync-Signature` over "RESPONSE <terminal>
<path>\\n<body>"), so an impostor that lacks the secret cannot feed us changes either.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from agent.backoff import Backoff
from agent.core import Agent
from agent.feed import Subscription
from agent.protocol import InvalidChange, parse_change
from agent.settings import Settings

TERMINAL_HEADER = "X-Possync-Terminal"
SIGNATURE_HEADER = "X-Possync-Signature"
MAX_BODY = 4 * 1024 * 1024
PAGE_LIMIT = 500  # changes per /peer/changes answer and per push
_TERMINAL_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

PEER_AGENT = web.AppKey("peer_agent", Agent)
log = logging.getLogger(__name__)


def sign(secret: str, method: str, target: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, method + " " + target + "\\n" + body)>`."""
    mac = hmac.new(secret.encode(), f"{method} {target}\n".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, method: str, target: str, body: bytes, signature: str | None) -> bool:
    return hmac.compare_digest(sign(secret, method, target, body), signature or "")


def config_tag(secret: str) -> str:
    """What mDNS announces for a configuration: it identifies, it does not reveal."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


# --- serving peers ----------------------------------------------------------------------


class PeerRequestError(Exception):
    """A signed request whose content is refused (HTTP 400)."""


def create_peer_app(agent: Agent) -> web.Application:
    app = web.Application(middlewares=[signed_only], client_max_size=MAX_BODY)
    app[PEER_AGENT] = agent
    app.router.add_post("/peer/push", peer_push)
    app.router.add_get("/peer/changes", peer_changes)
    return app


@web.middleware
async def signed_only(request: web.Request, handler: Callable[[web.Request], Awaitable]):
    """Check the request's signature; sign the answer. Handlers return plain dicts."""
    agent = request.app[PEER_AGENT]
    secret = agent.peer_secret
    if not secret:
        return web.json_response({"error": "no peer secret yet"}, status=503)
    body = await request.read()
    signature = request.headers.get(SIGNATURE_HEADER)
    if not request.headers.get(TERMINAL_HEADER) or not verify(
        secret, request.method, request.raw_path, body, signature
    ):
        return web.json_response({"error": "bad signature"}, status=401)
    try:
        result = await handler(request)
    except PeerRequestError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    # Our corrected time, signed with the answer: a peer without the server sets its clock by it.
    result["time_ms"] = agent.wall.now_ms()
    answer = json.dumps(result, separators=(",", ":")).encode()
    target = f"{agent.terminal} {request.raw_path}"
    headers = {
        TERMINAL_HEADER: agent.terminal,
        SIGNATURE_HEADER: sign(secret, "RESPONSE", target, answer),
    }
    return web.Response(body=answer, content_type="application/json", headers=headers)


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
    page = entries[:limit]
    return {
        "changes": [e.as_json() for e in page],
        "cursor": page[-1].seq if page else after,
        "more": len(entries) > limit,
    }


# --- reaching peers ---------------------------------------------------------------------


class PeerError(Exception):
    """A peer could not be reached or answered badly."""


class PeerRejected(PeerError):
    """Signatures do not match: the peer has another secret (another configuration?)."""


@dataclass
class Peer:
    url: str
    source: str  # "static" or "mdns"
    terminal: str | None = None
    is_self: bool = False
    reachable: bool = False
    outgoing: asyncio.Queue = field(default_factory=asyncio.Queue)
    tasks: list[asyncio.Task] = field(default_factory=list)


class Peers:
    """The peers this agent knows, and the loops that exchange changes with them."""

    def __init__(self, agent: Agent, http: aiohttp.ClientSession, settings: Settings) -> None:
        self.agent = agent
        self.http = http
        self.settings = settings
        self.timeout = aiohttp.ClientTimeout(total=settings.http_timeout_s)
        self.known: dict[str, Peer] = {}
        self._running = False
        for url in settings.peers:
            self.add(url, None, "static")

    def add(self, url: str, terminal: str | None, source: str) -> None:
        """Start exchanging with a peer, unless it is this agent or already known."""
        url = url.rstrip("/")
        if url in self.known or terminal == self.agent.terminal:
            return
        same = [p for p in self.known.values() if terminal and p.terminal == terminal]
        if same:  # the same agent: under a new address if mDNS says it moved
            if same[0].source == "mdns" and source == "mdns":
                del self.known[same[0].url]
                same[0].url = url
                self.known[url] = same[0]
            return
        peer = Peer(url, source, terminal)
        self.known[url] = peer
        if self._running:
            self._start(peer)

    async def run(self) -> None:
        """Wait for a secret, then exchange with every peer until cancelled."""
        await self._wait_for_secret()
        self._running = True
        for peer in self.known.values():
            self._start(peer)
        subscription = self.agent.feed.subscribe()
        try:
            await self._fan_out(subscription)
        finally:
            self.agent.feed.unsubscribe(subscription)
            tasks = [t for p in self.known.values() for t in p.tasks]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _wait_for_secret(self) -> None:
        while not self.agent.peer_secret:
            await self.agent.secret_event.wait()
            self.agent.secret_event.clear()

    def _start(self, peer: Peer) -> None:
        peer.tasks = [
            asyncio.create_task(self._pull_loop(peer)),
            asyncio.create_task(self._push_loop(peer)),
        ]

    async def _fan_out(self, subscription: Subscription) -> None:
        """Hand each change a page made here to every reachable peer's pusher."""
        while True:
            entries = await subscription.get()
            if entries is None:  # fell behind: the pullers will catch up
                self.agent.feed.unsubscribe(subscription)
                subscription = self.agent.feed.subscribe()
                continue
            changes = [e.change for e in entries if e.origin == "page"]
            for peer in list(self.known.values()):
                if changes and peer.reachable and not peer.is_self:
                    peer.outgoing.put_nowait(changes)

    async def _push_loop(self, peer: Peer) -> None:
        while not peer.is_self:
            changes = await peer.outgoing.get()
            while not peer.outgoing.empty() and len(changes) < PAGE_LIMIT:
                changes = changes + peer.outgoing.get_nowait()
            try:
                await self.push_to(peer, changes)
            except PeerError as exc:
                # Dropped, not lost: the peer reads our log after its cursor anyway.
                self._lost(peer, exc)

    async def _pull_loop(self, peer: Peer) -> None:
        backoff = Backoff(self.settings.backoff_min_s, self.settings.backoff_max_s)
        while not peer.is_self:
            try:
                await self.pull_from(peer)
                backoff.reset()
                delay = self.settings.peer_pull_s
            except PeerError as exc:
                self._lost(peer, exc)
                delay = max(backoff.next(), self.settings.peer_pull_s)
            await asyncio.sleep(delay)

    async def push_to(self, peer: Peer, changes: list[dict]) -> None:
        await self._request(peer, "POST", "/peer/push", {"changes": changes})

    async def pull_from(self, peer: Peer) -> int:
        """Read the peer's log after our cursor for it; return how many changes were new."""
        fresh = 0
        while not peer.is_self:
            assumed = peer.terminal
            after = await self.agent.cursor(f"peer:{assumed}") if assumed else 0
            # Until we know who answers at this address, ask for one change only.
            target = f"/peer/changes?after={after}&limit={PAGE_LIMIT if assumed else 1}"
            terminal, result = await self._request(peer, "GET", target, None)
            peer.reachable = True
            if terminal != assumed:
                peer.terminal = terminal
                peer.is_self = terminal == self.agent.terminal
                continue
            fresh += await self._store_pulled(terminal, result)
            self.agent.status.peer_synced(terminal, peer.url)
            if not result.get("more"):
                break
        return fresh

    async def _store_pulled(self, terminal: str, result: dict) -> int:
        items = result.get("changes") if isinstance(result.get("changes"), list) else []
        changes = []
        for item in items:
            try:
                change = parse_change(item.get("change") if isinstance(item, dict) else None)
                self.agent.check_clock([change])  # FutureChange: stamped too far ahead
                changes.append(change)
            except InvalidChange as exc:
                log.warning("ignoring an invalid change from peer %s: %s", terminal, exc)
        cursor = result.get("cursor")
        cursors = {f"peer:{terminal}": cursor} if isinstance(cursor, int) and cursor >= 0 else {}
        return len(await self.agent.receive(changes, "peer", cursors))

    async def _request(
        self, peer: Peer, method: str, target: str, payload: Any
    ) -> tuple[str, dict]:
        secret = self.agent.peer_secret or ""
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        headers = {
            TERMINAL_HEADER: self.agent.terminal,
            SIGNATURE_HEADER: sign(secret, method, target, body),
            "Content-Type": "application/json",
        }
        url = URL(peer.url + target, encoded=True)
        sent = self.agent.wall.local_ms()
        try:
            async with self.http.request(
                method, url, data=body or None, headers=headers, timeout=self.timeout
            ) as resp:
                answer = await resp.read()
                received = self.agent.wall.local_ms()
                terminal = resp.headers.get(TERMINAL_HEADER, "")
                signature = resp.headers.get(SIGNATURE_HEADER)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise PeerError(str(exc) or type(exc).__name__) from exc
        result = self._check_answer(status, secret, terminal, target, answer, signature)
        self.agent.wall.observe_peer(result.get("time_ms"), sent, received)
        return terminal, result

    def _check_answer(
        self, status: int, secret: str, terminal: str, target: str, answer: bytes, sig: str | None
    ) -> dict:
        if status == 401:
            raise PeerRejected("the peer refused our signature: another POS configuration?")
        if status != 200:
            raise PeerError(f"HTTP {status}: {answer[:200]!r}")
        if not _TERMINAL_RE.match(terminal) or not verify(
            secret, "RESPONSE", f"{terminal} {target}", answer, sig
        ):
            raise PeerRejected("the answer is not signed with our secret")
        try:
            result = json.loads(answer)
        except ValueError as exc:
            raise PeerError(f"the answer is not JSON: {exc}") from exc
        if not isinstance(result, dict):
            raise PeerError("the answer is not a JSON object")
        return result

    def _lost(self, peer: Peer, exc: PeerError) -> None:
        if peer.reachable or isinstance(exc, PeerRejected):
            log.warning("peer %s: %s", peer.url, exc)
        peer.reachable = False
        while not peer.outgoing.empty():
            peer.outgoing.get_nowait()
