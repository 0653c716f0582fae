"""The outcome of Odoo's own tests (``--test-tags``), read from Odoo's log."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .files import tail


@dataclass
class OdooTestRun:
    """The outcome of Odoo's own tests (``--test-tags``) for an addon."""

    returncode: int
    summary: str
    log_path: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and " 0 failed, 0 error(s)" in f" {self.summary}"

    @classmethod
    def read(cls, returncode: int, log_path: Path) -> OdooTestRun:
        return cls(returncode, test_summary(log_path), log_path)


def test_summary(log_path: Path) -> str:
    """Odoo's closing line, e.g. ``0 failed, 0 error(s) of 12 tests when loading ...``."""
    pattern = re.compile(r"odoo\.tests\.result: (.*when loading database.*)$")
    lines = [m[1] for line in tail(log_path, 400).splitlines() if (m := pattern.search(line))]
    return lines[-1] if lines else "no test summary in the log"
