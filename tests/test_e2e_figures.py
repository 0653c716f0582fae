"""The end-to-end bench's figures that need no Odoo: memory growth and latency percentiles."""

from __future__ import annotations

import os

import pytest

from bench.e2e import latency_figures, met, split_figures
from bench.steps import edit_split
from devkit.e2e.memory import Life, Memory, rss_mb, warmup_s
from devkit.e2e.service import Outcome, Plan, Service, started


def test_the_warm_up_is_ten_minutes_or_half_a_short_service() -> None:
    assert warmup_s(3600) == 600
    assert warmup_s(1200) == 600
    assert warmup_s(600) == 300


def test_growth_counts_from_the_first_sample_after_the_warm_up() -> None:
    life = Life("agent A (pid 1)", [(0, 50.0), (300, 80.0), (600, 100.0), (900, 105.0)])
    assert life.growth_pct(warmup_s=600, sample_s=60) == 5.0


def test_a_sample_taken_a_little_early_still_starts_the_count() -> None:
    life = Life("agent A (pid 1)", [(0.2, 50.0), (599.6, 100.0), (1199.8, 110.0)])
    assert life.growth_pct(warmup_s=600, sample_s=60) == 10.0


def test_a_restarted_process_warms_up_from_its_own_start() -> None:
    # Restarted 9 minutes in: its 10th and 11th minutes are still its warm-up.
    life = Life("agent C (pid 2)", [(540, 40.0), (600, 60.0), (1140, 90.0), (1200, 99.0)])
    assert life.growth_pct(warmup_s=600, sample_s=60) == 10.0


def test_a_life_too_short_to_measure_has_no_growth() -> None:
    young = Life("page B (load 2)", [(432, 30.0), (480, 31.0), (600, 31.0)])
    assert young.growth_pct(warmup_s=300, sample_s=60) is None


def test_the_report_gives_the_largest_growth_and_every_series() -> None:
    memory = Memory(sample_s=60)
    for t, a, b in ((0, 50, 20), (300, 60, 20), (600, 63, 30)):
        memory.add("agent A (pid 1)", t, a)
        memory.add("page A (load 1)", t, b)
    memory.add("agent B (pid 2)", 0, None)  # gone before the sample: nothing recorded
    report = memory.report(duration_s=600)
    assert report["rss_growth_pct"] == 50.0
    assert report["rss_growth_worst"] == "page A (load 1)"
    assert report["rss_growth_by_process"] == {"agent A (pid 1)": 5.0, "page A (load 1)": 50.0}
    assert report["rss_series_mb"]["agent A (pid 1)"] == [(0, 50), (300, 60), (600, 63)]
    assert report["rss_warmup_s"] == 300


def test_rss_of_this_process_and_of_none() -> None:
    mine = rss_mb(os.getpid())
    assert mine is not None and mine > 1
    assert rss_mb(2**22 + 1) is None  # above the kernel's pid limit: no such process


def test_p95_is_the_nearest_rank() -> None:
    samples = list(range(1, 21))  # 20 samples: the 95th percentile is the 19th
    figures = latency_figures({"peer": {"samples_ms": samples, "timeouts": 0}})
    assert figures == {"p50_ms": {"peer": 10}, "p95_ms": {"peer": 19}}


def test_an_edit_that_never_arrived_counts_as_the_slowest() -> None:
    one_missed = {"samples_ms": [10.0] * 19, "timeouts": 1}
    assert latency_figures({"peer": one_missed})["p95_ms"] == {"peer": 10.0}
    two_missed = {"samples_ms": [10.0] * 18, "timeouts": 2}
    assert latency_figures({"peer": two_missed})["p95_ms"] == {"peer": None}


def test_targets_include_memory_and_the_peer_path() -> None:
    report = {
        "lost": 0,
        "duplicated": 0,
        "diverged_orders": 0,
        "converge_after_heal_s": 4.2,
        "rss_growth_pct": 12.0,
        "p95_ms": {"server": 280.0, "peer": 51.0},
        "unmodeled": [],
        "ui_crashes": {},
    }
    out = met(report)
    assert out["rss_growth_pct"] is False and out["p95_peer"] is False
    assert out["converge_after_heal_s"] and out["p95_server"] and out["lost"]


def test_convergence_after_a_heal_is_the_slowest_of_every_heal() -> None:
    outcome = Outcome()
    assert outcome.converge_after_heal_s is None  # no heal timed yet
    outcome.converge_s = {"server back": 0.9, "worker killed": 2.5, "Odoo restarted": 1.1}
    assert outcome.converge_after_heal_s == 2.5
    outcome.converge_s["terminal B back on"] = None  # never agreed within the wait
    assert outcome.converge_after_heal_s is None


def test_a_latency_with_steps_has_only_the_latency_targets() -> None:
    report = {"p95_ms": {"server": 280.0, "peer": 51.0}, "steps": {}}
    assert met(report) == {"p95_server": True, "p95_peer": False}


def test_an_edit_splits_at_a_capture_a_receive_and_an_apply() -> None:
    a = [
        {"t": 990.0, "ev": "capture", "ops": ["line.add"]},  # an earlier edit's
        {"t": 1030.0, "ev": "recompute", "ms": 20.0},
        {"t": 1040.0, "ev": "capture", "ops": ["line.add"]},
        {"t": 1041.0, "ev": "send", "n": 1},
    ]
    b = [
        {"t": 1000.0, "ev": "receive", "ops": ["line.add"]},  # the earlier edit's
        {"t": 1045.0, "ev": "receive", "ops": ["order.set"]},
        {"t": 1050.0, "ev": "receive", "ops": ["line.add"]},
        {"t": 1075.0, "ev": "recompute", "ms": 15.0},
        {"t": 1080.0, "ev": "apply.end"},
    ]
    assert edit_split(a, b, at=1000.0, seen=1082.0) == {
        "a_odoo": 40.0,
        "a_recompute": 20.0,
        "to_b": 10.0,
        "b_apply": 30.0,
        "b_recompute": 15.0,
        "b_seen": 2.0,
    }
    assert edit_split(a, b[:3], at=1000.0, seen=1082.0) is None  # B's apply never stamped


def test_split_figures_are_each_parts_percentiles() -> None:
    splits = [{"to_b": float(ms), "b_apply": 2.0 * ms} for ms in range(1, 21)]
    assert split_figures(splits) == {
        "split": 20,
        "to_b": {"p50": 10.0, "p95": 19.0},
        "b_apply": {"p50": 20.0, "p95": 38.0},
    }
    assert split_figures([]) == {"split": 0}


def test_a_service_whose_set_up_fails_still_closes_its_terminals(monkeypatch) -> None:
    closed = []

    def setup(service: Service) -> None:
        service.terminals.append("A")
        raise RuntimeError("Odoo refused the POS")

    monkeypatch.setattr(Service, "setup", setup)
    monkeypatch.setattr(Service, "close", lambda service: closed.extend(service.terminals))
    with pytest.raises(RuntimeError), started(None, None, None, None, Plan(), print):
        pass
    assert closed == ["A"]
