"""What the agent's tests share: changes to send, a page client, real agent processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from agent.protocol import HybridClock

REPO = Path(__file__).resolve().parents[1]
TOKEN = "test-page-token"
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

_clock = HybridClock()


def hlc_now() -> str:
    return _clock.tick(time.time_ns() // 1_000_000)


def add_line(product: int = 1, qty: float = 1) -> dict:
    values = {"product_id": product, "qty": qty}
    return {"op": "line.add", "line": uuid.uuid4().hex[:16], "values": values}


def change(order: str = "o1", ops: list[dict] | None = None, terminal: str = "t-test") -> dict:
    """A valid change with a fresh id (one new line unless ops are given)."""
    return {
        "v": 1,
        "id": uuid.uuid4().hex,
        "terminal": terminal,
        "hlc": hlc_now(),
        "order": order,
        "ops": ops or [add_line()],
    }


def free_port() -> int:
    """A port free right now, for a process that must come back on the same one."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PageClient:
    """The test's POS page: the page side of the agent's WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.welcome: dict | None = None
        self.seqs: dict[str, int] = {}  # change id -> seq it arrived with
        self.changes: dict[str, dict] = {}
        self.acked: set[str] = set()
        self.errors: list[dict] = []
        self.statuses: list[dict] = []
        self.max_seq = 0
        self.duplicates = 0  # a change delivered again under another seq
        self._cond = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(
        cls,
        session: aiohttp.ClientSession,
        port: int,
        *,
        token: str = TOKEN,
        origin: str | None = None,
        since: int | None = 0,
    ) -> PageClient:
        headers = {"Origin": origin} if origin else {}
        ws = await session.ws_connect(
            f"http://127.0.0.1:{port}/page?token={token}", headers=headers
        )
        page = cls(ws)
        if since is not None:
            await page.hello(since)
        return page

    async def hello(self, since: int = 0) -> dict:
        self.welcome = None
        await self.ws.send_json({"type": "hello", "v": 1, "since": since})
        await self.until(lambda: self.welcome is not None)
        assert self.welcome is not None
        return self.welcome

    async def push(self, changes: list[dict], timeout: float = 10) -> None:
        await self.ws.send_json({"type": "push", "changes": changes})
        ids = {c["id"] for c in changes}
        await self.until(lambda: ids <= self.acked, timeout)

    async def send_raw(self, text: str) -> dict:
        """Send any text; return the error it gets."""
        count = len(self.errors)
        await self.ws.send_str(text)
        await self.until(lambda: len(self.errors) > count)
        return self.errors[-1]

    @property
    def caught_up(self) -> bool:
        """The replay that answers the last hello has arrived: every change up to the
        welcome's seq. A status says nothing about it: the agent pushes one to every
        connected page whenever its status changes, before the welcome or between two
        parts of a replay too."""
        return self.welcome is not None and self.max_seq >= self.welcome["seq"]

    async def wait_for(self, ids: set[str], timeout: float = 10) -> None:
        await self.until(lambda: ids <= self.changes.keys(), timeout)

    async def until(self, condition: Callable[[], bool], timeout: float = 10) -> None:
        async with self._cond:
            await asyncio.wait_for(self._cond.wait_for(condition), timeout)

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            async with self._cond:
                self._handle(json.loads(msg.data))
                self._cond.notify_all()
        async with self._cond:
            self._cond.notify_all()

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "welcome":
            self.welcome = message
        elif kind == "ack":
            self.acked.update(message["ids"])
        elif kind == "error":
            self.errors.append(message)
        elif kind == "status":
            self.statuses.append(message["status"])
        elif kind == "changes":
            for item in message["changes"]:
                change_id = item["change"]["id"]
                if self.seqs.get(change_id, item["seq"]) != item["seq"]:
                    self.duplicates += 1
                self.seqs[change_id] = item["seq"]
                self.changes[change_id] = item["change"]
                self.max_seq = max(self.max_seq, item["seq"])


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


async def eventually(check: Callable[[], Any], timeout: float = 15, every: float = 0.05) -> Any:
    """Wait until `await check()` (or `check()`) is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value or time.monotonic() > deadline:
            assert value, f"not true after {timeout} s"
            return value
        await asyncio.sleep(every)
