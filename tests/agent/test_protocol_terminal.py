"""devkit.protocol_terminal against the stand-in Odoo: what one terminal pushes, every
terminal receives, by the bus or by pulls."""

from __future__ import annotations

import asyncio

from devkit.protocol_terminal import ProtocolTerminal, Waiter
from devkit.waiting import eventually

WAITER = Waiter("admin", "admin", products=[(5, 2.5), (6, 4.0)], tables=[1, 2])


def terminal(standin, name: str) -> ProtocolTerminal:
    return ProtocolTerminal(name, standin.url, "possync", 1, WAITER)


async def test_what_one_terminal_pushes_reaches_every_terminal_on_the_bus(standin):
    a, b = terminal(standin, "a"), terminal(standin, "b")
    try:
        for t in (a, b):
            await t.start()
            await t.follow("bus")
        await asyncio.sleep(0.2)  # the subscriptions land
        await a.open_order(1, lines=2)
        for _ in range(5):
            await a.edit()
        assert len(a.pushed) == 6
        await eventually(lambda: all(c in b.received and c in a.received for c in a.pushed))
    finally:
        await a.close()
        await b.close()


async def test_a_terminal_in_interval_mode_pulls_every_change(standin):
    a, b = terminal(standin, "a"), terminal(standin, "b")
    try:
        await a.start()
        await b.start()
        await b.follow("interval")
        order = await a.open_order(2, lines=1)
        await a.edit()
        assert order in a.orders
        await eventually(lambda: all(c in b.received for c in a.pushed))
    finally:
        await a.close()
        await b.close()
