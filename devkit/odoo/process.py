"""``odoo-bin`` of one tree on one database: run to the end, run a shell script, or serve."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from devkit.ports import free_port

from .children import answers, children, stop_group, wait_answering
from .errors import HarnessError
from .postgres import PgCluster
from .tree import ODOO_BIN, OdooTree


@dataclass(frozen=True)
class OdooPids:
    """The processes of a serving Odoo, for CPU accounting from /proc: the master (the only
    one with ``workers=0``), its forked HTTP workers and its gevent (websocket) process."""

    master: int
    http_workers: tuple[int, ...] = ()
    gevent: int | None = None

    @property
    def all(self) -> tuple[int, ...]:
        return (self.master, *self.http_workers, *([self.gevent] if self.gevent else []))


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
    workers: int = 0
    gevent_port: int = 0
    proxy_mode: bool = False
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
            # No cron threads, so nothing runs behind a test's back.
            "--max-cron-threads": 0,
            **self._worker_options(),
        }
        flat = [str(item) for pair in options.items() for item in pair]
        proxy = ["--proxy-mode"] if self.proxy_mode else []
        odoo_bin = [str(self.python), str(self.tree.root / ODOO_BIN)]
        return [*odoo_bin, *subcommand, *flat, *proxy, *extra]

    def _worker_options(self) -> dict[str, object]:
        """workers=0 serves everything, the bus websocket included, from one process on the
        HTTP port; with workers, Odoo forks HTTP workers and serves the websocket only from
        its gevent process on ``gevent_port`` (field notes)."""
        if not self.workers:
            return {"--workers": 0}
        self.gevent_port = self.gevent_port or free_port()
        return {
            "--workers": self.workers,
            "--gevent-port": self.gevent_port,
            # A request on a shared 2-core machine takes several times a server's time:
            # limits a server would use would recycle workers in the middle of a test.
            "--limit-time-cpu": 300,
            "--limit-time-real": 600,
        }

    @property
    def websocket_port(self) -> int:
        """Where Odoo serves ``/websocket``."""
        return self.gevent_port if self.workers else self.http_port

    def export_pot(self, module: str, path: Path, timeout: float = 600) -> int:
        """Write ``module``'s translation template to ``path`` with odoo-bin's own export:
        a server option on 18, the ``i18n export`` command on 19 (which reads the database
        settings from a file only)."""
        if self.tree.major < 19:
            return self.run_to_end([f"--i18n-export={path}", f"--modules={module}"], timeout)
        config = self.data_dir.parent / "i18n-odoo.conf"
        settings = {
            "addons_path": ",".join(str(p) for p in self.addons),
            "data_dir": self.data_dir,
            "db_host": "127.0.0.1",
            "db_port": self.pg.port,
            "db_user": self.pg.role,
        }
        config.write_text("[options]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
        odoo_bin = [str(self.python), str(self.tree.root / ODOO_BIN)]
        export = ["i18n", "export", "-c", str(config), "-d", self.db, "-o", str(path), module]
        return self._run([*odoo_bin, *export], None, timeout)

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
        version_info = f"{self.base_url}/web/webclient/version_info"
        wait_answering(
            self.proc, lambda: answers(version_info, b"{}"), "Odoo", self.log_path, timeout
        )

    def pids(self) -> OdooPids:
        if not self.proc or self.proc.poll() is not None:
            raise HarnessError("Odoo is not running")
        workers, gevent = [], None
        for child in children(self.proc.pid):
            try:
                args = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue  # exited since
            if b"gevent" in args:
                gevent = child
            else:
                workers.append(child)
        return OdooPids(self.proc.pid, tuple(sorted(workers)), gevent)

    def kill_http_worker(self, wait: float = 30) -> int:
        """SIGKILL one HTTP worker, as the kernel's OOM killer would; Odoo's master forks a
        new one. Returns the killed pid once the master has replaced it (within ``wait``)."""
        workers = self.pids().http_workers
        if not workers:
            raise HarnessError("Odoo has no HTTP workers (workers=0)")
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            now = self.pids().http_workers
            if workers[0] not in now and len(now) >= self.workers:
                return workers[0]
            time.sleep(0.2)
        raise HarnessError(f"Odoo did not replace its killed worker {workers[0]} in {wait:.0f} s")

    def stop(self, timeout: float = 20) -> None:
        # Odoo's first SIGTERM is a graceful shutdown.
        stop_group(self.proc, signal.SIGTERM, timeout)
        if self._log:
            self._log.close()
            self._log = None


def kill_orphan_server(pidfile: Path, program: bytes = b"odoo-bin") -> None:
    """Stop the server (Odoo, or nginx with ``program=b"nginx"``) a killed harness left
    running: it has its own process group, led by the pid in ``pidfile``."""
    try:
        pid = int(pidfile.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    # Only if that pid still is a server of ours, not a process that reused the number.
    if program in cmdline and str(pidfile.parent).encode() in cmdline:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)


def _odoo_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env
