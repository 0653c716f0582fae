"""A stand-in for Odoo + pos_restaurant_sync, implementing only the routes possync uses.

This is NOT Odoo. It lets the agent's, the desktop app's and the security tests, and the
benchmarks, run where there is no Odoo (CI), speaking the same wire formats as the real
thing; the same scenarios run against a real Odoo in the real-Odoo tier (tests/realodoo/).
What this Odoo is (version, databases, users and API keys, POS configurations, the addon's
state, its clock) is an `Options`; what goes wrong on purpose while it runs is a `Faults`.
What it implements:

* What the desktop app's setup reads: `/web/webclient/version_info`, `/web/database/list`,
  ORM reads (`pos.config`, `ir.module.module`) over the web session's `call_kw` or over
  `/jsonrpc` with an API key, a `Date` header (off by `Options.clock_offset_s`), a login
  page and a POS page with a stand-in of the addon's script (devkit/standin_pos.py).
* Odoo's JSON-RPC envelope and session cookie: `/web/session/authenticate`,
  `/web/session/get_session_info` (with `websocket_worker_version`), Odoo's health check
  `/web/health` (no login; 503 while `faults.down`, as every route), and the addon's
  `/pos_restaurant_sync/info|push|pull|device/register|devices` exactly as docs/protocol.md
  describes them (push is idempotent by change id; every change is checked with
  agent.protocol, its clock against the stand-in's; info, push and pull answers carry
  `time_ms`; one active key per terminal, a new one revokes the old, a revoked key is
  refused with the `revoked` code; `/info` names the app versions of `Options` and a push
  announcing an older `app_version` than the minimum is refused with `app_too_old`).
* Odoo's bus websocket at `/websocket`: an Origin header is required; a User-Agent sent
  with a version other than the server's gets the socket closed with `OUTDATED_VERSION`;
  the client sends `{"event_name": "subscribe", "data": {"channels", "last"}}` and
  receives JSON arrays of `{"id", "message": {"type", "payload"}}`; `last` = 0 replays
  the last 50 s, a `last` above the newest id counts as 0. Applied changes are sent as
  type `POSSYNC_CHANGES` (`/info`'s `bus_type`) on `/info`'s `channel`, with payload
  `{"changes": [{"seq", "change"}]}`.
* A persistent change log and bus table in one SQLite file, so a restart keeps them
  (sessions, like a restarted Odoo's workers, are forgotten: clients log in again).
* A persistent change log only with a data file; without one it lives in memory.
* Fault hooks (`Faults`), set in-process or with `POST /_standin/faults`, and
  `GET /_standin/log` to read what was applied, and how often each id was pushed.

In-process: `StandIn(options, data).app()` (the tests' `standin` fixture), or
`StandInServer(options).start()` on its own thread for blocking code (the desktop app's
tests and benchmark). As a process, as the agent's tests and benchmark run it:
`python -m devkit.standin_odoo --port 0 --data FILE`; it prints
`{"event": "listening", "port": N}`. By hand, to look at the desktop app:
`python -m devkit.standin_odoo --port 8069` (login waiter / waiter-pw).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from email.utils import formatdate
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from packaging.version import Version

from agent import server_tls
from agent.protocol import InvalidChange, check_clock, parse_change
from agent.version import version
from devkit import standin_pos
from devkit.background import BackgroundServer

PASSWORD = "waiter-pw"
API_KEY = "0123456789abcdef0123456789abcdef01234567"
SESSION_COOKIE = "session_id"
BUS_REPLAY_S = 50  # Odoo's bus TIMEOUT: what a subscriber with last=0 gets
MAX_PUSH = 500
FOREIGN_ORDER = "other-config-"  # orders whose uuid starts so belong to another POS config
STANDIN = web.AppKey("standin", object)
BUS_TYPE = "POSSYNC_CHANGES"


class RpcError(Exception):
    def __init__(self, name: str, message: str, code: int = 200, context: str = "") -> None:
        super().__init__(message)
        self.name, self.message, self.code = name, message, code
        self.context = {"possync_error": context} if context else {}


@dataclass
class Faults:
    """What can go wrong on purpose."""

    websocket: bool = True  # False: /websocket is refused, like a proxy that drops it
    websocket_status: int = 404  # what refuses it: 404 (no such route), 502 (a proxy's error)
    send_ws_version: bool = True  # False: session info has no websocket_worker_version
    lose_ack_rate: float = 0.0  # a push is applied, then answered 502 (the ack is lost)
    down: bool = False  # every route answers 503
    bus_silent: bool = False  # the bus accepts subscribers but sends nothing
    advertise_version: str | None = None  # session info names this version, not the real one


def _restaurant_and_shop() -> list[dict]:
    return [
        {"id": 1, "name": "Shop", "module_pos_restaurant": False},
        {"id": 2, "name": "Restaurant", "module_pos_restaurant": True},
    ]


@dataclass
class Options:
    """What this Odoo is. The defaults are the desktop app's restaurant; `for_agents` is
    the server the agent's tests and benchmark log in to."""

    major: int = 19
    databases: list[str] | None = field(default_factory=lambda: ["restaurant"])  # None: hidden
    users: dict[str, str] = field(default_factory=lambda: {"waiter": PASSWORD})
    api_keys: dict[str, str] = field(default_factory=lambda: {"waiter": API_KEY})
    configs: list[dict] = field(default_factory=_restaurant_and_shop)
    config_id: int = 2  # the POS whose sync channel the bus carries
    addon: str = "ok"  # ok, missing, old, disabled
    addon_script: bool = True  # the POS page carries the stand-in addon script
    mode: str = "bus"
    interval_ms: int = 300
    kiosk: bool = False  # the POS's Kiosk Terminals
    pos_manager: bool = True  # the user is in point_of_sale.group_pos_manager
    ws_version: str = ""  # the bus worker's version; "" means "<major>.0-7"
    clock_offset_s: float = 0.0  # this server's clock against the true time
    # The app versions /info names (docs/protocol.md, "Versioning"); None leaves the key out.
    app_min_version: str | None = field(default_factory=version)
    app_latest_version: str | None = field(default_factory=version)
    user_lang: str = "en_US"  # the users' language (session user context, res.users)
    faults: Faults = field(default_factory=Faults)

    @classmethod
    def for_agents(cls, **changes: Any) -> Options:
        """Odoo 18, database possync, admin / admin, one restaurant POS (id 1)."""
        restaurant = [{"id": 1, "name": "Restaurant", "module_pos_restaurant": True}]
        agents = {"major": 18, "databases": ["possync"], "users": {"admin": "admin"}}
        agents |= {"api_keys": {}, "configs": restaurant, "config_id": 1}
        return cls(**agents | changes)


