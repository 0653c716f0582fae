"""A POS page's side of the agent's WebSocket, driven by a test or a bench."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp

TOKEN = "test-page-token"


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
