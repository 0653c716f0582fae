"""Memory over a long service: each agent's RSS and each browser page's JS heap, sampled
every minute, and how much each grew after the warm-up.

Agents are read from ``/proc/<pid>/status`` (``VmRSS``). Browser pages are read through
CDP: the JS heap in use (``Performance.getMetrics``' ``JSHeapUsedSize``) right after a
forced garbage collection. Chromium's renderer processes are not tied to a page in a way
Playwright exposes, and their RSS also holds Chromium's own caches (images, code, GPU
tiles) that grow and settle on their own; the heap after a collection is what the POS
store and possync's page script keep alive, which is where a page would leak.

Each process is a *life*: an agent restarted after a SIGKILL, or a page loaded again,
starts a new one, measured on its own. Design: docs/e2e.md "Memory".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import CDPSession


def rss_mb(pid: int) -> float | None:
    """The resident set of process ``pid`` in MiB, None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def js_heap_mb(session: CDPSession) -> float:
    """The JS heap in use by the page of CDP ``session`` right after a garbage collection,
    in MiB."""
    session.send("HeapProfiler.collectGarbage")
    metrics = session.send("Performance.getMetrics")["metrics"]
    used = next(m["value"] for m in metrics if m["name"] == "JSHeapUsedSize")
    return used / (1024 * 1024)


@dataclass
class Life:
    """One process's samples: ``(seconds into the service, MiB)``."""

    name: str  # "agent A (pid 1234)", "page B (load 2)"
    samples: list[tuple[float, float]] = field(default_factory=list)

    @property
    def born_s(self) -> float:
        return self.samples[0][0]

    def growth_pct(self, warmup_s: float, sample_s: float) -> float | None:
        """Growth from the first sample after the warm-up to the last one, in %.

        The warm-up ends ``warmup_s`` into the service for a life sampled in the first
        round (within ``sample_s``), else ``warmup_s`` after its first sample (a restarted
        agent warms up too). None when fewer than two samples are that late."""
        start = warmup_s if self.born_s < sample_s else self.born_s + warmup_s
        after = [mb for t, mb in self.samples if t >= start - 1]  # a sample a little early
        if len(after) < 2 or after[0] <= 0:
            return None
        return round((after[-1] - after[0]) / after[0] * 100, 1)


def warmup_s(duration_s: float) -> float:
    """Ten minutes, or the first half of a service shorter than twenty."""
    return 600.0 if duration_s >= 1200 else duration_s / 2


@dataclass
class Memory:
    """Every life's samples; ``report`` gives the figures of the JSON."""

    sample_s: float = 60.0
    lives: dict[str, Life] = field(default_factory=dict)

    def add(self, name: str, t_s: float, mb: float | None) -> None:
        if mb is not None:
            self.lives.setdefault(name, Life(name)).samples.append((round(t_s, 1), round(mb, 1)))

    def report(self, duration_s: float) -> dict:
        warm = warmup_s(duration_s)
        growth = {name: life.growth_pct(warm, self.sample_s) for name, life in self.lives.items()}
        counted = {n: g for n, g in growth.items() if g is not None}
        worst = max(counted, key=lambda n: counted[n]) if counted else None
        return {
            "rss_growth_pct": counted[worst] if worst else None,
            "rss_growth_worst": worst,
            "rss_warmup_s": warm,
            "rss_sample_s": self.sample_s,
            "rss_growth_by_process": growth,
            "rss_series_mb": {n: life.samples for n, life in self.lives.items()},
        }
