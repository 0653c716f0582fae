"""nginx in front of Odoo, serving the site file docs/deploy.md recommends.

The test differs from production only where loopback needs it: the upstream ports are the
harness's, the site listens in plain HTTP on a free loopback port (no TLS, no redirect
from port 80), and ``websocket=False`` drops the ``/websocket`` route the way a proxy set
up without it would. Every other location and header is the file's own.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from devkit.ports import free_port

from .addon import REPO_ROOT
from .children import answers, stop_group, wait_answering
from .errors import HarnessError

SITE_CONF = REPO_ROOT / "docs" / "nginx" / "possync-site.conf"
NGINX = Path(os.environ.get("POSSYNC_NGINX", "/usr/sbin/nginx"))
NGINX_MISSING = f"{NGINX} not found (apt-get install nginx-light)"
PROXIES = ("nginx", "nginx-no-websocket")
# The ports the site file names, as Odoo's configuration has them by default.
HTTP_PORT, GEVENT_PORT = 8069, 8072
WEBSOCKET_ROUTE = "/websocket"
_TOKEN = re.compile(r"""'[^']*'|"[^"]*"|[{};]|[^\s{};'"]+""")


@dataclass(frozen=True)
class Directive:
    """One nginx directive: ``name args;`` or, with ``block``, ``name args { … }``."""

    name: str
    args: tuple[str, ...] = ()
    block: tuple[Directive, ...] | None = None

    def find(self, name: str, *args: str) -> list[Directive]:
        return [d for d in self.block or () if d.name == name and d.args[: len(args)] == args]


def parse(text: str) -> tuple[Directive, ...]:
    """nginx's configuration syntax, enough for a site file (no ``*_by_lua`` blocks)."""
    tokens = [t for line in text.splitlines() for t in _TOKEN.findall(line.split("#")[0])]
    directives, rest = _parse_block(tokens)
    if rest:
        raise HarnessError(f"unbalanced braces in an nginx file near {' '.join(rest[:5])}")
    return directives


def _parse_block(tokens: list[str]) -> tuple[tuple[Directive, ...], list[str]]:
    directives: list[Directive] = []
    words: list[str] = []
    while tokens:
        token, tokens = tokens[0], tokens[1:]
        if token == ";":
            directives.append(Directive(words[0], tuple(words[1:])))
            words = []
        elif token == "{":
            block, tokens = _parse_block(tokens)
            if not tokens or tokens[0] != "}":
                raise HarnessError(f"an nginx block {words} is not closed")
            directives.append(Directive(words[0], tuple(words[1:]), block))
            words, tokens = [], tokens[1:]
        elif token == "}":
            return tuple(directives), [token, *tokens]
        else:
            words.append(token)
    return tuple(directives), tokens


def dump(directives: tuple[Directive, ...], indent: str = "") -> str:
    lines = []
    for d in directives:
        head = " ".join((d.name, *d.args))
        if d.block is None:
            lines.append(f"{indent}{head};\n")
        else:
            lines.append(f"{indent}{head} {{\n{dump(d.block, indent + '    ')}{indent}}}\n")
    return "".join(lines)


def render_site(
    site: tuple[Directive, ...],
    *,
    listen_port: int,
    http_port: int,
    gevent_port: int,
    websocket: bool = True,
) -> tuple[Directive, ...]:
    """The site file's directives for a test on loopback (see the module's docstring)."""
    ports = {HTTP_PORT: http_port, GEVENT_PORT: gevent_port}
    rendered = []
    for d in site:
        if d.name == "upstream":
            rendered.append(_upstream_for_test(d, ports))
        elif d.name != "server":
            rendered.append(d)
        elif _is_tls(d):
            rendered.append(_server_for_test(d, listen_port, websocket))
        # the plain-HTTP server only redirects to the TLS one: not served in a test
    return tuple(rendered)


def _is_tls(server: Directive) -> bool:
    return any("ssl" in d.args for d in server.find("listen"))


def _upstream_for_test(upstream: Directive, ports: dict[int, int]) -> Directive:
    return Directive(
        upstream.name, upstream.args, tuple(_server_port(d, ports) for d in upstream.block or ())
    )


