"""Attacks on the desktop app (issue #13, items 2 and 4): cleartext to the server, a
self-signed server, the stored password reaching a page, a page faking its origin, the
window leaving the server.

The window attacks run the real app offscreen (tests/shell/gui_driver.py, one process
per scenario with a timeout) against the stand-in Odoo and a hostile site
(tests/shell/hostile_site.py).
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import keyring
import pytest
import trustme

from agent import server_tls
from agent.settings import SettingsError
from agent.settings import load as load_agent_settings
from devkit.standin_odoo import PASSWORD, running
from shell import diagnostics, odoo_probe
from shell.app import App, ServerWatch
from shell.browser import CertificateTrust, NavigationPolicy
from shell.settings import ServerTls, Settings
from tests.shell.test_window import run_scenario

LAN_SERVER = "http://192.168.1.20:8069"
pytestmark = pytest.mark.usefixtures("home", "memory_keyring")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def probe_checks(url: str, tls: ServerTls | None = None) -> dict[str, diagnostics.Check]:
    checks = odoo_probe.run(
        diagnostics.check_connection(url, "restaurant", "waiter", PASSWORD, 2, tls)
    )
    return {check.name: check for check in checks}


def lan_address() -> str | None:
    """This machine's address on its network (not loopback), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # no packet is sent: picks the outgoing address
        except OSError:
            return None
        address = sock.getsockname()[0]
    return None if server_tls.is_loopback_host(address) else address


# ---------------------------------------------------------------------------- cleartext


def test_plain_http_server_is_refused_without_the_insecure_setting() -> None:
    # The app's probe refuses before it connects: nothing at all goes out.
    checks = probe_checks(LAN_SERVER)
    assert list(checks) == ["Server"] and not checks["Server"].ok
    assert "not encrypted" in checks["Server"].message
    assert "https://" in checks["Server"].hint
    # The setup screen does not save it, and nothing is stored.
    app = App(Settings())
    body = {"server_url": LAN_SERVER, "database": "restaurant", "login": "waiter",
            "password": PASSWORD, "config_id": 2}
    answer = app.api.save(body)
    assert answer["ok"] is False and answer["error"]["code"] == "insecure_http"
    assert keyring.get_password("possync", "waiter@http://192.168.1.20:8069/restaurant") is None
    # Settings saved before this rule (or edited by hand) are not run: setup opens.
    stale = App(Settings(LAN_SERVER, "restaurant", "waiter", 2))
    assert "unencrypted" in (stale._insecure_problem() or "")
    # The agent refuses to start with it.
    with pytest.raises(SettingsError, match="unencrypted"):
        load_agent_settings({"data_dir": Path("/nonexistent"), "server": LAN_SERVER}, {})
    # With the explicit setting, both accept it.
    server_tls.check_server_url(LAN_SERVER, allow_insecure_http=True)
    agent = load_agent_settings(
        {"data_dir": Path("/nonexistent"), "server": LAN_SERVER},
        {"POSSYNC_ALLOW_INSECURE_HTTP": "1"},
    )
    assert agent.allow_insecure_http


def test_loopback_http_is_allowed() -> None:
    for url in ("http://127.0.0.1:8069", "http://127.9.9.9", "http://[::1]:8069",
                "http://localhost:8069", "http://LOCALHOST."):
        server_tls.check_server_url(url, allow_insecure_http=False)
    for url in ("http://127.0.0.1.example.com", "http://localhost.example.com",
                "http://10.0.0.5", "http://[fe80::1]"):
        with pytest.raises(server_tls.InsecureServer):
            server_tls.check_server_url(url, allow_insecure_http=False)
    with running() as server:  # on 127.0.0.1, plain http
        assert all(check.ok for check in probe_checks(server.url).values())


def test_insecure_setting_shows_a_permanent_notice(home: Path) -> None:
    address = lan_address()
    if address is None:
        pytest.skip("this machine has no network address other than loopback")
    # The stand-in Odoo on this machine's network address: plain http that leaves loopback.
    run_scenario("insecure", home, "--host", address)


# ---------------------------------------------------------------------------- TLS