class StandIn:
    """One stand-in Odoo: its routes (`app()`), its state, and what tests do to it behind the
    clients' backs (`receive`, `revoke`, `prune`, `faults`, `sessions.clear()`)."""

    def __init__(self, options: Options | None = None, data: Path | str = ":memory:") -> None:
        self.options = options = options or Options()
        self.faults = options.faults
        self.config_id = options.config_id
        self.mode, self.interval_ms = options.mode, options.interval_ms
        self.ws_version = options.ws_version or f"{options.major}.0-7"
        self.channel = f"possync:{options.config_id}"
        self.protocol = 0 if options.addon == "old" else 1
        self.enabled = options.addon != "disabled"
        self.pruned_up_to = 0  # the log's retention removed every seq up to this one
        self.refuse: str | None = None  # a SyncRequestError code to answer push/pull with
        self.agent_taken: list[float] = []  # when (monotonic) a POS page took the agent
        self.sessions: dict[str, str] = {}  # session id -> its database
        # Enrolment (what a manager issued in the backend): code -> valid, used or expired,
        # and the certificate authority the server hands enrolled tablets.
        self.enrolment_codes: dict[str, str] = {}
        self.ca_pem = ""
        self.subscribers: set[asyncio.Queue] = set()
        self.sockets: set[web.WebSocketResponse] = set()
        self.bus_clients: list[dict] = []  # the User-Agent and version of each bus socket
        self.conn = sqlite3.connect(data, isolation_level=None, check_same_thread=False)
        self.conn.executescript(
            """
            PRAGMA journal_mode = wal;
            CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT UNIQUE NOT NULL, body TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS bus (id INTEGER PRIMARY KEY AUTOINCREMENT,
                channel TEXT NOT NULL, message TEXT NOT NULL, created REAL NOT NULL);
            CREATE TABLE IF NOT EXISTS pushes (id TEXT NOT NULL, status TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS devices (id INTEGER PRIMARY KEY AUTOINCREMENT,
                terminal TEXT NOT NULL, public_key TEXT UNIQUE NOT NULL,
                certificate_sha256 TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,
                lan_address TEXT);
            """
        )

    # --- the application -----------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_faulty, _dated], client_max_size=4 * 1024 * 1024)
        app[STANDIN] = self
        rpc = {
            "/web/webclient/version_info": self.version_info,
            "/web/database/list": self.database_list,
            "/web/session/authenticate": self.authenticate,
            "/web/session/get_session_info": self.session_info,
            "/web/dataset/call_kw/{path:.*}": self.call_kw,
            "/jsonrpc": self.jsonrpc,
            "/pos_restaurant_sync/info": self.info,
            "/pos_restaurant_sync/push": self.push,
            "/pos_restaurant_sync/pull": self.pull,
            "/pos_restaurant_sync/device/register": self.register_device,
            "/pos_restaurant_sync/devices": self.list_devices,
            "/pos_restaurant_sync/enroll": self.enroll,
            "/pos_restaurant_sync/enroll/authority": self.enroll_authority,
        }
        for path, method in rpc.items():
            app.router.add_post(path, _json_rpc(method))
        app.router.add_get("/websocket", self.websocket)
        app.router.add_get("/web/health", self.health)
        app.router.add_get("/web/login", self.login_page)
        app.router.add_get("/pos/ui", self.pos_page)
        app.router.add_get("/pos/ui/{config_id}", self.pos_page)
        app.router.add_post("/_standin/faults", self.set_faults)
        app.router.add_get("/_standin/log", self.read_log)
        app.router.add_post("/_standin/agent_taken", self.note_agent_taken)
        app.on_shutdown.append(lambda app: self.drop_bus())
        return app

    def now_ms(self) -> int:
        """This server's clock (the true time, off by ``Options.clock_offset_s``)."""
        return time.time_ns() // 1_000_000 + round(self.options.clock_offset_s * 1000)

    # --- what the desktop app's setup reads ----------------------------------------------

    def version_info(self, params: dict, request: web.Request, response: dict) -> dict:
        major = self.options.major
        return {
            "server_version": f"{major}.0",
            "server_version_info": [major, 0, 0, "final", 0, ""],
            "server_serie": f"{major}.0",
            "protocol_version": 1,
        }

    def database_list(self, params: dict, request: web.Request, response: dict) -> list[str]:
        if self.options.databases is None:
            raise RpcError("odoo.exceptions.AccessDenied", "Access Denied")
        return self.options.databases

    def call_kw(self, params: dict, request: web.Request, response: dict) -> Any:
        self._require_session(request)
        return self._orm(params["model"], params["method"])

    def jsonrpc(self, params: dict, request: web.Request, response: dict) -> Any:
        """Odoo's external API, as a client with an API key uses it."""
        args = params["args"]
        if params["service"] == "common" and params["method"] == "authenticate":
            login, key = args[1], args[2]
            ok = key in (self.options.users.get(login), self.options.api_keys.get(login))
            return 2 if ok else False
        if params["service"] == "object" and params["method"] == "execute_kw":
            return self._orm(args[3], args[4])
        raise RpcError("builtins.Exception", "not faked")

    def _orm(self, model: str, method: str) -> Any:
        if (model, method) == ("pos.config", "search_read"):
            return self.options.configs
        if (model, method) == ("res.users", "read"):
            return [{"id": 2, "lang": self.options.user_lang}]
        if (model, method) == ("res.users", "has_group"):
            return self.options.pos_manager
        if (model, method) == ("ir.module.module", "search_read"):
            if self.options.addon == "missing":
                return [{"id": 9, "state": "uninstalled", "latest_version": False}]
            return [{"id": 9, "state": "installed", "latest_version": self.addon_version}]
        raise web.HTTPBadRequest(text=f"{model}.{method} is not faked")

    @property
    def addon_version(self) -> str:
        return "19.0.0.9.0" if self.options.addon == "old" else f"{self.options.major}.0.1.2.0"

    async def health(self, request: web.Request) -> web.Response:
        """Odoo's health check: no login, no database (503 while `faults.down`)."""
        return web.json_response({"status": "pass"})

    async def login_page(self, request: web.Request) -> web.Response:
        return web.Response(text=standin_pos.LOGIN_PAGE, content_type="text/html")

    async def pos_page(self, request: web.Request) -> web.Response:
        if request.cookies.get(SESSION_COOKIE) not in self.sessions:
            raise web.HTTPSeeOther(f"/web/login?redirect={request.path_qs}")
        script = standin_pos.ADDON_SCRIPT if self.options.addon_script else ""
        return web.Response(text=standin_pos.page(script), content_type="text/html")

    # --- JSON-RPC routes -------------------------------------------------------------------

    def authenticate(self, params: dict, request: web.Request, response: dict) -> dict:
        db, login = params.get("db"), params.get("login")
        databases = self.options.databases
        if databases is not None and db not in databases:
            raise RpcError("odoo.exceptions.AccessError", "Database not found.")
        if login not in self.options.users or self.options.users[login] != params.get("password"):
            raise RpcError("odoo.exceptions.AccessDenied", "Access Denied")
        session = secrets.token_hex(16)
        self.sessions[session] = db
        response["cookie"] = session
        context = {"lang": self.options.user_lang, "tz": "UTC", "uid": 2}
        return {"uid": 2, "db": db, "name": login, "username": login, "user_context": context}

    def session_info(self, params: dict, request: web.Request, response: dict) -> dict:
        self._require_session(request)
        info: dict[str, Any] = {"uid": 2, "db": self.sessions[request.cookies[SESSION_COOKIE]]}
        if self.faults.send_ws_version:
            info["websocket_worker_version"] = self.faults.advertise_version or self.ws_version
        return info

    def info(self, params: dict, request: web.Request, response: dict) -> dict:
        self._require_config(request, params)
        return {
            "time_ms": self.now_ms(),
            "addon_version": self.addon_version,
            "protocol": self.protocol,
            "enabled": self.enabled,
            "mode": self.mode,
            "interval_ms": self.interval_ms,
            "kiosk": self.options.kiosk,
            "channel": self.channel,
            "bus_type": BUS_TYPE,
            **self._app_versions(),
        }

    def _app_versions(self) -> dict[str, str]:
        versions = {
            "app_min_version": self.options.app_min_version,
            "app_latest_version": self.options.app_latest_version,
        }
        return {key: value for key, value in versions.items() if value is not None}

    def _check_app(self, announced: object) -> None:
        least = self.options.app_min_version
        if isinstance(announced, str) and least and Version(announced) < Version(least):
            message = f"app_too_old: possync {announced} is too old (needs ≥ {least})"
            raise RpcError("odoo.exceptions.UserError", message, context="app_too_old")

    def register_device(self, params: dict, request: web.Request, response: dict) -> dict:
        self._require_config(request, params)
        terminal, key = params.get("terminal"), params.get("public_key")
        certificate = params.get("certificate_sha256")
        if not all(isinstance(v, str) and v for v in (terminal, key, certificate)):
            raise RpcError("odoo.exceptions.ValidationError", "terminal, public_key, certificate")
        row = self.conn.execute(
            "SELECT id, terminal, revoked FROM devices WHERE public_key = ?", [key]
        ).fetchone()
        if row and (row[2] or row[1] != terminal):
            raise RpcError("odoo.exceptions.UserError", "revoked: this key", context="revoked")
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.execute(
                "UPDATE devices SET revoked = 1 WHERE terminal = ? AND public_key != ?",
                [terminal, key],
            )
            if row is None:
                self.conn.execute(
                    "INSERT INTO devices(terminal, public_key, certificate_sha256) "
                    "VALUES (?, ?, ?)",
                    [terminal, key, certificate],
                )
            else:  # the same key with a new certificate (made again from that key)
                self.conn.execute(
                    "UPDATE devices SET certificate_sha256 = ? WHERE id = ?", [certificate, row[0]]
                )
        device_id = self.conn.execute(
            "SELECT id FROM devices WHERE public_key = ?", [key]
        ).fetchone()[0]
        return {"device_id": device_id, "terminal": terminal, "revoked": False}

    def enroll(self, params: dict, request: web.Request, response: dict) -> dict:
        """The addon's answer to a tablet's code: its set-up once, then refusals."""
        code = str(params.get("code") or "").strip().upper()
        state = self.enrolment_codes.get(code, "wrong")
        if state != "valid":
            message = f"this enrolment code is {state}"
            return {"error": {"code": f"enrol_code_{state}", "message": message}}
        self.enrolment_codes[code] = "used"
        [name] = [c["name"] for c in self.options.configs if c["id"] == self.config_id]
        return {
            "database": (self.options.databases or ["restaurant"])[0],
            "config_id": self.config_id,
            "config_name": name,
            "odoo_major": self.options.major,
            "server_url": f"{request.scheme}://{request.host}",
            "ca_pem": self.ca_pem,
        }

    def enroll_authority(self, params: dict, request: web.Request, response: dict) -> dict:
        pinned = self.ca_pem and server_tls.authority_sha256(self.ca_pem) == params.get("sha256")
        return {"ca_pem": self.ca_pem if pinned else ""}

    def list_devices(self, params: dict, request: web.Request, response: dict) -> dict:
        self._require_config(request, params)
        return {"devices": self.active_devices()}

    def active_devices(self) -> list[dict]:
        rows = self.conn.execute(
            "SELECT terminal, public_key, certificate_sha256, lan_address FROM devices "
            "WHERE revoked = 0"
        ).fetchall()
        return [
            {"terminal": t, "public_key": k, "certificate_sha256": c}
            | ({"lan_address": address} if address else {})
            for t, k, c, address in rows
        ]

    def set_lan_address(self, terminal: str, address: str | None) -> None:
        """What a POS manager does in the backend: the fixed LAN address of a tablet."""
        with self.conn:
            self.conn.execute(
                "UPDATE devices SET lan_address = ? WHERE terminal = ? AND revoked = 0",
                [address, terminal],
            )

    def add_device(self, terminal: str, public_key: str, certificate_sha256: str) -> None:
        """A device known to the server from an earlier login (not registered by this run)."""
        with self.conn:
            self.conn.execute(
                "INSERT INTO devices(terminal, public_key, certificate_sha256) VALUES (?, ?, ?)",
                [terminal, public_key, certificate_sha256],
            )

    def revoke(self, terminal: str) -> None:
        """What a POS manager does in the backend: the device's key is trusted no more."""
        self.conn.execute("UPDATE devices SET revoked = 1 WHERE terminal = ?", [terminal])

    def push(self, params: dict, request: web.Request, response: dict) -> dict:
        self._require_config(request, params)
        self._check_app(params.get("app_version"))
        changes = params.get("changes")
        if not isinstance(changes, list) or len(changes) > MAX_PUSH:
            raise RpcError("odoo.exceptions.ValidationError", "changes: a list of at most 500")
        acks = self.receive(changes)
        if random.random() < self.faults.lose_ack_rate:
            response["status"] = 502
        return {"acks": acks, "cursor": self._latest(), "time_ms": self.now_ms()}

    def receive(self, changes: list) -> list[dict]:
        """Apply changes as a push does (tests use it as "another terminal pushed")."""
        acks, applied = [], []
        with self.conn:
            self.conn.execute("BEGIN")
            for change in changes:
                ack, entry = self._apply(change)
                acks.append(ack)
                if entry:
                    applied.append(entry)
            self.conn.executemany(
                "INSERT INTO pushes(id, status) VALUES (?, ?)",
                [(a["id"], a["status"]) for a in acks],
            )
        if applied:
            self._notify({"changes": applied})
        return acks

    def _apply(self, change: Any) -> tuple[dict, dict | None]:
        change_id = change.get("id") if isinstance(change, dict) else None
        try:
            check_clock(parse_change(change), self.now_ms(), "the server")
        except InvalidChange as exc:
            return {"id": change_id, "status": "rejected", "reason": str(exc)}, None
        if change["order"].startswith(FOREIGN_ORDER):
            reason = "order of another config"
            return {"id": change_id, "status": "rejected", "reason": reason}, None
        body = json.dumps(change, separators=(",", ":"))
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO changes(id, body) VALUES (?, ?)", [change_id, body]
        )
        if cur.rowcount != 1:
            return {"id": change_id, "status": "duplicate"}, None
        return {"id": change_id, "status": "applied"}, {"seq": cur.lastrowid, "change": change}

    def pull(self, params: dict, request: web.Request, response: dict) -> dict:
        self._require_config(request, params)
        after, limit = int(params.get("after", 0)), min(int(params.get("limit", 500)), 1000)
        rows = self.conn.execute(
            "SELECT seq, body FROM changes WHERE seq > ? ORDER BY seq LIMIT ?", [after, limit + 1]
        ).fetchall()
        page = [{"seq": s, "change": json.loads(b)} for s, b in rows[:limit]]
        cursor = page[-1]["seq"] if page else after
        reset = after < self.pruned_up_to
        more, now = len(rows) > limit, self.now_ms()
        return {"changes": page, "cursor": cursor, "more": more, "reset": reset, "time_ms": now}

    def prune(self, up_to: int) -> None:
        """Forget the log up to ``up_to``, as the addon's retention does."""
        self.conn.execute("DELETE FROM changes WHERE seq <= ?", [up_to])
        self.pruned_up_to = max(self.pruned_up_to, up_to)

    def _require_session(self, request: web.Request) -> None:
        if request.cookies.get(SESSION_COOKIE) not in self.sessions:
            raise RpcError("odoo.http.SessionExpiredException", "Session expired", code=100)

    def _require_config(self, request: web.Request, params: dict) -> None:
        self._require_session(request)
        if params.get("config_id") != self.config_id:
            raise RpcError("odoo.exceptions.AccessError", "no such POS configuration")
        code = self.refuse or (None if self.enabled else "disabled")
        if code and request.path.endswith(("/push", "/pull")):
            # The addon's SyncRequestError: a UserError whose context names the code.
            raise RpcError("odoo.exceptions.UserError", f"{code}: refused", context=code)

    def _latest(self) -> int:
        return self.conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]

    # --- the bus -------------------------------------------------------------------------

    def _notify(self, payload: dict) -> None:
        message = {"type": BUS_TYPE, "payload": payload}
        cur = self.conn.execute(
            "INSERT INTO bus(channel, message, created) VALUES (?, ?, ?)",
            [self.channel, json.dumps(message), time.time()],
        )
        notification = {"id": cur.lastrowid, "message": message}
        for queue in list(self.subscribers):
            queue.put_nowait((self.channel, notification))

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if not self.faults.websocket:
            status = self.faults.websocket_status
            return web.Response(status=status, text=f"{status} refused by the stand-in")
        if "Origin" not in request.headers:
            raise web.HTTPBadRequest(text="Origin header required")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        user_agent = request.headers.get("User-Agent")
        self.bus_clients.append({"user_agent": user_agent, "version": request.query.get("version")})
        if user_agent and request.query.get("version") != self.ws_version:
            await ws.close(code=1000, message=b"OUTDATED_VERSION")
            return ws
        if request.cookies.get(SESSION_COOKIE) not in self.sessions:
            await ws.close(code=4001, message=b"SESSION_EXPIRED")
            return ws
        self.sockets.add(ws)
        try:
            await self._serve_bus(ws)
        finally:
            self.sockets.discard(ws)
        return ws

    async def drop_bus(self) -> None:
        """Close every bus websocket, as a restarting server or a flaky network does."""
        for ws in list(self.sockets):
            await ws.close(code=1001)

    async def _serve_bus(self, ws: web.WebSocketResponse) -> None:
        queue: asyncio.Queue = asyncio.Queue()
        channels: set[str] = set()
        self.subscribers.add(queue)
        sender = asyncio.create_task(self._bus_sender(ws, queue, channels))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                event = json.loads(msg.data)
                if event.get("event_name") == "subscribe":
                    channels.clear()
                    channels.update(event["data"]["channels"])
                    for notification in self._missed(channels, int(event["data"]["last"])):
                        queue.put_nowait((notification["channel"], notification))
        finally:
            self.subscribers.discard(queue)
            sender.cancel()

    async def _bus_sender(self, ws: web.WebSocketResponse, queue: asyncio.Queue, channels: set):
        while True:
            channel, notification = await queue.get()
            if channel in channels and not self.faults.bus_silent and not ws.closed:
                frame = {"id": notification["id"], "message": notification["message"]}
                await ws.send_str(json.dumps([frame]))

    def _missed(self, channels: set[str], last: int) -> list[dict]:
        newest = self.conn.execute("SELECT coalesce(max(id), 0) FROM bus").fetchone()[0]
        if last > newest:
            last = 0
        if last:
            rows = self.conn.execute(
                "SELECT id, channel, message FROM bus WHERE id > ? ORDER BY id", [last]
            ).fetchall()
        else:
            rows = self.conn.execute(
                "SELECT id, channel, message FROM bus WHERE created > ? ORDER BY id",
                [time.time() - BUS_REPLAY_S],
            ).fetchall()
        return [
            {"id": i, "channel": c, "message": json.loads(m)} for i, c, m in rows if c in channels
        ]

    # --- control -------------------------------------------------------------------------

    async def set_faults(self, request: web.Request) -> web.Response:
        names = {f.name for f in fields(Faults)}
        for name, value in (await request.json()).items():
            if name not in names:
                raise web.HTTPBadRequest(text=f"unknown fault {name}")
            setattr(self.faults, name, value)
        return web.json_response(asdict(self.faults))

    async def note_agent_taken(self, request: web.Request) -> web.Response:
        self.agent_taken.append(time.monotonic())
        return web.Response(status=204)

    async def read_log(self, request: web.Request) -> web.Response:
        return web.json_response({"changes": self.changes(), "pushes": self.push_counts()})

    def changes(self) -> list[dict]:
        rows = self.conn.execute("SELECT seq, body FROM changes ORDER BY seq").fetchall()
        return [{"seq": s, "change": json.loads(b)} for s, b in rows]

    def push_counts(self) -> dict[str, dict[str, int]]:
        """For each change id, how many pushes got each answer (applied must be 1)."""
        counts: dict[str, dict[str, int]] = {}
        for change_id, status, n in self.conn.execute(
            "SELECT id, status, count(*) FROM pushes GROUP BY id, status"
        ):
            counts.setdefault(change_id, {})[status] = n
        return counts


