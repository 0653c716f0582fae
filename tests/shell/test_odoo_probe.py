""""Test connection": one clear message for each way a set-up goes wrong."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from aiohttp import web

from devkit.background import BackgroundServer
from devkit.ports import free_port
from devkit.standin_odoo import API_KEY, PASSWORD, Faults, Options, StandInServer, running
from shell import diagnostics, odoo_probe
from shell.diagnostics import check_connection
from shell.odoo_probe import OdooProbe, ProbeError
from shell.settings import ServerTls


def checks(
    url: str, secret: str = PASSWORD, config_id: int = 2, tls: ServerTls | None = None
) -> dict[str, diagnostics.Check]:
    results = odoo_probe.run(
        check_connection(url, "restaurant", "waiter", secret, config_id, tls)
    )
    return {check.name: check for check in results}


def failure(url: str, **kwargs: object) -> diagnostics.Check:
    failed = [c for c in checks(url, **kwargs).values() if not c.ok]  # type: ignore[arg-type]
    assert failed, "expected a failing check"
    return failed[0]


def test_a_good_setup_passes_every_check(standin_server: StandInServer) -> None:
    results = checks(standin_server.url)
    assert [c.name for c in results.values()] == ["Server", "Login", "POS", "Addon", "Websocket"]
    assert all(c.ok for c in results.values()), results
    assert "Odoo 19.0" in results["Server"].message


def test_databases_and_restaurant_configs_are_listed(standin_server: StandInServer) -> None:
    async def go() -> tuple[list[str] | None, list[dict]]:
        async with OdooProbe(standin_server.url) as probe:
            databases = await probe.databases()
            await probe.login("restaurant", "waiter", PASSWORD)
            return databases, await probe.pos_configs()

    databases, configs = odoo_probe.run(go())
    assert databases == ["restaurant"]
    assert configs[0] == {"id": 2, "name": "Restaurant", "restaurant": True}


def test_a_hidden_database_list_lets_the_user_type_it() -> None:
    with running(Options(databases=None)) as server:

        async def go() -> list[str] | None:
            async with OdooProbe(server.url) as probe:
                return await probe.databases()

        assert odoo_probe.run(go()) is None


def test_nothing_listening_is_a_wrong_address(unused_tcp_port: int) -> None:
    check = failure(f"http://127.0.0.1:{unused_tcp_port}")
    assert check.name == "Server" and "connection refused" in check.message
    assert "port" in check.hint


def test_an_unknown_host_name_is_a_wrong_address() -> None:
    check = failure("https://no-such-host.invalid")
    assert "No server called 'no-such-host.invalid'" in check.message


def test_a_server_that_is_not_odoo_says_so(unused_tcp_port: int) -> None:
    async def page(_request: web.Request) -> web.Response:
        return web.Response(text="<html>welcome to nginx</html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", page)
    with _serve(app, unused_tcp_port) as url:
        check = failure(url)
    assert check.name == "Server" and "not like an Odoo server" in check.message


def test_an_untrusted_certificate_is_a_tls_error(tmp_path: Path) -> None:
    with running(ssl_context=_self_signed(tmp_path)) as server:
        check = failure(server.url)
    assert check.name == "Server" and "certificate is not trusted" in check.message
    assert "certificate authority" in check.hint


def test_https_on_a_plain_http_port_is_a_tls_error(standin_server: StandInServer) -> None:
    check = failure(standin_server.url.replace("http://", "https://"))
    # The hint points at the https port; it never suggests falling back to http://.
    assert "TLS" in check.message and "https port" in check.hint
    assert "http://" not in check.hint


def test_a_wrong_password_is_bad_credentials(standin_server: StandInServer) -> None:
    check = failure(standin_server.url, secret="wrong")
    assert check.name == "Login" and "refused the login 'waiter'" in check.message


def test_an_api_key_is_accepted_and_explained(standin_server: StandInServer) -> None:
    results = checks(standin_server.url, secret=API_KEY)
    assert all(c.ok for c in results.values()), results
    assert "log in once" in results["Login"].message


@pytest.mark.parametrize("secret", [PASSWORD, API_KEY])
def test_a_missing_addon_is_named(secret: str) -> None:
    with running(Options(addon="missing")) as server:
        check = failure(server.url, secret=secret)
    assert check.name == "Addon" and "not installed" in check.message
    assert "Apps" in check.hint


@pytest.mark.parametrize("secret", [PASSWORD, API_KEY])
def test_an_old_addon_is_named(secret: str) -> None:
    with running(Options(addon="old")) as server:
        check = failure(server.url, secret=secret)
    assert check.name == "Addon" and "too old" in check.message


def test_sync_switched_off_for_the_pos_says_where_to_switch_it_on() -> None:
    with running(Options(addon="disabled")) as server:
        check = failure(server.url)
    assert "switched off" in check.message and "Real-Time Sync" in check.hint


def test_a_websocket_blocked_by_a_proxy_is_explained() -> None:
    # odoo/odoo#106339, #139566: real-time silently broken behind a proxy.
    with running(Options(faults=Faults(websocket=False, websocket_status=502))) as server:
        results = checks(server.url)
    assert results["Addon"].ok
    assert not results["Websocket"].ok and "HTTP 502" in results["Websocket"].message
    assert "8072" in results["Websocket"].hint


def test_a_pos_the_user_cannot_open_is_reported(standin_server: StandInServer) -> None:
    check = failure(standin_server.url, config_id=99)
    assert check.name == "POS"


def test_an_unsupported_odoo_version_is_refused() -> None:
    with running(Options(major=17)) as server:
        check = failure(server.url)
    assert "supports Odoo 18 and 19" in check.message


def _kiosk_error(url: str, secret: str = PASSWORD) -> ProbeError:
    with pytest.raises(ProbeError) as caught:
        odoo_probe.run(odoo_probe.pos_kiosk(url, ServerTls(), "restaurant", "waiter", secret, 2))
    return caught.value


def test_a_failure_that_may_pass_is_transient(unused_tcp_port: int) -> None:
    # Odoo restarting (nothing listens), a loaded proxy (HTTP 503), a slow answer: asking
    # again later may work (shell/app.py retries its kiosk read on these).
    assert _kiosk_error(f"http://127.0.0.1:{unused_tcp_port}").transient

    async def busy(_request: web.Request) -> web.Response:
        return web.Response(status=503, text="busy")

    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.json_response({})

    for handler in (busy, slow):
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        with _serve(app, free_port()) as url, pytest.raises(ProbeError) as caught:
            odoo_probe.run(_server(url, timeout=0.3))
        assert caught.value.code == {busy: "server_error", slow: "timeout"}[handler]
        assert caught.value.transient, caught.value.message


def test_a_refusal_is_not_transient(standin_server: StandInServer, unused_tcp_port: int) -> None:
    wrong = _kiosk_error(standin_server.url, secret="wrong")
    assert wrong.code == "bad_credentials" and not wrong.transient

    async def moved(_request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("https://odoo.example.com/")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", moved)
    with _serve(app, unused_tcp_port) as url:
        redirected = _kiosk_error(url)
    assert redirected.code == "wrong_url" and not redirected.transient


def test_a_redirect_names_the_address_to_use(unused_tcp_port: int) -> None:
    async def moved(_request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("https://odoo.example.com/web/webclient/version_info")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", moved)
    expected = "sends possync to https://odoo.example.com"
    with _serve(app, unused_tcp_port) as url, pytest.raises(ProbeError, match=expected):
        odoo_probe.run(_server(url))


async def _server(url: str, timeout: float = odoo_probe.DEFAULT_TIMEOUT_S) -> None:
    async with OdooProbe(url, timeout=timeout) as probe:
        await probe.server()


def _self_signed(folder: Path) -> ssl.SSLContext:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


class _serve:
    """A throwaway aiohttp app on a port, for servers that are not the stand-in Odoo."""

    def __init__(self, app: web.Application, port: int) -> None:
        self.server = BackgroundServer(app, port)

    def __enter__(self) -> str:
        return self.server.start().url

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


@pytest.fixture
def unused_tcp_port() -> int:
    return free_port()


def test_the_web_login_hands_back_the_session_cookie(standin_server: StandInServer) -> None:
    session = odoo_probe.run(
        odoo_probe.web_session(standin_server.url, ServerTls(), "restaurant", "waiter", PASSWORD)
    )
    [cookie] = session.cookies
    assert session.uid == 2 and cookie.name == "session_id" and cookie.path == "/"
    assert cookie.value in standin_server.standin.sessions
    assert cookie.value not in repr(session)  # never in a log line


def test_an_api_key_gets_no_web_session(standin_server: StandInServer) -> None:
    # Odoo's interactive login refuses API keys: the window asks for one login by hand.
    with pytest.raises(ProbeError) as refused:
        odoo_probe.run(
            odoo_probe.web_session(standin_server.url, ServerTls(), "restaurant", "waiter", API_KEY)
        )
    assert refused.value.code == "bad_credentials"


def test_an_unreadable_ca_file_is_explained(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate")
    check = failure("https://127.0.0.1:9", tls=ServerTls(str(tmp_path / "ca.pem")))
    assert check.name == "Server" and "certificate file" in check.message
