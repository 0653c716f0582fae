"""The end-to-end bench's headless terminal (devkit/e2e/protocol_page.py): a real agent
driven through the page side of its WebSocket, against the stand-in Odoo."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.e2e.agents import Agent, AgentSpec
from devkit.e2e.net import Network
from devkit.e2e.protocol_page import HeadlessTerminal
from devkit.e2e.views import normalize
from devkit.processes import StandInProcess


@pytest.fixture
def net() -> Iterator[Network]:
    network = Network()
    yield network
    network.close()


@pytest.fixture
def terminal(net: Network, tmp_path: Path) -> Iterator[HeadlessTerminal]:
    standin = StandInProcess(tmp_path / "standin.json")
    net.run(standin.start())
    spec = AgentSpec(
        data_dir=tmp_path / "agent",
        server=standin.url,
        db="possync",
        config_id=1,
        origin=standin.url,
        token="headless-token",
        password="admin",
    )
    agent = Agent(spec)
    agent.start()
    headless = HeadlessTerminal("D", agent, net.run, major=19)
    headless.open()
    yield headless
    headless.close()
    net.run(standin.stop())


def new_order(terminal: HeadlessTerminal) -> tuple[str, str]:
    """An order on table 3 with one line, as a waiter opens it: (order, line)."""
    order = terminal.pos.new_order(3)
    return order, terminal.pos.add_line(order, 10, 4.5)


def test_a_waiters_actions_reach_the_agent_as_the_page_shows_them(
    terminal: HeadlessTerminal,
) -> None:
    pos = terminal.pos
    order, line = new_order(terminal)
    pos.set_qty(order, line, 3)
    pos.set_discount(order, line, 10)
    pos.set_line_note(order, line, "no ice")
    pos.set_partner(order, 7)
    stored = pos.set_order_note(order, "D kitchen 1")
    pos.transfer(order, 4)
    assert pos.wait_pushed()
    assert json.loads(stored) == [{"text": "D kitchen 1", "colorIndex": 0}]  # as 19 keeps it
    [view] = pos.views()
    expected = {
        "state": "draft",
        "table_id": 4,
        "partner_id": 7,
        "internal_note": stored,
        "lines": {line: (10, 3, 4.5, 10, "no ice")},
        "payments": {},
    }
    assert normalize(view) == expected
    assert normalize(terminal.agent.orders()[order]) == expected


def test_changes_made_while_the_agent_is_down_are_pushed_when_it_is_back(
    terminal: HeadlessTerminal,
) -> None:
    pos = terminal.pos
    order, line = new_order(terminal)
    assert pos.wait_pushed()
    terminal.agent.kill()
    pos.set_qty(order, line, 2)  # the socket is gone: it waits in the page
    assert not pos.wait_pushed(timeout=0.5)
    terminal.agent.start()
    assert pos.wait_pushed()
    assert terminal.agent.orders()[order]["lines"][line]["qty"] == 2
    assert normalize(pos.views()[0])["lines"][line][1] == 2
