"""The machine a benchmark ran on, for its JSON report.

This machine is shared and its speed changes from hour to hour: a figure means little
without the load it was measured under.
"""

from __future__ import annotations

import os
import platform
from typing import Any


def loadavg() -> list[float]:
    """The load average over 1, 5 and 15 minutes, to two decimals."""
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    """A report's ``machine``: CPUs, load average now, Python and kernel."""
    return {
        "cpus": os.cpu_count(),
        "loadavg": loadavg(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
