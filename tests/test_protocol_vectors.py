"""The Python merge rules against the shared vectors (tests/js/ runs the same in JS)."""

import pytest

from agent import protocol
from tests.vectors import clock_cases, diff_cases, invalid_changes, merge_vectors


def deliver_one_by_one(vector: dict) -> dict[str, dict]:
    """Apply start changes, then each delivered change, re-materializing every time."""
    log: list[dict] = []
    for change in vector["start"] + vector["deliver"]:
        log.append(protocol.parse_change(change))
        views = {uuid: protocol.materialize(uuid, log) for uuid in vector["expect"]}
    return views


@pytest.mark.parametrize("vector", merge_vectors(), ids=lambda v: v["name"])
def test_merge_vector(vector, vector_tally):
    assert deliver_one_by_one(vector) == vector["expect"]
    vector_tally.append(vector["name"])


@pytest.mark.parametrize("case", invalid_changes(), ids=lambda c: c["name"])
def test_invalid_change_is_refused(case):
    with pytest.raises(protocol.InvalidChange):
        protocol.parse_change(case["change"])


@pytest.mark.parametrize("case", clock_cases(), ids=lambda c: c["name"])
def test_clock_vector(case):
    change = protocol.parse_change(case["change"])
    if case["accepted"]:
        assert protocol.check_clock(change, case["now_ms"]) is change
    else:
        with pytest.raises(protocol.FutureChange, match="ahead of the receiver"):
            protocol.check_clock(change, case["now_ms"])


@pytest.mark.parametrize("case", diff_cases(), ids=lambda c: c["name"])
def test_diff_turns_before_into_after(case):
    before, after = case["before"], case["after"]
    start = {
        "v": 1,
        "id": "c0",
        "terminal": "A",
        "hlc": protocol.format_hlc(1, 0),
        "order": before["uuid"],
        "ops": protocol.diff({"uuid": before["uuid"]}, before),
    }
    ops = protocol.diff(before, after)
    changes = [start] if start["ops"] else []
    if ops:
        changes.append({**start, "id": "c1", "hlc": protocol.format_hlc(2, 0), "ops": ops})
    assert protocol.materialize(before["uuid"], changes) == after


def test_diff_sees_equal_attribute_values_as_unchanged():
    def view(ids: list[int]) -> dict:
        return {"uuid": "o1", "lines": {"l1": {"product_id": 10, "attribute_value_ids": ids}}}

    assert protocol.diff(view([3, 7]), view([3, 7])) == []


def test_there_are_at_least_forty_merge_vectors():
    assert len(merge_vectors()) >= 40
