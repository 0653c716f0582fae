"""The server's side (agent/server_sync.py, agent/odoo_client.py), against the stand-in
Odoo of devkit/standin_odoo.py: push by change id, receive by bus or polling, fall back."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json

import aiohttp
import pytest

from agent.app import SERVER_SYNC, create_app
from agent.core import Agent
from agent.devices import DeviceList
from agent.identity import load_identity
from agent.odoo_client import OdooClient
from agent.odoo_rpc import (
    AccessDenied,
    AppTooOld,
    DeviceRevoked,
    ProtocolMismatch,
    ServerUnreachable,
    SyncDisabled,
)
from agent.server_sync import ServerSync
from agent.store import Store
from devkit.changes import change
from devkit.page_client import PageClient
from devkit.standin_odoo import BUS_TYPE, FOREIGN_ORDER
from devkit.waiting import eventually


def with_server(settings, standin, **changes):
    changes = {"password": "admin", **changes}
    return dataclasses.replace(
        settings,
        server=standin.url,
        db="possync",
        login="admin",
        config_id=1,
        **changes,
    )


@pytest.fixture
async def sync(settings, standin):
    """A ServerSync to step by hand (no background loops), litestream-style."""
    settings = with_server(settings, standin)
    store = Store.open(settings.db_path)
    identity = load_identity("file", settings.data_dir, store.terminal, None)
    agent = Agent(store, server_configured=True, identity=identity)
    agent.start()
    http = aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True), skip_auto_headers=("User-Agent",)
    )
    client = OdooClient(http, standin.url, "possync", "admin", "admin", 3)
    yield ServerSync(agent, client, settings)
    await http.close()
    await agent.close()


async def pending(agent: Agent) -> int:
    return await agent.db.read(Store.pending_count)


async def test_sync_once_pushes_the_outbox_and_empties_it(sync, standin):
    changes = [change() for _ in range(1200)]  # more than one push's worth
    await sync.agent.receive(changes, "page")
    await sync.sync_once()
    assert await pending(sync.agent) == 0
    assert [c["change"]["id"] for c in standin.changes()] == [c["id"] for c in changes]


async def test_a_lost_acknowledgement_is_retried_and_the_server_applies_the_change_once(
    sync, standin
):
    await sync.agent.receive([c := change()], "page")
    standin.faults.lose_ack_rate = 1.0
    with pytest.raises(ServerUnreachable):
        await sync.sync_once()
    assert await pending(sync.agent) == 1
    standin.faults.lose_ack_rate = 0.0
    await sync.sync_once()
    assert await pending(sync.agent) == 0
    assert standin.push_counts()[c["id"]] == {"applied": 1, "duplicate": 1}


async def test_our_change_echoed_by_the_bus_before_the_push_answer_is_no_error(sync, standin):
    made = change()
    await sync.agent.receive([made], "page")
    push = sync.client.push

    async def echo_first(config_id, batch):
        result = await push(config_id, batch)
        await sync.agent.receive([made], "server")  # the bus frame overtakes the answer
        return result

    sync.client.push = echo_first
    assert await sync.push_pending() == 1
    assert await pending(sync.agent) == 0


async def test_our_change_echoed_by_the_bus_before_its_push_fails_is_pushed_again(sync, standin):
    # The server stores and broadcasts a push before it writes the Odoo order: a worker
    # killed in between leaves the Odoo order behind until the change is pushed again.
    made = change()
    await sync.agent.receive([made], "page")
    push = sync.client.push

    async def echo_then_die(config_id, batch):
        await push(config_id, batch)
        await sync.agent.receive([made], "server")
        raise ServerUnreachable("the worker was killed before it answered")

    sync.client.push = echo_then_die
    with pytest.raises(ServerUnreachable):
        await sync.push_pending()
    assert await pending(sync.agent) == 1
    await sync.agent.receive([made], "server")  # a late echo, or a pull, changes nothing
    assert await pending(sync.agent) == 1
    sync.client.push = push
    assert await sync.push_pending() == 1
    assert await pending(sync.agent) == 0
    assert standin.push_counts()[made["id"]] == {"applied": 1, "duplicate": 1}


async def test_a_rejected_change_is_kept_aside_and_never_sent_again(sync, standin):
    foreign = change(FOREIGN_ORDER + "1")
    await sync.agent.receive([foreign, change()], "page")
    await sync.sync_once()
    await sync.sync_once()
    assert standin.push_counts()[foreign["id"]] == {"rejected": 1}
    rejected = await sync.agent.db.read(Store.rejected)
    assert rejected == [{"id": foreign["id"], "reason": "order of another config"}]


async def test_pull_brings_other_terminals_changes_and_remembers_how_far_it_read(sync, standin):
    others = [change(terminal="t-other") for _ in range(700)]
    standin.receive(others)
    assert await sync.pull_new() == 700
    assert await sync.pull_new() == 0
    assert await sync.agent.cursor(sync.cursor_name) == 700
    assert await pending(sync.agent) == 0  # what came from the server is not sent back


async def test_a_pull_after_the_server_pruned_its_log_tells_the_pages_to_re_read(sync, standin):
    standin.receive([change(terminal="t-other") for _ in range(10)])
    standin.prune(6)
    assert sync.agent.status.server.reset_at is None
    assert await sync.pull_new() == 4  # what the log still has after the cursor
    assert await sync.agent.cursor(sync.cursor_name) == 10
    reset_at = sync.agent.status.server.reset_at
    assert reset_at is not None
    assert await sync.pull_new() == 0
    assert sync.agent.status.server.reset_at == reset_at  # up to date: no new reset


async def test_the_device_registers_and_the_list_of_devices_is_kept(sync, standin):
    await sync.prepare()
    identity = sync.agent.identity
    assert standin.active_devices() == [identity.registration()]
    assert [d.terminal for d in sync.agent.devices.devices] == [identity.terminal]
    kept = await sync.agent.db.read(lambda s: s.get_meta("devices"))
    assert DeviceList.from_json(kept) == sync.agent.devices


async def test_the_bus_is_read_on_the_channel_and_type_info_names(sync, standin):
    info = await sync.prepare()
    assert (info["channel"], info["bus_type"]) == ("possync:1", "POSSYNC_CHANGES")


async def test_a_revoked_device_keeps_syncing_with_the_server_but_is_listed_no_more(
    sync, standin
):
    await sync.prepare()
    standin.revoke(sync.agent.terminal)
    sync.info, sync.registered = None, False  # as after a restart: registering again
    await sync.sync_once()  # refused as revoked, logged; push and pull still work
    assert standin.active_devices() == []
    assert len(sync.agent.devices) == 0
    assert "revoked" in sync.agent.status.peer_cause


async def test_a_wrong_password_is_reported_as_such(sync):
    sync.client.password = "wrong"
    with pytest.raises(AccessDenied, match="login"):
        await sync.sync_once()


async def kept_back(sync, standin, error: type[Exception], match: str, step) -> None:
    """One change waits in the outbox; ``step`` raises ``error``: nothing reached the
    server and the change still waits."""
    await sync.agent.receive([change()], "page")
    with pytest.raises(error, match=match):
        await step()
    assert standin.changes() == [] and await pending(sync.agent) == 1


async def test_a_server_of_another_protocol_version_gets_nothing(sync, standin):
    standin.protocol = 2
    await kept_back(sync, standin, ProtocolMismatch, "update possync or the addon", sync.sync_once)


async def test_an_app_too_old_for_the_server_sends_nothing_and_says_what_to_do(sync, standin):
    standin.options.app_min_version = "0.3.0"
    sync.client.app_version = "0.2.0"
    needs = r"too old for this server \(needs ≥ 0.3.0\)"
    await kept_back(sync, standin, AppTooOld, needs, sync.sync_once)
    app = (await sync.agent.snapshot())["app"]
    assert (app["state"], app["min_version"]) == ("too_old", "0.3.0")
    assert "update possync on this tablet" in app["cause"]
    assert standin.active_devices() == []  # not even registered


async def test_an_app_refused_as_too_old_by_the_server_keeps_its_changes(sync, standin):
    await sync.prepare()  # /info said this app is current ...
    standin.options.app_min_version = "99.0"  # ... then the server was updated
    refused = "too old for this server: possync"
    await kept_back(sync, standin, AppTooOld, refused, sync.push_pending)


async def test_an_update_available_is_shown_and_sync_goes_on(sync, standin):
    standin.options.app_latest_version = "99.0"
    await sync.agent.receive([change()], "page")
    await sync.sync_once()
    assert await pending(sync.agent) == 0
    app = (await sync.agent.snapshot())["app"]
    assert app["state"] == "update_available"
    assert app["cause"].startswith(f"update available ({sync.client.app_version} → 99.0)")


async def test_attack_a_forged_app_version_from_the_server_changes_nothing(sync, standin):
    # A server (or whatever answers in its place) that names no usable versions cannot stop
    # the agent: the versions are not checked, and sync goes on.
    standin.options.app_min_version = "<script>alert(1)</script>"
    standin.options.app_latest_version = "9" * 100
    await sync.agent.receive([change()], "page")
    sync.client.app_version = None  # the stand-in compares what it is sent
    await sync.sync_once()
    assert await pending(sync.agent) == 0
    assert (await sync.agent.snapshot())["app"]["state"] == "unknown"


async def test_an_expired_session_is_renewed_without_fuss(sync, standin):
    await sync.sync_once()
    standin.sessions.clear()  # e.g. the server restarted
    await sync.agent.receive([change()], "page")
    await sync.sync_once()
    assert await pending(sync.agent) == 0


# --- the whole agent, loops running ---------------------------------------------------


@pytest.fixture
async def running(aiohttp_client, settings, standin):
    """The agent app with server sync running against the stand-in; returns a page."""

    async def start(**changes) -> PageClient:
        app = create_app(with_server(settings, standin, **changes))
        client = await aiohttp_client(app)
        page = await PageClient.connect(client.session, client.port)
        page.app = app
        return page

    return start


def server_status(page: PageClient) -> dict:
    return page.statuses[-1]["server"] if page.statuses else {}


async def test_changes_from_other_terminals_arrive_by_the_bus(running, standin):
    page = await running()
    await page.until(lambda: server_status(page).get("path") == "bus")
    standin.receive([c := change(terminal="t-other")])
    await page.wait_for({c["id"]}, timeout=3)


async def test_a_page_push_reaches_the_server_and_the_outbox_empties(running, standin):
    page = await running()
    await page.push([c := change()])
    await page.until(
        lambda: server_status(page).get("last_sync") and page.statuses[-1]["pending"] == 0
    )
    assert [x["change"]["id"] for x in standin.changes()] == [c["id"]]


async def test_the_websocket_version_is_read_from_the_server_not_hard_coded(running, standin):
    standin.ws_version = "19.0-2"
    page = await running()
    await page.until(lambda: server_status(page).get("path") == "bus")
    await eventually(lambda: standin.sockets)  # connected, and the server kept it open
    assert standin.bus_clients[-1]["version"] == "19.0-2"


async def test_without_a_version_in_session_info_the_bus_is_opened_without_user_agent(
    running, standin
):
    standin.faults.send_ws_version = False
    page = await running()
    await page.until(lambda: server_status(page).get("path") == "bus")
    await eventually(lambda: standin.sockets)
    assert standin.bus_clients[-1] == {"user_agent": None, "version": None}


async def test_a_bus_that_refuses_our_version_means_polling_and_the_status_says_so(
    running, standin
):
    standin.faults.advertise_version = "18.0-4"  # session info disagrees with the socket
    page = await running()
    await page.until(lambda: "version" in (server_status(page).get("cause") or ""))
    assert server_status(page)["path"] == "interval"
    standin.receive([c := change(terminal="t-other")])
    await page.wait_for({c["id"]}, timeout=3)


async def test_the_stand_in_closes_a_bus_socket_that_sends_another_version(standin, http):
    # The behaviour of Odoo's WebsocketConnectionHandler the agent must avoid.
    headers = {"User-Agent": "x", "Origin": standin.url}
    async with http.ws_connect(standin.url + "/websocket?version=17.0-1", headers=headers) as ws:
        msg = await ws.receive()
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.extra == "OUTDATED_VERSION"


async def test_when_the_websocket_fails_it_polls_and_says_why_then_returns_to_the_bus(
    running, standin
):
    standin.faults.websocket = False  # a proxy that does not pass websockets
    page = await running()
    await page.until(lambda: server_status(page).get("path") == "interval")
    assert "bus websocket refused (HTTP 404)" in server_status(page)["cause"]
    standin.receive([c := change(terminal="t-other")])
    await page.wait_for({c["id"]}, timeout=3)  # polling still brings changes
    standin.faults.websocket = True
    await page.until(lambda: server_status(page).get("path") == "bus", timeout=6)
    assert server_status(page)["cause"] is None


async def test_behind_a_proxy_without_the_websocket_route_it_polls_at_the_pos_interval(
    running, standin, monkeypatch
):
    # Odoo's HTTP workers answer 400 to a /websocket request a proxy passed them without
    # its upgrade headers (measured behind nginx without the route, Odoo 18 and 19).
    standin.faults.websocket = False
    standin.faults.websocket_status = 400
    pulls: list[float] = []
    pull_new = ServerSync.pull_new

    async def timed_pull(self: ServerSync) -> int:
        pulls.append(asyncio.get_running_loop().time())
        return await pull_new(self)

    monkeypatch.setattr(ServerSync, "pull_new", timed_pull)
    page = await running()
    await page.until(lambda: server_status(page).get("fallback_ms") == standin.interval_ms)
    status = server_status(page)
    assert status["path"] == "interval" and status["reachable"] is True
    assert "bus websocket refused (HTTP 400)" in status["cause"]
    since = len(pulls)
    await asyncio.sleep(1.0)
    # Every interval (300 ms here), never sooner: more than one pull a second.
    assert len(pulls) - since >= 2
    gaps = [b - a for a, b in itertools.pairwise(pulls[since - 1 :])]
    assert all(gap >= standin.interval_ms / 1000 * 0.9 for gap in gaps), gaps
    standin.faults.websocket = True
    await page.until(lambda: server_status(page).get("path") == "bus", timeout=6)
    assert server_status(page)["fallback_ms"] is None


async def test_in_interval_mode_it_polls_at_the_server_interval(running, standin):
    standin.mode = "interval"
    page = await running()
    await page.until(lambda: server_status(page).get("path") == "interval")
    assert server_status(page)["cause"] is None
    standin.receive([c := change(terminal="t-other")])
    await page.wait_for({c["id"]}, timeout=2)


async def test_after_the_bus_drops_it_reconnects_and_reads_what_it_missed(running, standin):
    page = await running()
    await page.until(lambda: server_status(page).get("path") == "bus")
    standin.faults.websocket = False
    await standin.drop_bus()
    missed = [change(terminal="t-other") for _ in range(3)]
    standin.receive(missed)
    standin.faults.websocket = True
    await page.wait_for({c["id"] for c in missed}, timeout=8)


async def test_an_unreachable_server_is_reported_with_its_cause_and_changes_wait(running, standin):
    standin.faults.down = True
    page = await running()
    await page.until(
        lambda: server_status(page).get("reachable") is False and server_status(page).get("cause")
    )
    assert "503" in server_status(page)["cause"]
    await page.push([c := change()])
    await page.until(lambda: page.statuses[-1]["pending"] == 1)
    standin.faults.down = False
    await page.until(lambda: page.statuses[-1]["pending"] == 0, timeout=8)
    assert standin.push_counts() == {c["id"]: {"applied": 1}}


async def test_a_wrong_password_shows_in_the_status(running, settings, standin):
    page = await running(password="wrong")
    await page.until(lambda: "login" in (server_status(page).get("cause") or ""))
    assert server_status(page)["reachable"] is True


async def test_the_app_exposes_its_server_sync_for_inspection(running):
    page = await running()
    assert page.app[SERVER_SYNC].config_id == 1


async def test_lost_acks_under_load_still_apply_every_change_exactly_once(running, standin):
    standin.faults.lose_ack_rate = 0.5
    page = await running()
    changes = [change() for _ in range(200)]
    for i in range(0, 200, 20):
        await page.push(changes[i : i + 20])
    await eventually(lambda: len(standin.changes()) == 200, timeout=15)
    standin.faults.lose_ack_rate = 0.0
    await page.until(lambda: page.statuses[-1]["pending"] == 0, timeout=10)
    counts = standin.push_counts()
    assert all(counts[c["id"]].get("applied") == 1 for c in changes)


async def test_a_replayed_bus_notification_changes_nothing(sync, standin):
    await sync.prepare()
    frame = json.dumps(
        [
            {
                "id": 41,
                "message": {
                    "type": BUS_TYPE,
                    "payload": {"changes": [{"seq": 1, "change": change(terminal="t-other")}]},
                },
            }
        ]
    )
    kind = BUS_TYPE
    await sync._on_bus_frame(frame, kind)
    await sync._on_bus_frame(frame, kind)
    assert await sync.agent.latest_seq() == 1
    assert await sync.agent.cursor(sync.bus_cursor_name) == 41
    assert await sync.agent.cursor(sync.cursor_name) == 1


async def test_a_bus_notification_after_a_gap_does_not_move_the_server_cursor(sync, standin):
    # seq 2 overtook seq 1 (committed earlier, notified later): the next pull must still
    # read from 0, or seq 1 would be skipped for good.
    kind = BUS_TYPE
    frame = [
        {
            "id": 7,
            "message": {
                "type": kind,
                "payload": {"changes": [{"seq": 2, "change": change(terminal="t-other")}]},
            },
        }
    ]
    await sync._on_bus_frame(json.dumps(frame), kind)
    assert await sync.agent.cursor(sync.cursor_name) == 0


async def test_a_server_that_refuses_a_push_for_another_version_keeps_it_waiting(sync, standin):
    await sync.prepare()
    standin.refuse = "version"  # the addon's SyncRequestError code
    await sync.agent.receive([change()], "page")
    with pytest.raises(ProtocolMismatch):
        await sync.push_pending()
    assert await pending(sync.agent) == 1


async def test_sync_switched_off_on_the_server_is_reported_and_nothing_is_sent(sync, standin):
    standin.enabled = False
    await sync.agent.receive([change()], "page")
    with pytest.raises(SyncDisabled, match="switched off"):
        await sync.sync_once()
    assert await pending(sync.agent) == 1


async def test_a_new_key_for_a_terminal_revokes_its_old_one(sync, standin, tmp_path):
    await sync.prepare()
    old = sync.agent.identity.registration()
    new = load_identity("file", tmp_path, sync.agent.terminal, None).registration()
    await sync.client.register_device(1, new)  # the tablet's key was replaced
    assert standin.active_devices() == [new]
    with pytest.raises(DeviceRevoked):
        await sync.client.register_device(1, old)