def _json_rpc(method):
    """Wrap a method(params, request, response) in Odoo's JSON-RPC envelope."""

    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        response: dict[str, Any] = {}
        envelope: dict[str, Any] = {"jsonrpc": "2.0", "id": body.get("id")}
        try:
            envelope["result"] = method(body.get("params") or {}, request, response)
        except RpcError as exc:
            data = {"name": exc.name, "message": exc.message, "debug": "", "context": exc.context}
            envelope["error"] = {"code": exc.code, "message": "Odoo Server Error", "data": data}
        resp = web.json_response(envelope, status=response.get("status", 200))
        if "cookie" in response:
            cookie = response["cookie"]
            resp.set_cookie(SESSION_COOKIE, cookie, httponly=True, samesite="Lax", path="/")
        return resp

    return handler


@web.middleware
async def _faulty(request: web.Request, handler):
    standin = request.app[STANDIN]
    if standin.faults.down and not request.path.startswith("/_standin/"):
        return web.Response(status=503, text="stand-in is down on purpose")
    if standin.options.addon == "missing" and request.path.startswith("/pos_restaurant_sync/"):
        raise web.HTTPNotFound(
            text="<html><body>404 Not Found</body></html>", content_type="text/html"
        )
    return await handler(request)


@web.middleware
async def _dated(request: web.Request, handler):
    """A ``Date`` header from this server's clock, when it is off the true time."""
    response = await handler(request)
    offset = request.app[STANDIN].options.clock_offset_s
    if offset:
        response.headers["Date"] = formatdate(time.time() + offset, usegmt=True)
    return response


