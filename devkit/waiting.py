"""Waiting for a condition that other processes or tasks make true."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

# How long a test waits for something to happen: a change to show on another terminal, a
# state to be reached. A wait for an event, never a speed check (the benches measure
# speed): on two cores shared with other work, what takes 0.3 s on a quiet machine can take
# seconds. A wait whose point is that something does NOT happen keeps its own bound.
SHOWS_WITHIN_S = 15.0
SHOWS_WITHIN_MS = SHOWS_WITHIN_S * 1000


async def eventually(
    check: Callable[[], Any], timeout: float = SHOWS_WITHIN_S, every: float = 0.05
) -> Any:
    """Wait until `await check()` (or `check()`) is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value or time.monotonic() > deadline:
            assert value, f"not true after {timeout} s"
            return value
        await asyncio.sleep(every)
