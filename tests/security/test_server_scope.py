"""Attacks on the server's scope that need no Odoo: the pure parts of the addon's checks.

The checks against Odoo records (customers, products, tables, prices, company rules) are
Odoo tests: addon/pos_restaurant_sync/tests/test_security_scope.py, and on a running Odoo
tests/realodoo/test_security_scope_on_odoo.py.
"""

from __future__ import annotations

import json

from agent import protocol

from ..addon_lib import load

change_key = load("change_key")
order_state = load("order_state")


def _change(change_id: str, at: int, *ops: dict, terminal: str = "A") -> dict:
    return {
        "v": 1,
        "id": change_id,
        "terminal": terminal,
        "hlc": protocol.format_hlc(at, 0),
        "order": "o1",
        "ops": list(ops),
    }


def _add(line: str, product: int, price: float) -> dict:
    values = {"product_id": product, "qty": 1, "price_unit": price}
    return {"op": "line.add", "line": line, "values": values}


def test_same_change_id_with_other_payload_is_refused():
    # The server answers "duplicate" only when the content hashes the same.
    first = _change("c1", 1, _add("l1", 10, 5.0))
    forged = _change("c1", 1, _add("l1", 10, 0.01))
    assert change_key.payload_hash(first) != change_key.payload_hash(forged)


def test_a_resent_change_hashes_the_same_whatever_its_spelling():
    # A relay by another language: keys in another order, 3 written 3.0.
    first = _change("c1", 1, _add("l1", 10, 5.0))
    relayed = json.loads(json.dumps(first, sort_keys=True).replace('"qty": 1', '"qty": 1.0'))
    assert change_key.payload_hash(relayed) == change_key.payload_hash(first)


def test_a_late_close_cannot_keep_edits_that_sort_after_it():
    # A close stamped before edits already merged must undo them, as materialize does.
    add = _change("c1", 1, _add("l1", 10, 5.0))
    late_edit = _change(
        "c2", 9, {"op": "line.set", "line": "l1", "field": "price_unit", "value": 0.01}
    )
    close = _change("c3", 5, {"op": "order.close", "state": "paid"})
    state = order_state.empty("o1")
    for change in (add, late_edit):
        order_state.fold(state, change)
    try:
        order_state.fold(state, close)
        raise AssertionError("the close must ask for a replay")
    except order_state.NeedsReplay:
        state = order_state.rebuild("o1", [add, late_edit, close])
    assert order_state.view(state) == protocol.materialize("o1", [add, late_edit, close])
    assert order_state.view(state)["lines"]["l1"]["price_unit"] == 5.0


def test_a_deleted_line_stays_counted_against_the_line_cap():
    # Tombstones are kept by every replica: deleting lines frees no room for new ones.
    state = order_state.empty("o1")
    order_state.fold(state, _change("c1", 1, _add("l1", 10, 5.0)))
    order_state.fold(state, _change("c2", 2, {"op": "line.delete", "line": "l1"}))
    assert len(state["line"]) == 1
    assert order_state.deleted(state, "line") == {"l1"}
