"""A real `possync-agent` killed with SIGKILL at random points during a burst of changes:
nothing acknowledged is lost, and nothing is stored or applied twice."""

from __future__ import annotations

import asyncio
import contextlib
import random

import aiohttp
import pytest

from devkit.changes import change
from devkit.page_client import PageClient
from devkit.processes import AgentProcess, StandInProcess
from devkit.waiting import eventually

KILLS = 55
# How long the agent may take to store and acknowledge what the bursts left unacknowledged:
# a wait, not a speed check. The page pushes without waiting for acknowledgements, so on two
# loaded cores (a 60-minute bench beside the tests) thousands can be waiting at the end.
DRAIN_WITHIN_S = 120


class Burst:
    """The page's side: sends changes as fast as acks allow, resends what was not acked."""

    def __init__(self) -> None:
        self.sent: dict[str, dict] = {}
        self.acked: set[str] = set()

    @property
    def unacked(self) -> list[dict]:
        return [c for i, c in self.sent.items() if i not in self.acked]

    async def run(self, page: PageClient, seconds: float) -> None:
        """Resend the unacknowledged, then keep pushing new changes until killed or done."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        try:
            for c in self.unacked:
                await page.ws.send_json({"type": "push", "changes": [c]})
            while loop.time() < deadline and not page.ws.closed:
                made = change(f"o{random.randrange(20)}")
                self.sent[made["id"]] = made
                await page.ws.send_json({"type": "push", "changes": [made]})
                await asyncio.sleep(0)
        except (ConnectionError, aiohttp.ClientError):
            pass  # the agent died under us: what was not acked will be sent again
        self.acked |= page.acked


@pytest.mark.slow
async def test_sigkill_during_a_burst_loses_nothing_and_duplicates_nothing(tmp_path, http):
    server = await StandInProcess(tmp_path / "standin.db").start()
    agent = AgentProcess(tmp_path / "agent", server=server.url)
    burst, rng, seen_seq = Burst(), random.Random(1234), 0
    try:
        for _ in range(KILLS):
            await agent.start()
            page = await agent.page(http, since=seen_seq)
            task = asyncio.create_task(burst.run(page, seconds=10))
            await asyncio.sleep(rng.uniform(0, 0.4))  # a random point in the burst
            await agent.kill()
            await task
            seen_seq = max(seen_seq, page.max_seq)
            assert page.duplicates == 0
            await page.close()
        await agent.start()
        page = await agent.page(http, since=0)
        await burst.run(page, seconds=0)  # resend the last unacknowledged ones
        await page.until(
            lambda: set(burst.sent) <= page.acked | burst.acked, timeout=DRAIN_WITHIN_S
        )
        await eventually(lambda: _drained(agent, http), timeout=DRAIN_WITHIN_S)
        with contextlib.suppress(TimeoutError):  # the assertions below say what is missing
            await page.wait_for(set(burst.sent), timeout=10)
        log = await server.log_of(http)
    finally:
        await agent.stop()
        await server.stop()

    assert len(burst.sent) > 5000, "the burst was too small to mean anything"
    # Nothing lost: every change the page made is in the agent's log and on the server.
    lost = set(burst.sent) - set(page.changes)
    assert not lost, f"{len(lost)} of {len(burst.sent)} acknowledged changes were lost"
    assert {c["change"]["id"] for c in log["changes"]} == set(burst.sent)
    # Nothing twice: one seq per change in the agent, one application per change on the server.
    assert page.duplicates == 0 and len(set(page.seqs.values())) == len(burst.sent)
    assert len(log["changes"]) == len(burst.sent)
    assert all(counts.get("applied") == 1 for counts in log["pushes"].values())


async def _drained(agent: AgentProcess, http: aiohttp.ClientSession) -> bool:
    return (await agent.status(http))["pending"] == 0
