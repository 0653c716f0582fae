"""Attacks on the addon's trust boundaries, tried against a real Odoo 18 or 19.

- The bus: a websocket that is not a user of the POS — a public session (a visit to
  ``/web/login?db=…``), one that knows the POS's access token, printed in self-order QR
  codes, or a POS user of another company — subscribes to every channel name it can guess
  and receives no order data, while a waiter's websocket subscribed to
  ``possync:<config id>`` receives the same change (which proves the attacker's socket was
  listening to a live bus).
- The device registry: a revoked device is no longer listed and cannot register again; the
  devices of an archived user are revoked.

The websocket work runs on an event loop of its own thread: Playwright's sync API, used by
other tests of this tier, keeps the main thread's loop busy for the rest of the session.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import aiohttp
import pytest

from agent.odoo_rpc import rpc_body
from devkit.odoo import HarnessError, OdooInstance, OdooRpc

POS_GROUPS = ["base.group_user", "point_of_sale.group_pos_user"]
# How long the attacker's socket keeps listening once the waiter's socket had the change.
LISTEN_AFTER_S = 3.0
RECEIVE_TIMEOUT_S = 20.0


# --------------------------------------------------------------------------- users and routes


def _group_ids(odoo: OdooInstance, xmlids: list[str]) -> list[int]:
    ids = []
    for xmlid in xmlids:
        module, name = xmlid.split(".")
        domain = [["module", "=", module], ["name", "=", name], ["model", "=", "res.groups"]]
        [row] = odoo.jsonrpc("ir.model.data", "search_read", [domain], {"fields": ["res_id"]})
        ids.append(row["res_id"])
    return ids


def new_pos_user(odoo: OdooInstance, company_id: int | None = None) -> OdooRpc:
    """A new waiter (Point of Sale / User), logged in over JSON-RPC; of ``company_id``
    only when given."""
    login = f"possync-sec-{uuid.uuid4().hex[:8]}"
    fields = odoo.jsonrpc("res.users", "fields_get", [], {"attributes": ["type"]})
    groups_field = "group_ids" if "group_ids" in fields else "groups_id"  # 19 renamed it
    values = {
        "name": login,
        "login": login,
        "password": login,
        groups_field: [(6, 0, _group_ids(odoo, POS_GROUPS))],
    }
    if company_id:
        values.update(company_id=company_id, company_ids=[(6, 0, [company_id])])
    odoo.jsonrpc("res.users", "create", [values])
    rpc = OdooRpc(odoo.base_url, odoo.db, login, login)
    rpc.authenticate()
    return rpc


@pytest.fixture(scope="module")
def sync_on(odoo: OdooInstance) -> OdooInstance:
    odoo.jsonrpc(
        "pos.config", "write", [[odoo.config_id], {"possync_enabled": True, "possync_mode": "bus"}]
    )
    return odoo


@pytest.fixture(scope="module")
def waiter(sync_on: OdooInstance) -> OdooRpc:
    return new_pos_user(sync_on)


def route(rpc: OdooRpc, name: str, **params) -> dict:
    return rpc.request(f"/pos_restaurant_sync/{name}", params)


def access_token(odoo: OdooInstance) -> str:
    [row] = odoo.jsonrpc("pos.config", "read", [[odoo.config_id], ["access_token"]])
    return row["access_token"]


def kitchen_notes(text: str) -> str:
    return json.dumps([{"text": text, "colorIndex": 0}])


def change_with_note(note: str) -> dict:
    return {
        "v": 1,
        "id": uuid.uuid4().hex,
        "terminal": "t-security",
        "hlc": f"{int(time.time() * 1000):015d}-00000",
        "order": uuid.uuid4().hex,
        # Odoo 19 keeps an order's kitchen notes as a JSON list that its POS parses, and a
        # 19 server refuses a note of any other shape (docs/protocol.md); 18's
        # general_note takes any text, this list included.
        "ops": [{"op": "order.set", "field": "internal_note", "value": kitchen_notes(note)}],
    }


# --------------------------------------------------------------------------- the bus


def run_in_own_loop(coro):
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass
class BusSocket:
    """One websocket on Odoo's bus and the text of every frame it received."""

    ws: aiohttp.ClientWebSocketResponse
    frames: list[str]

    async def subscribe(self, channels: list[str]) -> None:
        # last 0: the bus also replays its recent notifications on these channels.
        await self.ws.send_json(
            {"event_name": "subscribe", "data": {"channels": channels, "last": 0}}
        )

    async def read_until(self, marker: str, deadline: float) -> bool:
        """Read frames until one contains ``marker`` or the loop time passes ``deadline``."""
        loop = asyncio.get_running_loop()
        while (left := deadline - loop.time()) > 0:
            try:
                msg = await asyncio.wait_for(self.ws.receive(), left)
            except TimeoutError:
                return False
            if msg.type != aiohttp.WSMsgType.TEXT:
                return False
            self.frames.append(msg.data)
            if marker in msg.data:
                return True
        return False

    def notification_types(self) -> set[str]:
        return {n["message"]["type"] for frame in self.frames for n in json.loads(frame)}


