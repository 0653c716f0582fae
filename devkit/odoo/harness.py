"""The harness: one PostgreSQL cluster and, once up, one Odoo server for one source tree."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .addon import ADDONS_DIR, SYNC_MODULE, addon_wanted, addons_paths, sync_addon_present
from .errors import HarnessError, Log, log_to_stderr
from .files import file_lock, state_dir
from .instance import OdooInstance
from .odoo_tests import OdooTestRun
from .postgres import PgCluster
from .process import OdooPids, OdooProcess, kill_orphan_server
from .proxy import NginxProxy
from .served import ServedOdoo, ServerShape
from .templates import Templates
from .tree import OdooTree
from .venv import ensure_venv

# Odoo logs kept per version, newest first.
KEEP_LOGS = 40


@dataclass(frozen=True)
class ModuleInstall:
    """What ``odoo-bin --init`` left: its exit code, and the module's state and version as
    the database records them (``installed``, ``19.0.1.4.0``)."""

    returncode: int
    state: str
    version: str
    log_path: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.state == "installed"


class Harness:
    """Owns one PostgreSQL cluster and, after :meth:`up`, one Odoo server for one tree.

    Use as a context manager; :meth:`close` stops everything and drops the run's database,
    keeping the cached venv, cluster and templates for the next run.
    """

    def __init__(
        self,
        odoo_src: str | Path,
        *,
        with_addon: bool | None = None,
        workers: int | None = None,
        proxy: str | None = None,
        log: Log = log_to_stderr,
    ) -> None:
        self.tree = OdooTree.detect(odoo_src)
        self.shape = ServerShape.chosen(workers, proxy)
        self.with_addon = addon_wanted() if with_addon is None else with_addon
        if self.with_addon and not sync_addon_present():
            raise HarnessError(f"{ADDONS_DIR / SYNC_MODULE} has no __manifest__.py")
        self.log = log
        self.root = state_dir() / f"odoo-{self.tree.version}"
        self.data_dir = self.root / "odoo-data"
        self.logs = self.root / "logs"
        self.pg = PgCluster(self.root / "pg")
        self.templates = Templates(
            self.tree, self.pg, self.data_dir, self.with_addon, self._process, log
        )
        self.python: Path | None = None
        self.served: ServedOdoo | None = None
        # The parts of ``served``, for callers that restart Odoo or read its proxy.
        self.server: OdooProcess | None = None
        self.proxy: NginxProxy | None = None
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
        for name in ("server", "another"):
            kill_orphan_server(self.root / f"{name}.pid")
        self.pg.start()
        # We hold the cluster lock, so any run database still here belongs to a dead run.
        self.templates.drop_all(self._run_prefix())
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
        self.served = self._serve(self.new_database(), self.shape, "server")
        self.server, self.proxy = self.served.server, self.served.proxy
        self.instance = self.served.instance
        return self.instance

    @contextlib.contextmanager
    def another_server(self, workers: int = 0, proxy: str | None = None) -> Iterator[ServedOdoo]:
        """A second Odoo of another shape, beside the one :meth:`up` started, on a fresh
        copy of the template; stopped and dropped at the end of the ``with`` block. So one
        test session can try a production shape, or a broken proxy, next to the default."""
        self.prepare()
        db = self.new_database()
        served = self._serve(db, ServerShape.chosen(workers, proxy), "another")
        try:
            yield served
        finally:
            served.stop()
            self.templates.drop(db)
            self._run_dbs.remove(db)

    def _serve(self, db: str, shape: ServerShape, name: str) -> ServedOdoo:
        """``odoo-bin`` on ``db`` shaped as ``shape``; its pid file and nginx folder are
        named ``name`` so that the next run stops them if this one is killed."""
        return ServedOdoo.start(
            self._process(db, name),
            shape,
            pidfile=self.root / f"{name}.pid",
            nginx_dir=self.root / ("nginx" if name == "server" else f"nginx-{name}"),
            with_addon=self.with_addon,
        )

    # -- the running server's processes

    def odoo_pids(self) -> OdooPids:
        """Odoo's master, HTTP workers and gevent process (for CPU accounting from /proc)."""
        return self._served().pids()

    def kill_http_worker(self) -> int:
        """SIGKILL one of Odoo's HTTP workers; returns its pid once the master replaced it."""
        return self._served().kill_http_worker()

    def _served(self) -> ServedOdoo:
        if not self.served:
            raise HarnessError("Odoo is not running: up() first")
        return self.served

    def close(self) -> None:
        if self.served:
            self.served.stop()
        self.served = self.server = self.proxy = self.instance = None
        if self.pg.port:
            for db in self._run_dbs:
                self.templates.drop(db)
            self.pg.stop()
        self._run_dbs.clear()
        self._lock.close()
        self._locked = False
        self.python = None

    # -- databases

    def new_database(self, base: bool = False) -> str:
        """A fresh database copied from the full template, or from the base template (no
        sync addon) when ``base``; the template is built first if missing."""
        self.prepare()
        template = self.templates.ensure_base() if base else self.templates.ensure()
        db = f"{self._run_prefix()}{os.getpid()}_{secrets.token_hex(3)}"
        self.templates.copy(template, db)
        self._run_dbs.append(db)
        return db

    def _run_prefix(self) -> str:
        return f"possync_run_{self.tree.major}_"

    def _process(self, db: str, purpose: str, addons: list[Path] | None = None) -> OdooProcess:
        """``odoo-bin`` on ``db``, with the harness's addons paths unless ``addons`` is given."""
        assert self.python, "prepare() first"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        log_path = self.logs / f"{stamp}-{purpose}-{db}.log"
        addons = addons or addons_paths(self.tree, self.with_addon)
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
        extra = ["--test-tags", tags, *(["--update", ",".join(modules)] if modules else [])]
        with self._fresh_process("tests") as process:
            code = process.run_to_end(extra)
        return OdooTestRun.read(code, process.log_path)

    # -- a release zip

    def install_from(self, addons_dir: Path, module: str = SYNC_MODULE) -> ModuleInstall:
        """Install ``module`` from ``addons_dir`` instead of the repo's ``addon/`` (an
        unpacked release zip) with ``--init``, on a fresh copy of the base template."""
        addons = [self.tree.root / "addons", addons_dir]
        with self._fresh_process("install", base=True, addons=addons) as process:
            code = process.run_to_end(["--init", module])
            query = f"SELECT state, latest_version FROM ir_module_module WHERE name = '{module}'"
            row = self.pg.psql(query, process.db)
        state, _, version = row.partition("|")
        return ModuleInstall(code, state, version, process.log_path)

    # -- translations

    def export_pot(self, path: Path) -> Path:
        """Export the sync addon's translation template to ``path`` (Odoo's own export, on a
        fresh copy of the template, where the addon is installed); returns the log."""
        if not self.with_addon:
            raise HarnessError(f"{SYNC_MODULE} is not in use: nothing to export")
        path = path.resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._fresh_process("pot") as process:
            code = process.export_pot(SYNC_MODULE, path)
        if code or not path.is_file():
            raise HarnessError(f"exporting {path.name} failed ({code}); see {process.log_path}")
        return process.log_path

    @contextlib.contextmanager
    def _fresh_process(
        self, purpose: str, base: bool = False, addons: list[Path] | None = None
    ) -> Iterator[OdooProcess]:
        """An ``odoo-bin`` on a fresh copy of a template (see :meth:`new_database`),
        dropped afterwards."""
        db = self.new_database(base)
        try:
            yield self._process(db, purpose, addons)
        finally:
            self.templates.drop(db)
            self._run_dbs.remove(db)

    # -- cache

    def clean(self) -> None:
        """Forget this version's cluster, templates and filestores (not the venv)."""
        self.close()
        with file_lock(self.root / "harness.lock", wait=False):
            self.pg.datadir.mkdir(parents=True, exist_ok=True)
            self.pg.stop_if_running()
            shutil.rmtree(self.root / "pg", ignore_errors=True)
            shutil.rmtree(self.data_dir, ignore_errors=True)
