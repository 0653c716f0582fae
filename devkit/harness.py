"""Run a real Odoo 18.0 or 19.0 from a source tree, for possync's real-Odoo test tier.

The harness owns everything Odoo needs and nothing the machine already runs:

* a virtualenv per Odoo version, cached under ``~/.cache/possync`` (Odoo pins greenlet 2,
  Playwright needs greenlet 3, so Odoo never shares the test runner's environment);
* a private PostgreSQL cluster per Odoo version, on 127.0.0.1 with its own port and socket
  folder, so the system cluster is never touched;
* template databases (``pos_restaurant`` with demo data, then ``pos_restaurant_sync`` when the
  addon has a manifest), so a rerun copies a template in seconds instead of installing for
  minutes;
* one Odoo server (``workers=0``, so the bus websocket is on the HTTP port) on a fresh copy.

Command line (from the repository root)::

    python -m devkit.harness --odoo-src PATH up      # prints one JSON line, Ctrl-C stops
    python -m devkit.harness --odoo-src PATH test    # Odoo's own tests of the addon
    python -m devkit.harness --odoo-src PATH venv    # only build the cached virtualenv
    python -m devkit.harness --odoo-src PATH clean   # drop the cluster and its templates

Only the standard library is used, so any Python 3.11 can drive it.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import http.cookiejar
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

REPO_ROOT = Path(__file__).resolve().parents[1]
ADDONS_DIR = REPO_ROOT / "addon"
SYNC_MODULE = "pos_restaurant_sync"
BASE_MODULES = ("pos_restaurant",)
ADMIN_LOGIN = ADMIN_PASSWORD = "admin"  # what Odoo's demo data sets
SUPPORTED_MAJORS = (18, 19)
# Parts of the addon that Odoo reads at run time, never at install time.
RUNTIME_ONLY_PARTS = {"static", "tests", "readme", "__pycache__"}

# Bump when the way a venv is built changes, so stale caches are not reused.
VENV_RECIPE = "1"
# Odoo logs kept per version, newest first.
KEEP_LOGS = 40
# Bump when the way the base template (Odoo + demo data) or the full one is built changes.
BASE_TEMPLATE_RECIPE = "1"
TEMPLATE_RECIPE = "2"
# Needed by Odoo's HttpCase to drive chromium; not in Odoo's requirements.txt.
VENV_EXTRAS = ("websocket-client",)
# cbor2 5.4.2 (pinned for Python < 3.12) is an sdist whose setup.py breaks on setuptools 70+.
BUILD_CONSTRAINTS = "setuptools<70\n"

# Bundles that the login page and the POS load (seen in Odoo's log on a first visit, 18 and 19).
WARM_ASSETS_SCRIPT = """
bundles = {
    "web.assets_frontend_minimal": ("js",),
    "web.assets_frontend": ("css",),
    "web.assets_frontend_lazy": ("js",),
    "point_of_sale.assets_prod": ("css", "js"),
    "bus.websocket_worker_assets": ("js",),
}
for name, kinds in bundles.items():
    bundle = env["ir.qweb"]._get_asset_bundle(name, css="css" in kinds, js="js" in kinds)
    for kind in kinds:
        getattr(bundle, kind)()
