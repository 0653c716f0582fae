"""Attacks on the deployment docs/deploy.md recommends: Odoo behind the nginx site
docs/nginx/possync-site.conf, read from the files themselves (no Odoo, no nginx needed).

tests/realodoo/test_production_shape.py tries the same site with Odoo's workers behind it.
"""

from __future__ import annotations

from devkit.odoo.proxy import SITE_CONF, Directive
from tests.test_nginx_config import docs_site, odoo_config_in_deploy_md, tls_server


def test_the_docs_odoo_config_listens_on_loopback_only() -> None:
    """With ``proxy_mode`` Odoo believes the ``X-Forwarded-*`` headers it is sent: reached
    straight on its own port, anyone could write any address there (and talk plain HTTP).
    The configuration we recommend listens on loopback, where only the proxy is."""
    config = odoo_config_in_deploy_md()
    assert config["http_interface"] == "127.0.0.1"
    assert "http_interface = 127.0.0.1" in SITE_CONF.read_text()


def test_the_docs_hide_odoo_s_database_manager() -> None:
    """Odoo's database manager backs up, drops and restores databases behind one master
    password: the recommended configuration hides it and the site refuses its routes."""
    assert odoo_config_in_deploy_md()["list_db"] == "False"
    server = tls_server(docs_site())
    [blocked] = [d for d in server.find("location", "~") if "manager" in d.args[1]]
    for route in ("manager", "backup", "restore", "drop", "create", "duplicate"):
        assert route in blocked.args[1]
    assert "list" not in blocked.args[1], "the desktop app's setup reads /web/database/list"
    assert blocked.find("return") == [Directive("return", ("404",))]


def test_the_docs_site_allows_no_tls_before_1_2() -> None:
    """Debian's nginx.conf still allows TLS 1.0 and 1.1: the site sets its own protocols,
    and HSTS so that a plain browser's first ``http://`` visit is not the way in."""
    server = tls_server(docs_site())
    assert server.find("ssl_protocols") == [Directive("ssl_protocols", ("TLSv1.2", "TLSv1.3"))]
    [hsts] = server.find("add_header", "Strict-Transport-Security")
    assert "max-age=" in hsts.args[1] and hsts.args[-1] == "always"
