"""Talking to Odoo: JSON-RPC calls to the addon's routes and Odoo's bus websocket.

This is the only module that knows Odoo's wire formats (docs/protocol.md, "Agent or page
→ server", and the bus frames of /work/shared/docs/odoo-pos-internals.md §3). Errors come
out as three kinds: the server could not be reached (`ServerUnreachable`), it answered
with an error (`OdooError`, `AccessDenied`), or the bus websocket would not open
(`BusUnavailable`) while plain HTTP works.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from agent.clock import CorrectedClock

USER_AGENT = "possync-agent/0.1"
AUTHENTICATE = "/web/session/authenticate"
SESSION_INFO = "/web/session/get_session_info"
ADDON = "/pos_restaurant_sync/"
MISMATCH = "protocol version mismatch: update possync or the addon"
DISABLED = "real-time sync is switched off for this POS on the server"


class SyncError(Exception):
    """Something kept a sync step from finishing; the message is shown in the status."""


class ServerUnreachable(SyncError):
    """No usable answer: refused, timed out, cut, or a proxy's 5xx."""


class OdooError(SyncError):
    """Odoo answered with an error."""


class SessionExpired(OdooError):
    """The session cookie is no longer valid; logging in again fixes it."""


class AccessDenied(OdooError):
    """The login or password is wrong, or the user may not use this POS."""


class ProtocolMismatch(OdooError):
    """The server speaks another protocol version; nothing is sent until one is updated."""


class SyncDisabled(OdooError):
    """Real-time sync is switched off for this POS on the server."""


class DeviceRevoked(OdooError):
    """The server revoked this device's key: other terminals no longer trust it."""


class BusUnavailable(SyncError):
    """The bus websocket failed while HTTP works (e.g. a proxy that does not pass it)."""


class OdooClient:
    """One Odoo server, one user session (the session_id cookie lives in `http`)."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        db: str,
        login: str,
        password: str,
        timeout: float,
        tls: ssl.SSLContext | None = None,
        clock: CorrectedClock | None = None,
    ) -> None:
        """``tls``: the context for an https server (agent/server_tls.py `client_context`:
        the system's authorities plus the server's own CA file); None, the system's."""
        self.http = http
        self.tls: ssl.SSLContext | bool = tls if tls is not None else True
        self.clock = clock  # corrected by the server's time_ms in each addon answer
        self.base_url = base_url.rstrip("/")
        self.db = db
        self.login = login
        self.password = password
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.logged_in = False
        self._ids = itertools.count(1)

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    async def authenticate(self) -> None:
        params = {"db": self.db, "login": self.login, "password": self.password}
        refused = AccessDenied(f"login refused for {self.login!r}: check login and password")
        try:
            result = await self._rpc(AUTHENTICATE, params)
        except AccessDenied:
            raise refused from None
        if not isinstance(result, dict) or not result.get("uid"):
            raise refused
        self.logged_in = True

    async def call(self, route: str, params: dict) -> Any:
        """Call an authenticated route, logging in first or again when needed."""
        if not self.logged_in:
            await self.authenticate()
        try:
            return await self._timed_rpc(route, params)
        except SessionExpired:
            self.logged_in = False
            await self.authenticate()
            return await self._timed_rpc(route, params)

    async def _timed_rpc(self, route: str, params: dict) -> Any:
        """`_rpc`, timed: the addon's answers carry the server's `time_ms` (its clock)."""
        if self.clock is None:
            return await self._rpc(route, params)
        sent = self.clock.local_ms()
        result = await self._rpc(route, params)
        if isinstance(result, dict):
            self.clock.observe_server(result.get("time_ms"), sent, self.clock.local_ms())
        return result

    async def info(self, config_id: int) -> dict:
        return _expect_dict(await self.call(ADDON + "info", {"config_id": config_id}), "info")

    async def push(self, config_id: int, changes: list[dict]) -> dict:
        params = {"config_id": config_id, "changes": changes}
        return _expect_dict(await self.call(ADDON + "push", params), "push")

    async def pull(self, config_id: int, after: int, limit: int) -> dict:
        params = {"config_id": config_id, "after": after, "limit": limit}
        return _expect_dict(await self.call(ADDON + "pull", params), "pull")

    async def register_device(self, config_id: int, device: dict) -> dict:
        """Register this device (terminal, public_key, certificate_sha256) for the POS."""
        params = {"config_id": config_id, **device}
        return _expect_dict(await self.call(ADDON + "device/register", params), "register")

    async def devices(self, config_id: int) -> Any:
        """The active devices of the POS (agent.devices.DeviceList.parse reads it)."""
        return await self.call(ADDON + "devices", {"config_id": config_id})

    async def websocket_version(self) -> str | None:
        """The server's bus websocket version, read rather than hard-coded (it changes)."""
        info = await self.call(SESSION_INFO, {})
        version = info.get("websocket_worker_version") if isinstance(info, dict) else None
        return version if isinstance(version, str) and version else None

    async def open_bus(self, version: str | None, heartbeat: float):
        """Open Odoo's bus websocket with the session cookie and an Origin header.

        Odoo closes the socket (OUTDATED_VERSION) when a User-Agent is sent with another
        version than its own; without a known version we send no User-Agent at all.
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
            raise BusUnavailable(f"bus websocket refused (HTTP {exc.status})") from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise BusUnavailable(f"bus websocket failed: {_describe(exc)}") from exc

    async def _rpc(self, path: str, params: dict) -> Any:
        payload = {"jsonrpc": "2.0", "method": "call", "params": params, "id": next(self._ids)}
        try:
            async with self.http.post(
                self.base_url + path,
                json=payload,
                headers={"User-Agent": USER_AGENT},
                timeout=self.timeout,
                ssl=self.tls,
            ) as resp:
                if resp.status >= 500:
                    raise ServerUnreachable(f"{path}: HTTP {resp.status}")
                if resp.status == 404:
                    raise OdooError(_not_found(path))
                if resp.status != 200:
                    raise OdooError(f"{path}: HTTP {resp.status}")
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            raise ServerUnreachable(f"cannot reach {self.origin}: {_describe(exc)}") from exc
        if not isinstance(body, dict):
            raise OdooError(f"{path}: the answer is not JSON-RPC")
        if "error" in body:
            raise _error(body["error"])
        return body.get("result")


def _not_found(path: str) -> str:
    if path.startswith(ADDON):
        return "the pos_restaurant_sync addon is not installed on the server"
    return f"{path} not found: is this an Odoo server?"


def _error(error: Any) -> OdooError:
    data = error.get("data") if isinstance(error, dict) else None
    data = data if isinstance(data, dict) else {}
    name = str(data.get("name", ""))
    message = str(data.get("message") or (error.get("message") if isinstance(error, dict) else ""))
    if "SessionExpired" in name or (isinstance(error, dict) and error.get("code") == 100):
        return SessionExpired("session expired")
    # The addon names why it refused a push or pull (SyncRequestError).
    context = data.get("context") if isinstance(data.get("context"), dict) else {}
    code = context.get("possync_error")
    if code == "version":
        return ProtocolMismatch(MISMATCH)
    if code == "disabled":
        return SyncDisabled(DISABLED)
    if code == "revoked":
        return DeviceRevoked("this device was revoked on the server: no LAN sync")
    if "AccessDenied" in name or "AccessError" in name:
        return AccessDenied(f"access refused: {message}")
    return OdooError(f"server error: {message or name or 'unknown'}")


def _expect_dict(result: Any, what: str) -> dict:
    if not isinstance(result, dict):
        raise OdooError(f"unexpected answer to {what}: {result!r:.80}")
    return result


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
