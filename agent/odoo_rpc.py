"""Odoo's JSON-RPC over HTTP, for the agent and the desktop app alike.

This module owns the envelope (`rpc_body`), the reading of an answer (`rpc_result`: the
result, or Odoo's error as a typed exception), the web session (`OdooSession.login`: the
session cookie Odoo sets, kept in the aiohttp cookie jar) and TLS to the server (every
request and the bus websocket use the context given, agent/server_tls.py
`client_context`). `rpc_body` and `rpc_result` are plain functions, so a synchronous
client can build and read the same messages.

Errors come out as three kinds: the server could not be reached or gave no usable answer
(`ServerUnreachable`), it answered with an error (`OdooError` and its kinds), or the bus
websocket would not open (`BusUnavailable`) while plain HTTP works. The aiohttp error
behind a `ServerUnreachable` or `BusUnavailable` is its ``__cause__``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import ssl
from dataclasses import dataclass, field
from http.cookies import Morsel, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

import aiohttp

USER_AGENT = "possync-agent/0.1"
AUTHENTICATE = "/web/session/authenticate"
HEALTH = "/web/health"
ADDON = "/pos_restaurant_sync/"
MISMATCH = "protocol version mismatch: update possync or the addon"
DISABLED = "real-time sync is switched off for this POS on the server"
REDIRECTS = (301, 302, 303, 307, 308)


class OdooCallError(Exception):
    """A call to Odoo gave no result; the message says why (it is shown in the status)."""


class ServerUnreachable(OdooCallError):
    """No usable answer: refused, timed out, cut, TLS refused, or not JSON."""


class NotJson(ServerUnreachable):
    """The answer is not JSON: a web page (another server, a captive portal, a proxy)."""


class ServerFailing(ServerUnreachable):
    """The server or a proxy in front of it answered HTTP 5xx."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class OdooError(OdooCallError):
    """Odoo answered with an error; ``detail`` is Odoo's own message and ``debug`` its
    traceback, when it gave them."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail
        self.debug = ""


class NotFound(OdooError):
    """HTTP 404: the route does not exist (the addon is missing, or this is not Odoo)."""

    def __init__(self, path: str) -> None:
        if path.startswith(ADDON):
            message = "the pos_restaurant_sync addon is not installed on the server"
        else:
            message = f"{path} not found: is this an Odoo server?"
        super().__init__(message)
        self.path = path


class Redirected(OdooError):
    """The server sends the request elsewhere (only when redirects are not followed)."""

    def __init__(self, path: str, location: str) -> None:
        super().__init__(f"{path}: redirected to {location}")
        self.location = location


class UnexpectedStatus(OdooError):
    """An HTTP status other than 200, a redirect, 404 or 5xx."""


class NotJsonRpc(OdooError):
    """JSON that is not a JSON-RPC answer."""


class SessionExpired(OdooError):
    """The session cookie is no longer valid; logging in again fixes it."""


class AccessDenied(OdooError):
    """The login or password is wrong, or the user may not use this POS."""


class NotAllowed(AccessDenied):
    """Odoo's AccessError: logged in, but this user may not read or do this."""


class ProtocolMismatch(OdooError):
    """The server speaks another protocol version; nothing is sent until one is updated."""


class SyncDisabled(OdooError):
    """Real-time sync is switched off for this POS on the server."""


class AppTooOld(OdooError):
    """This app is older than the server accepts (its ``/info`` or its refusal of a push
    says so); nothing is sent until possync is updated on this tablet."""


class DeviceRevoked(OdooError):
    """The server revoked this device's key: other terminals no longer trust it."""


class BusUnavailable(OdooCallError):
    """The bus websocket failed while HTTP works (e.g. a proxy that does not pass it)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status that refused the upgrade, if any


def rpc_body(params: dict, request_id: int = 1) -> dict:
    """The JSON-RPC request Odoo's routes take."""
    return {"jsonrpc": "2.0", "method": "call", "params": params, "id": request_id}


