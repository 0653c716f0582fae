"""An aiohttp app served on its own event loop and thread, so blocking code can call it."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Self

from aiohttp import web


class BackgroundServer:
    """An aiohttp app on its own event loop and thread, so blocking code can call it."""

    def __init__(
        self, app: web.Application, port: int = 0, ssl_context: Any = None, host: str = "127.0.0.1"
    ) -> None:
        self.app = app
        self.port = port
        self.host = host
        self.ssl_context = ssl_context
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, self.host, self.port, reuse_address=True, ssl_context=self.ssl_context
        )
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        assert self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