env.cr.commit()
"""

Log = Callable[[str], None]


class HarnessError(RuntimeError):
    """Something the harness needs did not work; the message says what and where to look."""


def _stderr_log(message: str) -> None:
    print(f"[realodoo] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- paths


def cache_dir() -> Path:
    """Where built virtualenvs live (``POSSYNC_CACHE`` overrides ``~/.cache/possync``)."""
    return Path(os.environ.get("POSSYNC_CACHE", Path.home() / ".cache" / "possync"))


def state_dir() -> Path:
    """Where the PostgreSQL clusters and Odoo filestores live.

    As root the cluster must be run by the ``postgres`` user, which cannot enter ``/root``
    (mode 700), so root's state goes to /var/tmp instead of ``~/.cache``.
    ``POSSYNC_STATE_DIR`` overrides both.
    """
    if override := os.environ.get("POSSYNC_STATE_DIR"):
        return Path(override)
    if os.geteuid() == 0:
        return Path("/var/tmp/possync-state")
    return cache_dir() / "state"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def short_hash(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:12]


@contextlib.contextmanager
def file_lock(path: Path, *, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive flock on ``path``; with ``wait=False`` fail at once if it is taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as exc:
            raise HarnessError(f"{path} is held by another harness run") from exc
        yield


# --------------------------------------------------------------------------- the source tree


@dataclass(frozen=True)
class OdooTree:
    """An Odoo source checkout: ``odoo-bin``, the ``odoo`` package and ``addons/``."""

    root: Path
    major: int
    minor: int

    @classmethod
    def detect(cls, root: str | Path) -> OdooTree:
        root = Path(root).resolve()
        release = root / "odoo" / "release.py"
        if not (root / "odoo-bin").is_file() or not release.is_file():
            raise HarnessError(f"{root} is not an Odoo source tree (no odoo-bin / odoo/release.py)")
        # Parsed, not imported: release.py of an arbitrary tree must not run in our process.
        match = re.search(r"^version_info\s*=\s*\((\d+),\s*(\d+)", release.read_text(), re.M)
        if not match:
            raise HarnessError(f"no version_info in {release}")
        tree = cls(root, int(match[1]), int(match[2]))
        if tree.major not in SUPPORTED_MAJORS:
            raise HarnessError(f"{root} is Odoo {tree.version}; possync targets 18.0 and 19.0")
        return tree

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def odoo_bin(self) -> Path:
        return self.root / "odoo-bin"

    @property
    def requirements(self) -> Path:
        return self.root / "requirements.txt"

    def demo_args(self) -> list[str]:
        # 18 loads demo data unless told not to; 19 only with --with-demo.
        return ["--with-demo"] if self.major >= 19 else []

    def pos_path(self, config_id: int) -> str:
        # 19 routes /pos/ui/<config_id>; 18 only knows the query-string form.
        return f"/pos/ui/{config_id}" if self.major >= 19 else f"/pos/ui?config_id={config_id}"


def sync_addon_present() -> bool:
    return (ADDONS_DIR / SYNC_MODULE / "__manifest__.py").is_file()


def addon_wanted() -> bool:
    """Use the sync addon unless it has no manifest yet or ``POSSYNC_WITHOUT_ADDON`` is set.

    Without it the harness serves plain Odoo: what the native baselines are measured on, and
    a way to keep working while the addon is broken.
    """
    return sync_addon_present() and os.environ.get("POSSYNC_WITHOUT_ADDON", "") in ("", "0")


def addons_paths(tree: OdooTree, with_addon: bool) -> list[Path]:
    """``addons/`` of the tree, plus the repo's ``addon/`` when the sync addon is used.

    ``odoo/addons`` (base) is added by Odoo itself in 18 and 19. Odoo rejects an addons path
    without any manifest, so ``addon/`` is only added once the module has one.
    """
    paths = [tree.root / "addons"]
    if with_addon and sync_addon_present():
        paths.append(ADDONS_DIR)
    return paths


def addon_fingerprint() -> str:
    """Hash of what installing the sync addon depends on: the template cache key.

    ``static/`` and ``tests/`` are read from disk at run time, so editing JS or a test does
    not force a new template; Python, data files and the manifest do.
    """
    module = ADDONS_DIR / SYNC_MODULE
    if not sync_addon_present():
        return "no-addon"
    parts: list[str | bytes] = []
    for path in sorted(module.rglob("*")):
        relative = path.relative_to(module)
        if path.is_file() and not set(relative.parts) & RUNTIME_ONLY_PARTS:
            parts += [str(relative), path.read_bytes()]
    return short_hash(*parts)


# --------------------------------------------------------------------------- the virtualenv


def venv_requirements(text: str) -> str:
    """Odoo's requirements.txt adapted to a pip-only install on this machine."""
    lines = []
    for line in text.replace("\r\n", "\n").splitlines():
        name = line.split(";")[0].strip().lower()
        if name.startswith("python-ldap"):
            continue  # only auth_ldap needs it, and it wants libldap headers to build
        if name.startswith("psycopg2=="):
            line = "psycopg2-binary" + line.strip()[len("psycopg2") :]  # no libpq headers here
        lines.append(line)
    return "\n".join([*lines, *VENV_EXTRAS, ""])


