"""Run the agent as a child process and keep it running.

The agent is a separate process, not a thread of the GUI process: a crash or a hang in it
never takes the POS window down, and restarting it is just starting it again. When it
dies it is restarted with exponential backoff; it keeps the page port it first got, so
pages that already know its address reconnect to the new one.

The agent's log (its stderr) goes through this process into a rotating file
(shell.logs), not to a file the agent holds open: the size stays bounded during a run of
months, and on Windows a file held open by the child could not be renamed to rotate it.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shell import logs

log = logging.getLogger("possync.supervisor")

BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0
# A run this long counts as healthy: the next crash starts the backoff over.
HEALTHY_RUN_S = 60.0
STOP_GRACE_S = 5.0


@dataclass
class Listening:
    page_port: int
    peer_port: int | None
    terminal: str
    pid: int


class AgentSupervisor:
    """Starts ``command(page_port)`` and restarts it until ``stop()``.

    ``command`` gets the page port to ask for (0 = any free port on the first start) and
    returns the full command line.
    """

    def __init__(
        self,
        command: Callable[[int], list[str]],
        env: dict[str, str],
        log_path: Path | None = None,
        on_listening: Callable[[Listening], None] | None = None,
    ) -> None:
        self._command = command
        self._env = env
        self._log = logs.rotating_file(log_path) if log_path else logging.NullHandler()
        self._on_listening = on_listening
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listening_event = threading.Event()
        self._process: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None
        self.listening: Listening | None = None
        self.restarts = 0
        self.last_exit: int | None = None

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="possync-agent", daemon=True)
        self._thread.start()

    def wait_listening(self, timeout: float) -> Listening | None:
        """The agent's address once it listens, or None after ``timeout`` seconds."""
        self._listening_event.wait(timeout)
        return self.listening

    def stop(self) -> None:
        """Stop the agent and do not restart it."""
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is not None:
            _terminate(process)
        if self._thread is not None:
            self._thread.join(STOP_GRACE_S + 2)
        # Nobody waits for an address that will not come.
        self.listening = None
        self._listening_event.set()
        self._log.close()  # reopened by its next write, if the agent is started again

    def restart(self, command: Callable[[int], list[str]], env: dict[str, str]) -> None:
        """Run the agent with new settings (the setup screen saved new ones)."""
        self.stop()
        self._command, self._env = command, env
        self._listening_event.clear()
        self.start()

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._process.pid if self._process else None

    # ------------------------------------------------------------------ loop

    def _run(self) -> None:
        backoff = BACKOFF_START_S
        while not self._stopping.is_set():
            started = time.monotonic()
            self.last_exit = self._run_once()
            if self._stopping.is_set():
                break
            if time.monotonic() - started > HEALTHY_RUN_S:
                backoff = BACKOFF_START_S
            log.warning("agent exited with %s; restarting in %.1f s", self.last_exit, backoff)
            self.restarts += 1
            if self._stopping.wait(backoff):
                break
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    def _run_once(self) -> int:
        port = self.listening.page_port if self.listening else 0
        try:
            process = subprocess.Popen(
                self._command(port),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._env,
                text=True,
                errors="replace",  # a stray byte must not kill the copier and stall the agent
                creationflags=_creation_flags(),
            )
        except OSError as exc:
            log.error("cannot start the agent: %s", exc)
            return -1
        with self._lock:
            self._process = process
        # Both pipes are drained at once: a full stderr pipe would stall the agent.
        copier = threading.Thread(
            target=logs.copy_lines, args=(process.stderr, self._log), daemon=True
        )
        copier.start()
        self._read_stdout(process)
        code = process.wait()
        copier.join(STOP_GRACE_S)
        with self._lock:
            self._process = None
        return code

    def _read_stdout(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            event = _parse_event(line)
            if event and event.get("event") == "listening":
                self._listened(event, process.pid)

    def _listened(self, event: dict, pid: int) -> None:
        self.listening = Listening(
            int(event["page_port"]), event.get("peer_port"), str(event.get("terminal", "")), pid
        )
        self._listening_event.set()
        if self._on_listening:
            self._on_listening(self.listening)


def _parse_event(line: str) -> dict | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) else None


def _terminate(process: subprocess.Popen[str]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _creation_flags() -> int:
    # No console window pops up next to the POS on Windows.
    return getattr(subprocess, "CREATE_NO_WINDOW", 0) if sys.platform == "win32" else 0


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The agent's environment: ours, plus its secrets, with unbuffered output so the
    listening line arrives at once."""
    env = dict(os.environ)
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env
