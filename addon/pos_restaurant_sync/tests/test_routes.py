import json
import time
from unittest.mock import patch

from odoo.tests import HttpCase, tagged
from odoo.tests.common import new_test_user
from psycopg2.errors import LockNotAvailable

from .common import PossyncCommon


@tagged("post_install", "-at_install")
class TestRoutes(PossyncCommon, HttpCase):
    """The four JSON-RPC routes of docs/protocol.md, over HTTP with a user's session."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        new_test_user(
            cls.env, "possync_http_waiter", "base.group_user,point_of_sale.group_pos_user"
        )
        new_test_user(cls.env, "possync_http_outsider", "base.group_user")

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
            set(info), {"addon_version", "protocol", "enabled", "mode", "interval_ms", "channel"}
        )
        self.assertEqual(info["channel"], self.config.access_token)

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

    def test_peer_secret(self):
        secret = self.result("peer_secret", config_id=self.config.id)["secret"]
        self.assertEqual(len(secret), 64)

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
        for route in ("info", "push", "pull", "peer_secret"):
            params = {"config_id": self.config.id}
            if route == "push":
                params["changes"] = []
            error = self.rpc(route, params)["error"]
            self.assertEqual(error["data"]["name"], "odoo.exceptions.AccessError", route)

    def test_bad_parameters_are_refused(self):
        error = self.rpc("pull", {"config_id": "1"})["error"]
        self.assertEqual(error["data"]["context"]["possync_error"], "bad_request")
