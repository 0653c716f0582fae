"""Valid changes to send to an agent or a server, each with a fresh id and clock stamp.

The one place tests, benches and the protocol-level terminals (``devkit/protocol_terminal.py``,
``devkit/e2e/protocol_page.py``) build a change and its ops (docs/protocol.md).
"""

from __future__ import annotations

import uuid
from typing import Any

from agent.clock import device_ms
from agent.protocol import PROTOCOL_VERSION, HybridClock

_clock = HybridClock()


def new_line_id() -> str:
    return uuid.uuid4().hex[:16]


def line_add(line: str, values: dict[str, Any]) -> dict:
    return {"op": "line.add", "line": line, "values": values}


def line_set(line: str, field: str, value: Any) -> dict:
    return {"op": "line.set", "line": line, "field": field, "value": value}


def order_set(field: str, value: Any) -> dict:
    return {"op": "order.set", "field": field, "value": value}


def add_line(product: int = 1, qty: float = 1) -> dict:
    return line_add(new_line_id(), {"product_id": product, "qty": qty})


def stamped(order: str, ops: list[dict], terminal: str, clock: HybridClock) -> dict:
    """A change of ``order`` made of ``ops``, with a fresh id and ``clock``'s next stamp."""
    return {
        "v": PROTOCOL_VERSION,
        "id": uuid.uuid4().hex,
        "terminal": terminal,
        "hlc": clock.tick(device_ms()),
        "order": order,
        "ops": ops,
    }


def change(order: str = "o1", ops: list[dict] | None = None, terminal: str = "t-test") -> dict:
    """A valid change with a fresh id (one new line unless ops are given)."""
    return stamped(order, ops or [add_line()], terminal, _clock)
