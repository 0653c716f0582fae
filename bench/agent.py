"""How fast the local agent stores, relays and drains changes, and its memory.

    python -m bench.agent [--json]

Every figure is taken from real `possync-agent` processes on loopback, with the default
timings except where said:

* ``ingest_per_s``: one page pushes 20,000 changes to an agent on its own (one change per
  `push` message, up to 256 unacknowledged at a time); changes per second acknowledged,
  i.e. durably committed.
* ``peer_p50_ms`` / ``peer_p99_ms``: 500 changes, one at a time, from a page of agent A
  until a page of agent B receives it (A and B are static peers; they registered their
  device keys with the stand-in server, which is then down, so only the LAN path —
  TLS and signed requests — carries the changes).
* ``drain_10k_s``: 10,000 changes queued while the stand-in server answers 503, then the
  time from the server coming back until the agent's outbox is empty (every change
  acknowledged by the stand-in). The agent's retry cap is 1 s here, so the figure measures
  draining, not waiting for the next retry (the default cap is 10 s).
* ``rss_mb``: the largest peak resident set (VmHWM) of the agent processes above.

Targets: ingest ≥ 5,000/s, peer p99 ≤ 50 ms, drain ≤ 10 s, RSS ≤ 80 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from devkit.changes import change
from devkit.page_client import PageClient
from devkit.ports import free_port
from devkit.processes import AgentProcess, StandInProcess

TARGETS = {"ingest_per_s": 5000, "peer_p99_ms": 50, "drain_10k_s": 10, "rss_mb": 80}
INGEST_CHANGES = 20_000
INGEST_WINDOW = 256
PEER_SAMPLES = 500
DRAIN_CHANGES = 10_000


async def ingest(http: aiohttp.ClientSession, agent: AgentProcess) -> float:
    page = await agent.page(http)
    changes = [change(f"o{i % 50}") for i in range(INGEST_CHANGES)]
    frames = [json.dumps({"type": "push", "changes": [c]}) for c in changes]
    started = time.perf_counter()
    sent = 0
    while sent < len(frames):
        while sent < len(frames) and sent - len(page.acked) < INGEST_WINDOW:
            await page.ws.send_str(frames[sent])
            sent += 1
        low = sent - INGEST_WINDOW // 2
        await page.until(lambda low=low: len(page.acked) > low, timeout=30)
    await page.until(lambda: len(page.acked) == len(frames), timeout=60)
    elapsed = time.perf_counter() - started
    await page.close()
    return len(frames) / elapsed


async def peer_latency(http: aiohttp.ClientSession, a: AgentProcess, b: AgentProcess):
    sender, receiver = await a.page(http), await b.page(http)
    await _relay(sender, receiver)  # warm up: both agents have met
    samples = [await _relay(sender, receiver) for _ in range(PEER_SAMPLES)]
    percentiles = statistics.quantiles(samples, n=100)
    return statistics.median(samples), percentiles[98]


async def _relay(sender: PageClient, receiver: PageClient) -> float:
    made = change()
    started = time.perf_counter()
    await sender.ws.send_json({"type": "push", "changes": [made]})
    await receiver.wait_for({made["id"]}, timeout=30)
    return (time.perf_counter() - started) * 1000


async def drain(http: aiohttp.ClientSession, folder: Path) -> tuple[float, float]:
    """Seconds to drain the outbox once the server is back, and the agent's peak RSS."""
    server = await StandInProcess(folder / "standin.db").start()
    await _server_down(http, server, True)
    agent = AgentProcess(
        folder / "drain", server=server.url, fast=False, env={"POSSYNC_BACKOFF_MAX_S": "1"}
    )
    await agent.start()
    try:
        page = await agent.page(http)
        changes = [change(f"o{i % 50}") for i in range(DRAIN_CHANGES)]
        for i in range(0, DRAIN_CHANGES, 200):
            await page.push(changes[i : i + 200], timeout=30)
        assert (await agent.status(http))["pending"] == DRAIN_CHANGES
        await _server_down(http, server, False)
        started = time.perf_counter()
        while (await agent.status(http))["pending"]:
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
        assert len((await server.log_of(http))["changes"]) == DRAIN_CHANGES
        return elapsed, peak_rss_mb(agent.pid)
    finally:
        await agent.stop()
        await server.stop()


async def _met(http: aiohttp.ClientSession, a: AgentProcess, b: AgentProcess) -> None:
    """Wait until each agent has exchanged with the other (each trusts the other's key)."""
    for _ in range(300):
        seen = [(await x.status(http))["peers"] for x in (a, b)]
        if all(seen):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the two agents never met")


async def _server_down(http: aiohttp.ClientSession, server: StandInProcess, down: bool):
    async with http.post(server.url + "/_standin/faults", json={"down": down}) as resp:
        resp.raise_for_status()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc (Linux only)")


async def measure() -> dict:
    with tempfile.TemporaryDirectory(prefix="possync-bench-") as tmp:
        folder = Path(tmp)
        async with aiohttp.ClientSession() as http:
            ports = free_port(), free_port()
            urls = [f"https://127.0.0.1:{port}" for port in ports]
            server = await StandInProcess(folder / "peers-standin.db").start()
            a, b = (
                AgentProcess(
                    folder / name,
                    peer_port=ports[i],
                    peers=(urls[1 - i],),
                    server=server.url,
                    fast=False,
                )
                for i, name in enumerate("ab")
            )
            alone = await AgentProcess(folder / "ingest", fast=False).start()
            try:
                rate = await ingest(http, alone)
                rss = [peak_rss_mb(alone.pid)]
            finally:
                await alone.stop()
            await a.start()
            await b.start()
            try:
                await _met(http, a, b)
                await _server_down(http, server, True)
                p50, p99 = await peer_latency(http, a, b)
                rss += [peak_rss_mb(a.pid), peak_rss_mb(b.pid)]
            finally:
                await a.stop()
                await b.stop()
                await server.stop()
            drain_s, drain_rss = await drain(http, folder)
    return {
        "ingest_per_s": round(rate),
        "peer_p50_ms": round(p50, 2),
        "peer_p99_ms": round(p99, 2),
        "drain_10k_s": round(drain_s, 2),
        "rss_mb": round(max(*rss, drain_rss), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the possync agent.")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    figures = asyncio.run(measure())
    if args.json:
        print(json.dumps(figures))
        return
    for name, value in figures.items():
        target = TARGETS.get(name)
        print(f"{name:14} {value:>10}" + (f"   (target {target})" if target else ""))


if __name__ == "__main__":
    main()
