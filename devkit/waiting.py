"""Waiting for a condition that other processes or tasks make true."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def eventually(check: Callable[[], Any], timeout: float = 15, every: float = 0.05) -> Any:
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
