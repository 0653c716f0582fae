"""The agent's calls to Odoo: the addon's routes and the bus websocket, as one user.

The calls go through agent/odoo_rpc.py (the JSON-RPC envelope, Odoo's errors as typed
exceptions, the web session and TLS), which the desktop app uses too; this module adds
the addon's routes (docs/protocol.md, "Agent or page → server"), logging in again when
the session expires, and the server's clock read from each addon answer.
"""

from __future__ import annotations

import ssl
from typing import Any

import aiohttp

from agent import app_update
from agent.clock import CorrectedClock
from agent.odoo_rpc import ADDON, OdooError, OdooSession, SessionExpired

SESSION_INFO = "/web/session/get_session_info"


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
        self.session = OdooSession(http, base_url, timeout, tls)
        self.clock = clock  # corrected by the server's time_ms in each addon answer
        self.db = db
        self.login = login
        self.password = password
        self.logged_in = False
        # Sent with each push: the server refuses one from an app too old for it.
        self.app_version = app_update.announced()

    @property
    def base_url(self) -> str:
        return self.session.base_url

    async def authenticate(self) -> None:
        await self.session.login(self.db, self.login, self.password)
        self.logged_in = True

    async def call(self, route: str, params: dict) -> Any:
        """Call an authenticated route, logging in first or again when needed."""
        if not self.logged_in:
            await self.authenticate()
        try:
            return await self._timed_call(route, params)
        except SessionExpired:
            self.logged_in = False
            await self.authenticate()
            return await self._timed_call(route, params)

    async def _timed_call(self, route: str, params: dict) -> Any:
        """One call, timed: the addon's answers carry the server's `time_ms` (its clock)."""
        if self.clock is None:
            return await self.session.call(route, params)
        sent = self.clock.local_ms()
        result = await self.session.call(route, params)
        if isinstance(result, dict):
            self.clock.observe_server(result.get("time_ms"), sent, self.clock.local_ms())
        return result

    async def healthy(self, timeout: float) -> bool:
        """Whether the server answers its health check (`OdooSession.healthy`)."""
        return await self.session.healthy(timeout)

    async def info(self, config_id: int) -> dict:
        return _expect_dict(await self.call(ADDON + "info", {"config_id": config_id}), "info")

    async def push(self, config_id: int, changes: list[dict]) -> dict:
        params = {"config_id": config_id, "changes": changes}
        if self.app_version is not None:
            params["app_version"] = self.app_version
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

    async def open_bus(
        self, version: str | None, heartbeat: float
    ) -> aiohttp.ClientWebSocketResponse:
        """Odoo's bus websocket, on this user's session (`OdooSession.open_websocket`)."""
        return await self.session.open_websocket(version, heartbeat)


def _expect_dict(result: Any, what: str) -> dict:
    if not isinstance(result, dict):
        raise OdooError(f"unexpected answer to {what}: {result!r:.80}")
    return result