def rpc_result(payload: Any, url: str) -> Any:
    """The result of a JSON-RPC answer from ``url``; its error as an `OdooError`."""
    if not isinstance(payload, dict):
        raise NotJsonRpc(f"{url}: the answer is not JSON-RPC")
    if "error" in payload:
        raise rpc_error(payload["error"])
    return payload.get("result")


def rpc_error(error: Any) -> OdooError:
    """The typed exception for the ``error`` member of a JSON-RPC answer."""
    error = error if isinstance(error, dict) else {}
    data = error.get("data") if isinstance(error.get("data"), dict) else {}
    exc = _typed_error(error, data)
    exc.debug = str(data.get("debug") or "")
    return exc


def _typed_error(error: dict, data: dict) -> OdooError:
    name = str(data.get("name", ""))
    detail = str(data.get("message") or error.get("message") or "")
    if "SessionExpired" in name or error.get("code") == 100:
        return SessionExpired("session expired", detail)
    # The addon names why it refused a push or pull (SyncRequestError).
    context = data.get("context") if isinstance(data.get("context"), dict) else {}
    code = context.get("possync_error")
    if code == "version":
        return ProtocolMismatch(MISMATCH, detail)
    if code == "disabled":
        return SyncDisabled(DISABLED, detail)
    if code == "app_too_old":
        return AppTooOld(f"too old for this server: {_after_code(detail)}", detail)
    if code == "revoked":
        return DeviceRevoked("this device was revoked on the server: no LAN sync", detail)
    if "AccessDenied" in name:
        return AccessDenied(f"access refused: {detail}", detail)
    if "AccessError" in name:
        return NotAllowed(f"access refused: {detail}", detail)
    return OdooError(f"server error: {detail or name or 'unknown'}", detail)


def _after_code(detail: str) -> str:
    """The addon's message without the code it starts with (``app_too_old: …``)."""
    return detail.partition(": ")[2] or detail


@dataclass(frozen=True)
class SessionCookie:
    """A cookie Odoo set when it accepted the login: handed to the web view's cookie
    store, never to a page."""

    name: str
    value: str = field(repr=False)
    path: str = "/"
    max_age_s: int | None = None

    @classmethod
    def from_morsel(cls, morsel: Morsel) -> SessionCookie:
        max_age = str(morsel["max-age"] or "")
        return cls(
            morsel.key,
            morsel.value,
            morsel["path"] or "/",
            int(max_age) if max_age.lstrip("-").isdigit() else None,
        )


@dataclass
class WebSession:
    """An interactive Odoo session: the user and the cookies that carry it."""

    uid: int
    cookies: list[SessionCookie]
    # The user's language in Odoo (``fr_FR``), from the session's user context.
    lang: str = ""


@dataclass
class Reply:
    """A JSON-RPC result with what the HTTP answer carried besides."""

    result: Any
    date: str | None  # the server's clock, from the HTTP Date header
    cookies: SimpleCookie


