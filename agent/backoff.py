"""Exponential backoff with jitter, for every retry loop of the agent."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Backoff:
    """Delays that double from `base` up to `cap`, each with random jitter.

    Half of each delay is fixed and half random ("equal jitter"): terminals that lost the
    server together do not all come back in the same instant, yet none retries at once.
    """

    base: float
    cap: float
    attempts: int = 0

    def next(self) -> float:
        ceiling = min(self.cap, self.base * 2**self.attempts)
        self.attempts = min(self.attempts + 1, 32)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.attempts = 0
