"""The sync addon's own Odoo tests (TransactionCase, HttpCase tours) pass on a real Odoo."""

from __future__ import annotations

import pytest

from devkit.odoo import SYNC_MODULE, Harness, sync_addon_present


@pytest.mark.skipif(not sync_addon_present(), reason=f"addon/{SYNC_MODULE} has no manifest yet")
def test_addon_odoo_tests_pass(odoo_harness: Harness) -> None:
    if not odoo_harness.with_addon:
        pytest.skip("POSSYNC_WITHOUT_ADDON is set")
    # Runs on its own fresh database, with the module updated so at_install tests run too.
    result = odoo_harness.run_addon_tests()
    assert result.ok, f"{result.summary} (exit {result.returncode}); log: {result.log_path}"
