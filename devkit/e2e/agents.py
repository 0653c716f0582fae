"""Real ``possync-agent`` processes for the end-to-end suite, one per terminal.

Ports are fixed at the first start, so a restarted agent (after SIGKILL, or a terminal
switched back on) listens where its page and its peers' proxies expect it.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from agent.protocol import materialize
from devkit.ports import free_port

REPO = Path(__file__).resolve().parents[2]
# Retry caps short enough that a healed link is used within the 5 s convergence target;
# everything else is the agent's default.
TIMINGS = {"POSSYNC_BACKOFF_MAX_S": "2", "POSSYNC_HEARTBEAT_S": "5"}


@dataclass
class AgentSpec:
    data_dir: Path
    server: str
    db: str
    config_id: int
    origin: str
    token: str
    password: str
    page_port: int = field(default_factory=free_port)
    peer_port: int = field(default_factory=free_port)
    peers: list[str] = field(default_factory=list)


class Agent:
    """One agent process; ``start`` again after ``kill`` reuses its data folder and ports."""

    def __init__(self, spec: AgentSpec) -> None:
        self.spec = spec
        self.proc: subprocess.Popen[bytes] | None = None
        self.terminal = ""
        spec.data_dir.mkdir(parents=True, exist_ok=True)

    def args(self) -> list[str]:
        s = self.spec
        args = [sys.executable, "-m", "agent.cli", "run", "--data-dir", str(s.data_dir)]
        args += ["--page-port", str(s.page_port), "--peer-port", str(s.peer_port)]
        args += ["--peer-host", "127.0.0.1", "--no-mdns", "--server", s.server, "--db", s.db]
        args += ["--login", "admin", "--config-id", str(s.config_id)]
        args += ["--allowed-origin", s.origin]
        for peer in s.peers:
            args += ["--peer", peer]
        return args

    def start(self) -> None:
        env = {**os.environ, **TIMINGS, "PYTHONUNBUFFERED": "1"}
        env |= {"POSSYNC_PAGE_TOKEN": self.spec.token, "POSSYNC_PASSWORD": self.spec.password}
        env["POSSYNC_DEVICE_KEY_STORE"] = "file"  # no keyring on a test machine
        with (self.spec.data_dir / "agent.log").open("ab") as log:
            self.proc = subprocess.Popen(
                self.args(),
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=REPO,
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise RuntimeError(f"agent exited {self.proc.returncode}; see {self.spec.data_dir}")
        self.terminal = json.loads(line)["terminal"]

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, like a power cut for the process."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.spec.page_port}/page"

    def orders(self) -> dict[str, dict]:
        """Every order this agent holds, materialized from its change log."""
        db = sqlite3.connect(f"file:{self.spec.data_dir / 'queue.db'}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT body FROM changes").fetchall()
        finally:
            db.close()
        by_order: dict[str, list[dict]] = defaultdict(list)
        for (payload,) in rows:
            change = json.loads(payload)
            by_order[change["order"]].append(change)
        return {uuid: materialize(uuid, changes) for uuid, changes in by_order.items()}

    def outbox(self) -> int:
        db = sqlite3.connect(f"file:{self.spec.data_dir / 'queue.db'}?mode=ro", uri=True)
        try:
            return db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        finally:
            db.close()
