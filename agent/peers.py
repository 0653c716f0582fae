"""Reaching the other terminals: the agents of one POS exchange changes over the LAN.

For each peer it knows (a static list, a fixed address the server lists for a device,
or found by mDNS), this agent runs two loops: a
pusher that sends every change a page made here as soon as it is committed (fast path),
and a puller that reads the peer's log after the cursor saved for that peer (catch-up
after a partition, and relaying of what the peer heard from others). The serving side
is agent/peer_server.py; the wire format is docs/protocol.md, "Agent ↔ agent".

Nothing goes to an address before it is known to be a device of this POS:

* TLS to a peer is pinned to the certificate SHA-256 the server registered for the
  terminal we mean to reach, so no one else can read what we send.
* A peer's address is verified before anything is exchanged with it: for a static
  address, the certificate it serves (read in a handshake that sends nothing) names the
  device; then a signed `GET /peer/hello` must come back signed by that device over our
  new nonce. mDNS only proposes addresses: a new address for a terminal we already
  know replaces the old one only once it answers that challenge.
* Every request is signed for its destination terminal and every answer must be signed
  by it over our request's nonce (agent/peer_auth.py).
* At most MAX_PEERS addresses are known at once, and mDNS adds only terminals on the
  server's list of devices.
* A fixed address (set by a POS manager on the server, for a Wi-Fi where mDNS does not
  reach) wins over any other address of that terminal, and mDNS cannot move it; it is
  still only a proposal: the TLS pin and the signed hello decide, as for any address. A
  route already working to that terminal is kept until the fixed address proves to be
  it (a mistyped address costs nothing), and a host name is resolved here and must lie
  on the LAN (agent/lan_range.py) before anything is sent there.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import ssl
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from agent.backoff import Backoff
from agent.core import Agent
from agent.devices import Device, fixed_url
from agent.feed import Subscription
from agent.incoming import valid_changes
from agent.lan_range import host_on_the_lan
from agent.peer_auth import NONCE, answer_is_signed, sign_request
from agent.peer_server import MAX_BODY, PAGE_LIMIT
from agent.settings import Settings

MAX_PEERS = 64
CHALLENGE_EVERY_S = 5.0  # a new address claimed for a known terminal is tried this seldom
MAX_ANSWER = 4 * 1024 * 1024  # one answer page holds at least one change, up to ~1 MiB
PUSH_BYTES = MAX_BODY - 4096  # a push's changes, leaving room for the envelope

log = logging.getLogger(__name__)


class PeerError(Exception):
    """A peer could not be reached or answered badly."""


class PeerRejected(PeerError):
    """The peer is not (or no longer) a trusted device of this POS, or refused us."""


class PeerAway(PeerError):
    """No answer at all: the peer is off, or the network between us is."""


@dataclass
class Peer:
    url: str
    source: str  # "static", "fixed" (the server's list of devices) or "mdns"
    claimed: str | None = None  # the terminal an announcement named, until verified
    terminal: str | None = None  # set once the address proved to be that device
    retired: bool = False  # this agent itself, or a second address of a known peer
    reachable: bool = False
    outgoing: asyncio.Queue = field(default_factory=asyncio.Queue)
    tasks: list[asyncio.Task] = field(default_factory=list)
    moving: asyncio.Task | None = None  # a challenge of a new address for this peer
    challenged_at: float = float("-inf")  # when `moving` was started (event-loop time)
    refusal: str | None = None  # the last refusal, logged once


def peer_url(address: str) -> str:
    """`https://host:port` for an address given as a URL (any scheme) or `host:port`:
    the peer port speaks TLS only."""
    parts = urlsplit(address if "//" in address else f"//{address}")
    if not parts.hostname or not parts.port:
        raise ValueError(f"a peer address needs a host and a port: {address!r}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"https://{host}:{parts.port}"


class Peers:
    """The peers this agent knows, and the loops that exchange changes with them."""

    def __init__(self, agent: Agent, http: aiohttp.ClientSession, settings: Settings) -> None:
        self.agent = agent
        self.http = http
        self.settings = settings
        self.timeout = aiohttp.ClientTimeout(total=settings.http_timeout_s)
        self.known: dict[str, Peer] = {}
        # Terminals announced by mDNS but not (yet) on the server's list: added if the
        # list names them later. Bounded: the oldest is forgotten first.
        self.candidates: OrderedDict[str, str] = OrderedDict()
        # One Fingerprint per certificate: aiohttp pools connections by the identity of
        # this object, so a new one per request would mean a new TLS connection each time.
        self._pins: dict[str, aiohttp.Fingerprint] = {}
        self._running = False
        for address in settings.peers:
            self.add(address, None, "static")
        self._apply_fixed_addresses()

    # --- the peer table -------------------------------------------------------------------

    def add(self, address: str, terminal: str | None, source: str) -> None:
        """Start exchanging with a peer, once it proves to be a device of this POS."""
        try:
            url = peer_url(address)
        except ValueError as exc:
            log.warning("ignoring peer: %s", exc)
            return
        if url in self.known or terminal == self.agent.terminal:
            return
        if source == "mdns" and self.agent.devices.get(terminal) is None:
            self._remember_candidate(terminal, url)
            return
        if source == "mdns" and self.fixed_url(terminal):
            return  # a manager fixed this terminal's address: announcements cannot move it
        same = [p for p in self.known.values() if terminal and terminal in (p.terminal, p.claimed)]
        if same:
            self._move(same[0], url, limited=source == "mdns")
            return
        if len(self.known) >= MAX_PEERS:
            log.warning("peer table full (%d): not adding %s", MAX_PEERS, url)
            return
        peer = Peer(url, source, claimed=terminal)
        self.known[url] = peer
        if self._running:
            self._start(peer)

    def _remember_candidate(self, terminal: str | None, url: str) -> None:
        if not terminal:
            return
        self.candidates.pop(terminal, None)
        self.candidates[terminal] = url
        while len(self.candidates) > MAX_PEERS:
            self.candidates.popitem(last=False)
        self.agent.devices_wanted.set()  # perhaps registered since our last look

    def fixed_url(self, terminal: str | None) -> str | None:
        """The fixed address the server lists for `terminal`, as a URL; None if none."""
        device = self.agent.devices.get(terminal)
        if device is None or not device.lan_address:
            return None
        return fixed_url(device.lan_address, self.settings.peer_port)

    def _apply_fixed_addresses(self) -> None:
        """Reach each other device with a fixed address there, in place of any other
        address known for it."""
        for terminal in self.agent.devices.fixed_addresses():
            url = self.fixed_url(terminal)
            if terminal == self.agent.terminal or url is None:
                continue
            here = self.known.get(url)
            if here is not None and terminal in (here.terminal, here.claimed):
                here.source = "fixed"
                continue
            if here is not None:
                self._retire(here)  # the address is this terminal's now, not another's
            # A route already working to this terminal moves there only once the fixed
            # address proves to be it: a mistyped address must not cut the LAN sync.
            self.add(url, terminal, "fixed")

    async def _adopt_candidates(self) -> None:
        """Each time the list of devices changes, follow its fixed addresses and add the
        announced terminals it names."""
        while True:
            await self.agent.devices_event.wait()
            self.agent.devices_event.clear()
            self._apply_fixed_addresses()
            for terminal, url in list(self.candidates.items()):
                if self.agent.devices.get(terminal) is not None:
                    del self.candidates[terminal]
                    self.add(url, terminal, "mdns")

    def _move(self, peer: Peer, url: str, limited: bool = True) -> None:
        """A known terminal at a new address (announced, or fixed on the server): move
        only if it answers there. One challenge at a time and, for announcements
        (``limited``), every CHALLENGE_EVERY_S at most: a flood of false announcements
        costs one connection attempt every few seconds."""
        now = asyncio.get_running_loop().time()
        if peer.moving is not None and not peer.moving.done():
            return
        if limited and now - peer.challenged_at < CHALLENGE_EVERY_S:
            return
        peer.challenged_at = now
        peer.moving = asyncio.create_task(self._challenge_new_address(peer, url))

    async def _challenge_new_address(self, peer: Peer, url: str) -> None:
        terminal = peer.terminal or peer.claimed
        assert terminal is not None
        fixed = url == self.fixed_url(terminal)
        try:
            if fixed:
                await self._check_on_the_lan(url)
            await self.hello(url, terminal)
        except PeerError as exc:
            log.warning(
                "%s at %s did not prove it there (kept at %s): %s", terminal, url, peer.url, exc
            )
            return
        if url in self.known or self.known.get(peer.url) is not peer:
            return
        log.info("peer %s moved from %s to %s", terminal, peer.url, url)
        del self.known[peer.url]
        peer.url = url
        peer.source = "fixed" if fixed else peer.source
        self.known[url] = peer

    # --- running --------------------------------------------------------------------------

    async def run(self) -> None:
        """Exchange with every peer until cancelled (the app runs it only with a device
        identity)."""
        self._running = True
        for peer in list(self.known.values()):
            self._start(peer)
        subscription = self.agent.feed.subscribe()
        adopter = asyncio.create_task(self._adopt_candidates())
        try:
            await self._fan_out(subscription)
        finally:
            self.agent.feed.unsubscribe(subscription)
            tasks = [t for p in self.known.values() for t in [*p.tasks, p.moving] if t]
            tasks.append(adopter)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

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
                if changes and peer.reachable and not peer.retired:
                    peer.outgoing.put_nowait(changes)

    async def _push_loop(self, peer: Peer) -> None:
        while not peer.retired:
            changes = await peer.outgoing.get()
            while not peer.outgoing.empty() and len(changes) < PAGE_LIMIT:
                changes = changes + peer.outgoing.get_nowait()
            try:
                for batch in push_batches(changes):
                    await self.push_to(peer, batch)
            except PeerError as exc:
                # Dropped, not lost: the peer reads our log after its cursor anyway.
                self._lost(peer, exc)

    async def _pull_loop(self, peer: Peer) -> None:
        backoff = Backoff(self.settings.backoff_min_s, self.settings.backoff_max_s)
        while not peer.retired:
            try:
                if peer.terminal is None:
                    await self.verify(peer)
                    continue
                await self.pull_from(peer)
                backoff.reset()
                delay = self.settings.peer_pull_s
            except PeerAway as exc:
                # Looked for at the pace of a peer that is there (a connection attempt on
                # the LAN), so its return is noticed within peer_pull_s, not a backoff.
                self._lost(peer, exc)
                delay = self.settings.peer_pull_s
            except PeerError as exc:  # it answers, with a refusal or an error: back off
                self._lost(peer, exc)
                delay = max(backoff.next(), self.settings.peer_pull_s)
            await asyncio.sleep(delay)

    # --- verifying an address -------------------------------------------------------------

    async def verify(self, peer: Peer) -> None:
        """Find out which device answers at `peer.url`, and have it prove it."""
        terminal = peer.claimed or await self.identify(peer.url)
        others = [p for p in self.known.values() if p is not peer and p.terminal == terminal]
        fixed = peer.url == self.fixed_url(terminal)
        if terminal == self.agent.terminal or (others and not fixed):
            self._retire(peer)  # ourselves, or a second address of a peer we reach
            return
        if fixed:
            await self._check_on_the_lan(peer.url)
        await self.hello(peer.url, terminal)
        for other in others:  # the fixed address, proven, wins over any other
            self._retire(other)
        peer.terminal = terminal

    def _retire(self, peer: Peer) -> None:
        """Stop a peer's loops and forget it (its place in the table is free again)."""
        peer.retired = True
        if self.known.get(peer.url) is peer:
            del self.known[peer.url]
        for task in [*peer.tasks, peer.moving]:
            if task is not None and task is not asyncio.current_task():
                task.cancel()

    async def identify(self, url: str) -> str:
        """The terminal whose registered certificate `url` serves. Only a TLS handshake
        takes place: nothing is sent to a host before it is known."""
        parts = urlsplit(url)
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(parts.hostname, parts.port, ssl=_handshake_only()),
                self.timeout.total,
            )
        except ssl.SSLError as exc:  # it answers, but not as a peer port does
            raise PeerError(f"{url}: {exc or type(exc).__name__}") from exc
        except (TimeoutError, OSError) as exc:
            raise PeerAway(f"{url}: {exc or type(exc).__name__}") from exc
        try:
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        finally:
            writer.close()
        device = self.agent.devices.with_certificate(hashlib.sha256(der or b"").hexdigest())
        if device is None:
            self.agent.devices_wanted.set()
            raise PeerRejected(f"{url} serves a certificate of no active device of this POS")
        return device.terminal

    async def _check_on_the_lan(self, url: str) -> None:
        """A fixed address's host (a name is resolved here) must be on the LAN."""
        host = urlsplit(url).hostname or ""
        if not await host_on_the_lan(host):
            raise PeerRejected(f"{url}: {host} is not an address of the restaurant's network")

    async def hello(self, url: str, terminal: str) -> None:
        """The signed challenge: `terminal`'s key must sign its answer over our nonce."""
        _, answer = await self._request(url, terminal, "GET", "/peer/hello", None)
        if answer.get("terminal") != terminal:
            raise PeerRejected(f"{url} answered as {answer.get('terminal')!r}, not {terminal}")

    # --- exchanging -----------------------------------------------------------------------

    async def push_to(self, peer: Peer, changes: list[dict]) -> None:
        assert peer.terminal is not None
        await self._request(peer.url, peer.terminal, "POST", "/peer/push", {"changes": changes})

    async def pull_from(self, peer: Peer) -> int:
        """Read the peer's log after our cursor for it; return how many changes were new."""
        terminal = peer.terminal
        assert terminal is not None
        received = 0
        while True:
            after = await self.agent.cursor(f"peer:{terminal}")
            target = f"/peer/changes?after={after}&limit={PAGE_LIMIT}"
            _, result = await self._request(peer.url, terminal, "GET", target, None)
            peer.reachable = True
            received += await self._store_pulled(terminal, result)
            self.agent.status.peer_synced(terminal, peer.url)
            if not result.get("more"):
                return received

    async def _store_pulled(self, terminal: str, result: dict) -> int:
        items = result.get("changes") if isinstance(result.get("changes"), list) else []
        changes = valid_changes(
            (item.get("change") if isinstance(item, dict) else None for item in items),
            f"peer {terminal}",
            lambda change: self.agent.check_clock([change]),  # FutureChange: too far ahead
        )
        cursor = result.get("cursor")
        cursors = {f"peer:{terminal}": cursor} if isinstance(cursor, int) and cursor >= 0 else {}
        return len(await self.agent.receive(changes, "peer", cursors))

    async def _request(
        self, url: str, terminal: str, method: str, target: str, payload: Any
    ) -> tuple[Device, dict]:
        """One signed request to `terminal` at `url`; its checked answer."""
        device, identity = self.agent.devices.get(terminal), self.agent.identity
        if device is None or identity is None:
            raise PeerRejected(f"{terminal} is not an active device of this POS")
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        wall = self.agent.wall
        headers = sign_request(identity, method, target, body, terminal, wall.now_ms())
        headers["Content-Type"] = "application/json"
        pin = self._pin(device.certificate_sha256)
        sent = wall.local_ms()
        try:
            async with self.http.request(
                method,
                URL(url + target, encoded=True),
                data=body or None,
                headers=headers,
                ssl=pin,
                timeout=self.timeout,
            ) as resp:
                answer = await _read_capped(resp, MAX_ANSWER)
                received = wall.local_ms()
                status, answer_headers = resp.status, resp.headers
        except aiohttp.ServerFingerprintMismatch as exc:
            self.agent.devices_wanted.set()
            raise PeerRejected(f"{url} does not serve the certificate of {terminal}") from exc
        except aiohttp.ClientSSLError as exc:
            raise PeerError(str(exc) or type(exc).__name__) from exc
        except (aiohttp.ClientConnectionError, TimeoutError, OSError) as exc:
            raise PeerAway(str(exc) or type(exc).__name__) from exc
        except aiohttp.ClientError as exc:
            raise PeerError(str(exc) or type(exc).__name__) from exc
        nonce, me = headers[NONCE], identity.terminal
        signed = answer_is_signed(device, method, target, nonce, answer, me, answer_headers)
        if signed:
            # The peer's corrected time, covered by its signature: our clock while the server
            # is away. A refusal as stale is signed too, so the next request is in time.
            wall.observe_peer(_json_object(answer).get("time_ms"), sent, received)
        if status == 401:
            raise PeerRejected(f"{terminal} refused us: {answer[:200].decode(errors='replace')}")
        if status != 200:
            raise PeerError(f"HTTP {status}: {answer[:200]!r}")
        if not signed:
            self.agent.devices_wanted.set()
            raise PeerRejected(f"the answer is not signed by {terminal}")
        return device, _json_object(answer)

    def _pin(self, sha256: str) -> aiohttp.Fingerprint:
        if sha256 not in self._pins:
            if len(self._pins) >= 2 * MAX_PEERS:
                self._pins.clear()
            self._pins[sha256] = aiohttp.Fingerprint(bytes.fromhex(sha256))
        return self._pins[sha256]

    def _lost(self, peer: Peer, exc: PeerError) -> None:
        if peer.reachable or (isinstance(exc, PeerRejected) and str(exc) != peer.refusal):
            log.warning("peer %s: %s", peer.url, exc)
        peer.refusal = str(exc) if isinstance(exc, PeerRejected) else None
        peer.reachable = False
        while not peer.outgoing.empty():
            peer.outgoing.get_nowait()


