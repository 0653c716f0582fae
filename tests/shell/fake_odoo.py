"""A stand-in Odoo server for the shell's tests, screenshots and benchmark.

It answers the few routes the app uses (version, database list, login, ORM reads over the
web session or /jsonrpc, the addon's /info, the bus websocket) and serves a stand-in POS
page with a stand-in of the addon's script, which takes the agent handed over by the app
and exposes ``window.possync.pendingCount()`` like the real one.

Run alone (for looking at the app by hand)::

    python -m tests.shell.fake_odoo --port 8069
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from aiohttp import web

PASSWORD = "waiter-pw"
API_KEY = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Options:
    major: int = 19
    databases: list[str] | None = field(default_factory=lambda: ["restaurant"])
    users: dict[str, str] = field(default_factory=lambda: {"waiter": PASSWORD})
    api_keys: dict[str, str] = field(default_factory=lambda: {"waiter": API_KEY})
    configs: list[dict] = field(
        default_factory=lambda: [
            {"id": 1, "name": "Shop", "module_pos_restaurant": False},
            {"id": 2, "name": "Restaurant", "module_pos_restaurant": True},
        ]
    )
    addon: str = "ok"  # ok, missing, old, disabled
    websocket: bool = True
    clock_offset_s: float = 0.0
    # The stand-in POS page carries the stand-in addon script.
    addon_script: bool = True


OPTIONS = web.AppKey("options", Options)
SESSIONS = web.AppKey("sessions", set)


def _ok(result: Any) -> web.Response:
    return web.json_response({"jsonrpc": "2.0", "id": 1, "result": result})


def _error(name: str, message: str) -> web.Response:
    data = {"name": name, "message": message}
    error = {"code": 200, "message": "Odoo Server Error", "data": data}
    return web.json_response({"jsonrpc": "2.0", "id": 1, "error": error})


def _access_denied() -> web.Response:
    return _error("odoo.exceptions.AccessDenied", "Access Denied")


@web.middleware
async def date_header(request: web.Request, handler):  # type: ignore[no-untyped-def]
    response = await handler(request)
    offset = request.app[OPTIONS].clock_offset_s
    if offset:
        import time

        response.headers["Date"] = formatdate(time.time() + offset, usegmt=True)
    return response


async def version_info(request: web.Request) -> web.Response:
    major = request.app[OPTIONS].major
    info = [major, 0, 0, "final", 0, ""]
    return _ok({"server_version": f"{major}.0", "server_version_info": info,
                "server_serie": f"{major}.0", "protocol_version": 1})


async def database_list(request: web.Request) -> web.Response:
    databases = request.app[OPTIONS].databases
    if databases is None:
        return _access_denied()
    return _ok(databases)


async def authenticate(request: web.Request) -> web.Response:
    params = (await request.json())["params"]
    options = request.app[OPTIONS]
    if options.databases is not None and params["db"] not in options.databases:
        return _error("odoo.exceptions.AccessError", "Database not found.")
    if options.users.get(params["login"]) != params["password"]:
        return _access_denied()
    session = secrets.token_hex(16)
    request.app[SESSIONS].add(session)
    response = _ok({"uid": 2, "db": params["db"], "name": params["login"]})
    response.set_cookie("session_id", session, httponly=True, samesite="Lax")
    return response


def _logged_in(request: web.Request) -> bool:
    return request.cookies.get("session_id") in request.app[SESSIONS]


def _orm(options: Options, model: str, method: str, args: list) -> Any:
    if (model, method) == ("pos.config", "search_read"):
        return options.configs
    if (model, method) == ("ir.module.module", "search_read"):
        if options.addon == "missing":
            return [{"id": 9, "state": "uninstalled", "latest_version": False}]
        version = "19.0.0.9.0" if options.addon == "old" else f"{options.major}.0.1.2.0"
        return [{"id": 9, "state": "installed", "latest_version": version}]
    raise web.HTTPBadRequest(text=f"{model}.{method} is not faked")


async def call_kw(request: web.Request) -> web.Response:
    if not _logged_in(request):
        return _error("odoo.http.SessionExpiredException", "Session expired")
    params = (await request.json())["params"]
    return _ok(_orm(request.app[OPTIONS], params["model"], params["method"], params["args"]))


async def jsonrpc(request: web.Request) -> web.Response:
    params = (await request.json())["params"]
    options = request.app[OPTIONS]
    args = params["args"]
    if params["service"] == "common" and params["method"] == "authenticate":
        login, key = args[1], args[2]
        ok = options.users.get(login) == key or options.api_keys.get(login) == key
        return _ok(2 if ok else False)
    if params["service"] == "object" and params["method"] == "execute_kw":
        return _ok(_orm(options, args[3], args[4], args[5]))
    return _error("builtins.Exception", "not faked")


async def addon_info(request: web.Request) -> web.Response:
    options = request.app[OPTIONS]
    if options.addon == "missing":
        raise web.HTTPNotFound(text="<html><body>404 Not Found</body></html>",
                               content_type="text/html")
    if not _logged_in(request):
        return _error("odoo.http.SessionExpiredException", "Session expired")
    old = options.addon == "old"
    return _ok({
        "addon_version": "19.0.0.9.0" if old else f"{options.major}.0.1.2.0",
        "protocol": 0 if old else 1,
        "enabled": options.addon != "disabled",
        "mode": "bus",
        "interval_ms": 500,
        "channel": "token",
    })


async def websocket(request: web.Request) -> web.StreamResponse:
    if not request.app[OPTIONS].websocket:
        raise web.HTTPBadGateway(text="502 Bad Gateway")
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for _message in ws:
        pass
    return ws


LOGIN_PAGE = """<!doctype html><html><head><title>Login | Odoo</title></head>
<body style="font-family:sans-serif;background:#f0eeee">
<main style="max-width:360px;margin:80px auto;background:#fff;padding:24px;border-radius:8px">
<h2>Odoo</h2><form method="post">
<p><input name="login" placeholder="Email"></p><p><input name="password" type="password"
placeholder="Password"></p><button>Log in</button></form></main></body></html>"""


async def login_page(request: web.Request) -> web.Response:
    return web.Response(text=LOGIN_PAGE, content_type="text/html")


async def pos_page(request: web.Request) -> web.Response:
    if not _logged_in(request):
        raise web.HTTPSeeOther(f"/web/login?redirect={request.path_qs}")
    from tests.shell import pos_standin

    script = pos_standin.ADDON_SCRIPT if request.app[OPTIONS].addon_script else ""
    return web.Response(text=pos_standin.page(script), content_type="text/html")


def make_app(options: Options | None = None) -> web.Application:
    app = web.Application(middlewares=[date_header])
    app[OPTIONS] = options or Options()
    app[SESSIONS] = set()
    app.router.add_post("/web/webclient/version_info", version_info)
    app.router.add_post("/web/database/list", database_list)
    app.router.add_post("/web/session/authenticate", authenticate)
    app.router.add_post("/web/dataset/call_kw/{path:.*}", call_kw)
    app.router.add_post("/jsonrpc", jsonrpc)
    app.router.add_post("/pos_restaurant_sync/info", addon_info)
    app.router.add_get("/websocket", websocket)
    app.router.add_get("/web/login", login_page)
    app.router.add_get("/pos/ui", pos_page)
    app.router.add_get("/pos/ui/{config_id}", pos_page)
    return app


class FakeOdoo:
    """The fake server on its own event loop and thread, so blocking code can call it."""

    def __init__(
        self, options: Options | None = None, port: int = 0, ssl_context: Any = None
    ) -> None:
        self.app = make_app(options)
        self.port = port
        self.ssl_context = ssl_context
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def options(self) -> Options:
        return self.app[OPTIONS]

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> FakeOdoo:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, "127.0.0.1", self.port, reuse_address=True, ssl_context=self.ssl_context
        )
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        assert self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@contextmanager
def running(
    options: Options | None = None, port: int = 0, ssl_context: Any = None
) -> Iterator[FakeOdoo]:
    server = FakeOdoo(options, port, ssl_context).start()
    try:
        yield server
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="a stand-in Odoo for trying possync by hand")
    parser.add_argument("--port", type=int, default=8069)
    parser.add_argument("--major", type=int, default=19)
    args = parser.parse_args()
    print(f"fake Odoo on http://127.0.0.1:{args.port} (login waiter / {PASSWORD})", flush=True)
    web.run_app(make_app(Options(major=args.major)), host="127.0.0.1", port=args.port,
                print=None)


if __name__ == "__main__":
    main()
