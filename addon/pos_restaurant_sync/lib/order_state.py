"""An order's merged state, kept by the server so that a push folds in only its new changes.

``protocol.materialize`` folds every change of an order in ``op_key`` order. Its result is
the same as this state, which does not depend on the order changes arrive in:

- a register per field (of the order, of each line, of each payment) holding the value of
  the operation with the greatest ``op_key`` that set it (an ``*.add`` sets each of its
  values);
- for each line and payment id: whether an add was seen and whether it was deleted (a
  deletion is final: the id is dropped with everything it held);
- the closing state, the highest ``order.close`` seen; operations that sort after the
  *earliest* close are ignored.

So a new change folds in by comparing keys, wherever it sorts, with one exception: a close
that sorts before an operation already folded in would make that operation ignored after
the fact. ``fold`` then raises ``NeedsReplay`` and the caller rebuilds the state from the
order's whole log with ``rebuild``. The state is plain JSON.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import protocol

STATE_VERSION = 1


class NeedsReplay(Exception):
    """A close sorts before operations already folded in: rebuild from the whole log."""


def empty(order: str) -> dict:
    return {
        "v": STATE_VERSION,
        "order": order,
        "state": "draft",
        "close_key": None,  # op key of the earliest close; later operations are ignored
        "max_key": None,  # greatest op key folded in (closes aside)
        "fields": {},  # order field -> [op key, value]
        "line": {},  # line id -> {"added": bool, "fields": {...}} or {"deleted": True}
        "payment": {},
    }


def rebuild(order: str, changes: Iterable[dict]) -> dict:
    """The state of ``order`` from all its changes (duplicates count once)."""
    unique = {c["id"]: c for c in changes if c["order"] == order}
    ops = sorted(
        (protocol.op_key(change, i), op)
        for change in unique.values()
        for i, op in enumerate(change["ops"])
    )
    state = empty(order)
    for key, op in ops:
        _fold_op(state, list(key), op)  # in key order a close never needs a replay
    return state


def fold(state: dict, change: dict) -> None:
    """Fold one change into ``state`` (in place); raise NeedsReplay when it cannot."""
    for index, op in enumerate(change["ops"]):
        _fold_op(state, list(protocol.op_key(change, index)), op)


def folded(state: dict, change: dict) -> dict:
    """A new state: ``state`` with ``change`` folded in. ``state`` is left as it was (the
    parts the change does not touch are shared, not copied)."""
    new = {**state, "fields": dict(state["fields"])}
    for part in ("line", "payment"):
        new[part] = dict(state[part])
        for op in change["ops"]:
            item = new[part].get(op.get(part))
            if item and not item.get("deleted"):
                new[part][op[part]] = {**item, "fields": dict(item["fields"])}
    fold(new, change)
    return new


def view(state: dict) -> dict:
    """The order as ``protocol.materialize`` shows it."""
    result = {"uuid": state["order"], "state": state["state"]}
    result.update({name: value for name, (_key, value) in state["fields"].items()})
    for part, name in (("line", "lines"), ("payment", "payments")):
        result[name] = {
            item_id: {field: value for field, (_key, value) in item["fields"].items()}
            for item_id, item in sorted(state[part].items())
            if item.get("added")
        }
    return result


def deleted(state: dict, part: str) -> set[str]:
    """The ids of ``part`` ("line" or "payment") that were deleted."""
    return {item_id for item_id, item in state[part].items() if item.get("deleted")}


def field_key(state: dict, part: str, item_id: str | None, field: str) -> list | None:
    """The op key of the value ``field`` holds now (None if never set or deleted)."""
    fields = state["fields"] if part == "order" else state[part].get(item_id, {}).get("fields")
    entry = (fields or {}).get(field)
    return entry[0] if entry else None


def field_value(state: dict, part: str, item_id: str | None, field: str, default=None):
    fields = state["fields"] if part == "order" else state[part].get(item_id, {}).get("fields")
    entry = (fields or {}).get(field)
    return entry[1] if entry else default


# --- folding ------------------------------------------------------------------------


def _fold_op(state: dict, key: list, op: dict) -> None:
    kind = op["op"]
    close_key = state["close_key"]
    if kind == "order.close":
        if close_key is None or key < close_key:
            if state["max_key"] is not None and state["max_key"] > key:
                raise NeedsReplay(f"a close sorts before operations of order {state['order']}")
            state["close_key"] = key
        if protocol.STATE_RANK[op["state"]] > protocol.STATE_RANK[state["state"]]:
            state["state"] = op["state"]
        return
    if close_key is not None and key > close_key:
        return  # after the close: ignored
    if state["max_key"] is None or key > state["max_key"]:
        state["max_key"] = key
    if kind == "order.set":
        _set(state["fields"], op["field"], key, op["value"])
        return
    part, action = kind.split(".")
    items = state[part]
    item = items.setdefault(op[part], {"added": False, "fields": {}})
    if item.get("deleted"):
        return
    if action in ("delete", "remove"):
        items[op[part]] = {"deleted": True}
    elif action == "add":
        item["added"] = True
        for field, value in op["values"].items():
            _set(item["fields"], field, key, value)
    else:
        _set(item["fields"], op["field"], key, op["value"])


def _set(fields: dict, name: str, key: list, value) -> None:
    current = fields.get(name)
    if current is None or current[0] < key:
        fields[name] = [key, value]
