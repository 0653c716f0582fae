"""Real agent and stand-in Odoo processes, as tests and benches start, kill and restart them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp

from devkit.page_client import TOKEN, PageClient

REPO = Path(__file__).resolve().parents[1]
# Tight timings, so failures and recoveries happen within a test's patience.
FAST = {
    "backoff_min_s": 0.05,
    "backoff_max_s": 1.0,
    "bus_retry_s": 2.0,
    "peer_pull_s": 0.3,
    "http_timeout_s": 3.0,
    "heartbeat_s": 2.0,
    "safety_pull_s": 5.0,
    "devices_refresh_s": 1.0,
}
FAST_ENV = {f"POSSYNC_{name.upper()}": str(value) for name, value in FAST.items()}


class Process:
    """A real child process that prints a JSON `listening` line when it is ready."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: asyncio.subprocess.Process | None = None
        self.listening: dict = {}

    async def start(self, timeout: float = 30) -> Process:
        with open(self.log, "ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *self.args,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                stdin=asyncio.subprocess.DEVNULL,
                env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
                cwd=REPO,
            )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            await self.proc.wait()
            raise RuntimeError(f"{self.args[:2]} exited: {self.log.read_text()[-2000:]}")
        self.listening = json.loads(line)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, like a power cut for the process."""
        if self.proc and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self, timeout: float = 10) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                await self.kill()
        return self.proc.returncode


class AgentProcess(Process):
    def __init__(
        self,
        data_dir: Path,
        *,
        peer_port: int = 0,
        server: str | None = None,
        peers: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        extra: tuple[str, ...] = (),
        fast: bool = True,
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        args = ["-m", "agent.cli", "run", "--data-dir", str(data_dir), "--page-port", "0"]
        args += ["--peer-port", str(peer_port), "--peer-host", "127.0.0.1", "--no-mdns"]
        if server:
            args += ["--server", server, "--db", "possync", "--login", "admin"]
            args += ["--config-id", "1"]
        for peer in peers:
            args += ["--peer", peer]
        timings = FAST_ENV if fast else {}
        base_env = {**timings, "POSSYNC_PAGE_TOKEN": TOKEN, "POSSYNC_PASSWORD": "admin"}
        base_env["POSSYNC_DEVICE_KEY_STORE"] = "file"  # no keyring on a test machine
        super().__init__(args + list(extra), {**base_env, **(env or {})}, data_dir / "agent.log")
        self.data_dir = data_dir

    @property
    def page_port(self) -> int:
        return self.listening["page_port"]

    @property
    def peer_url(self) -> str:
        return f"https://127.0.0.1:{self.listening['peer_port']}"

    async def page(self, session: aiohttp.ClientSession, since: int = 0) -> PageClient:
        return await PageClient.connect(session, self.page_port, since=since)

    async def status(self, session: aiohttp.ClientSession) -> dict:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        url = f"http://127.0.0.1:{self.page_port}/status"
        async with session.get(url, headers=headers) as resp:
            return await resp.json()


class StandInProcess(Process):
    def __init__(self, data: Path, port: int = 0, mode: str = "bus") -> None:
        args = ["-m", "devkit.standin_odoo", "--port", str(port), "--data", str(data)]
        super().__init__(args + ["--mode", mode], {}, data.with_suffix(".log"))

    @property
    def port(self) -> int:
        return self.listening["port"]

    async def restart(self) -> None:
        """SIGKILL, then start again on the same port and data file."""
        port = self.port
        await self.kill()
        self.args[self.args.index("--port") + 1] = str(port)
        await self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def log_of(self, session: aiohttp.ClientSession) -> dict:
        async with session.get(self.url + "/_standin/log") as resp:
            return await resp.json()
