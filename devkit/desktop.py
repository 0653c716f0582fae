"""The desktop app run by tests and benches: offscreen, with a private home."""

from __future__ import annotations

import os
from pathlib import Path


def home_env(home: Path) -> dict[str, str]:
    """Where the app keeps its settings, web storage and agent data: under ``home``."""
    return {"XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data")}


def offscreen_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of an app process: this one's, Qt without a display, the private
    home, and ``extra``."""
    env = dict(os.environ) | {"QT_QPA_PLATFORM": "offscreen"} | home_env(home) | extra
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env["QTWEBENGINE_DISABLE_SANDBOX"] = "1"  # Qt WebEngine refuses its sandbox as root
    return env