def _server_port(d: Directive, ports: dict[int, int]) -> Directive:
    """An upstream's ``server HOST:PORT`` with the test's port for the production one."""
    if d.name != "server":
        return d
    host, _, port = d.args[0].rpartition(":")
    if not port.isdigit() or int(port) not in ports:
        raise HarnessError(f"no test port for the upstream server {d.args[0]}")
    return Directive(d.name, (f"{host}:{ports[int(port)]}", *d.args[1:]))


def _server_for_test(server: Directive, listen_port: int, websocket: bool) -> Directive:
    kept = []
    for d in server.block or ():
        if d.name == "listen":
            kept.append(Directive("listen", (f"127.0.0.1:{listen_port}",)))
        elif d.name.startswith("ssl_") or d.name == "ssl":
            continue
        elif websocket or d != _location(server, WEBSOCKET_ROUTE):
            kept.append(d)
    return Directive(server.name, server.args, tuple(kept))


def _location(server: Directive, path: str) -> Directive | None:
    found = server.find("location", path)
    return found[0] if found else None


def nginx_conf(prefix: Path, site: Path) -> str:
    """nginx's main file: a foreground master whose pid, logs and temp files stay in
    ``prefix``, so several harnesses (and no system nginx) can run side by side."""
    temp = {
        name: prefix / "tmp" / name.split("_")[0]
        for name in ("client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path")
        + ("uwsgi_temp_path", "scgi_temp_path")
    }
    http = [Directive("access_log", (str(prefix / "access.log"),))]
    http += [Directive(name, (str(path),)) for name, path in temp.items()]
    http.append(Directive("include", (str(site),)))
    main = (
        Directive("daemon", ("off",)),
        Directive("worker_processes", ("1",)),
        Directive("pid", (str(prefix / "nginx.pid"),)),
        Directive("error_log", (str(prefix / "error.log"), "warn")),
        Directive("events", (), (Directive("worker_connections", ("1024",)),)),
        Directive("http", (), tuple(http)),
    )
    return dump(main)


@dataclass
class NginxProxy:
    """Debian's nginx, a child process of the harness, in front of one Odoo."""

    prefix: Path
    http_port: int
    gevent_port: int
    websocket: bool = True
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    _log: TextIO | None = None

    @classmethod
    def of_kind(cls, kind: str, prefix: Path, http_port: int, gevent_port: int) -> NginxProxy:
        if kind not in PROXIES:
            raise HarnessError(f"unknown proxy {kind!r}: one of {', '.join(PROXIES)}")
        return cls(prefix, http_port, gevent_port, websocket=kind == "nginx")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def site_path(self) -> Path:
        return self.prefix / "possync-site.conf"

    def write_config(self) -> Path:
        """Render the docs' site file for this run; return nginx's main file."""
        for name in ("tmp", "logs"):
            (self.prefix / name).mkdir(parents=True, exist_ok=True)
        site = render_site(
            parse(SITE_CONF.read_text()),
            listen_port=self.port,
            http_port=self.http_port,
            gevent_port=self.gevent_port,
            websocket=self.websocket,
        )
        self.site_path.write_text(dump(site))
        conf = self.prefix / "nginx.conf"
        conf.write_text(nginx_conf(self.prefix, self.site_path))
        return conf

    def start(self) -> None:
        if not NGINX.is_file():
            raise HarnessError(NGINX_MISSING)
        conf = self.write_config()
        self._log = self.log_path.open("a")
        cmd = [str(NGINX), "-p", str(self.prefix), "-c", str(conf), "-e", "stderr"]
        self.proc = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, timeout: float = 20) -> None:
        health = f"{self.url}/web/health"  # through nginx to Odoo
        wait_answering(self.proc, lambda: answers(health), "nginx", self.log_path, timeout)

    @property
    def log_path(self) -> Path:
        return self.prefix / "stderr.log"

    def stop(self, timeout: float = 10) -> None:
        stop_group(self.proc, signal.SIGQUIT, timeout)  # SIGQUIT: finish open requests
        if self._log:
            self._log.close()
            self._log = None
