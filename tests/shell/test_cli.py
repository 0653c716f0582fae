"""The `possync` command line: status, doctor, --self-test, --agent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shell import cli, status
from shell.supervisor import AgentSupervisor, child_env
from tests.shell.conftest import gui_env
from tests.shell.test_supervisor import agent_command


def test_status_when_the_app_is_not_running(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status"]) == 1
    assert "possync is not running" in capsys.readouterr().out


def test_status_reads_the_running_agent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = child_env({"POSSYNC_PAGE_TOKEN": "t"})
    agent = AgentSupervisor(agent_command(tmp_path / "agent"), env)
    agent.start()
    try:
        listening = agent.wait_listening(20)
        assert listening is not None
        status.write_runtime(listening.page_port, "t", listening.pid)
        assert cli.main(["status"]) == 0
        out = capsys.readouterr().out
        assert f"terminal:     {listening.terminal}" in out and "unsent:       0" in out
        assert cli.main(["status", "--json"]) == 0
        assert '"pending": 0' in capsys.readouterr().out
    finally:
        agent.stop()


def test_status_when_the_agent_does_not_answer(capsys: pytest.CaptureFixture[str]) -> None:
    status.write_runtime(9, "t", None)
    assert cli.main(["status"]) == 1
    assert "does not answer" in capsys.readouterr().out


def test_doctor_prints_a_line_per_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("FAIL  Settings")
    assert [line.split()[1] for line in out if line[:4] in ("PASS", "FAIL")] == [
        "Settings", "Keyring", "Disk",
    ]  # fmt: skip
    assert out[-1] == "1 check(s) failed."


def test_self_test_checks_injection_and_the_round_trip(home: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shell.cli", "--self-test"],
        env=gui_env(home), capture_output=True, text=True, timeout=150,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    for step in ("injection", "hello", "push / ack", "read back"):
        assert f"PASS  {step}" in done.stdout
    assert done.stdout.strip().endswith("self-test passed")


def test_help_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for word in ("status", "doctor", "--self-test", "--setup", "--fullscreen"):
        assert word in out


def test_version_is_pyprojects(capsys: pytest.CaptureFixture[str]) -> None:
    import tomllib

    from agent import cli as agent_cli

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    expected = tomllib.loads(pyproject.read_text())["project"]["version"]
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out == f"possync {expected}\n"
    with pytest.raises(SystemExit):
        agent_cli.main(["--version"])
    assert capsys.readouterr().out == f"possync-agent {expected}\n"


def test_version_without_package_metadata_reads_pyproject(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from importlib import metadata

    from agent import version

    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(version.metadata, "version", missing)
    version.version.cache_clear()
    try:
        assert version.version() == version._from_pyproject(version.PYPROJECT) != version.UNKNOWN
        monkeypatch.setattr(version, "PYPROJECT", tmp_path / "absent.toml")
        version.version.cache_clear()
        assert version.version() == version.UNKNOWN
    finally:
        version.version.cache_clear()
