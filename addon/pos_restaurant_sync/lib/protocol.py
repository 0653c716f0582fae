"""The possync sync protocol: changes, the hybrid logical clock and the merge rules.

This module is pure (no I/O, no clock reads: callers pass the wall time) so the agent and
the Odoo addon run the very same rules. docs/protocol.md is the specification; the JS twin
is addon/pos_restaurant_sync/static/src/lib/protocol.js. The addon ships a byte-identical
copy of this file in addon/pos_restaurant_sync/lib/protocol.py (tests/test_protocol_copies.py
fails when they differ): edit this one, then copy it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

PROTOCOL_VERSION = 1

# Fields a change may set, by the part of the order they belong to.
ORDER_FIELDS = frozenset(
    {"partner_id", "table_id", "customer_count", "customer_note", "internal_note"}
)
LINE_FIELDS = frozenset(
    {
        "product_id",
        "qty",
        "price_unit",
        "discount",
        "customer_note",
        "internal_note",
        "attribute_value_ids",
    }
)
PAYMENT_FIELDS = frozenset({"payment_method_id", "amount"})

# A closed order never returns to draft; a payment outranks a cancel (money was taken).
STATE_RANK = {"draft": 0, "cancel": 1, "paid": 2}

OP_KINDS = frozenset(
    {
        "order.set",
        "order.close",
        "line.add",
        "line.set",
        "line.delete",
        "payment.add",
        "payment.set",
        "payment.remove",
    }
)

MAX_OPS_PER_CHANGE = 500
MAX_ID_LENGTH = 64
MAX_TEXT_LENGTH = 2000
MAX_ATTRIBUTE_VALUES = 50
MAX_DRIFT_MS = 60_000
MAX_COUNTER = 99_999

_HLC_RE = re.compile(r"^\d{15}-\d{5}$")
_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class InvalidChange(ValueError):
    """A change that does not follow the protocol; it is refused whole."""


class FutureChange(InvalidChange):
    """A change stamped more than MAX_DRIFT_MS ahead of the receiver's clock."""

    def __init__(self, ahead_ms: int, receiver: str) -> None:
        super().__init__(
            f"clock {ahead_ms / 1000:.1f} s ahead of {receiver} "
            f"(at most {MAX_DRIFT_MS // 1000} s): check the sender's date and time"
        )
        self.ahead_ms = ahead_ms


# --- hybrid logical clock -------------------------------------------------------------


def format_hlc(wall_ms: int, counter: int) -> str:
    """A clock reading as a fixed-width string, so string order is time order."""
    return f"{wall_ms:015d}-{counter:05d}"


def parse_hlc(stamp: str) -> tuple[int, int]:
    if not isinstance(stamp, str) or not _HLC_RE.match(stamp):
        raise InvalidChange(f"bad clock reading {stamp!r}")
    wall, counter = stamp.split("-")
    return int(wall), int(counter)


class HybridClock:
    """Hybrid logical clock (Kulkarni et al.): wall time plus a counter.

    Readings never go backwards, even when the wall clock does. Receivers refuse changes
    stamped more than MAX_DRIFT_MS ahead (`check_clock`); a reading that is not a change
    (an agent's welcome) is adopted only up to that bound, so no terminal drags the others
    into the future.
    """

    def __init__(self, last: str | None = None) -> None:
        self.wall_ms, self.counter = parse_hlc(last) if last else (0, 0)

    def tick(self, now_ms: int) -> str:
        """A new reading for a local event."""
        if now_ms > self.wall_ms:
            self.wall_ms, self.counter = now_ms, 0
        else:
            self._bump()
        return self.reading()

    def observe(self, stamp: str, now_ms: int) -> None:
        """Move past a reading received from another terminal."""
        wall, counter = parse_hlc(stamp)
        if wall > now_ms + MAX_DRIFT_MS:
            wall, counter = now_ms + MAX_DRIFT_MS, 0
        if (wall, counter) > (self.wall_ms, self.counter):
            self.wall_ms, self.counter = wall, counter

    def reading(self) -> str:
        return format_hlc(self.wall_ms, self.counter)

    def _bump(self) -> None:
        if self.counter >= MAX_COUNTER:
            self.wall_ms, self.counter = self.wall_ms + 1, 0
        else:
            self.counter += 1


