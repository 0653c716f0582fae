"""bench.odoo's pure parts: percentiles, the report and its targets, Odoo's CPU time."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.odoo_cpu import TICKS_PER_S, cpu_ms, stat_ticks
from bench.odoo_report import EDIT_KINDS, PAYMENT, Edit, Phase, percentile, report, summary


def stat(pid: int, name: str, utime: int, stime: int, cutime: int = 0, cstime: int = 0) -> str:
    """A /proc/PID/stat line: pid (comm) state, then fields 4-13, then the four times."""
    middle = " ".join(["1"] * 10)  # ppid … cmajflt
    return f"{pid} ({name}) S {middle} {utime} {stime} {cutime} {cstime} 20 0 1 0\n"


def ms(ticks: int) -> float:
    return ticks * 1000 / TICKS_PER_S


# --- percentiles --------------------------------------------------------------------------


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 21)]  # 1 … 20
    assert percentile(values, 95) == 19.0
    assert percentile(values, 50) == 10.0
    assert percentile(values, 100) == 20.0
    assert percentile([7.0], 95) == 7.0


def test_percentile_of_nothing_is_none():
    assert percentile([], 95) is None


# --- the report ----------------------------------------------------------------------------


def phase(name: str, terminals: int, ms_by_kind: dict[str, list[float | None]]) -> Phase:
    result = Phase(name, terminals)
    for kind, values in ms_by_kind.items():
        result.edits += [Edit(kind, {"B": v, "C": v}, requests=1) for v in values]
    result.requests = Counter({"/pos_restaurant_sync/push": len(result.edits)})
    result.changes, result.cpu_ms = 2 * len(result.edits), 40.0 * len(result.edits)
    return result


def test_the_bus_figure_is_the_slowest_kind_and_payment_has_its_own():
    bus = phase("bus", 10, {"add": [50, 60], "qty": [90, 120], PAYMENT: [400, 500]})
    native = phase("native", 3, {"add": [600, 700], "qty": [800, 900]})
    out = report("19.0", 4, {"bus": bus, "native": native})
    assert out["bus_p95_ms"] == 120
    assert out["payment_close_p95_ms"] == 500
    assert out["native_p95_ms"] == 900
    assert out["ratio_to_native"] == pytest.approx(120 / 900, abs=0.01)
    assert out["kinds"] == {"add": 60, "qty": 120, PAYMENT: 500}
    assert out["met"]["bus_p95_ms"] is True
    assert out["met"]["payment_close_p95_ms"] is False
    assert out["met"]["interval_p95_ms"] is None  # not measured: neither met nor missed


def test_the_report_names_the_machine_and_its_load_as_the_docs_say():
    """docs/benchmarks.md: CPUs, load average (1, 5, 15 min), Python, kernel; bench.e2e's
    report carries the same (devkit/machine.py)."""
    out = report("19.0", 4, {"bus": phase("bus", 3, {"add": [50]})})
    assert set(out["machine"]) == {"cpus", "loadavg", "python", "kernel"}
    assert len(out["machine"]["loadavg"]) == 3


def test_an_edit_that_never_arrived_is_missed_and_not_a_latency():
    bus = phase("bus", 10, {"add": [50, None, 70]})
    bus.protocol_missed = 2
    assert bus.latencies("add") == [50, 70]
    out = report("18.0", 4, {"bus": bus})
    assert out["missed"] == 2 + 2  # B and C missed one edit; two protocol arrivals
    assert out["met"]["missed"] is False


def test_cpu_per_change_is_given_at_each_count_of_terminals():
    out = report(
        "19.0",
        4,
        {"bus": phase("bus", 10, {"add": [50]}), "bus_3": phase("bus_3", 3, {"add": [40]})},
    )
    assert out["server_cpu_ms_per_change"] == {"3_terminals": 20.0, "10_terminals": 20.0}


def test_each_kind_has_its_figures_in_the_phase_summary():
    s = summary(phase("bus", 10, {kind: [10.0] for kind in EDIT_KINDS}))
    assert list(s["kinds"]) == list(EDIT_KINDS)
    assert s["kinds"]["merge"] == {
        "p50_ms": 10.0,
        "p95_ms": 10.0,
        "c_p95_ms": 10.0,
        "edits": 1,
        "requests_per_edit": 1.0,
    }
    assert s["requests_per_change"] == 1.0


# --- Odoo's CPU time -------------------------------------------------------------------------


def test_stat_ticks_reads_past_a_command_name_with_spaces_and_parentheses():
    assert stat_ticks(stat(42, "odoo (worker) 2", 100, 20, 5, 1)) == 126


def test_a_worker_reaped_between_two_samples_is_counted_whole_once():
    before = {1: stat(1, "odoo", 100, 10), 2: stat(2, "odoo", 50, 5)}
    # Worker 2 ran 30 more ticks, then ended; the master reaped it (85 ticks in cutime),
    # and worker 3 replaced it.
    after = {1: stat(1, "odoo", 110, 10, cutime=80, cstime=5), 3: stat(3, "odoo", 7, 1)}
    used = cpu_ms([1, 3], after.get) - cpu_ms([1, 2], before.get)
    assert used == pytest.approx(ms(10 + 30 + 8))


def test_a_process_gone_before_its_sample_counts_nothing():
    assert cpu_ms([1, 99], {1: stat(1, "odoo", 3, 2)}.get) == pytest.approx(ms(5))


def test_price_recompute_is_the_medians_and_their_ratio():
    bus = phase("bus", 10, {"add": [50]})
    bus.price_recompute = {"lines": 16, "with_ms": [10, 12, 30], "without_ms": [20, 24, 22]}
    assert report("19.0", 4, {"bus": bus})["price_recompute"] == {
        "lines": 16,
        "with_ms": 12,
        "without_ms": 22,
        "ratio": 0.55,
    }
    assert report("18.0", 4, {"bus": phase("bus", 10, {"add": [50]})})["price_recompute"] is None
