"""JSON-RPC to a running Odoo, logged in as one user."""

from __future__ import annotations

import http.cookiejar
import itertools
import json
import urllib.request
from collections.abc import Sequence
from typing import Any

from agent.odoo_rpc import OdooError, rpc_body, rpc_result

from .errors import HarnessError


class OdooRpc:
    """A logged-in web session, talking JSON-RPC like Odoo's own web client does.

    ``/web/session/authenticate`` and ``/web/dataset/call_kw`` exist in 18 and 19 alike,
    whereas ``/jsonrpc`` moved into an optional ``rpc`` module in 19.
    """

    def __init__(self, base_url: str, db: str, login: str, password: str) -> None:
        self.base_url = base_url
        self.db, self.login, self.password = db, login, password
        self._ids = itertools.count(1)
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.uid: int | None = None

    def exchange(self, path: str, params: dict[str, Any], timeout: float = 120) -> Any:
        """The JSON-RPC answer to ``params`` at ``path``, as Odoo sent it."""
        body = json.dumps(rpc_body(params, next(self._ids))).encode()
        req = urllib.request.Request(
            self.base_url + path, body, {"Content-Type": "application/json"}
        )
        with self._opener.open(req, timeout=timeout) as response:
            return json.load(response)

    def request(self, path: str, params: dict[str, Any], timeout: float = 120) -> Any:
        """The result of ``params`` at ``path``; Odoo's error, with its traceback, raised."""
        try:
            return rpc_result(self.exchange(path, params, timeout), self.base_url + path)
        except OdooError as exc:
            raise HarnessError(f"{path}: {exc}: {exc.detail}\n{exc.debug}") from exc

    def authenticate(self) -> int:
        params = {"db": self.db, "login": self.login, "password": self.password}
        self.uid = self.request("/web/session/authenticate", params)["uid"]
        if not self.uid:
            raise HarnessError(f"login {self.login!r} refused by {self.base_url}")
        return self.uid

    def call(
        self,
        model: str,
        method: str,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        if self.uid is None:
            self.authenticate()
        params = {"model": model, "method": method, "args": list(args), "kwargs": kwargs or {}}
        return self.request(f"/web/dataset/call_kw/{model}/{method}", params)
