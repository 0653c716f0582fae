"""The addon's push records (addon lib/push_records.py): each change sorted once, its answer.

The Odoo tests (addon tests/test_push.py, test_security_scope.py) run them through a real
push; these pin the sorting and the answers without a database.
"""

from __future__ import annotations

from agent import protocol

from .addon_lib import load

push_records = load("push_records")
NOW_MS = 1_700_000_000_000


def change(change_id: str, **extra) -> dict:
    return {
        "v": 1,
        "id": change_id,
        "terminal": "A",
        "hlc": protocol.format_hlc(NOW_MS, 0),
        "order": "o1",
        "ops": [{"op": "order.set", "field": "customer_count", "value": 2}],
        **extra,
    }


def logged_applied(change_id: str, seq: int, raw: dict) -> dict:
    answer = push_records.Answer(change_id, "applied", seq=seq)
    return {change_id: push_records.Logged(answer, push_records.change_key.payload_hash(raw))}


def test_each_change_is_sorted_once_from_what_was_sent_and_the_log():
    known = change("c0")
    sent = [change("c1"), known, change("c1"), {"id": "c2"}, "not a change"]
    received = push_records.receive(sent, logged_applied("c0", 7, known), NOW_MS)
    kinds = [type(record).__name__ for record in received]
    assert kinds == ["NewChange", "SeenBefore", "CopyInPush", "InvalidChange", "InvalidChange"]
    assert received[2].first == 0
    assert received[4].change_id is None
    assert push_records.stored_ids(received) == ["c1", "c2"]


def test_a_change_from_the_far_future_is_invalid():
    sent = change("c1", hlc=protocol.format_hlc(NOW_MS + 120_000, 0))
    [record] = push_records.receive([sent], {}, NOW_MS)
    assert isinstance(record, push_records.InvalidChange)
    assert record.reason.startswith("clock ")


def test_answers_follow_refusals_positions_and_first_copies():
    known = change("c0")
    forged = {**change("c1"), "ops": [{"op": "order.set", "field": "note", "value": "x"}]}
    sent = [change("c1"), change("c1"), forged, known, change("c3"), change("c3")]
    received = push_records.receive(sent, logged_applied("c0", 7, known), NOW_MS)
    answers = push_records.answers(received, {"c3": "too_large: no"}, {"c1": 9})
    assert [a.public() for a in answers] == [
        {"id": "c1", "status": "applied"},
        {"id": "c1", "status": "duplicate"},
        {"id": "c1", "status": "rejected", "reason": push_records.ID_TAKEN},
        {"id": "c0", "status": "duplicate"},
        {"id": "c3", "status": "rejected", "reason": "too_large: no"},
        {"id": "c3", "status": "rejected", "reason": "too_large: no"},
    ]
    assert push_records.cursor(answers) == 9


def test_a_change_stored_meanwhile_by_another_push_is_seen_before():
    raw = change("c1")
    received = push_records.receive([raw], {}, NOW_MS)
    again = push_records.seen_meanwhile(received, logged_applied("c1", 4, raw))
    assert again[0].answer == push_records.Answer("c1", "duplicate", seq=4)


def test_a_row_without_hash_keeps_its_first_answer_for_any_content():
    first = push_records.Answer("c1", "rejected", "bad")
    assert push_records.answer_again(first, None, "anything") == first
