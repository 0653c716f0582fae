"""The running agent's files in its data folder: a lock (one agent per folder) and
`runtime.json` (pid, ports, page token; mode 0600) for `possync-agent status` and the
desktop app. The folder is made private to the user (agent.private_files) before anything
is written in it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO, Any

from agent.private_files import FILE_MODE, NotPrivate, private_dir, private_file
from agent.store import DatabaseUnreadable

RUNTIME_FILE = "runtime.json"
LOCK_FILE = "agent.lock"


class AlreadyRunning(Exception):
    """Another agent holds this data folder."""


def lock(data_dir: Path) -> IO:
    """Hold the data folder's lock until the returned file is closed or the process dies.

    :raises DatabaseUnreadable: the folder cannot be made private to this user
    """
    path = data_dir / LOCK_FILE
    try:
        private_dir(data_dir)
        private_file(path)
    except NotPrivate as exc:
        raise DatabaseUnreadable(f"cannot use the data folder: {exc}") from exc
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, FILE_MODE)
    handle = os.fdopen(fd, "a+")  # held for the process's life
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        raise AlreadyRunning(f"another possync-agent is running on {data_dir}") from exc
    return handle


def write(data_dir: Path, info: dict[str, Any]) -> None:
    """Write runtime.json readable by this user only, atomically."""
    path = data_dir / RUNTIME_FILE
    tmp = path.with_name(RUNTIME_FILE + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(info, out)
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)


def read(data_dir: Path) -> dict[str, Any] | None:
    """What the running agent wrote; None when no agent holds the folder's lock.

    A killed agent leaves its runtime.json behind, naming a loopback port that another
    local user may hold by now: nobody may be sent the page token there.
    """
    try:
        info = json.loads((data_dir / RUNTIME_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if _held(data_dir) else None


def _held(data_dir: Path) -> bool:
    """Whether a running agent holds the folder's lock."""
    try:
        lock(data_dir).close()
    except AlreadyRunning:
        return True
    except DatabaseUnreadable:
        return False
    return False


def remove(data_dir: Path) -> None:
    (data_dir / RUNTIME_FILE).unlink(missing_ok=True)
