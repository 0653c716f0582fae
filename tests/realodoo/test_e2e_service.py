"""End to end (issue #7): three terminals, each a browser page with the desktop app's
injected script and its own real agent, on real Odoo, through fault proxies.

A short service (``POSSYNC_E2E_MINUTES``, default 2) with every fault of the full benchmark
(``python -m bench.e2e``): dropped connections, delays up to 2 s, the server cut away, an
agent SIGKILLed, Odoo restarted, a terminal switched off with unsent changes. At the end
every page, every agent and Odoo hold exactly what the waiters did. Design: docs/e2e.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from devkit.e2e.run import kept_dir, serve
from devkit.e2e.service import Plan
from devkit.odoo import OdooInstance

MINUTES = float(os.environ.get("POSSYNC_E2E_MINUTES", "2"))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return kept_dir() or tmp_path


def test_a_service_through_a_flaky_network_loses_and_duplicates_nothing(
    odoo_harness, odoo: OdooInstance, browser, workdir: Path
) -> None:
    plan = Plan(duration_s=MINUTES * 60, cut_s=min(60, MINUTES * 10), latency_samples=10)
    report = serve(odoo_harness, odoo, browser, workdir, plan, print)
    print(json.dumps(report, indent=1))
    assert report["differences"] == []
    assert report["unmodeled"] == []
    assert report["ui_crashes"] == {}
    assert (report["lost"], report["duplicated"], report["diverged_orders"]) == (0, 0, 0)
    assert report["converge_after_heal_s"] is not None
    assert sum(report["actions_by_kind"].values()) > 20
