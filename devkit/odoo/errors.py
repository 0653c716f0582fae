"""How the real-Odoo harness reports: one error type and a progress log."""

from __future__ import annotations

import sys
from collections.abc import Callable

Log = Callable[[str], None]


class HarnessError(RuntimeError):
    """Something the harness needs did not work; the message says what and where to look."""


def log_to_stderr(message: str) -> None:
    print(f"[realodoo] {message}", file=sys.stderr, flush=True)