async def open_bus(http: aiohttp.ClientSession, odoo: OdooInstance) -> BusSocket:
    """Odoo's websocket as a browser opens it, with the session in ``http``'s cookie jar.

    No version and no User-Agent: Odoo then serves any client version (the way the agent
    connects before it knows the server's).
    """
    ws = await http.ws_connect(odoo.base_url + "/websocket", origin=odoo.base_url)
    return BusSocket(ws, [])


def new_http() -> aiohttp.ClientSession:
    # unsafe: Odoo runs on 127.0.0.1, and aiohttp keeps no cookies of a bare IP otherwise.
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True), skip_auto_headers=["User-Agent"]
    )


async def public_session(http: aiohttp.ClientSession, odoo: OdooInstance) -> None:
    """What any visitor gets: a session bound to the database, no user."""
    async with http.get(f"{odoo.base_url}/web/login", params={"db": odoo.db}) as resp:
        assert resp.status == 200


async def user_session(http: aiohttp.ClientSession, odoo: OdooInstance, rpc: OdooRpc) -> None:
    params = {"db": odoo.db, "login": rpc.login, "password": rpc.password}
    body = rpc_body(params)
    async with http.post(f"{odoo.base_url}/web/session/authenticate", json=body) as resp:
        assert (await resp.json())["result"]["uid"]


async def push_and_listen(
    odoo: OdooInstance, waiter: OdooRpc, channels: list[str], attacker_login: OdooRpc | None
):
    """The waiter pushes a change with a fresh note while the attacker (a public session,
    or ``attacker_login``'s) listens on ``channels``: whether the waiter's socket got the
    note, whether the attacker's socket did, and the attacker's socket (its frames)."""
    note = f"kitchen secret {uuid.uuid4().hex}"
    async with new_http() as attacker_http, new_http() as waiter_http:
        if attacker_login:
            await user_session(attacker_http, odoo, attacker_login)
        else:
            await public_session(attacker_http, odoo)
        await user_session(waiter_http, odoo, waiter)
        attacker = await open_bus(attacker_http, odoo)
        waiter_bus = await open_bus(waiter_http, odoo)
        await attacker.subscribe(channels)
        await waiter_bus.subscribe([f"possync:{odoo.config_id}"])
        await asyncio.sleep(0.5)  # Odoo subscribes in the websocket's own thread
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            None,
            lambda: route(
                waiter, "push", config_id=odoo.config_id, changes=[change_with_note(note)]
            ),
        )
        seen = await waiter_bus.read_until(note, loop.time() + RECEIVE_TIMEOUT_S)
        leaked = await attacker.read_until(note, loop.time() + LISTEN_AFTER_S)
        await attacker.ws.close()
        await waiter_bus.ws.close()
    return seen, leaked, attacker


