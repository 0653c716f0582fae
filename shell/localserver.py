"""The app's own pages (setup, offline, self-test) and the small JSON API behind them.

A loopback HTTP server, not pywebview's ``js_api``: the js_api bridge is injected into
every page the window shows, Odoo's included, while this API answers only requests that
carry the per-launch UI token, which only our own pages know (it travels in the URL
fragment, which is never sent over the network and is invisible to other origins).
Handlers run on the server's threads, never on the GUI thread, so a slow Odoo or keyring
cannot freeze the window.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import secrets
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

from shell import i18n, paths

log = logging.getLogger("possync.localserver")

Handler = Callable[[dict[str, Any]], dict[str, Any]]
TOKEN_HEADER = "X-Possync-Ui"
MAX_BODY = 64 * 1024
_STATIC_NAME = re.compile(r"^[a-z0-9_-]+\.(html|js|css|svg|png)$")
# The pages' translator: served with the catalog of the app's language in front of it.
I18N_SCRIPT = "i18n.js"


class LocalServer:
    def __init__(self, handlers: dict[str, Handler]) -> None:
        self.handlers = handlers
        self.token = secrets.token_urlsafe(24)
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_request_handler(self))
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="possync-localserver",
            daemon=True,
        ).start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def origin(self) -> str:
        assert self._httpd is not None, "start() first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, page: str, **params: str) -> str:
        """A page's address: parameters in the query, the UI token in the fragment.

        Parameters stay out of the fragment: two addresses that differ only there are
        one document to the browser, and loading the second would not load a page.
        """
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.origin}/{page}{query}#" + urlencode({"token": self.token})


def _with_catalog(script: bytes) -> bytes:
    """i18n.js behind ``window.possyncCatalog = {...};`` (no ``<`` in it, so no text of
    a catalog can close a script element)."""
    catalog = json.dumps(i18n.page_catalog(), ensure_ascii=False).replace("<", "\\u003c")
    return f"window.possyncCatalog = {catalog};\n".encode() + script


def _make_request_handler(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            name = self.path.split("?", 1)[0].lstrip("/")
            if not _STATIC_NAME.match(name) or not paths.resource_path(name).is_file():
                self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
                return
            body = paths.resource_path(name).read_bytes()
            if name == I18N_SCRIPT:
                body = _with_catalog(body)
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
            self._send(HTTPStatus.OK, body, mime)

        def do_POST(self) -> None:  # noqa: N802
            name = self.path.removeprefix("/api/")
            handler = server.handlers.get(name)
            if handler is None or not self.path.startswith("/api/"):
                self._json(HTTPStatus.NOT_FOUND, {"error": "unknown call"})  # i18n: ignore
                return
            if not secrets.compare_digest(self.headers.get(TOKEN_HEADER, ""), server.token):
                self._json(HTTPStatus.FORBIDDEN, {"error": "bad token"})  # i18n: ignore
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                too_large = {"error": "too large"}  # i18n: ignore
                self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, too_large)
                return
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                self._json(HTTPStatus.OK, handler(body))
            except Exception as exc:
                log.exception("local API %s failed", name)
                self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": str(exc)})

        def _json(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json")

        def _send(self, status: HTTPStatus, body: bytes, mime: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", mime + ("; charset=utf-8" if "text" in mime else ""))
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.debug(format, *args)

    return RequestHandler
