"""What one push received, change by change, and the answer each change gets.

``receive`` sorts every change of a push, in one step, from the change as sent and what the
POS's log already holds under its id:

- ``NewChange``: a valid change this POS has not seen. The push admits it into its order's
  merged state and stores it, or refuses it (an order of another POS, the caps, the checks
  of ``scope.Scope``) and stores only its id, as rejected;
- ``InvalidChange``: a change this POS has not seen, refused as sent (not a valid change, or
  stamped more than 60 s ahead of the server's clock); stored as rejected when its id is
  usable, so the id keeps that answer;
- ``SeenBefore``: an id already in this POS's log: the same content gets its first answer
  again, another content under the id is refused (``answer_again``);
- ``CopyInPush``: an id sent earlier in the same push: answered by the same rule, against
  the answer of that first copy.

The records are frozen: the later steps read them and decide into separate values (the
refusals of the new changes, their log positions), from which ``answers`` makes the
acknowledgements. One step replaces records: a new change that another push stored while
this one waited for its order's lock is ``SeenBefore`` after all (``seen_meanwhile``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from . import change_key, protocol

Status = Literal["applied", "duplicate", "rejected"]

ID_TAKEN = "this change id was already used with another content"


@dataclass(frozen=True)
class Answer:
    """The acknowledgement of one pushed change (docs/protocol.md, the push route)."""

    change_id: str | None
    status: Status
    reason: str | None = None  # why it is rejected
    seq: int | None = None  # its log position (applied, duplicate): the push's cursor

    def public(self) -> dict:
        """The acknowledgement as the route sends it: the log position stays here."""
        ack = {"id": self.change_id, "status": self.status}
        if self.status == "rejected":
            ack["reason"] = self.reason
        return ack


@dataclass(frozen=True)
class Logged:
    """What the POS's log holds for a change id: the first answer given to it, and the hash
    of the content it was given to (None for a row stored without one)."""

    answer: Answer
    hash: str | None


@dataclass(frozen=True)
class NewChange:
    change: dict  # as protocol.parse_change gives it
    hash: str

    @property
    def change_id(self) -> str:
        return self.change["id"]

    @property
    def order(self) -> str:
        return self.change["order"]


@dataclass(frozen=True)
class InvalidChange:
    change_id: str | None  # None when the id itself is unusable: nothing is stored
    hash: str
    reason: str


@dataclass(frozen=True)
class SeenBefore:
    change_id: str
    hash: str
    logged: Logged

    @property
    def answer(self) -> Answer:
        return answer_again(self.logged.answer, self.logged.hash, self.hash)


@dataclass(frozen=True)
class CopyInPush:
    change_id: str
    hash: str
    first: int  # the index of the first copy in the push


Received = NewChange | InvalidChange | SeenBefore | CopyInPush


def receive(raw_changes: list, logged: dict[str, Logged], now_ms: int) -> list[Received]:
    """One record per change as sent, in push order (``logged``: the log's answers to the
    ids sent, ``now_ms``: the server's clock)."""
    received: list[Received] = []
    first_copy: dict[str, int] = {}
    for index, raw in enumerate(raw_changes):
        change_id, content = usable_id(raw), change_key.payload_hash(raw)
        if change_id in logged:
            received.append(SeenBefore(change_id, content, logged[change_id]))
        elif change_id in first_copy:
            received.append(CopyInPush(change_id, content, first_copy[change_id]))
        else:
            if change_id:
                first_copy[change_id] = index
            received.append(_unseen(raw, content, now_ms))
    return received


def stored_ids(received: list[Received]) -> list[str]:
    """The ids this push would store: those of the changes the log does not hold yet."""
    return [
        record.change_id
        for record in received
        if isinstance(record, NewChange | InvalidChange) and record.change_id
    ]


def seen_meanwhile(received: list[Received], logged: dict[str, Logged]) -> list[Received]:
    """``received`` where the changes to store that the log now holds (``logged``: another
    push stored them meanwhile) are ``SeenBefore``."""
    return [
        SeenBefore(record.change_id, record.hash, logged[record.change_id])
        if isinstance(record, NewChange | InvalidChange) and record.change_id in logged
        else record
        for record in received
    ]


def answers(
    received: list[Received], refusals: dict[str, str], positions: dict[str, int]
) -> list[Answer]:
    """The answer to each change, in push order: ``refusals`` gives why a new change was
    refused, ``positions`` where each stored new change is in the log."""
    result: list[Answer] = []
    for record in received:
        match record:
            case NewChange() if record.change_id in refusals:
                answer = Answer(record.change_id, "rejected", refusals[record.change_id])
            case NewChange():
                answer = Answer(record.change_id, "applied", seq=positions[record.change_id])
            case InvalidChange():
                answer = Answer(record.change_id, "rejected", record.reason)
            case SeenBefore():
                answer = record.answer
            case CopyInPush():
                first = received[record.first]
                answer = answer_again(result[record.first], first.hash, record.hash)
        result.append(answer)
    return result


def answer_again(first: Answer, first_hash: str | None, sent_hash: str) -> Answer:
    """The answer to an id answered before (``first``), sent again with ``sent_hash``.

    The same change again (a retry, a relay) gets its first answer, a duplicate if it was
    applied; another change under a used id is refused, so an id can never be taken over.
    A row stored without a hash (a change rejected before the hash was kept) keeps its
    first answer for any content.
    """
    if first_hash and first_hash != sent_hash:
        return Answer(first.change_id, "rejected", ID_TAKEN)
    if first.status == "rejected":
        return first
    return Answer(first.change_id, "duplicate", seq=first.seq)


def cursor(answers: list[Answer]) -> int:
    """The log position of the newest change the answers name (0 if none)."""
    return max((answer.seq or 0 for answer in answers), default=0)


def usable_id(raw) -> str | None:
    """The change's id if it is a valid one (only those can be remembered)."""
    change_id = raw.get("id") if isinstance(raw, dict) else None
    try:
        protocol._check_id(change_id, "id")
    except protocol.InvalidChange:
        return None
    return change_id


def _unseen(raw, content: str, now_ms: int) -> NewChange | InvalidChange:
    """A change not seen before; invalid when stamped more than 60 s ahead of the server's
    clock too (a reading from the future would win every later edit)."""
    try:
        change = protocol.check_clock(protocol.parse_change(raw), now_ms, "the server")
    except protocol.InvalidChange as exc:
        return InvalidChange(usable_id(raw), content, str(exc))
    return NewChange(change, content)
