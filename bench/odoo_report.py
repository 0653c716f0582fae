"""``bench.odoo``'s figures: what one phase measured, its summary and the one JSON object.

Pure (no Odoo, no browser), so tests/test_bench_odoo.py checks it.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from devkit.machine import machine

# Every kind of edit A makes, in the order of one round (bench/odoo_edits.py).
EDIT_KINDS = (
    "add",
    "qty",
    "discount",
    "price",
    "note",
    "customer",
    "split",
    "transfer",
    "merge",
    "payment_line",
    "payment",
)
# Validation on A until B's order is closed and B shows the notice: a target of its own
# (``payment_close_p95_ms``), so not among the kinds of ``bus_p95_ms``.
PAYMENT = "payment"
TARGETS = {
    "bus_p95_ms": 150,
    "payment_close_p95_ms": 300,
    "interval_p95_ms": 500 + 150,
    "requests_per_change": 1.5,
    "missed": 0,
    "ratio_to_native": 0.4,
}


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0–100) of the values, None if there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)], 1)


@dataclass
class Edit:
    """One edit on A: its kind, how long until each receiver held it (None: never within
    the timeout), and the HTTP requests the browser terminals sent meanwhile."""

    kind: str
    to: dict[str, float | None]  # receiver name (B, C) -> ms
    requests: int = 0


@dataclass
class Phase:
    """One run of rounds: a mode, how many terminals, and what it measured."""

    name: str  # bus, interval, native, bus_3
    terminals: int
    edits: list[Edit] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)  # by path, browser terminals
    changes: int = 0  # changes the server's log took during the edits (every terminal's)
    cpu_ms: float = 0.0  # Odoo's processes, during the edits
    protocol_missed: int = 0  # (protocol terminal, change) pairs that never arrived
    duration_s: float = 0.0
    loadavg: list[float] = field(default_factory=list)
    price_recompute: dict[str, Any] | None = None  # on A, after the rounds (bus phase)

    def latencies(self, kind: str | None = None, receiver: str = "B") -> list[float]:
        return [
            ms
            for e in self.edits
            if kind in (None, e.kind) and (ms := e.to.get(receiver)) is not None
        ]

    @property
    def missed(self) -> int:
        browser = sum(1 for e in self.edits for ms in e.to.values() if ms is None)
        return browser + self.protocol_missed


def kind_figures(phase: Phase) -> dict[str, dict[str, Any]]:
    """Per kind of edit: p50 and p95 to B, p95 to C, how many, requests per edit."""
    figures = {}
    for kind in EDIT_KINDS:
        edits = [e for e in phase.edits if e.kind == kind]
        if not edits:
            continue
        to_b = phase.latencies(kind)
        figures[kind] = {
            "p50_ms": percentile(to_b, 50),
            "p95_ms": percentile(to_b, 95),
            "c_p95_ms": percentile(phase.latencies(kind, "C"), 95),
            "edits": len(edits),
            "requests_per_edit": round(sum(e.requests for e in edits) / len(edits), 2),
        }
    return figures


def worst_p95(figures: dict[str, dict[str, Any]]) -> float | None:
    """The largest p95 over the kinds of edit, payment validation aside."""
    values = [f["p95_ms"] for k, f in figures.items() if k != PAYMENT and f["p95_ms"] is not None]
    return max(values) if values else None


def summary(phase: Phase) -> dict[str, Any]:
    edits = len(phase.edits)
    requests = sum(phase.requests.values())
    return {
        "terminals": phase.terminals,
        "p95_ms": worst_p95(kind_figures(phase)),
        "all_p95_ms": percentile(phase.latencies(), 95),
        "kinds": kind_figures(phase),
        "missed": phase.missed,
        "edits": edits,
        "changes": phase.changes,
        "requests": requests,
        "requests_per_change": round(requests / edits, 2) if edits else None,
        "requests_by_path": dict(phase.requests.most_common()),
        "server_cpu_ms_per_change": per_change(phase.cpu_ms, phase.changes),
        "server_cpu_ms": round(phase.cpu_ms),
        "duration_s": phase.duration_s,
        "loadavg": phase.loadavg,
    }


def per_change(cpu_ms: float, changes: int) -> float | None:
    return round(cpu_ms / changes, 1) if changes else None


def ratio(value: float | None, base: float | None) -> float | None:
    return round(value / base, 2) if value is not None and base else None


def report(version: str, workers: int, phases: dict[str, Phase]) -> dict[str, Any]:
    """The one JSON object: the targets' keys first, then each phase's summary."""
    s = {name: summary(phase) for name, phase in phases.items()}
    bus, interval, native, few = (s.get(n) for n in ("bus", "interval", "native", "bus_3"))
    assert bus is not None, "the bus phase is the bench's core"
    payment = bus["kinds"].get(PAYMENT, {})
    cpu = {f"{p['terminals']}_terminals": p["server_cpu_ms_per_change"] for p in (few, bus) if p}
    out: dict[str, Any] = {
        "odoo_version": version,
        "workers": workers,
        "terminals": bus["terminals"],
        "bus_p95_ms": bus["p95_ms"],
        "payment_close_p95_ms": payment.get("p95_ms"),
        "interval_p95_ms": interval["p95_ms"] if interval else None,
        "requests_per_change": bus["requests_per_change"],
        "server_cpu_ms_per_change": cpu,
        "missed": bus["missed"] + (interval["missed"] if interval else 0),
        "native_p95_ms": native["p95_ms"] if native else None,
        "ratio_to_native": ratio(bus["p95_ms"], native["p95_ms"] if native else None),
        "kinds": {k: f["p95_ms"] for k, f in bus["kinds"].items()},
        "native_kinds": {k: f["p95_ms"] for k, f in native["kinds"].items()} if native else {},
        "price_recompute": price_recompute(phases["bus"].price_recompute),
        "phases": s,
        "machine": machine(),
    }
    out["met"] = {key: met(out[key], bound) for key, bound in TARGETS.items()}
    return out


def price_recompute(timings: dict[str, Any] | None) -> dict[str, Any] | None:
    """Odoo 19's recompute of an order's prices, median ms with possync's short record
    JSON and without it (same page, alternating), and their ratio; None on 18."""
    if not timings:
        return None
    with_ms = statistics.median(timings["with_ms"])
    without_ms = statistics.median(timings["without_ms"])
    return {
        "lines": timings["lines"],
        "with_ms": round(with_ms, 1),
        "without_ms": round(without_ms, 1),
        "ratio": round(with_ms / without_ms, 2),
    }


def met(value: float | None, bound: float) -> bool | None:
    """Whether ``value`` is within ``bound``; None when it was not measured."""
    return None if value is None else value <= bound
