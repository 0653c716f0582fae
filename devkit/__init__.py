"""possync's development kit: what the tests and the benches both run.

Nothing here ships in the app. The real-Odoo harness, the stand-in Odoo, the fault proxy, the
agent process helpers and the POS page object live here so that ``bench/`` and ``tests/`` import
the same code and neither imports the other.
"""
