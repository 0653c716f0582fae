"""Server-side scope on a real Odoo: users and records of another company, over JSON-RPC.

A user logs in with a password like a tablet does and calls the addon's routes; each attack
gets a clear refusal and leaves nothing in the log or on the Odoo order.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass

import pytest

from agent import protocol
from devkit.odoo import OdooInstance, OdooRpc

PUSH = "/pos_restaurant_sync/push"


@dataclass
class Restaurant:
    """The demo restaurant POS with sync on, a second company and users of each."""

    odoo: OdooInstance
    elsewhere: int  # the other company's id
    waiter: OdooRpc  # a POS user of the POS's company
    stranger: OdooRpc  # a POS user (and manager) of the other company only


def _group(odoo: OdooInstance, xmlid: str) -> int:
    module, name = xmlid.split(".")
    [row] = odoo.jsonrpc(
        "ir.model.data",
        "search_read",
        [[["module", "=", module], ["name", "=", name]]],
        {"fields": ["res_id"]},
    )
    return row["res_id"]


def _user(odoo: OdooInstance, company: int, groups: list[str]) -> OdooRpc:
    login = f"possync-scope-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(12)
    groups_field = "group_ids" if odoo.tree.major >= 19 else "groups_id"
    odoo.jsonrpc(
        "res.users",
        "create",
        [
            {
                "name": login,
                "login": login,
                "password": password,
                "company_id": company,
                "company_ids": [(6, 0, [company])],
                groups_field: [(6, 0, [_group(odoo, g) for g in groups])],
            }
        ],
    )
    rpc = OdooRpc(odoo.base_url, odoo.db, login, password)
    rpc.authenticate()
    return rpc


@pytest.fixture(scope="module")
def restaurant(odoo: OdooInstance) -> Restaurant:
    if not odoo.with_addon:
        pytest.skip("pos_restaurant_sync is not installed in this run")
    odoo.jsonrpc("pos.config", "write", [[odoo.config_id], {"possync_enabled": True}])
    [config] = odoo.jsonrpc("pos.config", "read", [[odoo.config_id], ["company_id"]])
    home = config["company_id"][0]
    elsewhere = odoo.jsonrpc("res.company", "create", [{"name": "Another Restaurant"}])
    waiter = _user(odoo, home, ["base.group_user", "point_of_sale.group_pos_user"])
    stranger = _user(odoo, elsewhere, ["base.group_user", "point_of_sale.group_pos_manager"])
    return Restaurant(odoo, elsewhere, waiter, stranger)


def _error(rpc: OdooRpc, path: str, params: dict) -> dict:
    """The JSON-RPC error a call answers (the harness's client raises only its message)."""
    reply = rpc.exchange(path, params, timeout=60)
    assert "error" in reply, reply
    return reply["error"]


def _change(*ops: dict) -> dict:
    return {
        "v": protocol.PROTOCOL_VERSION,
        "id": uuid.uuid4().hex,
        "terminal": "t-scope",
        "hlc": protocol.format_hlc(int(time.time() * 1000), 0),
        "order": uuid.uuid4().hex,
        "ops": list(ops),
    }


def _log_rows(odoo: OdooInstance, change_id: str) -> list[dict]:
    return odoo.jsonrpc(
        "pos_restaurant_sync.change",
        "search_read",
        [[["change_id", "=", change_id]]],
        {"fields": ["status", "reason", "payload"]},
    )


def _pos_orders(odoo: OdooInstance, order_uuid: str) -> list[int]:
    return odoo.jsonrpc("pos.order", "search", [[["uuid", "=", order_uuid]]])


def test_other_company_user_push_is_refused(restaurant: Restaurant) -> None:
    odoo = restaurant.odoo
    change = _change({"op": "order.set", "field": "customer_count", "value": 2})
    error = _error(restaurant.stranger, PUSH, {"config_id": odoo.config_id, "changes": [change]})
    assert error["data"]["name"] == "odoo.exceptions.AccessError"
    assert _log_rows(odoo, change["id"]) == []
    assert _pos_orders(odoo, change["order"]) == []


def test_other_company_partner_is_refused(restaurant: Restaurant) -> None:
    odoo = restaurant.odoo
    partner = odoo.jsonrpc(
        "res.partner", "create", [{"name": "Their customer", "company_id": restaurant.elsewhere}]
    )
    change = _change({"op": "order.set", "field": "partner_id", "value": partner})
    answer = restaurant.waiter.request(PUSH, {"config_id": odoo.config_id, "changes": [change]})
    [ack] = answer["acks"]
    assert ack["status"] == "rejected"
    assert f"partner {partner} is not available" in ack["reason"]
    [row] = _log_rows(odoo, change["id"])
    assert (row["status"], row["payload"]) == ("rejected", False)
    assert _pos_orders(odoo, change["order"]) == []


def test_same_change_id_with_other_payload_is_refused(restaurant: Restaurant) -> None:
    odoo = restaurant.odoo
    first = _change({"op": "order.set", "field": "customer_count", "value": 2})
    forged = {**first, "ops": [{"op": "order.set", "field": "customer_count", "value": 9}]}
    params = {"config_id": odoo.config_id}
    [first_ack] = restaurant.waiter.request(PUSH, {**params, "changes": [first]})["acks"]
    assert first_ack["status"] == "applied"
    [ack] = restaurant.waiter.request(PUSH, {**params, "changes": [forged]})["acks"]
    assert ack["status"] == "rejected"
    assert "already used with another content" in ack["reason"]


def test_user_of_another_company_cannot_read_the_log(restaurant: Restaurant) -> None:
    odoo = restaurant.odoo
    change = _change({"op": "order.set", "field": "customer_count", "value": 3})
    restaurant.waiter.request(PUSH, {"config_id": odoo.config_id, "changes": [change]})
    assert len(_log_rows(odoo, change["id"])) == 1  # the POS's own manager sees it
    seen = restaurant.stranger.call(
        "pos_restaurant_sync.change", "search_read", [[["change_id", "=", change["id"]]]]
    )
    assert seen == []
