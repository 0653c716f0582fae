"""The servers the harness runs as child processes, each in a process group of its own:
waiting until one answers, stopping it, and finding its own children in /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .errors import HarnessError
from .files import tail


def answers(url: str, data: bytes | None = None) -> bool:
    """Whether ``url`` answers 200 now (a JSON POST when ``data`` is given)."""
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_answering(
    proc: subprocess.Popen[bytes] | None,
    ready: Callable[[], bool],
    name: str,
    log_path: Path,
    timeout: float,
) -> None:
    """Return once ``ready()``; fail with the log's tail if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc and proc.poll() is not None:
            raise HarnessError(
                f"{name} exited ({proc.returncode}); see {log_path}\n{tail(log_path)}"
            )
        if ready():
            return
        time.sleep(0.3)
    raise HarnessError(f"{name} not ready after {timeout:.0f} s; see {log_path}")


def stop_group(proc: subprocess.Popen[bytes] | None, graceful: int, timeout: float) -> None:
    """Send ``graceful`` to the process group ``proc`` leads; SIGKILL it if it hangs."""
    if proc and proc.poll() is None:
        os.killpg(proc.pid, graceful)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def children(pid: int) -> list[int]:
    """The live child processes of ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid …": comm may hold spaces, so split after its ")".
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found