def check_clock(change: dict, now_ms: int, receiver: str = "the receiver") -> dict:
    """Refuse a (parsed) change stamped more than MAX_DRIFT_MS ahead of `now_ms`.

    `now_ms` is the receiver's corrected clock. A reading from the far future would sort
    after every later edit, so the change is refused whole (FutureChange), never clamped:
    a stamp is part of the change, and every replica must merge it the same way.
    """
    wall, _counter = parse_hlc(change["hlc"])
    if wall > now_ms + MAX_DRIFT_MS:
        raise FutureChange(wall - now_ms, receiver)
    return change


# --- validation -----------------------------------------------------------------------


def parse_change(obj: Any) -> dict:
    """Check a change received from anywhere; return it or raise InvalidChange."""
    if not isinstance(obj, dict):
        raise InvalidChange("a change is a JSON object")
    if obj.get("v") != PROTOCOL_VERSION:
        raise InvalidChange(f"unsupported protocol version {obj.get('v')!r}")
    for key in ("id", "terminal", "order"):
        _check_id(obj.get(key), key)
    parse_hlc(obj.get("hlc"))
    ops = obj.get("ops")
    if not isinstance(ops, list) or not 1 <= len(ops) <= MAX_OPS_PER_CHANGE:
        raise InvalidChange(f"ops must be a list of 1 to {MAX_OPS_PER_CHANGE} operations")
    for op in ops:
        _check_op(op)
    extra = set(obj) - {"v", "id", "terminal", "hlc", "order", "ops"}
    if extra:
        raise InvalidChange(f"unknown keys {sorted(extra)}")
    return obj


def is_valid_id(value: Any) -> bool:
    """Whether ``value`` may name a change, an order, a line or a terminal."""
    return isinstance(value, str) and bool(_ID_RE.match(value))


def _check_id(value: Any, what: str) -> None:
    if not is_valid_id(value):
        raise InvalidChange(f"{what} must be 1-{MAX_ID_LENGTH} characters of [A-Za-z0-9_.:-]")


def _check_op(op: Any) -> None:
    if not isinstance(op, dict) or not isinstance(op.get("op"), str) or op["op"] not in OP_KINDS:
        raise InvalidChange(f"unknown operation {op!r:.80}")
    kind = op["op"]
    if kind == "order.set":
        _check_field(op, ORDER_FIELDS)
    elif kind == "order.close":
        if op.get("state") not in ("paid", "cancel"):
            raise InvalidChange("order.close needs state 'paid' or 'cancel'")
    else:
        part, action = kind.split(".")
        _check_id(op.get(part), part)
        fields = LINE_FIELDS if part == "line" else PAYMENT_FIELDS
        if action == "add":
            values = op.get("values")
            if not isinstance(values, dict):
                raise InvalidChange(f"{kind} needs values")
            for field, value in values.items():
                _check_value(field, value, fields)
        elif action == "set":
            _check_field(op, fields)


def _check_field(op: dict, allowed: frozenset) -> None:
    if "value" not in op:
        raise InvalidChange(f"{op['op']} needs a value")
    _check_value(op.get("field"), op["value"], allowed)


