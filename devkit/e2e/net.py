"""The flaky network of the end-to-end suite: fault proxies on an asyncio loop of their own.

The driver (Playwright's sync API) is synchronous, the proxies are asyncio: they run on a
background thread and are steered from the driver through thread-safe calls.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Coroutine
from typing import Any

from devkit.fault_proxy import FaultProxy


class SpikyProxy(FaultProxy):
    """A FaultProxy whose latency spikes last anything up to ``max_spike_s``."""

    def __init__(self, target_port: int, *, max_spike_s: float = 2.0, seed: int = 0) -> None:
        super().__init__(target_port, seed=seed)
        self.max_spike_s = max_spike_s

    @property  # type: ignore[override]
    def spike_s(self) -> float:
        return self.random.uniform(0.05, self.max_spike_s)

    @spike_s.setter
    def spike_s(self, _value: float) -> None:
        pass  # the base class sets a fixed spike; ours is drawn per spike


class Network:
    """Owns the proxies and the loop they run on."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.proxies: dict[str, SpikyProxy] = {}
        self.random = random.Random(seed)

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def _call(self, fn: Any, *args: Any) -> None:
        async def run() -> None:
            fn(*args)

        self.run(run())

    def proxy(self, name: str, target_port: int) -> SpikyProxy:
        """A new proxy to ``target_port`` on loopback, no faults yet."""
        proxy = SpikyProxy(target_port, seed=self.random.randrange(1 << 30))
        self.run(proxy.start())
        self.proxies[name] = proxy
        return proxy

    def faults(self, names: list[str] | None, *, drop: float, spike: float) -> None:
        """Set the drop and spike rates of some proxies (all when ``names`` is None)."""
        for name in names or list(self.proxies):
            proxy = self.proxies[name]
            self._call(setattr, proxy, "drop_rate", drop)
            self._call(setattr, proxy, "spike_rate", spike)

    def retarget(self, name: str, port: int) -> None:
        """Send proxy ``name``'s new connections to ``port``."""
        self._call(self.proxies[name].retarget, port)

    def partition(self, names: list[str], on: bool) -> None:
        for name in names:
            self._call(self.proxies[name].partition, on)

    def stats(self) -> dict[str, dict[str, int]]:
        return {n: {"dropped": p.dropped, "spikes": p.spikes} for n, p in self.proxies.items()}

    def close(self) -> None:
        for proxy in self.proxies.values():
            self.run(proxy.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
