"""The agent as a supervised child: started, restarted with backoff when it dies, stopped."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from shell import paths, status
from shell.supervisor import AgentSupervisor, child_env
from tests.shell.gui_driver import alive

TOKEN = "test-token"


def agent_command(data_dir: Path, via_shell: bool = False):  # type: ignore[no-untyped-def]
    def command(port: int) -> list[str]:
        args = ["run", "--data-dir", str(data_dir), "--page-port", str(port),
                "--peer-port", "0", "--no-mdns"]  # fmt: skip
        if via_shell:
            # What a bundle runs: `possync --agent ...` re-entering the app's executable.
            return [sys.executable, "-m", "shell.cli", "--agent", *args]
        return paths.agent_command(args)

    return command


@pytest.fixture
def supervisor(tmp_path: Path):  # type: ignore[no-untyped-def]
    agent = AgentSupervisor(
        agent_command(tmp_path / "agent"),
        child_env({"POSSYNC_PAGE_TOKEN": TOKEN}),
        tmp_path / "agent.log",
    )
    agent.start()
    yield agent
    agent.stop()


def wait_until(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_the_agent_starts_and_reports_its_address(supervisor: AgentSupervisor) -> None:
    listening = supervisor.wait_listening(20)
    assert listening is not None
    answer = status.fetch_status(listening.page_port, TOKEN)
    assert answer is not None and answer["terminal"] == listening.terminal


def test_a_killed_agent_comes_back_on_the_same_port(supervisor: AgentSupervisor) -> None:
    first = supervisor.wait_listening(20)
    assert first is not None
    os.kill(first.pid, signal.SIGKILL)
    assert wait_until(lambda: supervisor.listening and supervisor.listening.pid != first.pid)
    assert supervisor.restarts == 1
    assert supervisor.listening.page_port == first.page_port  # pages reconnect to one address
    assert status.fetch_status(first.page_port, TOKEN) is not None


def test_stop_ends_the_agent_for_good(supervisor: AgentSupervisor) -> None:
    listening = supervisor.wait_listening(20)
    assert listening is not None
    supervisor.stop()
    assert not alive(listening.pid)
    time.sleep(1)
    assert supervisor.pid is None and supervisor.restarts == 0


def test_an_agent_that_keeps_failing_is_retried_with_growing_delays(tmp_path: Path) -> None:
    starts: list[float] = []

    def command(_port: int) -> list[str]:
        starts.append(time.monotonic())
        return [sys.executable, "-c", "raise SystemExit(3)"]

    agent = AgentSupervisor(command, child_env({}))
    agent.start()
    assert wait_until(lambda: len(starts) >= 4, timeout=15)
    assert agent.last_exit == 3
    agent.stop()
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert gaps[2] > gaps[0] * 1.5, gaps


def test_a_bundle_runs_the_agent_through_possync_agent_flag(tmp_path: Path) -> None:
    agent = AgentSupervisor(
        agent_command(tmp_path / "agent", via_shell=True), child_env({"POSSYNC_PAGE_TOKEN": TOKEN})
    )
    agent.start()
    try:
        listening = agent.wait_listening(20)
        assert listening is not None
        assert status.fetch_status(listening.page_port, TOKEN) is not None
    finally:
        agent.stop()
