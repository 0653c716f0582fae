import base64
import json
import os
import time
from unittest.mock import patch

from odoo.tests import HttpCase, tagged
from psycopg2.errors import LockNotAvailable

from ..lib import app_version
from .common import PossyncCommon


@tagged("post_install", "-at_install")
class TestRoutes(PossyncCommon, HttpCase):
    """The JSON-RPC routes of docs/protocol.md, over HTTP with a user's session."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.new_user("possync_http_waiter")
        cls.new_user("possync_http_outsider", "employee")

    def setUp(self):
        super().setUp()
        self.authenticate("possync_http_waiter", "possync_http_waiter")

    def rpc(self, route: str, params: dict) -> dict:
        """The JSON-RPC envelope as a client gets it: {"result": …} or {"error": …}."""
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params})
        response = self.url_open(
            f"/pos_restaurant_sync/{route}", data=body, headers={"Content-Type": "application/json"}
        )
        self.assertEqual(response.status_code, 200)
        return response.json()

    def result(self, route: str, **params):
        """The route's answer, without the server's time (test_answers_carry_the_server_time)."""
        answer = self.rpc(route, params)
        self.assertNotIn("error", answer, answer.get("error"))
        answer["result"].pop("time_ms", None)
        return answer["result"]

    def test_answers_carry_the_server_time(self):
        # Terminals measure their clock's offset from it (docs/protocol.md, "Clock").
        params = {"config_id": self.config.id}
        for route, extra in (("info", {}), ("push", {"changes": []}), ("pull", {"after": 0})):
            before = int(time.time() * 1000)
            answer = self.rpc(route, {**params, **extra})["result"]
            self.assertTrue(before <= answer["time_ms"] <= time.time() * 1000, route)

    def test_info(self):
        info = self.result("info", config_id=self.config.id)
        self.assertEqual(
            set(info),
            {
                "addon_version", "protocol", "enabled", "mode", "interval_ms", "channel",
                "bus_type", "kiosk", "app_min_version", "app_latest_version",
            },
        )  # fmt: skip
        self.assertIs(info["kiosk"], False)
        self.assertEqual(info["channel"], f"possync:{self.config.id}")
        self.assertEqual(info["app_min_version"], app_version.APP_MIN_VERSION)
        self.assertEqual(info["app_latest_version"], app_version.APP_LATEST_VERSION)

    # --- the app's version (docs/protocol.md, "Versioning") ----------------------------

    def push_as_app(self, announced) -> tuple[dict, str]:
        """A push of one new change announcing ``announced``; the answer and the order."""
        order = self.new_uuid()
        change = self.change(order, self.line_add("l1", self.coke))
        params = {"config_id": self.config.id, "changes": [change], "app_version": announced}
        return self.rpc("push", params), order

    def test_a_current_app_and_a_browser_page_push_alike(self):
        for announced in (app_version.APP_LATEST_VERSION, None):
            answer, order = self.push_as_app(announced)
            self.assertEqual(answer["result"]["acks"][0]["status"], "applied", announced)
            self.assertEqual(self.pos_order(order).lines.uuid, "l1")

    def test_an_app_too_old_for_this_server_is_refused_whole(self):
        with patch.object(app_version, "APP_MIN_VERSION", "0.3.0"):
            answer, order = self.push_as_app("0.2.9")
        error = answer["error"]
        self.assertEqual(error["data"]["context"]["possync_error"], "app_too_old")
        self.assertIn("needs ≥ 0.3.0", error["data"]["message"])
        self.assertFalse(self.log(order))

    def test_an_administrator_raises_the_app_versions_with_system_parameters(self):
        parameters = self.env["ir.config_parameter"].sudo()
        min_name, latest_name = app_version.PARAMETERS
        parameters.set_param(latest_name, "99.0")
        parameters.set_param(min_name, "not a version")  # ignored
        info = self.result("info", config_id=self.config.id)
        self.assertEqual(info["app_latest_version"], "99.0")
        self.assertEqual(info["app_min_version"], app_version.APP_MIN_VERSION)
        parameters.set_param(min_name, "98.0")
        answer, order = self.push_as_app(app_version.APP_LATEST_VERSION)
        self.assertEqual(answer["error"]["data"]["context"]["possync_error"], "app_too_old")
        self.assertIn("needs ≥ 98.0", answer["error"]["data"]["message"])
        self.assertFalse(self.log(order))

    def test_attack_a_forged_or_malformed_app_version_is_refused_and_stores_nothing(self):
        forged = [
            "", "latest", "0.1.0; DROP TABLE pos_order", "1!0.1.0", "0.1.0+local", "v0.1.0",
            " 0.1.0", "0.1.0\n", "9" * 70, 10, 0.1, True, ["0.1.0"], {"v": "0.1.0"},
        ]  # fmt: skip
        for announced in forged:
            answer, order = self.push_as_app(announced)
            self.assertEqual(
                answer["error"]["data"]["context"]["possync_error"], "bad_request", announced
            )
            self.assertFalse(self.log(order), announced)

    def test_push_then_pull(self):
        order = self.new_uuid()
        change = self.change(order, self.line_add("l1", self.coke))
        pushed = self.result("push", config_id=self.config.id, changes=[change])
        self.assertEqual(pushed["acks"], [{"id": change["id"], "status": "applied"}])
        again = self.result("push", config_id=self.config.id, changes=[change])
        self.assertEqual(again["acks"][0]["status"], "duplicate")
        pulled = self.result("pull", config_id=self.config.id, after=pushed["cursor"] - 1, limit=10)
        self.assertEqual(
            pulled,
            {
                "changes": [{"seq": pushed["cursor"], "change": change}],
                "cursor": pushed["cursor"],
                "more": False,
                "reset": False,
            },
        )
        self.assertEqual(self.pos_order(order).lines.uuid, "l1")

    def test_a_push_whose_application_meets_a_held_lock_applies_it_once_the_lock_is_free(self):
        # Odoo's own sync of the order held a row; a closed order would get no later push.
        order = self.new_uuid()
        order_model = type(self.env["pos.order"])
        apply = order_model._possync_apply
        attempts = []

        def held_once(records, *args):
            attempts.append(1)
            if len(attempts) == 1:
                raise LockNotAvailable("could not obtain lock on row in relation ir_sequence")
            return apply(records, *args)

        change = self.change(order, self.line_add("l1", self.coke))
        with patch.object(order_model, "_possync_apply", autospec=True, side_effect=held_once):
            self.result("push", config_id=self.config.id, changes=[change])
        self.assertEqual(len(attempts), 2)
        self.assertEqual(self.pos_order(order).lines.uuid, "l1")

    def test_a_body_over_1_mib_is_refused_whole(self):
        order = self.new_uuid()
        note = "x" * 2000
        changes = [
            self.change(
                order,
                *[self.line_add(f"l{i}-{j}", self.coke, customer_note=note) for j in range(10)],
            )
            for i in range(60)
        ]
        error = self.rpc("push", {"config_id": self.config.id, "changes": changes})["error"]
        self.assertEqual(error["data"]["context"]["possync_error"], "too_large")
        self.assertFalse(self.log(order))

    def test_an_unknown_version_is_a_clear_error(self):
        change = {**self.change(self.new_uuid(), self.line_add("l1", self.coke)), "v": 2}
        error = self.rpc("push", {"config_id": self.config.id, "changes": [change]})["error"]
        self.assertEqual(error["data"]["context"]["possync_error"], "version")
        self.assertIn("protocol version", error["data"]["message"])

    def test_a_user_not_allowed_on_the_pos_gets_an_access_error_on_every_route(self):
        self.authenticate("possync_http_outsider", "possync_http_outsider")
        routes = {
            "info": {},
            "push": {"changes": []},
            "pull": {},
            "devices": {},
            "device/register": {
                "terminal": "t1",
                "public_key": "A" * 43 + "=",
                "certificate_sha256": "0" * 64,
            },
        }
        for route, params in routes.items():
            params = {"config_id": self.config.id, **params}
            error = self.rpc(route, params)["error"]
            self.assertEqual(error["data"]["name"], "odoo.exceptions.AccessError", route)

    def test_bad_parameters_are_refused(self):
        error = self.rpc("pull", {"config_id": "1"})["error"]
        self.assertEqual(error["data"]["context"]["possync_error"], "bad_request")

    # --- the device registry -----------------------------------------------------------

    def register(self, **params) -> dict:
        return self.rpc("device/register", {"config_id": self.config.id, **params})

    def test_a_device_registers_and_is_listed(self):
        key = base64.b64encode(os.urandom(32)).decode()
        identity = {"terminal": "t-http", "public_key": key, "certificate_sha256": "ab" * 32}
        registered = self.register(**identity)["result"]
        self.assertEqual(registered["terminal"], "t-http")
        self.assertIs(registered["revoked"], False)
        self.assertIsInstance(registered["device_id"], int)
        self.assertEqual(self.register(**identity)["result"], registered)  # idempotent
        listed = self.result("devices", config_id=self.config.id)
        self.assertEqual(listed, {"devices": [identity]})

    def test_a_revoked_device_gets_a_revoked_error(self):
        key = base64.b64encode(os.urandom(32)).decode()
        identity = {"terminal": "t-gone", "public_key": key, "certificate_sha256": "cd" * 32}
        device_id = self.register(**identity)["result"]["device_id"]
        self.env["pos_restaurant_sync.device"].sudo().browse(device_id)._possync_revoke()
        error = self.register(**identity)["error"]
        self.assertEqual(error["data"]["context"]["possync_error"], "revoked")
        self.assertEqual(self.result("devices", config_id=self.config.id), {"devices": []})

    def test_a_malformed_device_identity_is_a_bad_request(self):
        key = base64.b64encode(os.urandom(32)).decode()
        good = {"terminal": "t1", "public_key": key, "certificate_sha256": "ef" * 32}
        bad = {
            "bad base64": {"public_key": "%%%"},
            "wrong length": {"public_key": base64.b64encode(b"x" * 16).decode()},
            "bad hex": {"certificate_sha256": "EF" * 32},
            "bad terminal": {"terminal": "t/1"},
            "missing key": {"public_key": None},
        }
        for case, change in bad.items():
            error = self.register(**{**good, **change})["error"]
            self.assertEqual(error["data"]["context"]["possync_error"], "bad_request", case)
        self.assertEqual(self.result("devices", config_id=self.config.id), {"devices": []})

    def test_an_unknown_pos_is_refused_by_the_device_routes(self):
        for route in ("devices", "device/register"):
            error = self.rpc(route, {"config_id": 10**8})["error"]
            self.assertEqual(error["data"]["name"], "odoo.exceptions.AccessError", route)