def assert_no_order_data_reaches(
    odoo: OdooInstance, waiter: OdooRpc, channels: list[str], listener: OdooRpc | None
) -> None:
    """A push by ``waiter`` reaches the waiter's own websocket (else the test proves nothing)
    and never a websocket of ``listener`` (None: no session) subscribed to ``channels``."""
    seen, leaked, attacker = run_in_own_loop(push_and_listen(odoo, waiter, channels, listener))
    assert seen, "the waiter's websocket never received the change: the test proves nothing"
    assert not leaked
    assert "POSSYNC_CHANGES" not in attacker.notification_types()


def test_anonymous_websocket_gets_no_order_data(sync_on: OdooInstance, waiter: OdooRpc) -> None:
    channels = [access_token(sync_on), f"possync:{sync_on.config_id}"]
    assert_no_order_data_reaches(sync_on, waiter, channels, None)


def test_self_order_token_websocket_gets_no_order_data(
    sync_on: OdooInstance, waiter: OdooRpc
) -> None:
    # pos_self_order prints ?access_token=<this token> in every table's QR code.
    token = access_token(sync_on)
    channels = [
        token,
        f"{token}-POSSYNC_CHANGES",
        f"possync:{token}",
        f"possync:{sync_on.config_id}:{token}",
        "possync",
    ]
    assert_no_order_data_reaches(sync_on, waiter, channels, None)


def test_other_company_user_websocket_gets_no_order_data(
    sync_on: OdooInstance, waiter: OdooRpc
) -> None:
    # A waiter of another restaurant on the same Odoo: an internal POS user, not of this POS.
    company_id = sync_on.jsonrpc(
        "res.company", "create", [{"name": f"Other {uuid.uuid4().hex[:6]}"}]
    )
    stranger = new_pos_user(sync_on, company_id)
    channels = [f"possync:{sync_on.config_id}", access_token(sync_on)]
    assert_no_order_data_reaches(sync_on, waiter, channels, stranger)


# --------------------------------------------------------------------------- devices


def new_identity(terminal: str) -> dict:
    return {
        "terminal": terminal,
        "public_key": base64.b64encode(os.urandom(32)).decode(),
        "certificate_sha256": hashlib.sha256(os.urandom(32)).hexdigest(),
    }


def listed_keys(rpc: OdooRpc, config_id: int) -> list[str]:
    return [d["public_key"] for d in route(rpc, "devices", config_id=config_id)["devices"]]


def test_revoked_device_is_not_listed(sync_on: OdooInstance, waiter: OdooRpc) -> None:
    identity = new_identity(f"t-revoked-{uuid.uuid4().hex[:6]}")
    device = route(waiter, "device/register", config_id=sync_on.config_id, **identity)
    assert listed_keys(waiter, sync_on.config_id).count(identity["public_key"]) == 1
    # The POS manager (admin) revokes it in the backend.
    sync_on.jsonrpc("pos_restaurant_sync.device", "action_revoke", [[device["device_id"]]])
    assert identity["public_key"] not in listed_keys(waiter, sync_on.config_id)
    with pytest.raises(HarnessError, match="revoked"):
        route(waiter, "device/register", config_id=sync_on.config_id, **identity)
    assert identity["public_key"] not in listed_keys(waiter, sync_on.config_id)


def test_archived_user_devices_are_revoked(sync_on: OdooInstance, waiter: OdooRpc) -> None:
    leaver = new_pos_user(sync_on)
    identity = new_identity(f"t-leaver-{uuid.uuid4().hex[:6]}")
    device = route(leaver, "device/register", config_id=sync_on.config_id, **identity)
    assert identity["public_key"] in listed_keys(waiter, sync_on.config_id)
    sync_on.jsonrpc("res.users", "action_archive", [[leaver.uid]])
    assert identity["public_key"] not in listed_keys(waiter, sync_on.config_id)
    [row] = sync_on.jsonrpc(
        "pos_restaurant_sync.device", "read", [[device["device_id"]], ["revoked"]]
    )
    assert row["revoked"] is True
