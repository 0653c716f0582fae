"""Signing and checking peer messages (docs/protocol.md, "Agent ↔ agent").

A request is signed by its sender's device key over a canonical text naming the method,
the path with its query, the SHA-256 of the body, a timestamp, a random nonce, the sender
and the destination terminal. Its headers can be checked before a byte of the body is
read. An answer is signed by the answering device over the request's nonce, so it cannot
be replayed as the answer to another request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from agent.devices import TERMINAL_RE, Device, DeviceList
from agent.identity import DeviceIdentity

VERSION = "possync-peer-1"
FROM = "X-Possync-Terminal"
TO = "X-Possync-To"
TIME = "X-Possync-Time"
NONCE = "X-Possync-Nonce"
BODY_HASH = "X-Possync-Body-SHA256"
SIGNATURE = "X-Possync-Signature"
WINDOW_MS = 60_000  # a request stamped further from the receiver's clock is refused
MAX_NONCES = 100_000  # remembered at once; past it, requests wait for old ones to expire

_NONCE_RE = re.compile(r"^[0-9a-f]{32}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_TIME_RE = re.compile(r"^[0-9]{1,15}$")


class Refused(Exception):
    """A peer request the receiver refuses; `status` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class SignedRequest:
    """The checked signature headers of one request."""

    sender: Device
    nonce: str
    body_sha256: str


class Stale(Refused):
    """A request signed by a listed device whose time is outside the window.

    It is refused like any other, but the refusal is signed and carries the receiver's
    time: a tablet whose clock is off, and that has not heard from the server yet, can
    correct its clock from a device it trusts and ask again.
    """

    def __init__(self, request: SignedRequest) -> None:
        super().__init__(401, "stale request: its time is more than 60 s from ours")
        self.request = request


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def request_text(
    method: str, target: str, digest: str, stamp: int, nonce: str, sender: str, to: str
) -> bytes:
    lines = [VERSION, "request", method, target, digest, str(stamp), nonce, sender, to]
    return "\n".join(lines).encode()


def answer_text(method: str, target: str, nonce: str, digest: str, answerer: str, to: str) -> bytes:
    lines = [VERSION, "answer", method, target, nonce, digest, answerer, to]
    return "\n".join(lines).encode()


def sign_request(
    identity: DeviceIdentity, method: str, target: str, body: bytes, to: str, now_ms: int
) -> dict[str, str]:
    """The headers of a request from this device to terminal `to`."""
    nonce = secrets.token_hex(16)
    digest = body_hash(body)
    text = request_text(method, target, digest, now_ms, nonce, identity.terminal, to)
    return {
        FROM: identity.terminal,
        TO: to,
        TIME: str(now_ms),
        NONCE: nonce,
        BODY_HASH: digest,
        SIGNATURE: _b64(identity.sign(text)),
    }


def sign_answer(
    identity: DeviceIdentity, method: str, target: str, nonce: str, answer: bytes, to: str
) -> dict[str, str]:
    text = answer_text(method, target, nonce, body_hash(answer), identity.terminal, to)
    return {FROM: identity.terminal, SIGNATURE: _b64(identity.sign(text))}


def answer_is_signed(
    device: Device,
    method: str,
    target: str,
    nonce: str,
    answer: bytes,
    to: str,
    headers: Mapping[str, str],
) -> bool:
    """Whether `answer` comes from `device`, for our request with `nonce`."""
    if headers.get(FROM) != device.terminal:
        return False
    signature = _unb64(headers.get(SIGNATURE, ""))
    text = answer_text(method, target, nonce, body_hash(answer), device.terminal, to)
    return signature is not None and device.verify(signature, text)


class NonceCache:
    """Nonces seen within the time window, so a request is accepted once.

    A nonce can be refused as replayed only while its request is still recent (within
    WINDOW_MS of the receiver's clock), so each is kept for twice the window after it was
    seen. Memory is bounded: when MAX_NONCES are remembered, new requests are refused
    (503) until old ones expire, rather than forgetting nonces that could be replayed.
    """

    def __init__(self, window_ms: int = WINDOW_MS, limit: int = MAX_NONCES) -> None:
        self.keep_ms = 2 * window_ms
        self.limit = limit
        self._seen: set[str] = set()
        self._order: deque[tuple[int, str]] = deque()

    def add(self, nonce: str, now_ms: int) -> None:
        """Remember `nonce`; raise Refused if it was seen or there is no room."""
        while self._order and self._order[0][0] <= now_ms:
            self._seen.discard(self._order.popleft()[1])
        if nonce in self._seen:
            raise Refused(401, "replayed request: its nonce was seen before")
        if len(self._seen) >= self.limit:
            raise Refused(503, "too many requests: try again in a minute")
        self._seen.add(nonce)
        self._order.append((now_ms + self.keep_ms, nonce))

    def __len__(self) -> int:
        return len(self._seen)


def check_request(
    headers: Mapping[str, str],
    method: str,
    target: str,
    me: str,
    devices: DeviceList,
    nonces: NonceCache,
    now_ms: int,
) -> SignedRequest:
    """Check a request's signature headers, before its body is read; raise Refused.

    Cheap checks come first, so an unsigned or forged request costs one dictionary
    lookup; the nonce is remembered only once the signature holds, so forgeries cannot
    fill the cache.
    """
    sender, to, stamp = headers.get(FROM, ""), headers.get(TO, ""), headers.get(TIME, "")
    nonce, digest = headers.get(NONCE, ""), headers.get(BODY_HASH, "")
    signature = _unb64(headers.get(SIGNATURE, ""))
    if not (
        TERMINAL_RE.match(sender)
        and TERMINAL_RE.match(to)
        and _TIME_RE.match(stamp)
        and _NONCE_RE.match(nonce)
        and _SHA256_RE.match(digest)
        and signature is not None
    ):
        raise Refused(401, "unsigned request: signature headers missing or malformed")
    device = devices.get(sender)
    if device is None:
        raise Refused(401, f"{sender} is not an active device of this POS")
    if to != me:
        raise Refused(401, f"the request is addressed to {to}, not to {me}")
    text = request_text(method, target, digest, int(stamp), nonce, sender, to)
    if not device.verify(signature, text):
        raise Refused(401, "bad signature")
    if abs(int(stamp) - now_ms) > WINDOW_MS:
        raise Stale(SignedRequest(device, nonce, digest))
    nonces.add(nonce, now_ms)
    return SignedRequest(device, nonce, digest)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes | None:
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        return None
    return raw if len(raw) == 64 else None