def test_self_signed_server_works_with_its_ca_file(home: Path, ca: trustme.CA) -> None:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, ca_file = home / "server.pem", home / "server-ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    ca.cert_pem.write_to_path(str(ca_file))
    # The app's probe: refused without the file, every check passes with it.
    with running(ssl_context=_server_context(cert)) as server:
        assert probe_checks(server.url)["Server"].message.startswith(
            "The server's TLS certificate is not trusted")
        with_file = probe_checks(server.url, ServerTls(str(ca_file)))
        assert all(check.ok for check in with_file.values()), with_file
    # The window (its certificate check), the app and the agent, for real.
    run_scenario("tls", home, "--cert", str(cert_file), "--ca-file", str(ca_file))
    # Another authority's file vouches for nothing: the window refuses the server.
    other = home / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    run_scenario("tls-wrong-ca", home, "--cert", str(cert_file), "--ca-file", str(other))


def test_certificate_errors_are_overridden_only_for_the_server_and_its_ca(
    home: Path, ca: trustme.CA
) -> None:
    ca_file = home / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    chain = [_der(pem.bytes()) for pem in ca.issue_cert("odoo.lan").cert_chain_pems]
    trust = CertificateTrust("https://odoo.lan", str(ca_file))
    assert trust.accepts("https://odoo.lan/pos/ui/2", chain)
    assert not trust.accepts("https://odoo.lan:8443/", chain)  # another origin
    assert not trust.accepts("https://evil.test/", chain)
    stolen = [_der(pem.bytes()) for pem in trustme.CA().issue_cert("odoo.lan").cert_chain_pems]
    assert not trust.accepts("https://odoo.lan/", stolen)  # another authority
    impostor = CertificateTrust("https://evil.test", str(ca_file))
    assert not impostor.accepts("https://evil.test/", chain)  # not its name
    assert not CertificateTrust("https://odoo.lan", "").accepts("https://odoo.lan/", chain)


def test_the_agent_uses_the_ca_file(ca: trustme.CA, home: Path) -> None:
    from agent.odoo_client import OdooClient

    ca_file = home / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert = ca.issue_cert("127.0.0.1")

    async def info(tls_file: Path | None) -> dict:
        import aiohttp

        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            client = OdooClient(http, server.url, "restaurant", "waiter", PASSWORD, 5,
                                server_tls.client_context(tls_file))
            return await client.info(2)

    with running(ssl_context=_server_context(cert)) as server:
        assert asyncio.run(info(ca_file))["protocol"] == 1
        from agent.odoo_rpc import ServerUnreachable

        with pytest.raises(ServerUnreachable, match="certificate"):
            asyncio.run(info(None))


# ---------------------------------------------------------------------------- the page


def test_hostile_page_never_receives_the_password(home: Path) -> None:
    # The real login flow (the cookie store) and a page dressed as the login page on
    # another origin: every script given to any page is checked for the password.
    run_scenario("cookie-login", home)
    run_scenario("hostile", home)


def test_navigation_outside_the_server_is_refused(home: Path) -> None:
    policy = NavigationPolicy(lambda: ["https://odoo.lan", "http://127.0.0.1:4444"])
    assert policy.allows("https://odoo.lan/pos/ui/2") and policy.allows("about:blank")
    assert policy.allows("http://127.0.0.1:4444/setup.html#token=x")
    for url in ("https://evil.test/", "https://odoo.lan:444/", "http://odoo.lan/",
                "http://127.0.0.1:4445/", "file:///etc/passwd", "javascript:alert(1)",
                "data:text/html,<h1>x", "https://odoo.lan.evil.test/"):
        assert not policy.allows(url), url
    run_scenario("navigation", home)


def test_page_faking_its_origin_gets_no_injection(home: Path) -> None:
    # The scenario opens the allow-list to the hostile origin on purpose, so the
    # injection's own check (the browser's URL) is what is tested.
    run_scenario("hostile", home)


def test_the_server_watch_keeps_the_tls_settings() -> None:
    watch = ServerWatch(LAN_SERVER, ServerTls())
    assert watch.check(max_age=0) is False and "not encrypted" in watch.message


# ---------------------------------------------------------------------------- helpers


def _server_context(cert: trustme.LeafCert):  # type: ignore[no-untyped-def]
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


def _der(pem: bytes) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
