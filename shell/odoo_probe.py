"""The questions the setup screen and `possync doctor` ask an Odoo server.

Each step raises ``ProbeError`` with a ``code`` the UI can switch on, a ``message`` saying
what is wrong and a ``hint`` saying what to do about it. The calls go through the shared
Odoo client (agent/odoo_rpc.py); this module tells apart the failures users actually
hit: wrong address, TLS, a server that is not Odoo, bad credentials, the addon missing or
too old, the websocket blocked by a proxy (odoo/odoo#106339, #139566).
"""

from __future__ import annotations

import asyncio
import email.utils
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from agent import server_tls
from agent.odoo_rpc import (
    AccessDenied,
    BusUnavailable,
    NotAllowed,
    NotFound,
    NotJson,
    NotJsonRpc,
    OdooCallError,
    OdooError,
    OdooSession,
    Redirected,
    Reply,
    ServerFailing,
    SessionExpired,
    WebSession,
)
from agent.protocol import PROTOCOL_VERSION
from shell.i18n import N_, _
from shell.settings import ServerTls

ADDON = "pos_restaurant_sync"
# The oldest addon (module version after the Odoo series) this app works with.
MIN_ADDON_VERSION = (1, 2, 0)  # 1.1: pull answers `reset`; 1.2: lines carry attribute values
DEFAULT_TIMEOUT_S = 8.0
POS_MANAGER_GROUP = "point_of_sale.group_pos_manager"


class ProbeError(Exception):
    """``transient``: no usable answer that may come later (a timeout, a refused connection,
    HTTP 5xx: a loaded or restarting server), so asking again may help; a refusal (wrong
    password, access denied, no addon) or a wrong address stays as it is."""

    def __init__(self, code: str, message: str, hint: str = "", transient: bool = False) -> None:
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint
        self.transient = transient

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "hint": self.hint}


@dataclass
class ServerInfo:
    version: str
    major: int
    clock_skew_s: float | None  # server clock minus ours, from the HTTP Date header


@dataclass
class AddonInfo:
    version: str
    protocol: int | None = None
    enabled: bool | None = None
    mode: str | None = None
    # /info's app_min_version and app_latest_version (agent/app_update.py reads them);
    # None when read without /info (an API key) or from an addon that names none.
    app_versions: dict | None = None
    kiosk: bool | None = None  # the POS's Kiosk Terminals (None: the addon does not say)


@dataclass
class Login:
    uid: int
    # An API key is refused by Odoo's interactive login: the window then logs in once
    # by hand and keeps the session.
    api_key: bool = False
    # The user's language in Odoo (``fr_FR``): the app follows it (shell/i18n.py).
    lang: str = ""


