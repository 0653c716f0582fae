"""One end-to-end run: Odoo from the harness, chromium, the service, the figures."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devkit.chromium import CHROMIUM, CHROMIUM_ARGS
from devkit.machine import machine
from devkit.odoo import Harness

from .service import Log, Plan, started

# What runs once Odoo and chromium are up: (harness, odoo, browser, workdir, plan, log).
Serve = Callable[..., dict[str, Any]]


def run(
    odoo_src: str, plan: Plan, log: Log = print, serving: Serve | None = None
) -> dict[str, Any]:
    """Start Odoo and chromium, then ``serving`` (by default ``serve``: measure latency,
    run the service) and return its report."""
    from playwright.sync_api import sync_playwright

    with (
        harness_for(odoo_src, plan) as harness,
        tempfile.TemporaryDirectory(prefix="possync-e2e-") as tmp,
    ):
        odoo = harness.up()
        tmp = kept_dir() or tmp
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                return (serving or serve)(harness, odoo, browser, Path(tmp), plan, log)
            finally:
                browser.close()


def kept_dir() -> Path | None:
    """A new folder of this run's own under ``POSSYNC_E2E_DIR``, which keeps the agents'
    data, console logs and the action log (None when unset): agents given an earlier run's
    queues would push its changes into this run's fresh database."""
    keep = os.environ.get("POSSYNC_E2E_DIR")
    if not keep:
        return None
    folder = Path(keep) / time.strftime("run-%Y%m%d-%H%M%S")
    folder.mkdir(parents=True)
    return folder


def harness_for(odoo_src: str, plan: Plan) -> Harness:
    """Odoo with ``plan.workers`` HTTP workers behind nginx, or one process when 0."""
    if not plan.workers:
        return Harness(odoo_src)
    return Harness(odoo_src, workers=plan.workers, proxy="nginx")


def serve(harness, odoo, browser, workdir: Path, plan: Plan, log: Log) -> dict[str, Any]:  # noqa: ANN001
    with started(harness, odoo, browser, workdir, plan, log) as service:
        latency = {p: service.latency(p, plan.latency_samples) for p in ("server", "peer")}
        log(f"latency: {latency}")
        service.run()
        report = service.report()
    report["odoo"] = odoo.version
    report["duration_s"] = plan.duration_s
    report["workers"] = plan.workers
    report["latency"] = latency
    report["machine"] = machine()
    return report
