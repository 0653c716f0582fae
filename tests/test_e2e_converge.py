"""How the end-to-end service times the agreement after a heal (devkit/e2e/converge.py):
each replica on its own, not at the end of a round over all of them."""

from __future__ import annotations

from devkit.e2e.converge import Replica, until_agreed


class Clock:
    """Time that moves only when a replica is read (each read costs `read_s`) or slept."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def replica(clock: Clock, name: str, agrees_at: float, read_s: float = 1.0, falls: float = 0):
    """A replica whose read takes `read_s` and shows no fact once it ends after `agrees_at`
    (until `falls`, if given, from when it differs again for a while)."""

    def facts() -> list:
        clock.now += read_s
        agrees = clock.now >= agrees_at and not (falls and falls <= clock.now < falls + 3)
        return [] if agrees else [("lost", f"{name}:x", f"{name} differs")]

    return Replica(name, facts)


def run(replicas, clock, timeout=120.0):
    return until_agreed(
        replicas, timeout, pause=0.25, log=lambda _: None, clock=clock, sleep=clock.sleep
    )


def test_a_replica_is_timed_when_it_was_seen_agreeing_not_at_the_end_of_the_round() -> None:
    clock = Clock()
    slow_pages = [replica(clock, f"page {n}", agrees_at=0, read_s=3.0) for n in "ABC"]
    odoo = replica(clock, "odoo", agrees_at=10.0, read_s=0.5)
    agreement = run([*slow_pages, odoo], clock)
    assert agreement is not None
    # Round 1 reads the pages (0–9 s: each agrees) and Odoo (9.5 s: not yet); then only
    # Odoo is read: at 10.25 s it agrees. A whole round would have ended near 20 s.
    assert agreement.last == "odoo"
    assert agreement.seconds == 10.25
    assert agreement.check_s == 9.5  # the confirming round: every replica read once
    assert agreement.last_differed == "odoo differs"  # what kept it, for the event


def test_a_replica_agreeing_at_once_has_nothing_it_differed_in() -> None:
    clock = Clock()
    agreement = run([replica(clock, "page A", agrees_at=0)], clock)
    assert agreement is not None
    assert agreement.last_differed is None


def test_a_replica_that_differs_again_before_the_confirming_round_is_timed_again() -> None:
    clock = Clock()
    page = replica(clock, "page A", agrees_at=0, read_s=1.0, falls=1.5)
    odoo = replica(clock, "odoo", agrees_at=0, read_s=1.0)
    agreement = run([page, odoo], clock)
    assert agreement is not None
    assert agreement.last == "page A"
    assert agreement.seconds > 4.5  # seen agreeing at 1 s, differing at 3 s, again after


def test_no_agreement_within_the_timeout_is_none() -> None:
    clock = Clock()
    never = replica(clock, "agent B", agrees_at=float("inf"))
    assert run([never], clock, timeout=10) is None


def test_a_read_that_fails_counts_as_not_agreeing_and_is_tried_again() -> None:
    clock = Clock()
    tries = []

    def flaky() -> list:
        tries.append(clock.now)
        clock.now += 1
        if len(tries) == 1:
            raise ConnectionError("Odoo restarting")
        return []

    agreement = run([Replica("odoo", flaky)], clock)
    assert agreement is not None and agreement.seconds == 2.25
    assert len(tries) == 3  # failed, agreed, confirmed
