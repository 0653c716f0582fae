"""``odoo-bin`` of one tree on one database: run to the end, run a shell script, or serve."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from devkit.ports import free_port

from .errors import HarnessError
from .files import tail
from .postgres import PgCluster
from .tree import ODOO_BIN, OdooTree


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
        return [str(self.python), str(self.tree.root / ODOO_BIN), *subcommand, *flat, *extra]

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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise HarnessError(
                    f"Odoo exited ({self.proc.returncode}); see {self.log_path}\n"
                    f"{tail(self.log_path)}"
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