def _check_value(field: Any, value: Any, allowed: frozenset) -> None:
    if not isinstance(field, str) or field not in allowed:
        raise InvalidChange(f"unknown field {field!r:.40}")
    if field.endswith("_id"):
        ok = value is None or _is_integer(value)
    elif field.endswith("note"):
        ok = isinstance(value, str) and len(value) <= MAX_TEXT_LENGTH
    elif field == "attribute_value_ids":
        ok = _is_id_set(value)
    elif field == "customer_count":
        ok = _is_integer(value) and 0 <= value <= 1000
    elif field == "discount":
        ok = _is_number(value) and 0 <= value <= 100
    else:
        ok = _is_number(value)
    if not ok:
        raise InvalidChange(f"bad value for {field}: {value!r:.40}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_integer(value: Any) -> bool:
    # JSON has one number type: 3.0 from a JS page is the integer 3.
    return _is_number(value) and float(value).is_integer()


def _is_id_set(value: Any) -> bool:
    # Strictly increasing, so one set has one spelling: a change is relayed as it was
    # made, never rewritten, and equal sets must compare equal in every replica.
    return (
        isinstance(value, list)
        and len(value) <= MAX_ATTRIBUTE_VALUES
        and all(_is_integer(v) and v > 0 for v in value)
        and all(a < b for a, b in pairwise(value))
    )


# --- merge ----------------------------------------------------------------------------


def op_key(change: dict, index: int) -> tuple[str, str, str, int]:
    """The total order every replica folds operations in."""
    return (change["hlc"], change["terminal"], change["id"], index)


def materialize(order: str, changes: Iterable[dict]) -> dict:
    """The order that a set of changes describes, whatever their delivery order.

    Duplicates (same change id) count once. Operations are folded in op_key order, so
    every replica that holds the same changes computes the same order.
    """
    unique = {c["id"]: c for c in changes if c["order"] == order}
    ops = sorted(
        (op_key(change, i), op) for change in unique.values() for i, op in enumerate(change["ops"])
    )
    state = _empty_state(order)
    for _key, op in ops:
        _fold(state, op)
    return _view(state)


def _empty_state(order: str) -> dict:
    return {
        "order": {"uuid": order, "state": "draft"},
        "line": {"values": {}, "added": set(), "deleted": set()},
        "payment": {"values": {}, "added": set(), "deleted": set()},
    }


def _fold(state: dict, op: dict) -> None:
    order = state["order"]
    kind = op["op"]
    if kind == "order.close":
        if STATE_RANK[op["state"]] > STATE_RANK[order["state"]]:
            order["state"] = op["state"]
    elif order["state"] != "draft":
        return  # edits that come after the close are ignored
    elif kind == "order.set":
        order[op["field"]] = op["value"]
    else:
        part, action = kind.split(".")
        _fold_item(state[part], op[part], action, op)


def _fold_item(items: dict, key: str, action: str, op: dict) -> None:
    if key in items["deleted"]:
        return  # a deletion is final: a line or payment id is never reused
    if action in ("delete", "remove"):
        items["deleted"].add(key)
        items["values"].pop(key, None)
        return
    values = items["values"].setdefault(key, {})
    if action == "add":
        items["added"].add(key)
        values.update(op["values"])
    else:
        values[op["field"]] = op["value"]


def _view(state: dict) -> dict:
    view = dict(state["order"])
    for part, name in (("line", "lines"), ("payment", "payments")):
        items = state[part]
        view[name] = {k: dict(v) for k, v in sorted(items["values"].items()) if k in items["added"]}
    return view


# --- diff -----------------------------------------------------------------------------


def diff(before: dict, after: dict) -> list[dict]:
    """The operations that turn order view `before` into `after` (same order uuid).

    Pages use it to turn what a waiter did into a change; materializing the changes of
    `before` plus these operations gives `after`.
    """
    ops: list[dict] = []
    for field in sorted(ORDER_FIELDS):
        if field in after and after[field] != before.get(field):
            ops.append({"op": "order.set", "field": field, "value": after[field]})
    for part, name in (("line", "lines"), ("payment", "payments")):
        ops.extend(_diff_items(part, before.get(name, {}), after.get(name, {})))
    if after.get("state", "draft") != before.get("state", "draft"):
        ops.append({"op": "order.close", "state": after["state"]})
    return ops


def _diff_items(part: str, before: dict, after: dict) -> list[dict]:
    removal = "line.delete" if part == "line" else "payment.remove"
    ops: list[dict] = []
    for key, values in after.items():
        if key not in before:
            ops.append({"op": f"{part}.add", part: key, "values": dict(values)})
            continue
        for field in sorted(values):
            if values[field] != before[key].get(field):
                ops.append({"op": f"{part}.set", part: key, "field": field, "value": values[field]})
    ops.extend({"op": removal, part: key} for key in before if key not in after)
    return ops