def venv_dir(tree: OdooTree) -> Path:
    # Odoo's requirements pick versions by Python version, so that is part of the key too.
    python = "{}.{}".format(*sys.version_info[:2])
    key = short_hash(tree.requirements.read_bytes(), VENV_RECIPE, python)
    return cache_dir() / f"odoo-venv-{tree.version}-{key}"


def ensure_venv(tree: OdooTree, log: Log = _stderr_log) -> Path:
    """Return the Python of the cached venv for ``tree``, building it the first time."""
    target = venv_dir(tree)
    python = target / "bin" / "python"
    with file_lock(cache_dir() / "venv.lock"):
        if (target / ".complete").exists():
            return python
        log(f"building {target} (first run only, about a minute)")
        shutil.rmtree(target, ignore_errors=True)
        try:
            _build_venv(tree, target)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        (target / ".complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
    return python


def _build_venv(tree: OdooTree, target: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
    pip = [str(target / "bin" / "python"), "-m", "pip"]
    _run_logged([*pip, "install", "--upgrade", "pip"], target / "pip.log")
    (target / "requirements.txt").write_text(venv_requirements(tree.requirements.read_text()))
    (target / "build-constraints.txt").write_text(BUILD_CONSTRAINTS)
    constraints = str(target / "build-constraints.txt")
    install = [*pip, "install", "-r", str(target / "requirements.txt")]
    helptext = subprocess.run([*pip, "install", "--help"], capture_output=True, text=True).stdout
    if "--build-constraint" in helptext:
        _run_logged([*install, "--build-constraint", constraints], target / "pip.log")
    else:
        # Before pip 25.3, PIP_CONSTRAINT was how constraints reached isolated builds.
        env = os.environ | {"PIP_CONSTRAINT": constraints}
        _run_logged(install, target / "pip.log", env)


def _run_logged(cmd: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> None:
    with log_path.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    if result.returncode:
        detail = _tail(log_path)
        raise HarnessError(f"{cmd[0]} failed ({result.returncode}); see {log_path}\n{detail}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------- PostgreSQL


def pg_bindir() -> Path:
    """``PG_BINDIR``, else the newest Debian ``/usr/lib/postgresql/<n>/bin``, else PATH."""
    if override := os.environ.get("PG_BINDIR"):
        return Path(override)
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    debian = sorted(found, key=lambda p: int(p.parent.name))
    if debian:
        return debian[-1]
    initdb = shutil.which("initdb")
    if not initdb:
        raise HarnessError("PostgreSQL server binaries not found (apt-get install postgresql)")
    return Path(initdb).resolve().parent


@dataclass
class PgCluster:
    """A private PostgreSQL cluster on 127.0.0.1, run by ``postgres`` when we are root."""

    datadir: Path
    bindir: Path = field(default_factory=pg_bindir)
    port: int = 0
    sockdir: Path | None = None
    role: str = "odoo"  # Odoo refuses to connect as "postgres"

    def _as_owner(self, cmd: Sequence[str | Path]) -> list[str]:
        args = [str(c) for c in cmd]
        return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")

    def _run(self, cmd: Sequence[str | Path]) -> subprocess.CompletedProcess[str]:
        # Own session: a Ctrl-C meant for the harness must not reach the postmaster, which
        # pg_ctl leaves in our process group and which takes SIGINT as "shut down now".
        result = subprocess.run(
            self._as_owner(cmd), capture_output=True, text=True, start_new_session=True
        )
        if result.returncode:
            raise HarnessError(f"{' '.join(map(str, cmd))} failed:\n{result.stdout}{result.stderr}")
        return result

    def ensure_initialized(self) -> None:
        if (self.datadir / "PG_VERSION").exists():
            return
        self.datadir.mkdir(parents=True, exist_ok=True)
        self._chown(self.datadir)
        # trust auth: the cluster only listens on loopback and a private socket folder.
        options = ["-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"]
        self._run([self.bindir / "initdb", "-D", self.datadir, *options])

    def _pg_ctl(self, *args: str | Path) -> None:
        self._run([self.bindir / "pg_ctl", "-D", self.datadir, *args])

    def start(self) -> None:
        self.ensure_initialized()
        self.stop_if_running()
        self.port = free_port()
        self.sockdir = Path(tempfile.mkdtemp(prefix="possync-pgsock-"))
        self._chown(self.sockdir)
        options = (
            f"-p {self.port} -k {self.sockdir} -c listen_addresses=127.0.0.1"
            " -c synchronous_commit=off"
        )  # test data: a crash may lose the last commits
        self._pg_ctl("-l", self.datadir / "server.log", "-w", "-t", "60", "-o", options, "start")
        self._ensure_role()

    def stop_if_running(self) -> None:
        """Stop a postmaster left by a run killed with SIGKILL (the lock says it is orphaned)."""
        status = subprocess.run(
            self._as_owner([self.bindir / "pg_ctl", "-D", self.datadir, "status"]),
            capture_output=True,
        )
        if status.returncode == 0:
            self._pg_ctl("-m", "fast", "-w", "stop")

    def stop(self) -> None:
        if not self.port:
            return
        self._pg_ctl("-m", "fast", "-w", "stop")
        self.port = 0
        if self.sockdir:
            shutil.rmtree(self.sockdir, ignore_errors=True)

    def psql(self, sql: str, db: str = "postgres") -> str:
        conn = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db]
        cmd: list[str | Path] = [self.bindir / "psql", *conn, "-v", "ON_ERROR_STOP=1", "-tAc", sql]
        return self._run(cmd).stdout.strip()

    def _ensure_role(self) -> None:
        if not self.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{self.role}'"):
            # Superuser so Odoo may create extensions (unaccent, pg_trgm) when a module asks.
            self.psql(f'CREATE ROLE "{self.role}" LOGIN SUPERUSER')

    def databases(self, prefix: str) -> list[str]:
        rows = self.psql(f"SELECT datname FROM pg_database WHERE datname LIKE '{prefix}%'")
        return rows.split()

    def exists(self, name: str) -> bool:
        return name in self.databases(name)

    def copy_database(self, source: str, target: str) -> None:
        self.psql(f'CREATE DATABASE "{target}" TEMPLATE "{source}" OWNER "{self.role}"')

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --------------------------------------------------------------------------- JSON-RPC


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

    def request(self, path: str, params: dict[str, Any], timeout: float = 120) -> Any:
        body = {"jsonrpc": "2.0", "method": "call", "id": next(self._ids), "params": params}
        req = urllib.request.Request(
            self.base_url + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with self._opener.open(req, timeout=timeout) as response:
            reply = json.load(response)
        if "error" in reply:
            data = reply["error"].get("data", {})
            raise HarnessError(
                f"{path}: {data.get('message') or reply['error']}\n{data.get('debug', '')}"
            )
        return reply.get("result")  # Odoo leaves "result" out when a method returns None

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


# --------------------------------------------------------------------------- Odoo processes


@dataclass
class OdooProcess:
    """``odoo-bin`` of one tree, on one database of one cluster."""

    tree: OdooTree
    python: Path
    pg: PgCluster
    data_dir: Path
    db: str
    log_path: Path
    addons: list[Path]
    http_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    _log: TextIO | None = None

    def args(self, extra: Sequence[str] = (), subcommand: Sequence[str] = ()) -> list[str]:
        self.http_port = self.http_port or free_port()
        # An empty config file keeps a developer's ~/.odoorc out of the run.
        config = self.data_dir.parent / "empty-odoo.conf"
        config.write_text("[options]\n")
        options = {
            "--config": config,
            "--addons-path": ",".join(str(p) for p in self.addons),
            "--data-dir": self.data_dir,
            "--db_host": "127.0.0.1",
            "--db_port": self.pg.port,
            "--db_user": self.pg.role,
            "--database": self.db,
            "--db-filter": f"^{re.escape(self.db)}$",
            "--http-interface": "127.0.0.1",
            "--http-port": self.http_port,
            # workers=0 serves the bus websocket on the HTTP port (field notes); no cron
            # threads, so nothing runs behind a test's back.
            "--workers": 0,
            "--max-cron-threads": 0,
        }
        flat = [str(item) for pair in options.items() for item in pair]
        return [str(self.python), str(self.tree.odoo_bin), *subcommand, *flat, *extra]

    def run_to_end(self, extra: Sequence[str], timeout: float = 1800) -> int:
        """Run with ``--stop-after-init``; return Odoo's exit code (log in ``log_path``)."""
        return self._run(self.args([*extra, "--stop-after-init"]), None, timeout)

    def run_shell(self, script: str, timeout: float = 600) -> int:
        """Run ``script`` in ``odoo-bin shell`` (it gets ``env``); return the exit code."""
        return self._run(self.args(subcommand=["shell"]), script, timeout)

    def _run(self, cmd: list[str], stdin: str | None, timeout: float) -> int:
        with self.log_path.open("a") as out:
            out.write(f"$ {' '.join(cmd)}\n")
            out.flush()
            return subprocess.run(
                cmd,
                input=(stdin or "").encode(),
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                env=_odoo_env(),
            ).returncode

    def start(self, pidfile: Path) -> None:
        """Start serving; ``pidfile`` lets the next run stop us if this harness gets killed."""
        self._log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            self.args(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=_odoo_env(),
            start_new_session=True,  # Ctrl-C in a terminal is for the harness, which stops us
        )
        pidfile.write_text(f"{self.proc.pid}\n")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise HarnessError(
                    f"Odoo exited ({self.proc.returncode}); see {self.log_path}\n"
                    f"{_tail(self.log_path)}"
                )
            if self._answers():
                return
            time.sleep(0.3)
        raise HarnessError(f"Odoo not ready after {timeout:.0f} s; see {self.log_path}")

    def _answers(self) -> bool:
        req = urllib.request.Request(
            f"{self.base_url}/web/webclient/version_info",
            b"{}",
            {"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout: float = 20) -> None:
        if self.proc and self.proc.poll() is None:
            # Odoo's first SIGTERM is a graceful shutdown; kill the group if it hangs.
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._log:
            self._log.close()
            self._log = None


def kill_orphan_server(pidfile: Path) -> None:
    """Stop the Odoo server a killed harness left running (it has its own process group)."""
    try:
        pid = int(pidfile.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    # Only if that pid still is an odoo-bin of ours, not a process that reused the number.
    if b"odoo-bin" in cmdline and str(pidfile.parent).encode() in cmdline:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)


def _odoo_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


# --------------------------------------------------------------------------- what tests get


@dataclass
class OdooInstance:
    """A running Odoo with an open restaurant POS session, as tests see it."""

    tree: OdooTree
    base_url: str
    db: str
    config_id: int
    session_id: int
    log_path: Path
    rpc: OdooRpc
    with_addon: bool
    login: str = ADMIN_LOGIN
    password: str = ADMIN_PASSWORD

    @property
    def version(self) -> str:
        return self.tree.version

    @property
    def pos_url(self) -> str:
        return self.base_url + self.tree.pos_path(self.config_id)

    def jsonrpc(
        self,
        model: str,
        method: str,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        """Call ``model.method(*args, **kwargs)`` as admin, like the web client would."""
        return self.rpc.call(model, method, args, kwargs)

    def describe(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "url": self.base_url,
            "db": self.db,
            "login": self.login,
            "password": self.password,
            "config_id": self.config_id,
            "session_id": self.session_id,
            "pos_url": self.pos_url,
            "with_addon": self.with_addon,
            "log": str(self.log_path),
        }


@dataclass
class OdooTestRun:
    """The outcome of Odoo's own tests (``--test-tags``) for an addon."""

    returncode: int
    summary: str
    log_path: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and " 0 failed, 0 error(s)" in f" {self.summary}"


def open_pos_session(rpc: OdooRpc, config_id: int) -> int:
    """Return the id of an opened session of ``config_id``, opening one if needed.

    Opened here (``set_opening_control``), the POS skips its opening cash-count popup; it
    still shows the "Open Register" cashier screen first (see ``ui.open_pos``).
    """
    domain = [["config_id", "=", config_id], ["state", "in", ["opening_control", "opened"]]]
    found = rpc.call("pos.session", "search_read", [domain], {"fields": ["state"], "limit": 1})
    if found:
        session_id, state = found[0]["id"], found[0]["state"]
    else:
        session_id = rpc.call("pos.session", "create", [{"config_id": config_id}])
        state = "opening_control"
    if state == "opening_control":
        rpc.call("pos.session", "set_opening_control", [[session_id], 0, ""])
    return session_id


def restaurant_config_id(rpc: OdooRpc) -> int:
    ids = rpc.call(
        "pos.config",
        "search",
        [[["module_pos_restaurant", "=", True]]],
        {"limit": 1, "order": "id"},
    )
    if not ids:
        raise HarnessError("no restaurant pos.config in the database (demo data missing?)")
    return ids[0]


# --------------------------------------------------------------------------- the harness


class Harness:
    """Owns one PostgreSQL cluster and, after :meth:`up`, one Odoo server for one tree.

    Use as a context manager; :meth:`close` stops everything and drops the run's database,
    keeping the cached venv, cluster and templates for the next run.
    """

    def __init__(
        self, odoo_src: str | Path, *, with_addon: bool | None = None, log: Log = _stderr_log
    ) -> None:
        self.tree = OdooTree.detect(odoo_src)
        self.with_addon = addon_wanted() if with_addon is None else with_addon
        if self.with_addon and not sync_addon_present():
            raise HarnessError(f"{ADDONS_DIR / SYNC_MODULE} has no __manifest__.py")
        self.log = log
        self.root = state_dir() / f"odoo-{self.tree.version}"
        self.data_dir = self.root / "odoo-data"
        self.logs = self.root / "logs"
        self.pg = PgCluster(self.root / "pg")
        self.python: Path | None = None
        self.server: OdooProcess | None = None
        self.instance: OdooInstance | None = None
        self._run_dbs: list[str] = []
        self._lock = contextlib.ExitStack()
        self._locked = False

    # -- lifecycle

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def prepare(self) -> None:
        """Take this version's lock, build or reuse the venv and start the cluster."""
        if self.python:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        if not self._locked:
            self._lock.enter_context(file_lock(self.root / "harness.lock", wait=False))
            self._locked = True
        python = ensure_venv(self.tree, self.log)
        self._prune_logs()
        kill_orphan_server(self.root / "server.pid")
        self.pg.start()
        self._drop_leftover_run_dbs()
        self.python = python

    def _prune_logs(self, keep: int = KEEP_LOGS) -> None:
        self.logs.mkdir(exist_ok=True)
        for old in sorted(self.logs.glob("*.log"))[:-keep]:  # names start with a timestamp
            old.unlink()

    def up(self) -> OdooInstance:
        """Start Odoo on a fresh copy of the template and open the restaurant POS session."""
        if self.instance:
            return self.instance
        self.prepare()
        db = self.new_database()
        self.server = self._process(db, "server")
        self.server.start(pidfile=self.root / "server.pid")
        self.server.wait_ready()
        rpc = OdooRpc(self.server.base_url, db, ADMIN_LOGIN, ADMIN_PASSWORD)
        config_id = restaurant_config_id(rpc)
        session_id = open_pos_session(rpc, config_id)
        self.instance = OdooInstance(
            tree=self.tree,
            base_url=self.server.base_url,
            db=db,
            config_id=config_id,
            session_id=session_id,
            log_path=self.server.log_path,
            rpc=rpc,
            with_addon=self.with_addon,
        )
        return self.instance

    def close(self) -> None:
        if self.server:
            self.server.stop()
            self.server = None
        self.instance = None
        if self.pg.port:
            for db in self._run_dbs:
                self._drop_database(db)
            self.pg.stop()
        self._run_dbs.clear()
        self._lock.close()
        self._locked = False
        self.python = None

    # -- databases

    def new_database(self) -> str:
        """A fresh database copied from the template (built first if missing)."""
        self.prepare()
        template = self.ensure_template()
        db = f"{self._run_prefix()}{os.getpid()}_{secrets.token_hex(3)}"
        self._copy_database(template, db)
        self._run_dbs.append(db)
        return db

    def _run_prefix(self) -> str:
        return f"possync_run_{self.tree.major}_"

    def _drop_leftover_run_dbs(self) -> None:
        # We hold the cluster lock, so any run database still here belongs to a dead run.
        for db in self.pg.databases(self._run_prefix()):
            self._drop_database(db)

    def template_names(self) -> tuple[str, str]:
        """(base template: Odoo + pos_restaurant + demo, full template: + the sync addon)."""
        base_key = short_hash(str(self.tree.root), BASE_TEMPLATE_RECIPE, *BASE_MODULES)
        base = f"possync_base_{self.tree.major}_{base_key}"
        addon = addon_fingerprint() if self.with_addon else "no-addon"
        full = f"possync_tpl_{self.tree.major}_{short_hash(base, addon, TEMPLATE_RECIPE)}"
        return base, full

    def ensure_template(self) -> str:
        """Name of the up-to-date full template, building the missing layers.

        Two layers so that an edit to the addon costs one module install (seconds) on a
        copy of the base, not a new database with demo data (minutes).
        """
        base, full = self.template_names()
        if not self.pg.exists(base):
            self._build_base_template(base)
        if not self.pg.exists(full):
            self._build_full_template(base, full)
        return full

    def _build_base_template(self, name: str) -> None:
        self._drop_stale(f"possync_base_{self.tree.major}_", keep=name)
        self.log(f"creating {name}: {', '.join(BASE_MODULES)} with demo data (about a minute)")
        started = time.monotonic()
        self._install(name, BASE_MODULES, extra=self.tree.demo_args())
        self.log(f"{name} ready in {time.monotonic() - started:.0f} s")

    def _build_full_template(self, base: str, name: str) -> None:
        self._drop_stale(f"possync_tpl_{self.tree.major}_", keep=name)
        self._copy_database(base, name)
        try:
            if self.with_addon:
                self.log(f"creating {name}: installing {SYNC_MODULE}")
                self._install(name, [SYNC_MODULE])
            self._warm_assets(name)
        except BaseException:
            self._drop_database(name)
            raise

    def _warm_assets(self, db: str) -> None:
        # Compiling the login page and POS bundles takes about 5 s on first load; done once
        # here, every run's first POS load finds them in its copy of the template.
        process = self._process(db, "assets")
        code = process.run_shell(WARM_ASSETS_SCRIPT)
        if code:
            self.log(f"warming assets failed ({code}), continuing; see {process.log_path}")

    def _install(self, db: str, modules: Sequence[str], extra: Sequence[str] = ()) -> None:
        process = self._process(db, "install")
        code = process.run_to_end(["--init", ",".join(modules), *extra])
        if code:
            self._drop_database(db)
            raise HarnessError(
                f"installing {modules} into {db} failed ({code}); see "
                f"{process.log_path}\n{_tail(process.log_path)}"
            )

    def _drop_stale(self, prefix: str, keep: str) -> None:
        for db in self.pg.databases(prefix):
            if db != keep:
                self._drop_database(db)

    def _copy_database(self, source: str, target: str) -> None:
        self.pg.copy_database(source, target)
        # Attachments (images, compiled assets) live in the filestore, not in the database.
        # Odoo never rewrites a stored file in place, so hard links are a safe, instant copy.
        src = self.data_dir / "filestore" / source
        if src.is_dir():
            shutil.copytree(src, self.data_dir / "filestore" / target, copy_function=os.link)

    def _drop_database(self, name: str) -> None:
        self.pg.drop_database(name)
        shutil.rmtree(self.data_dir / "filestore" / name, ignore_errors=True)

    def _process(self, db: str, purpose: str) -> OdooProcess:
        assert self.python, "prepare() first"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        log_path = self.logs / f"{stamp}-{purpose}-{db}.log"
        addons = addons_paths(self.tree, self.with_addon)
        return OdooProcess(self.tree, self.python, self.pg, self.data_dir, db, log_path, addons)

    # -- Odoo's own tests

    def run_addon_tests(
        self, tags: str = f"/{SYNC_MODULE}", modules: Sequence[str] = (SYNC_MODULE,)
    ) -> OdooTestRun:
        """Run Odoo's tests selected by ``tags`` on a fresh copy of the template.

        ``modules`` are updated in that copy, because at_install tests only run while their
        module is installed or updated; post_install tests run either way. HttpCase tours use
        Debian's chromium, which Odoo finds on PATH, and websocket-client from the venv.
        """
        if SYNC_MODULE in modules and not self.with_addon:
            raise HarnessError(
                f"{SYNC_MODULE} is not in use (no manifest or POSSYNC_WITHOUT_ADDON)"
            )
        db = self.new_database()
        process = self._process(db, "tests")
        extra = ["--test-tags", tags, *(["--update", ",".join(modules)] if modules else [])]
        try:
            code = process.run_to_end(extra)
        finally:
            self._drop_database(db)
            self._run_dbs.remove(db)
        return OdooTestRun(code, _test_summary(process.log_path), process.log_path)

    # -- cache

    def clean(self) -> None:
        """Forget this version's cluster, templates and filestores (not the venv)."""
        self.close()
        with file_lock(self.root / "harness.lock", wait=False):
            self.pg.datadir.mkdir(parents=True, exist_ok=True)
            self.pg.stop_if_running()
            shutil.rmtree(self.root / "pg", ignore_errors=True)
            shutil.rmtree(self.data_dir, ignore_errors=True)


def _test_summary(log_path: Path) -> str:
    """Odoo's closing line, e.g. ``0 failed, 0 error(s) of 12 tests when loading ...``."""
    pattern = re.compile(r"odoo\.tests\.result: (.*when loading database.*)$")
    lines = [m[1] for line in _tail(log_path, 400).splitlines() if (m := pattern.search(line))]
    return lines[-1] if lines else "no test summary in the log"


# --------------------------------------------------------------------------- command line


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devkit.harness",
        description="Run a real Odoo 18.0/19.0 for possync tests.",
    )
    parser.add_argument(
        "--odoo-src",
        default=os.environ.get("ODOO_SRC"),
        help="Odoo source tree (default: $ODOO_SRC)",
    )
    parser.add_argument(
        "--without-addon",
        action="store_true",
        help="plain Odoo, without pos_restaurant_sync (also: POSSYNC_WITHOUT_ADDON=1)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start Odoo, print one JSON line, run until Ctrl-C")
    test = sub.add_parser("test", help="run Odoo's own tests of the sync addon")
    test.add_argument("--tags", default=f"/{SYNC_MODULE}", help="Odoo --test-tags")
    sub.add_parser("venv", help="only build the cached virtualenv; print its python")
    sub.add_parser("clean", help="drop this version's cluster, templates and filestore")
    args = parser.parse_args(argv)
    if not args.odoo_src:
        parser.error("--odoo-src or ODOO_SRC is required")
    return args


def _serve_until_interrupted(harness: Harness) -> int:
    started = time.monotonic()
    instance = harness.up()
    info = instance.describe() | {"startup_s": round(time.monotonic() - started, 1)}
    print(json.dumps(info), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            signal.pause()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    harness = Harness(args.odoo_src, with_addon=False if args.without_addon else None)
    if args.command == "venv":
        print(ensure_venv(harness.tree))
        return 0
    if args.command == "clean":
        harness.clean()
        return 0
    # SIGTERM unwinds like Ctrl-C, so the with-block still stops Odoo and PostgreSQL.
    signal.signal(signal.SIGTERM, _interrupt)
    with harness:
        if args.command == "up":
            return _serve_until_interrupted(harness)
        result = harness.run_addon_tests(args.tags)
        print(
            json.dumps(
                {
                    "ok": result.ok,
                    "returncode": result.returncode,
                    "summary": result.summary,
                    "log": str(result.log_path),
                }
            )
        )
        return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
