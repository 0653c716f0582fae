"""Windows, faked on this machine: `sys.platform`, a user's profile folders in the
environment, and icacls answering as told. For the tests of the Windows-only code paths
(tests/shell/test_windows_paths.py, tests/security/test_files.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent import private_files

CREATE_NO_WINDOW = 0x08000000  # subprocess's constant, which only Windows' Python has


class FakeIcacls:
    """subprocess.run as agent.private_files calls it, answering like icacls."""

    def __init__(self, returncode: int = 0, output: str = "") -> None:
        self.calls: list[list[str]] = []
        self.options: list[dict[str, Any]] = []
        self.returncode, self.output = returncode, output
        self.error: Exception | None = None  # raised instead (icacls missing, too slow)

    def __call__(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
        self.calls.append(command)
        self.options.append(kwargs)
        if self.error is not None:
            raise self.error
        return subprocess.CompletedProcess(command, self.returncode, self.output, "")


def fake_windows(
    monkeypatch: pytest.MonkeyPatch, profile: Path, user: str = "ana", domain: str = "TABLET1"
) -> FakeIcacls:
    """The platform faked as Windows for `user` of `domain`, whose profile is `profile`."""
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(subprocess, "CREATE_NO_WINDOW", CREATE_NO_WINDOW, raising=False)
    monkeypatch.setenv("USERPROFILE", str(profile))
    monkeypatch.setenv("LOCALAPPDATA", str(profile / "AppData/Local"))
    monkeypatch.setenv("APPDATA", str(profile / "AppData/Roaming"))
    monkeypatch.setenv("USERNAME", user)
    monkeypatch.setenv("USERDOMAIN", domain)
    monkeypatch.delenv("POSSYNC_DATA_DIR", raising=False)
    icacls = FakeIcacls()
    monkeypatch.setattr(private_files.subprocess, "run", icacls)
    return icacls