class OdooProbe:
    """One conversation with one server; keeps the session cookie between calls."""

    def __init__(
        self, server_url: str, timeout: float = DEFAULT_TIMEOUT_S, tls: ServerTls | None = None
    ) -> None:
        self.url = server_url.rstrip("/")
        self.timeout = timeout
        self.tls = tls or ServerTls()
        self.db = ""
        self.login_info: Login | None = None
        self._secret = ""
        self._login = ""
        self._http: aiohttp.ClientSession | None = None
        self._odoo: OdooSession | None = None

    async def __aenter__(self) -> OdooProbe:
        # unsafe=True: keep cookies from servers addressed by IP (127.0.0.1, LAN servers).
        self._http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._http is not None
        await self._http.close()

    # ------------------------------------------------------------------ steps

    async def server(self) -> ServerInfo:
        """Is there an Odoo at this address, and which version?"""
        reply = await self._exchange("/web/webclient/version_info", {})
        result, date = reply.result, reply.date
        info = result.get("server_version_info") if isinstance(result, dict) else None
        if not info:
            raise _failure("not_odoo", url=self.url)
        major = int(str(info[0]).split("~")[-1].split(".")[0].replace("saas", "") or 0)
        skew = None
        if date:
            skew = email.utils.parsedate_to_datetime(date).timestamp() - time.time()
        return ServerInfo(str(result.get("server_version", info[0])), major, skew)

    async def databases(self) -> list[str] | None:
        """The server's databases, or None when the server hides the list."""
        try:
            result = await self._rpc("/web/database/list", {})
        except ProbeError as exc:
            # list_db = False answers AccessDenied or 404: the user types the name.
            if exc.code in ("server_error", "bad_credentials", "not_found"):
                return None
            raise
        return list(result) if isinstance(result, list) else None

    async def login(self, db: str, login: str, secret: str) -> Login:
        """Log in with a password; fall back to the API-key route Odoo keeps for RPC."""
        self.db, self._login, self._secret = db, login, secret
        try:
            session = await self.web_login(db, login, secret)
        except ProbeError as exc:
            if exc.code != "bad_credentials":
                raise
        else:
            self.login_info = Login(session.uid, lang=session.lang)
            return self.login_info
        uid = await self._api_key_uid()
        if not uid:
            raise ProbeError(
                "bad_credentials",
                _("Odoo refused the login {login!r} with this password.").format(login=login),
                _("Check the login and password (or API key) of a user allowed on this POS."),
            )
        self.login_info = Login(uid, api_key=True)
        self.login_info.lang = await self._user_lang(uid)
        return self.login_info

    async def web_login(self, db: str, login: str, secret: str) -> WebSession:
        """Odoo's interactive login (what its login page does), from Python: the session's
        cookies, for the web view. API keys and two-factor users are refused here."""
        try:
            return await self._odoo_session().login(db, login, secret)
        except AccessDenied as exc:
            if exc.detail:
                raise self._explain(exc) from exc
            refused = _("Odoo refused the login {login!r}.").format(login=login)
            raise ProbeError("bad_credentials", refused) from exc
        except OdooCallError as exc:
            problem = self._explain(exc)
            if problem.code == "server_error" and "database" in problem.message.lower():
                raise _failure("no_database", db=db) from exc
            raise problem from exc

    async def pos_configs(self) -> list[dict[str, Any]]:
        """The POS configurations this user can open, restaurants first."""
        rows = await self.call_kw(
            "pos.config", "search_read", [[]], {"fields": ["id", "name", "module_pos_restaurant"]}
        )
        configs = [
            {"id": r["id"], "name": r["name"], "restaurant": bool(r.get("module_pos_restaurant"))}
            for r in rows
        ]
        return sorted(configs, key=lambda c: (not c["restaurant"], c["name"].lower()))

    async def is_pos_manager(self, config_id: int) -> bool:
        """Is the logged-in user a POS manager (``point_of_sale.group_pos_manager``) who
        can open this POS?"""
        assert self.login_info is not None
        manager = await self.call_kw(
            "res.users", "has_group", [[self.login_info.uid], POS_MANAGER_GROUP], {}
        )
        return bool(manager) and config_id in {c["id"] for c in await self.pos_configs()}

    async def addon(self, config_id: int) -> AddonInfo:
        """The addon's version and whether it is on for this POS; raises when unusable."""
        if self.login_info and not self.login_info.api_key:
            info = await self._addon_route(config_id)
        else:
            info = await self._addon_module()
        _check_addon(info)
        return info

    async def websocket(self) -> None:
        """Can a client open Odoo's bus websocket (what live sync rides on)?"""
        try:
            ws = await self._odoo_session().open_websocket()
        except BusUnavailable as exc:
            detail = f"HTTP {exc.status}" if exc.status else type(exc.__cause__).__name__
            raise _failure("websocket_blocked", detail=detail) from exc
        await ws.close()

    async def select_database(self, db: str) -> None:
        """Open a session on ``db`` of a server with several databases (what a link with
        ``?db=`` does), so routes without a login reach that database."""
        try:
            await self._odoo_session().select_database(db)
        except OdooCallError as exc:
            raise self._explain(exc) from exc

    async def enrol(self, code: str) -> dict[str, Any]:
        """Trade an enrolment code for this tablet's set-up (the addon's answer as it is)."""
        answer = await self._addon_call("enroll", {"code": code}, missing="enrol_missing")
        return answer if isinstance(answer, dict) else {}

    async def authority(self, sha256: str) -> str:
        """The certificate authority PEM the server has under this fingerprint, or ""."""
        params = {"sha256": sha256}
        answer = await self._addon_call("enroll/authority", params, missing="enrol_missing")
        return str(answer.get("ca_pem") or "") if isinstance(answer, dict) else ""

    async def call_kw(self, model: str, method: str, args: list, kwargs: dict) -> Any:
        """An ORM call, with the web session or, for an API key, over /jsonrpc."""
        if self.login_info and self.login_info.api_key:
            call = [self.db, self.login_info.uid, self._secret, model, method, args, kwargs]
            return await self._rpc(
                "/jsonrpc", {"service": "object", "method": "execute_kw", "args": call}
            )
        params = {"model": model, "method": method, "args": args, "kwargs": kwargs}
        return await self._rpc(f"/web/dataset/call_kw/{model}/{method}", params)

    # ------------------------------------------------------------------ helpers

    async def _user_lang(self, uid: int) -> str:
        """The user's language (an API-key login has no session to carry it)."""
        try:
            rows = await self.call_kw("res.users", "read", [[uid], ["lang"]], {})
        except ProbeError:
            return ""
        return str(rows[0].get("lang") or "") if rows else ""

    async def _api_key_uid(self) -> int | None:
        args = [self.db, self._login, self._secret, {}]
        try:
            uid = await self._rpc(
                "/jsonrpc", {"service": "common", "method": "authenticate", "args": args}
            )
        except ProbeError:
            return None
        return int(uid) if uid else None

    async def _addon_call(self, route: str, params: dict, missing: str) -> Any:
        """A call to one of the addon's routes; ProbeError ``missing`` when it is not there."""
        try:
            return await self._rpc(f"/{ADDON}/{route}", params)
        except ProbeError as exc:
            if exc.code == "not_found":
                raise _failure(missing) from exc
            raise

    async def _addon_route(self, config_id: int) -> AddonInfo:
        info = await self._addon_call("info", {"config_id": config_id}, missing="addon_missing")
        return AddonInfo(
            str(info.get("addon_version", "")),
            info.get("protocol"),
            info.get("enabled"),
            info.get("mode"),
            {key: info.get(key) for key in ("app_min_version", "app_latest_version")},
            info.get("kiosk"),
        )

    async def _addon_module(self) -> AddonInfo:
        rows = await self.call_kw(
            "ir.module.module",
            "search_read",
            [[["name", "=", ADDON]]],
            {"fields": ["state", "latest_version"]},
        )
        if not rows or rows[0]["state"] != "installed":
            raise _failure("addon_missing")
        return AddonInfo(str(rows[0].get("latest_version") or ""))

    def _odoo_session(self) -> OdooSession:
        """The shared Odoo client, once the address passed the TLS rules."""
        assert self._http is not None
        if self._odoo is None:
            tls = self._tls_context()
            self._odoo = OdooSession(self._http, self.url, self.timeout, tls)
        return self._odoo

    def _tls_context(self) -> ssl.SSLContext:
        """Refuse cleartext to the network; the TLS context with the server's CA file."""
        try:
            server_tls.check_server_url(self.url, self.tls.allow_insecure_http)
        except server_tls.InsecureServer as exc:
            raise ProbeError(
                "insecure_http",
                _(
                    "{url} is not encrypted (http://): possync does not send a password "
                    "or orders to another computer in clear."
                ).format(url=self.url),
                _(
                    "Use the server's https:// address. For a test server only, tick "
                    "“Allow unencrypted http://” (a red notice then stays on the window)."
                ),
            ) from exc
        try:
            return server_tls.client_context(self.tls.ca_file or None, self.tls.ca_pem)
        except (OSError, ssl.SSLError) as exc:
            raise ProbeError(
                "tls_ca_file",
                _("The server certificate file {file} cannot be used ({error}).").format(
                    file=self.tls.ca_file, error=exc
                ),
                _("Choose the PEM file of the server's certificate authority again."),
            ) from exc

    async def _rpc(self, path: str, params: dict) -> Any:
        return (await self._exchange(path, params)).result

    async def _exchange(self, path: str, params: dict) -> Reply:
        try:
            return await self._odoo_session().exchange(path, params)
        except OdooCallError as exc:
            raise self._explain(exc) from exc

    def _explain(self, exc: OdooCallError) -> ProbeError:
        """What a failed call means for the person setting possync up."""
        if isinstance(exc, OdooError):
            return _odoo_problem(exc, self.url)
        return _unreachable_problem(exc, self.url, self.timeout)


