"""Where the harness keeps its files, and the small tools it handles them with."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import HarnessError


def cache_dir() -> Path:
    """Where built virtualenvs live (``POSSYNC_CACHE`` overrides ``~/.cache/possync``)."""
    return Path(os.environ.get("POSSYNC_CACHE", Path.home() / ".cache" / "possync"))


def state_dir() -> Path:
    """Where the PostgreSQL clusters and Odoo filestores live.

    As root the cluster must be run by the ``postgres`` user, which cannot enter ``/root``
    (mode 700), so root's state goes to /var/tmp instead of ``~/.cache``.
    ``POSSYNC_STATE_DIR`` overrides both.
    """
    if override := os.environ.get("POSSYNC_STATE_DIR"):
        return Path(override)
    if os.geteuid() == 0:
        return Path("/var/tmp/possync-state")
    return cache_dir() / "state"


def short_hash(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:12]


@contextlib.contextmanager
def file_lock(path: Path, *, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive flock on ``path``; with ``wait=False`` fail at once if it is taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as exc:
            raise HarnessError(f"{path} is held by another harness run") from exc
        yield


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` of a log, for an error message ("" if it cannot be read)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