class StandInServer(BackgroundServer):
    """The stand-in on its own thread, for blocking code (the desktop app's tests)."""

    def __init__(
        self,
        options: Options | None = None,
        port: int = 0,
        ssl_context: Any = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.standin = StandIn(options)
        super().__init__(self.standin.app(), port, ssl_context, host)

    @property
    def options(self) -> Options:
        return self.standin.options

    def forget_sessions(self) -> None:
        """Every session expires (Odoo restarted, or the session timed out)."""
        self.standin.sessions.clear()


@contextmanager
def running(
    options: Options | None = None, port: int = 0, ssl_context: Any = None
) -> Iterator[StandInServer]:
    server = StandInServer(options, port, ssl_context).start()
    try:
        yield server
    finally:
        server.stop()


async def _serve(args: argparse.Namespace) -> None:
    if args.data:
        options = Options.for_agents(mode=args.mode, ws_version=args.ws_version)
        standin = StandIn(options, Path(args.data))
    else:
        standin = StandIn(Options(major=args.major))
        print(f"stand-in Odoo, login waiter / {PASSWORD}", flush=True)
    runner = web.AppRunner(standin.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    print(json.dumps({"event": "listening", "port": runner.addresses[0][1]}), flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data", help="SQLite file of the change log: the agents' server")
    parser.add_argument("--mode", choices=("bus", "interval"), default="bus")
    parser.add_argument("--ws-version", default="18.0-7")
    parser.add_argument("--major", type=int, default=19, help="without --data: Odoo's version")
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