def _unreachable_problem(exc: OdooCallError, url: str, timeout: float) -> ProbeError:
    """No usable answer: told apart by what failed (``exc.__cause__``)."""
    cause = exc.__cause__
    if isinstance(exc, NotJson):  # a web page: another server, a portal, a proxy
        return _failure("not_odoo", url=url)
    if isinstance(exc, ServerFailing):
        return ProbeError(
            "server_error",
            _("The server answered HTTP {status}.").format(status=exc.status),
            _("Odoo or a proxy in front of it is failing; look at the server's log."),
            transient=True,
        )
    if isinstance(cause, aiohttp.ClientSSLError):
        return _tls_error(cause)
    if isinstance(cause, aiohttp.ClientConnectorDNSError):
        return ProbeError(
            "wrong_url",
            _("No server called {host!r} was found.").format(host=urlsplit(url).hostname),
            _("Check the spelling of the server address."),
            transient=True,  # or the tablet's network is not up yet
        )
    if isinstance(cause, aiohttp.ClientConnectorError):
        refused = isinstance(cause.os_error, ConnectionRefusedError)
        why = _("connection refused") if refused else cause.strerror or cause
        return ProbeError(
            "wrong_url",
            _("Nothing answers at {url} ({why}).").format(url=url, why=why),
            _("Check the address and port (Odoo's own port is 8069) and that Odoo is running."),
            transient=True,
        )
    if isinstance(cause, TimeoutError | aiohttp.ServerTimeoutError):
        return ProbeError(
            "timeout",
            _("{url} did not answer within {timeout:g} s.").format(url=url, timeout=timeout),
            _("Check the network of this tablet; a firewall may be dropping the connection."),
            transient=True,
        )
    return ProbeError(
        "wrong_url",
        _("The connection to {url} failed: {cause}.").format(url=url, cause=cause),
        _("Check the address."),
        transient=True,  # cut or reset mid-answer
    )


