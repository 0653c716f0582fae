"""Odoo's JSON-RPC messages (agent/odoo_rpc.py), read and written without a server."""

from __future__ import annotations

import pytest

from agent.odoo_rpc import (
    AccessDenied,
    AppTooOld,
    DeviceRevoked,
    NotAllowed,
    NotJsonRpc,
    OdooError,
    ProtocolMismatch,
    SessionExpired,
    SyncDisabled,
    rpc_body,
    rpc_result,
)


def test_a_request_is_a_json_rpc_call() -> None:
    body = rpc_body({"config_id": 2}, 7)
    assert body == {"jsonrpc": "2.0", "method": "call", "params": {"config_id": 2}, "id": 7}


def test_a_result_is_returned_and_a_missing_one_is_none() -> None:
    assert rpc_result({"jsonrpc": "2.0", "id": 1, "result": {"uid": 2}}, "u") == {"uid": 2}
    # Odoo leaves "result" out when a method returns None.
    assert rpc_result({"jsonrpc": "2.0", "id": 1}, "u") is None


def test_an_answer_that_is_not_json_rpc_is_refused() -> None:
    with pytest.raises(NotJsonRpc, match="http://odoo.lan/web: the answer is not JSON-RPC"):
        rpc_result(["not", "an", "object"], "http://odoo.lan/web")


def _error(name: str = "", message: str = "", code: int = 200, **data: object) -> dict:
    return {"error": {"code": code, "message": "Odoo Server Error",
                      "data": {"name": name, "message": message, **data}}}


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (_error("odoo.http.SessionExpiredException", "Session expired"), SessionExpired),
        (_error(code=100), SessionExpired),
        (_error("odoo.exceptions.AccessDenied", "Access Denied"), AccessDenied),
        (_error("odoo.exceptions.AccessError", "not yours"), NotAllowed),
        (_error("x", context={"possync_error": "version"}), ProtocolMismatch),
        (_error("x", context={"possync_error": "disabled"}), SyncDisabled),
        (_error("x", context={"possync_error": "revoked"}), DeviceRevoked),
        (_error("x", context={"possync_error": "app_too_old"}), AppTooOld),
        (_error("odoo.exceptions.UserError", "no such table"), OdooError),
    ],
)
def test_odoo_errors_come_out_typed(answer: dict, kind: type[OdooError]) -> None:
    with pytest.raises(OdooError) as raised:
        rpc_result(answer, "u")
    assert type(raised.value) is kind


def test_an_error_keeps_odoo_s_message_and_traceback() -> None:
    with pytest.raises(OdooError) as raised:
        rpc_result(_error("ValueError", "boom", debug="Traceback (most recent call last)"), "u")
    assert str(raised.value) == "server error: boom"
    assert raised.value.detail == "boom" and raised.value.debug.startswith("Traceback")


def test_an_app_too_old_says_what_the_server_said_without_its_code() -> None:
    message = "app_too_old: possync 0.1.0 is too old for this server (needs ≥ 0.2.0): update"
    with pytest.raises(AppTooOld) as raised:
        rpc_result(_error("x", message, context={"possync_error": "app_too_old"}), "u")
    assert str(raised.value) == f"too old for this server: {message.partition(': ')[2]}"
