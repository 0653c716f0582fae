"""`possync-agent run` and `possync-agent status` as real processes (agent/cli.py)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys

from devkit.changes import change
from devkit.page_client import TOKEN, PageClient
from devkit.processes import REPO, AgentProcess


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=30,
    )


async def test_run_prints_one_listening_line_and_writes_a_private_runtime_file(tmp_path):
    agent = await AgentProcess(tmp_path / "a").start()
    try:
        line = agent.listening
        assert set(line) == {"event", "page_port", "peer_port", "terminal"}
        assert line["event"] == "listening" and line["terminal"].startswith("t-")
        runtime = tmp_path / "a" / "runtime.json"
        assert stat.S_IMODE(runtime.stat().st_mode) == 0o600
        info = json.loads(runtime.read_text())
        assert info["pid"] == agent.pid and info["token"] == TOKEN
        assert (info["page_port"], info["peer_port"]) == (line["page_port"], line["peer_port"])
    finally:
        assert await agent.stop() == 0
    assert not runtime.exists()  # a clean stop removes it


async def test_status_prints_what_the_running_agent_reports(tmp_path):
    agent = await AgentProcess(tmp_path / "a").start()
    try:
        shown = await asyncio.to_thread(cli, "status", "--data-dir", str(tmp_path / "a"))
        assert shown.returncode == 0
        assert agent.listening["terminal"] in shown.stdout
        assert "server    not configured" in shown.stdout
        raw = await asyncio.to_thread(cli, "status", "--data-dir", str(tmp_path / "a"), "--json")
        status = json.loads(raw.stdout)
        assert status["server"]["cause"] == "server not configured" and status["pending"] == 0
    finally:
        await agent.stop()


def test_status_without_a_running_agent_says_so(tmp_path):
    shown = cli("status", "--data-dir", str(tmp_path))
    assert shown.returncode == 1 and "no agent is running" in shown.stderr


async def test_without_a_page_token_in_the_environment_one_is_made_per_launch(tmp_path, http):
    agent = AgentProcess(tmp_path / "a", env={"POSSYNC_PAGE_TOKEN": ""})
    await agent.start()
    try:
        token = json.loads((tmp_path / "a" / "runtime.json").read_text())["token"]
        assert len(token) >= 32 and token != TOKEN
        page = await PageClient.connect(http, agent.page_port, token=token)
        await page.push([change()])
    finally:
        await agent.stop()


async def test_a_second_agent_on_the_same_data_folder_refuses_to_start(tmp_path):
    agent = await AgentProcess(tmp_path / "a").start()
    try:
        second = await asyncio.to_thread(
            cli, "run", "--data-dir", str(tmp_path / "a"), "--peer-port", "0", "--no-mdns"
        )
        assert second.returncode == 4 and "another possync-agent" in second.stderr
    finally:
        await agent.stop()


def test_a_damaged_database_stops_the_agent_with_a_clear_error_and_is_kept(tmp_path):
    data = tmp_path / "a"
    data.mkdir()
    (data / "queue.db").write_bytes(b"garbage " * 1000)
    args = ("run", "--data-dir", str(data), "--peer-port", "0", "--no-mdns")
    failed = cli(*args, env={"POSSYNC_PAGE_TOKEN": TOKEN})
    assert failed.returncode == 3
    assert "damaged" in failed.stderr and "moved to" in failed.stderr
    kept = [p for p in data.iterdir() if p.name.startswith("queue.db.corrupt-")]
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b"garbage")


def test_a_secret_in_the_settings_file_stops_the_agent_with_a_clear_error(tmp_path):
    (tmp_path / "agent.toml").write_text('page_token = "abc"\n')
    failed = cli("run", "--data-dir", str(tmp_path), "--no-mdns")
    assert failed.returncode == 2 and "POSSYNC_PAGE_TOKEN" in failed.stderr


async def test_sigterm_stops_the_agent_cleanly_with_nothing_lost(tmp_path, http):
    agent = await AgentProcess(tmp_path / "a").start()
    page = await agent.page(http)
    await page.push(made := [change() for _ in range(50)])
    assert await agent.stop() == 0
    await agent.start()
    try:
        again = await agent.page(http)
        await again.wait_for({c["id"] for c in made})
        assert (await agent.status(http))["pending"] == 50
    finally:
        await agent.stop()
