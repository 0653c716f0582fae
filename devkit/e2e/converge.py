"""How long after a heal every replica (each page, each agent, Odoo) agrees with the truth.

Each replica is timed on its own: reading all of them takes seconds on a loaded machine
(three browser pages over Playwright, ten agents' logs, Odoo over JSON-RPC), and a replica
read early in a round would otherwise wait for the round's end. Design: docs/e2e.md, "The
service".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .views import Fact

Log = Callable[[str], None]


@dataclass
class Replica:
    """One place that holds orders, and what it gets wrong about the truth now."""

    name: str
    facts: Callable[[], list[Fact]]


@dataclass
class Agreement:
    seconds: float  # from the heal until the last replica was seen agreeing
    last: str  # that replica
    check_s: float  # how long reading every replica once took (the confirming round)
    last_differed: str | None = None  # what that replica got wrong when last read so


def until_agreed(
    replicas: list[Replica],
    timeout: float,
    *,
    pause: float = 0.25,
    between: Callable[[], None] = lambda: None,
    log: Log = print,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Agreement | None:
    """Read the replicas until every one agrees, then once more all together; None if not
    within ``timeout``.

    1. Each replica not yet agreeing is read; one that shows no fact gets, as its time, the
       end of that read (it agreed by then).
    2. Once every replica has a time, all are read again in one round: any that differs
       now loses its time and the reading goes on (step 1).
    3. When that round finds nothing, the figure is the largest time: the moment the last
       replica was seen agreeing. The waiters pause meanwhile, so a replica that agrees
       stays so; the confirming round makes sure of it.

    ``between`` runs after each round (the apply cron, when due).
    """
    started = clock()
    agreed: dict[str, float] = {}
    differed: dict[str, str] = {}  # each replica's first wrong fact, when last read so
    while clock() - started < timeout:
        for replica in replicas:
            if replica.name not in agreed and _agrees(replica, log, differed):
                agreed[replica.name] = clock() - started
        if len(agreed) == len(replicas):
            round_started = clock()
            differ = [r.name for r in replicas if not _agrees(r, log, differed)]
            if not differ:
                last = max(agreed, key=agreed.__getitem__)
                return Agreement(agreed[last], last, clock() - round_started, differed.get(last))
            for name in differ:
                del agreed[name]
        between()
        sleep(pause)
    return None


def _agrees(replica: Replica, log: Log, differed: dict[str, str]) -> bool:
    try:
        facts = replica.facts()
    except Exception as error:  # noqa: BLE001 - Odoo restarting, a page reloading
        log(f"{replica.name}: check failed, retrying: {str(error)[:200]}")
        differed[replica.name] = f"its read failed: {str(error)[:200]}"
        return False
    if facts:
        differed[replica.name] = facts[0][2]
    return not facts
