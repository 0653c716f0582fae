"""The app's and the agent's log files, rotated so a tablet that runs for months never
fills its disk: each log is at most ``MAX_BYTES``, plus ``BACKUPS`` older files
(``possync.log.1`` … ``.3``), 20 MiB a log in all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from logging.handlers import RotatingFileHandler
from pathlib import Path

MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3


def rotating_file(path: Path) -> RotatingFileHandler:
    """A handler that starts a new file once ``path`` reaches MAX_BYTES."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Read at call time, so tests can shrink the limit.
    return RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")


def copy_lines(lines: Iterable[str], handler: logging.Handler) -> None:
    """Write another process's output to ``handler``, line by line, as it comes.

    The agent's lines already carry their own time and level, so they are written as is.
    """
    for line in lines:
        handler.handle(logging.makeLogRecord({"msg": line.rstrip("\n"), "args": None}))
