"""A user-space fault-injecting TCP proxy, put between real processes on loopback.

Kernel traffic shaping (tc netem) is not available on the CI machines, so flaky networks
are simulated here: a fraction of new connections is dropped at once, forwarded chunks
sometimes wait for a latency spike, and a partition stops all traffic both ways (new
connections are accepted but hang, as behind a dead Wi-Fi access point). When the
partition heals, the connections that lived through it are reset, as a NAT or access point
that lost their state would.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    generation: int
    upstream: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task] = field(default_factory=list)

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.transport.abort()


class FaultProxy:
    def __init__(
        self,
        target_port: int,
        *,
        drop_rate: float = 0.0,
        spike_rate: float = 0.0,
        spike_s: float = 0.5,
        seed: int | None = None,
    ) -> None:
        self.target_port = target_port
        self.drop_rate = drop_rate
        self.spike_rate = spike_rate
        self.spike_s = spike_s
        self.random = random.Random(seed)
        self.port = 0
        self.dropped = 0
        self.spikes = 0
        self._links: set[_Link] = set()
        self._generation = 0
        self._healed = asyncio.Event()
        self._healed.set()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.abort()
        self._healed.set()

    def partition(self, on: bool) -> None:
        """Stop (True) or restore (False) all traffic through this proxy."""
        if on and self._healed.is_set():
            self._healed.clear()
            self._generation += 1
        elif not on and not self._healed.is_set():
            for link in list(self._links):
                if link.generation < self._generation:
                    link.abort()
            self._healed.set()

    @property
    def partitioned(self) -> bool:
        return not self._healed.is_set()

    def retarget(self, port: int) -> None:
        """Send new connections to another port (a restarted process)."""
        self.target_port = port

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(writer, self._generation)
        self._links.add(link)
        try:
            if self.random.random() < self.drop_rate:
                self.dropped += 1
                return
            await self._wait_heal(link)
            up_reader, link.upstream = await asyncio.open_connection("127.0.0.1", self.target_port)
            await asyncio.gather(
                self._pump(link, reader, link.upstream), self._pump(link, up_reader, writer)
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._links.discard(link)
            link.abort()

    async def _wait_heal(self, link: _Link) -> None:
        if self.partitioned:
            link.generation = self._generation - 1  # reset on heal, like the ones it joined
            await self._healed.wait()
            raise ConnectionResetError("partition")

    async def _pump(
        self, link: _Link, source: asyncio.StreamReader, sink: asyncio.StreamWriter
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                await self._wait_heal(link)
                if self.spike_rate and self.random.random() < self.spike_rate:
                    self.spikes += 1
                    await asyncio.sleep(self.spike_s)
                sink.write(data)
                await sink.drain()
        link.abort()
