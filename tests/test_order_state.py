"""The addon's incremental order state gives what protocol.materialize gives (hypothesis).

The server folds each new change into a stored state instead of re-reading the order's
whole log (addon lib/order_state.py); any delivery order must end in the very view the
terminals compute.
"""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from agent import protocol

from .addon_lib import load
from .test_protocol_properties import change_sets

order_state = load("order_state")


def fold_all(delivered: list[dict]) -> dict:
    """Fold changes one by one as pushes would, replaying only when a close asks for it."""
    state, seen = order_state.empty("o1"), []
    for change in delivered:
        if change["id"] in {c["id"] for c in seen}:
            continue  # the server answers a known id as a duplicate and folds nothing
        seen.append(change)
        try:
            order_state.fold(state, change)
        except order_state.NeedsReplay:
            state = order_state.rebuild("o1", seen)
    return state


@settings(max_examples=400, deadline=None)  # no timed assertion: the machine is shared
@given(changes=change_sets(), data=st.data())
def test_folding_in_any_delivery_order_gives_the_materialized_view(changes, data):
    delivered = data.draw(st.permutations(changes + data.draw(st.lists(st.sampled_from(changes)))))
    assert order_state.view(fold_all(delivered)) == protocol.materialize("o1", changes)


@settings(max_examples=200, deadline=None)  # no timed assertion: the machine is shared
@given(changes=change_sets())
def test_a_rebuild_gives_the_materialized_view(changes):
    assert order_state.view(order_state.rebuild("o1", changes)) == protocol.materialize(
        "o1", changes
    )


def test_a_close_sorting_before_folded_edits_asks_for_a_replay():
    edit = {
        "v": 1,
        "id": "e",
        "terminal": "A",
        "hlc": protocol.format_hlc(5, 0),
        "order": "o1",
        "ops": [{"op": "order.set", "field": "table_id", "value": 3}],
    }
    close = {
        **edit,
        "id": "c",
        "hlc": protocol.format_hlc(4, 0),
        "ops": [{"op": "order.close", "state": "cancel"}],
    }
    state = order_state.empty("o1")
    order_state.fold(state, edit)
    try:
        order_state.fold(state, close)
    except order_state.NeedsReplay:
        pass
    else:
        raise AssertionError("a close before a folded edit must ask for a replay")
    rebuilt = order_state.rebuild("o1", [edit, close])
    assert order_state.view(rebuilt) == {
        "uuid": "o1",
        "state": "cancel",
        "lines": {},
        "payments": {},
    }


@settings(max_examples=200, deadline=None)  # no timed assertion: the machine is shared
@given(changes=change_sets())
def test_folded_leaves_the_state_it_started_from_as_it_was(changes):
    state = order_state.rebuild("o1", changes[:-1])
    before = repr(state)
    with contextlib.suppress(order_state.NeedsReplay):
        order_state.folded(state, changes[-1])
    assert repr(state) == before