class OdooSession:
    """JSON-RPC calls to one Odoo server; the session cookie lives in ``http``'s jar
    (give it ``aiohttp.CookieJar(unsafe=True)`` so servers addressed by IP keep it)."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        timeout: float,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """``tls``: the context for an https server; None, the system's authorities.

        A redirect is never followed but raised as `Redirected`: aiohttp would send a 307's
        or 308's body (the password, the orders) again to wherever it points, plain http
        or another server, past the rules the configured address was checked against."""
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.tls: ssl.SSLContext | bool = tls if tls is not None else True
        self._ids = itertools.count(1)

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    async def call(self, path: str, params: dict) -> Any:
        """The result of one JSON-RPC call to ``path``."""
        return (await self.exchange(path, params)).result

    async def exchange(self, path: str, params: dict) -> Reply:
        """One JSON-RPC call, with the answer's Date header and cookies."""
        url = self.base_url + path
        try:
            async with self.http.post(
                url,
                json=rpc_body(params, next(self._ids)),
                headers={"User-Agent": USER_AGENT},
                timeout=self.timeout,
                ssl=self.tls,
                allow_redirects=False,
            ) as resp:
                _check_status(resp, path)
                text = await resp.text()
                date, cookies = resp.headers.get("Date"), resp.cookies
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            raise ServerUnreachable(f"cannot reach {self.origin}: {describe(exc)}") from exc
        try:
            payload = json.loads(text)
        except ValueError as exc:
            raise NotJson(f"cannot reach {self.origin}: {describe(exc)}") from exc
        return Reply(rpc_result(payload, url), date, cookies)

    async def healthy(self, timeout: float) -> bool:
        """Whether Odoo answers its health check (``/web/health``: no login, no database
        work) within ``timeout``: a cheap look for a server that was lost."""
        try:
            async with self.http.get(
                self.base_url + HEALTH,
                headers={"User-Agent": USER_AGENT},
                timeout=aiohttp.ClientTimeout(total=timeout),
                ssl=self.tls,
                allow_redirects=False,
            ) as resp:
                await resp.read()
                return resp.status == 200
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
            return False

    async def select_database(self, db: str) -> None:
        """Choose ``db`` on a server with several databases: Odoo's ``/web/login?db=``
        puts the database in the session cookie (kept in the jar) and redirects, which is
        not followed (it carries nothing to send again)."""
        url = f"{self.base_url}/web/login"
        try:
            async with self.http.get(
                url,
                params={"db": db},
                headers={"User-Agent": USER_AGENT},
                timeout=self.timeout,
                ssl=self.tls,
                allow_redirects=False,
            ) as resp:
                if resp.status not in (200, *REDIRECTS):
                    _check_status(resp, "/web/login")
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            raise ServerUnreachable(f"cannot reach {self.origin}: {describe(exc)}") from exc

    async def login(self, db: str, login: str, password: str) -> WebSession:
        """Odoo's interactive login (what its login page does); the session cookie stays
        in the jar. API keys and two-factor users are refused here."""
        params = {"db": db, "login": login, "password": password}
        refused = f"login refused for {login!r}: check login and password"
        try:
            reply = await self.exchange(AUTHENTICATE, params)
        except AccessDenied as exc:
            raise AccessDenied(refused, exc.detail) from None
        uid = reply.result.get("uid") if isinstance(reply.result, dict) else None
        if not uid:
            raise AccessDenied(refused)
        cookies = [SessionCookie.from_morsel(m) for m in reply.cookies.values()]
        lang = (reply.result.get("user_context") or {}).get("lang") or ""
        return WebSession(int(uid), cookies, str(lang))

    async def open_websocket(
        self, version: str | None = None, heartbeat: float | None = None
    ) -> aiohttp.ClientWebSocketResponse:
        """Open Odoo's bus websocket with the session cookie and an Origin header.

        Odoo closes the socket (OUTDATED_VERSION) when a User-Agent is sent with another
        version than its own; without a known version we send no User-Agent of ours.
        """
        url = self.base_url + "/websocket" + (f"?version={version}" if version else "")
        headers = {"User-Agent": USER_AGENT} if version else {}
        try:
            return await asyncio.wait_for(
                self.http.ws_connect(
                    url, origin=self.origin, headers=headers, heartbeat=heartbeat, ssl=self.tls
                ),
                self.timeout.total,
            )
        except aiohttp.WSServerHandshakeError as exc:
            raise BusUnavailable(f"bus websocket refused (HTTP {exc.status})", exc.status) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise BusUnavailable(f"bus websocket failed: {describe(exc)}") from exc


def _check_status(resp: aiohttp.ClientResponse, path: str) -> None:
    if resp.status in REDIRECTS:
        raise Redirected(path, resp.headers.get("Location", "another address"))
    if resp.status >= 500:
        raise ServerFailing(f"{path}: HTTP {resp.status}", resp.status)
    if resp.status == 404:
        raise NotFound(path)
    if resp.status != 200:
        raise UnexpectedStatus(f"{path}: HTTP {resp.status}")


def describe(exc: BaseException) -> str:
    """An aiohttp or socket error in a few words."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
