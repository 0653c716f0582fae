"""Properties of the merge rules for random changes (hypothesis)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from agent import protocol

LINES = ["l1", "l2", "l3"]
PAYMENTS = ["p1", "p2"]

line_values = st.fixed_dictionaries(
    {"product_id": st.integers(1, 5), "qty": st.integers(1, 9), "price_unit": st.integers(1, 20)}
)
operations = st.one_of(
    st.builds(lambda v: {"op": "order.set", "field": "partner_id", "value": v}, st.integers(1, 3)),
    st.builds(lambda v: {"op": "order.set", "field": "table_id", "value": v}, st.integers(1, 3)),
    st.builds(lambda s: {"op": "order.close", "state": s}, st.sampled_from(["paid", "cancel"])),
    st.builds(
        lambda k, v: {"op": "line.add", "line": k, "values": v}, st.sampled_from(LINES), line_values
    ),
    st.builds(
        lambda k, v: {"op": "line.set", "line": k, "field": "qty", "value": v},
        st.sampled_from(LINES),
        st.integers(1, 9),
    ),
    st.builds(lambda k: {"op": "line.delete", "line": k}, st.sampled_from(LINES)),
    st.builds(
        lambda k, a: {
            "op": "payment.add",
            "payment": k,
            "values": {"payment_method_id": 1, "amount": a},
        },
        st.sampled_from(PAYMENTS),
        st.integers(1, 50),
    ),
    st.builds(lambda k: {"op": "payment.remove", "payment": k}, st.sampled_from(PAYMENTS)),
)


@st.composite
def change_sets(draw) -> list[dict]:
    count = draw(st.integers(1, 12))
    return [
        {
            "v": 1,
            "id": f"c{i}",
            "terminal": draw(st.sampled_from("ABC")),
            "hlc": protocol.format_hlc(draw(st.integers(1, 6)), draw(st.integers(0, 2))),
            "order": "o1",
            "ops": draw(st.lists(operations, min_size=1, max_size=4)),
        }
        for i in range(count)
    ]


@settings(max_examples=300, deadline=None)  # no timed assertion: the machine is shared
@given(changes=change_sets(), data=st.data())
def test_any_delivery_order_with_duplicates_gives_the_same_order(changes, data):
    expected = protocol.materialize("o1", changes)
    delivered = data.draw(st.permutations(changes + data.draw(st.lists(st.sampled_from(changes)))))
    assert protocol.materialize("o1", delivered) == expected


@settings(max_examples=200, deadline=None)  # no timed assertion: the machine is shared
@given(changes=change_sets())
def test_applying_a_change_twice_changes_nothing(changes):
    once = protocol.materialize("o1", changes)
    assert protocol.materialize("o1", changes + changes[:1]) == once


@settings(max_examples=200, deadline=None)  # no timed assertion: the machine is shared
@given(changes=change_sets())
def test_a_closed_order_never_returns_to_draft(changes):
    closed = [c for c in changes if any(op["op"] == "order.close" for op in c["ops"])]
    if closed:
        assert protocol.materialize("o1", changes)["state"] != "draft"