def push_batches(changes: list[dict]) -> list[list[dict]]:
    """Split changes into pushes under the peer's body cap. A change too big for any push
    is left to the peer's puller, which reads it from our log."""
    batches: list[list[dict]] = [[]]
    size = 0
    for change in changes:
        length = len(json.dumps(change, separators=(",", ":"))) + 1
        if length > PUSH_BYTES:
            continue
        if size + length > PUSH_BYTES or len(batches[-1]) >= PAGE_LIMIT:
            batches.append([])
            size = 0
        batches[-1].append(change)
        size += length
    return [b for b in batches if b]


def _handshake_only() -> ssl.SSLContext:
    """For reading a peer's certificate: no trust is decided here, the registered
    SHA-256 decides (and then every request is pinned to it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    return context


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    if resp.content_length is not None and resp.content_length > cap:
        raise PeerError(f"the answer holds {resp.content_length} bytes, more than {cap}")
    chunks, size = [], 0
    async for chunk in resp.content.iter_chunked(65536):
        size += len(chunk)
        if size > cap:
            raise PeerError(f"the answer holds more than {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _json_object(answer: bytes) -> dict:
    try:
        result = json.loads(answer)
    except ValueError as exc:
        raise PeerError(f"the answer is not JSON: {exc}") from exc
    if not isinstance(result, dict):
        raise PeerError("the answer is not a JSON object")
    return result
