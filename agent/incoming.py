"""Reading what the server and the peers send: sequence numbers, and changes whose invalid
ones are skipped (and logged) so that one bad change never holds up the rest."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from agent.protocol import InvalidChange, parse_change

log = logging.getLogger(__name__)


def is_seq(value: Any) -> bool:
    """A sequence number or cursor: an integer ≥ 0 (a bool is not one)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def valid_changes(
    candidates: Iterable[Any], sender: str, check: Callable[[dict], None] | None = None
) -> list[dict]:
    """The candidates that parse as changes (and pass ``check``, which raises
    InvalidChange); each other one is logged as coming from ``sender`` and skipped."""
    valid = []
    for candidate in candidates:
        try:
            change = parse_change(candidate)
            if check is not None:
                check(change)
        except InvalidChange as exc:
            log.warning("ignoring an invalid change from %s: %s", sender, exc)
            continue
        valid.append(change)
    return valid