def _odoo_problem(exc: OdooError, url: str) -> ProbeError:
    """What an answer that is not a result means for the person setting possync up."""
    if isinstance(exc, Redirected):
        return ProbeError(
            "wrong_url",
            _("The server sends possync to {location}.").format(location=exc.location),
            _("Use that address (often the https:// form) as the server address."),
        )
    if isinstance(exc, NotFound):
        path = urlsplit(url).path + exc.path
        return ProbeError("not_found", _("{path} does not exist on this server.").format(path=path))
    if isinstance(exc, NotJsonRpc):
        return ProbeError("not_odoo", _("The server's answer is not JSON-RPC."))
    if isinstance(exc, SessionExpired | AccessDenied) and not isinstance(exc, NotAllowed):
        return ProbeError("bad_credentials", exc.detail or _("unknown error"))
    if exc.detail:
        return ProbeError("server_error", _("Odoo answered: {detail}").format(detail=exc.detail))
    return _failure("not_odoo", url=url)  # an HTTP status Odoo does not answer with


def _tls_error(exc: aiohttp.ClientSSLError) -> ProbeError:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return ProbeError(
            "tls",
            _("The server's TLS certificate is not trusted ({error}).").format(
                error=exc.certificate_error
            ),
            _(
                "Use the name the certificate was issued for. A server with its own (or a "
                "self-signed) certificate: choose its certificate authority's PEM file under "
                "“Server certificate”."
            ),
        )
    return ProbeError(
        "tls",
        _("The secure (TLS) connection failed ({error}).").format(error=exc.os_error),
        _(
            "Check the port: it must be the server's https port (a proxy's 443, not Odoo's "
            "own 8069, which speaks plain http)."
        ),
    )


