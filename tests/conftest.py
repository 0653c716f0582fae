"""Shared fixtures. The real-Odoo tier has its own conftest in tests/realodoo/."""

import pytest

_VECTORS_PASSED: list[str] = []


@pytest.fixture
def vector_tally() -> list[str]:
    """Collects the names of passed protocol vectors for the summary line."""
    return _VECTORS_PASSED


def pytest_terminal_summary(terminalreporter):
    if _VECTORS_PASSED:
        terminalreporter.write_line(f"protocol vectors (Python): {len(_VECTORS_PASSED)} passed")
