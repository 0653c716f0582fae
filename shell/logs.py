"""The app's and the agent's log files, rotated so a tablet that runs for months never
fills its disk: each log is at most ``MAX_BYTES``, plus ``BACKUPS`` older files
(``possync.log.1`` … ``.3``), 20 MiB a log in all. Logs name orders and customers, so
they are private to the user like the rest of the data (0600 in a 0700 folder).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from logging.handlers import RotatingFileHandler
from pathlib import Path

from agent.private_files import FILE_MODE, private_dir, private_file

MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3


class PrivateRotatingFileHandler(RotatingFileHandler):
    """Creates each new log file (the first and the one after a rollover) with mode 0600;
    a rollover renames files, which keeps their mode."""

    def _open(self):  # type: ignore[no-untyped-def]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def rotating_file(path: Path) -> RotatingFileHandler:
    """A handler that starts a new file once ``path`` reaches MAX_BYTES.

    The folder is made private and the log and its backups, if an earlier version left
    them readable by others, are set to 0600 before the first line is written.
    """
    private_dir(path.parent)
    for existing in [path, *(path.with_name(f"{path.name}.{n}") for n in range(1, BACKUPS + 1))]:
        private_file(existing)
    # Read at call time, so tests can shrink the limit.
    return PrivateRotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
    )


def copy_lines(lines: Iterable[str], handler: logging.Handler) -> None:
    """Write another process's output to ``handler``, line by line, as it comes.

    The agent's lines already carry their own time and level, so they are written as is.
    """
    for line in lines:
        handler.handle(logging.makeLogRecord({"msg": line.rstrip("\n"), "args": None}))