# The failures raised by code alone: code → (message, hint), filled in and translated by
# _failure.
_FAILURES = {
    "not_odoo": (
        N_("{url} answers, but not like an Odoo server."),
        N_("Use the address of the Odoo server itself (what you open in a browser before /odoo)."),
    ),
    "no_database": (
        N_("The server has no database called {db!r}."),
        N_("Pick the database from the list, or ask your administrator for its name."),
    ),
    "addon_missing": (
        N_("The {addon} addon is not installed on this database."),
        N_("Install “POS Restaurant Real-Time Sync” from Odoo's Apps (see the README)."),
    ),
    "enrol_missing": (
        N_("This server does not take enrolment codes (no {addon} addon, or an older one)."),
        N_("Update the addon on the server, or set this tablet up by hand below."),
    ),
    "websocket_blocked": (
        N_("The server's real-time channel (/websocket) cannot be reached ({detail})."),
        N_(
            "Behind a reverse proxy, route /websocket to Odoo's gevent port (8072) with the "
            "Upgrade and Connection headers. Until then possync polls the server instead."
        ),
    ),
}


def _failure(code: str, **values: object) -> ProbeError:
    message, hint = _FAILURES[code]
    return ProbeError(code, _(message).format(addon=ADDON, **values), _(hint))


def _version_tuple(version: str) -> tuple[int, ...]:
    numbers = [int(p) for p in version.split(".") if p.isdigit()]
    # "19.0.1.2.0": the series comes first, the addon's own version is the last three.
    return tuple(numbers[-3:]) if len(numbers) >= 3 else tuple(numbers)


def _check_addon(info: AddonInfo) -> None:
    too_old = info.version and _version_tuple(info.version) < MIN_ADDON_VERSION
    if too_old or (info.protocol is not None and info.protocol < PROTOCOL_VERSION):
        raise ProbeError(
            "addon_old",
            _("The {addon} addon on the server is too old (version {version}).").format(
                addon=ADDON, version=info.version
            ),
            _("Update the addon on the server to the version shipped with this app."),
        )
    if info.protocol is not None and info.protocol > PROTOCOL_VERSION:
        raise ProbeError(
            "app_old",
            _("The server's addon speaks protocol {server}; this app speaks {app}.").format(
                server=info.protocol, app=PROTOCOL_VERSION
            ),
            _("Update possync on this tablet."),
        )
    if info.enabled is False:
        raise ProbeError(
            "addon_disabled",
            _("Real-time sync is switched off for this POS."),
            _("In Odoo: Settings → Point of Sale → Restaurant → switch on Real-Time Sync."),
        )


async def web_session(
    server_url: str, tls: ServerTls, db: str, login: str, secret: str
) -> WebSession:
    """Log in for the POS window: the session cookies to put in its cookie store."""
    async with OdooProbe(server_url, tls=tls) as probe:
        return await probe.web_login(db, login, secret)


async def pos_kiosk(
    server_url: str, tls: ServerTls, db: str, login: str, secret: str, config_id: int
) -> bool | None:
    """Are this POS's terminals kiosks (its addon's /info)? None when the server does not
    say: an API key reads no addon route, an older addon has no such setting."""
    async with OdooProbe(server_url, tls=tls) as probe:
        if (await probe.login(db, login, secret)).api_key:
            return None
        return (await probe._addon_route(config_id)).kiosk


async def pos_manager(
    server_url: str, tls: ServerTls, db: str, login: str, secret: str, config_id: int
) -> bool:
    """Does this login belong to a POS manager allowed on this POS?"""
    async with OdooProbe(server_url, tls=tls) as probe:
        await probe.login(db, login, secret)
        return await probe.is_pos_manager(config_id)


def run(coro: Any) -> Any:
    """Run a probe coroutine from a plain (non-GUI) thread."""
    return asyncio.run(coro)
