"""A private PostgreSQL cluster per Odoo version, so the system cluster is never touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devkit.ports import free_port

from .errors import HarnessError


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
