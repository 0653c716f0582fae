"""The nginx site docs/deploy.md recommends is the one the real-Odoo tier serves.

No Odoo needed; nginx itself only for the syntax check (skipped without it).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from devkit.odoo import HarnessError
from devkit.odoo.addon import REPO_ROOT
from devkit.odoo.proxy import (
    NGINX,
    NGINX_MISSING,
    SITE_CONF,
    WEBSOCKET_ROUTE,
    Directive,
    NginxProxy,
    parse,
    render_site,
)

DEPLOY_MD = REPO_ROOT / "docs" / "deploy.md"
FORWARDED = ("Host", "X-Forwarded-Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Real-IP")


def docs_site() -> tuple[Directive, ...]:
    return parse(SITE_CONF.read_text())


def tls_server(site: tuple[Directive, ...]) -> Directive:
    [server] = [d for d in site if d.name == "server" and d.find("ssl_certificate")]
    return server


def served(tmp_path: Path, websocket: bool = True) -> tuple[Directive, ...]:
    """What the harness's nginx serves: the site file it writes for a run."""
    proxy = NginxProxy(tmp_path, http_port=18069, gevent_port=18072, websocket=websocket)
    proxy.port = 18080
    proxy.write_config()
    return parse(proxy.site_path.read_text())


def headers(block: Directive) -> dict[str, str]:
    return {d.args[0]: " ".join(d.args[1:]) for d in block.find("proxy_set_header")}


def test_deploy_md_points_at_the_site_file_and_holds_no_copy_of_it() -> None:
    text = DEPLOY_MD.read_text()
    assert "nginx/possync-site.conf" in text
    # A second copy inline would drift from the tested one.
    assert "upstream odoo" not in text and "proxy_pass" not in text


def test_the_harness_serves_every_location_and_header_of_the_docs(tmp_path: Path) -> None:
    docs, test = tls_server(docs_site()), tls_server_of_test(served(tmp_path))
    assert test.find("location") == docs.find("location")
    kept = [d for d in docs.block or () if d.name != "listen" and not d.name.startswith("ssl")]
    assert [d for d in test.block or () if d.name != "listen"] == kept
    assert [d for d in served(tmp_path) if d.name == "map"] == [
        d for d in docs_site() if d.name == "map"
    ]


def tls_server_of_test(site: tuple[Directive, ...]) -> Directive:
    [server] = [d for d in site if d.name == "server"]
    return server


def test_the_test_site_is_plain_http_on_loopback_with_the_harness_ports(tmp_path: Path) -> None:
    site = served(tmp_path)
    server = tls_server_of_test(site)
    assert [d.args for d in server.find("listen")] == [("127.0.0.1:18080",)]
    assert "ssl" not in (tmp_path / "possync-site.conf").read_text()
    upstreams = {d.args[0]: d.block[0].args[0] for d in site if d.name == "upstream" and d.block}
    assert upstreams == {"odoo": "127.0.0.1:18069", "odoo_websocket": "127.0.0.1:18072"}


def test_without_the_websocket_route_only_that_location_is_gone(tmp_path: Path) -> None:
    full = tls_server_of_test(served(tmp_path))
    cut = tls_server_of_test(served(tmp_path, websocket=False))
    assert not cut.find("location", WEBSOCKET_ROUTE)
    assert [d for d in full.block or () if d.args != (WEBSOCKET_ROUTE,)] == list(cut.block or ())


def test_the_docs_websocket_route_upgrades_and_forwards_the_client(tmp_path: Path) -> None:
    """nginx upgrades only over HTTP/1.1, and a location that sets a header inherits none
    from its server: without them Odoo's gevent process sees neither the upgrade nor who
    the client is (field notes: odoo/odoo#106339, #139566)."""
    server = tls_server(docs_site())
    [route] = server.find("location", WEBSOCKET_ROUTE)
    assert route.find("proxy_pass") == [Directive("proxy_pass", ("http://odoo_websocket",))]
    assert route.find("proxy_http_version") == [Directive("proxy_http_version", ("1.1",))]
    sent = headers(route)
    assert sent["Upgrade"] == "$http_upgrade"
    assert sent["Connection"] == "$connection_upgrade"
    assert {name: sent[name] for name in FORWARDED} == headers(server)


def test_the_docs_site_is_production_shaped() -> None:
    site = docs_site()
    server = tls_server(site)
    assert [d.args for d in server.find("listen")] == [("443", "ssl")]
    upstreams = {d.args[0]: d.block[0].args[0] for d in site if d.name == "upstream" and d.block}
    assert upstreams == {"odoo": "127.0.0.1:8069", "odoo_websocket": "127.0.0.1:8072"}
    redirect = [d for d in site if d.name == "server" and d.find("return", "301")]
    assert redirect, "plain HTTP should redirect to HTTPS"


def test_nginx_accepts_the_config_the_harness_writes(tmp_path: Path) -> None:
    if not NGINX.is_file():
        pytest.skip(NGINX_MISSING)
    proxy = NginxProxy(tmp_path, http_port=18069, gevent_port=18072)
    conf = proxy.write_config()
    cmd = [str(NGINX), "-t", "-q", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("upstream odoo { server 127.0.0.1:9999; }", "no test port for the upstream server"),
        ("server { listen 443 ssl; location / { proxy_pass http://odoo; }", "not closed"),
        ("server { listen 443 ssl; } }", "unbalanced braces"),
    ],
)
def test_a_site_file_the_harness_cannot_render_is_refused_with_why(text: str, error: str) -> None:
    with pytest.raises(HarnessError, match=error):
        render_site(parse(text), listen_port=1, http_port=2, gevent_port=3)


def odoo_config_in_deploy_md() -> dict[str, str]:
    """The Odoo configuration block docs/deploy.md gives (`key = value` lines)."""
    lines = DEPLOY_MD.read_text().split("    proxy_mode = True\n", 1)[1].split("\n\n", 1)[0]
    pairs = [line.strip().split(" = ", 1) for line in lines.splitlines()]
    return {"proxy_mode": "True", **dict(pairs)}


def test_a_push_the_addon_takes_is_not_refused_by_the_docs_site() -> None:
    """nginx refuses bodies over 1 MiB by default, the addon takes pushes of up to
    ``MAX_BODY_BYTES`` of JSON, plus the JSON-RPC envelope: the site allows more."""
    [size] = tls_server(docs_site()).find("client_max_body_size")
    assert size.args[0].endswith("m") and int(size.args[0][:-1]) * 1024 * 1024 > 2 * 1024 * 1024
