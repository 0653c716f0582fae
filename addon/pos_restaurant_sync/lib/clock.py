"""The server's clock in milliseconds, as the protocol counts time."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Milliseconds since the epoch on the server's clock."""
    return int(time.time() * 1000)
