"""Logs never grow without bound: the app's own, and the agent's output the app keeps."""

from __future__ import annotations

import logging
import sys
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path

import pytest

from shell import cli, logs, paths
from shell.supervisor import AgentSupervisor, child_env

LIMIT = 4096


@pytest.fixture(autouse=True)
def small_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "MAX_BYTES", LIMIT)
    monkeypatch.setattr(logs, "BACKUPS", 2)


def log_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.glob(path.name + "*"))


def test_a_log_rotates_at_its_size_and_keeps_a_few_old_files(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "x.log"
    handler = logs.rotating_file(path)
    logs.copy_lines((f"line {i} " + "." * 90 + "\n" for i in range(500)), handler)
    handler.close()
    assert log_files(path) == ["x.log", "x.log.1", "x.log.2"]
    assert all(p.stat().st_size <= LIMIT for p in path.parent.iterdir())
    assert path.read_text().splitlines()[-1].startswith("line 499 "), "the newest is kept"


def test_the_agents_output_is_kept_in_a_rotating_log(tmp_path: Path) -> None:
    path = tmp_path / "agent.log"
    # A stand-in agent: its log lines on stderr (with a % that is not a format), then waits.
    script = (
        "import sys, time\n"
        "for i in range(1000): print(f'agent 100% line {i}', file=sys.stderr)\n"
        "time.sleep(30)"
    )
    agent = AgentSupervisor(lambda _port: [sys.executable, "-c", script], child_env({}), path)
    agent.start()
    try:
        deadline = time.monotonic() + 15
        while "line 999" not in (path.read_text() if path.exists() else ""):
            assert time.monotonic() < deadline, log_files(path)
            time.sleep(0.1)
    finally:
        agent.stop()
    assert log_files(path) == ["agent.log", "agent.log.1", "agent.log.2"]
    assert path.read_text().splitlines()[-1] == "agent 100% line 999"


def test_the_app_logs_to_a_rotating_file() -> None:
    root = logging.getLogger()
    # As at the app's start: no handlers yet (pytest's own are put back after).
    before, root.handlers = root.handlers, []
    try:
        cli._setup_logging(verbose=False, to_file=True)
        files = [h for h in root.handlers if isinstance(h, RotatingFileHandler)]
        assert [Path(h.baseFilename) for h in files] == [paths.log_dir() / "possync.log"]
        assert files[0].maxBytes == LIMIT and files[0].backupCount == 2
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers = before
