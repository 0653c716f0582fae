"""The app's own pages and API: static files for anyone, the API only with the UI token."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from shell.localserver import TOKEN_HEADER, LocalServer


@pytest.fixture
def server() -> Iterator[LocalServer]:
    local = LocalServer({"echo": lambda body: {"got": body}, "boom": lambda body: 1 / 0})
    local.start()
    yield local
    local.stop()


def call(server: LocalServer, name: str, body: dict, token: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers[TOKEN_HEADER] = token
    request = urllib.request.Request(
        f"{server.origin}/api/{name}", json.dumps(body).encode(), headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_pages_are_served_without_the_token(server: LocalServer) -> None:
    with urllib.request.urlopen(f"{server.origin}/setup.html", timeout=5) as response:
        assert b"Connect this terminal to Odoo" in response.read()
        assert response.headers["Cache-Control"] == "no-store"


def test_only_static_names_are_served(server: LocalServer) -> None:
    for path in ("/../settings.py", "/%2e%2e/cli.py", "/nothing.html", "/app.py"):
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(server.origin + path, timeout=5)
        assert error.value.code == 404


def test_the_api_answers_with_the_token(server: LocalServer) -> None:
    assert call(server, "echo", {"a": 1}, server.token) == (200, {"got": {"a": 1}})


def test_the_api_refuses_without_the_token(server: LocalServer) -> None:
    # Another origin (the Odoo page, any web page) cannot learn the token from our pages.
    assert call(server, "echo", {}, None)[0] == 403
    assert call(server, "echo", {}, "guess")[0] == 403


def test_a_failing_handler_answers_500_and_the_server_lives_on(server: LocalServer) -> None:
    assert call(server, "boom", {}, server.token)[0] == 500
    assert call(server, "echo", {}, server.token)[0] == 200


def test_page_urls_carry_the_token_in_the_fragment_only(server: LocalServer) -> None:
    url = server.url("setup.html", message="hi there")
    assert url == f"{server.origin}/setup.html?message=hi+there#token={server.token}"
