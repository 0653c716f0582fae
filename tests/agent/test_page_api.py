"""The page's side (agent/page_api.py): docs/protocol.md, "Page ↔ local agent"."""

from __future__ import annotations

import json

import pytest

from agent.page_api import MAX_MESSAGE
from devkit.changes import change
from devkit.page_client import TOKEN, PageClient


async def page(agent_client, **kw) -> PageClient:
    return await PageClient.connect(agent_client.session, agent_client.port, **kw)


async def log_of(agent_client) -> list[dict]:
    """Everything the agent's log holds, as a new page replaying from 0 sees it."""
    reader = await page(agent_client, since=0)
    await reader.until(lambda: reader.caught_up)
    await reader.close()
    return list(reader.changes.values())


async def test_hello_gets_a_welcome_with_the_terminal_clock_and_latest_seq(agent_client):
    p = await page(agent_client, since=None)
    welcome = await p.hello(0)
    assert welcome["type"] == "welcome" and welcome["v"] == 1
    assert welcome["terminal"].startswith("t-") and welcome["seq"] == 0
    assert len(welcome["hlc"]) == 21


async def test_each_welcome_hands_out_a_later_clock_reading(agent_client):
    p = await page(agent_client)
    first = p.welcome["hlc"]
    assert (await p.hello(0))["hlc"] > first


async def test_a_push_is_acknowledged_and_sent_back_to_every_page_with_its_seq(agent_client):
    a, b = await page(agent_client), await page(agent_client)
    c = change()
    await a.push([c])
    await b.wait_for({c["id"]})
    assert b.seqs[c["id"]] == 1 and b.changes[c["id"]] == c


async def test_an_acknowledged_push_is_in_the_outbox(agent_client):
    p = await page(agent_client)
    await p.push([change(), change()])
    status = await (await agent_client.get("/status", headers=_bearer())).json()
    assert status["pending"] == 2


async def test_a_page_that_reconnects_gets_everything_after_its_last_seq(agent_client):
    first = await page(agent_client)
    early = [change() for _ in range(3)]
    await first.push(early)
    await first.wait_for({c["id"] for c in early})
    seen = first.max_seq
    await first.close()
    await (await page(agent_client)).push(later := [change(), change()])
    again = await page(agent_client, since=seen)
    await again.wait_for({c["id"] for c in later})
    assert set(again.changes) == {c["id"] for c in later}


async def test_a_page_ahead_of_the_agent_log_gets_everything_again(agent_client):
    # The agent started on a new database (e.g. after a damaged one): the page's seq
    # means nothing here any more, so it must not skip what the log holds.
    await (await page(agent_client)).push([c := change()])
    p = await page(agent_client, since=999)
    await p.wait_for({c["id"]})


async def test_a_push_that_repeats_known_changes_is_acknowledged_and_stored_once(agent_client):
    p = await page(agent_client)
    c = change()
    await p.push([c])
    p.acked.clear()
    await p.push([c])
    assert [x["id"] for x in await log_of(agent_client)] == [c["id"]]


async def test_one_invalid_change_refuses_the_whole_push(agent_client):
    p = await page(agent_client)
    bad = change()
    bad["ops"] = [{"op": "line.explode"}]
    good = change()
    error = await p.send_raw(json.dumps({"type": "push", "changes": [good, bad]}))
    assert error["error"] == "invalid_change" and bad["id"] in error["detail"]
    assert await log_of(agent_client) == []


async def test_a_change_of_another_protocol_version_is_refused_with_version(agent_client):
    p = await page(agent_client)
    future = change() | {"v": 2}
    error = await p.send_raw(json.dumps({"type": "push", "changes": [future]}))
    assert error["error"] == "version" and "update possync" in error["detail"]
    assert await log_of(agent_client) == []


async def test_a_hello_of_another_version_is_refused_with_version(agent_client):
    p = await page(agent_client, since=None)
    error = await p.send_raw(json.dumps({"type": "hello", "v": 2, "since": 0}))
    assert error["error"] == "version"
    assert p.welcome is None


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"type": "push"}', "bad_json"),
        ('{"type": "push", "changes": {}}', "bad_json"),
        ('{"type": "hello", "v": 1, "since": "yesterday"}', "bad_json"),
        ('{"type": "hello", "v": 1, "since": 0, "extra": 1}', "bad_json"),
        ('{"type": "reset_everything"}', "unknown_type"),
        ('{"changes": []}', "unknown_type"),
    ],
)
async def test_a_malformed_message_gets_an_error_and_changes_nothing(agent_client, text, code):
    p = await page(agent_client)
    assert (await p.send_raw(text))["error"] == code
    await p.push([c := change()])  # and the connection still works
    assert [x["id"] for x in await log_of(agent_client)] == [c["id"]]


async def test_a_message_over_one_mebibyte_is_refused_as_too_large(agent_client):
    p = await page(agent_client)
    big = change()
    big["ops"] = [{"op": "order.set", "field": "internal_note", "value": "x"}] * 500
    padding = " " * (MAX_MESSAGE + 1 - len(json.dumps({"type": "push", "changes": [big]})))
    text = json.dumps({"type": "push", "changes": [big]}) + padding
    assert (await p.send_raw(text))["error"] == "too_large"
    assert await log_of(agent_client) == []


async def test_a_wrong_token_gets_nothing(agent_client):
    for token in ("", "guess", TOKEN + "x"):
        resp = await agent_client.get(f"/page?token={token}")
        assert resp.status == 401
    resp = await agent_client.get("/status", headers={"Authorization": "Bearer guess"})
    assert resp.status == 401
    resp = await agent_client.get(f"/status?token={TOKEN}")
    assert resp.status == 401  # the status endpoint takes the token as a bearer header only


async def test_another_web_page_on_the_tablet_gets_nothing_even_with_the_token(agent_client):
    headers = {"Origin": "https://evil.example", **_bearer()}
    assert (await agent_client.get("/status", headers=headers)).status == 403
    resp = await agent_client.get(
        f"/page?token={TOKEN}", headers={"Origin": "https://evil.example"}
    )
    assert resp.status == 403


async def test_the_pos_page_origin_is_allowed(agent_client):
    p = await page(agent_client, origin="http://pos.test")
    assert p.welcome is not None


async def test_the_status_endpoint_reports_terminal_pending_server_and_peers(agent_client):
    status = await (await agent_client.get("/status", headers=_bearer())).json()
    assert set(status) == {
        "terminal", "pending", "rejected", "clock", "server", "peers", "last_peer_sync",
        "peer_cause", "devices", "fixed_addresses", "protocol", "app"
    }  # fmt: skip
    assert status["rejected"] == {"count": 0, "last": None}
    assert status["clock"] == {"offset_ms": 0, "source": None, "far_off": False}
    assert status["server"] == {
        "configured": False,
        "reachable": False,
        "path": None,
        "cause": "server not configured",
        "last_sync": None,
        "reset_at": None,
        "fallback_ms": None,
    }
    assert status["peers"] == [] and status["devices"] == [] and status["protocol"] == 1
    assert status["fixed_addresses"] == {}
    assert status["app"]["state"] == "unknown"  # until the server's /info names versions


async def test_pages_are_told_when_the_status_changes(agent_client):
    p = await page(agent_client)
    await p.until(lambda: p.statuses)
    await p.push([change()])
    await p.until(lambda: p.statuses[-1]["pending"] == 1)


def _bearer() -> dict:
    return {"Authorization": f"Bearer {TOKEN}"}
