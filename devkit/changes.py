"""Valid changes to send to an agent or a server, each with a fresh id and clock stamp."""

from __future__ import annotations

import time
import uuid

from agent.protocol import HybridClock

_clock = HybridClock()


def hlc_now() -> str:
    return _clock.tick(time.time_ns() // 1_000_000)


def add_line(product: int = 1, qty: float = 1) -> dict:
    values = {"product_id": product, "qty": qty}
    return {"op": "line.add", "line": uuid.uuid4().hex[:16], "values": values}


def change(order: str = "o1", ops: list[dict] | None = None, terminal: str = "t-test") -> dict:
    """A valid change with a fresh id (one new line unless ops are given)."""
    return {
        "v": 1,
        "id": uuid.uuid4().hex,
        "terminal": terminal,
        "hlc": hlc_now(),
        "order": order,
        "ops": ops or [add_line()],
    }
