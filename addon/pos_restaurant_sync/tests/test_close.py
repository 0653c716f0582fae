import json

from odoo.tests import tagged
from psycopg2.errors import SerializationFailure

from .common import PossyncCommon


@tagged("post_install", "-at_install")
class TestClose(PossyncCommon):
    def setUp(self):
        super().setUp()
        self.order = self.new_uuid()

    def pay_in_odoo(self, order_uuid: str, lines) -> None:
        """What the POS does when the cashier validates the payment (sync_from_ui)."""
        data = self.create_ui_order_data(lines, uuid=order_uuid)
        self.sync_from_ui(data)
        self.commit_hooks()

    def sync_from_ui(self, data: dict) -> None:
        data.setdefault("access_token", False)  # the POS always sends the key
        self.env["pos.order"].sync_from_ui([data])

    def server_closes(self, order_uuid: str) -> list[dict]:
        records = self.log(order_uuid).filtered(lambda r: r.terminal == "server")
        return [json.loads(record.payload) for record in records]

    def test_a_payment_validated_by_odoo_is_sent_to_the_terminals_as_a_close(self):
        self.push(self.change(self.order, self.line_add("l1", self.coke), at=50))
        self.pay_in_odoo(self.order, [{"product": self.coke, "quantity": 1, "uuid": "l1"}])
        self.assertEqual(self.pos_order(self.order).state, "paid")
        [close] = self.server_closes(self.order)
        self.assertEqual(close["ops"], [{"op": "order.close", "state": "paid"}])
        self.assertEqual(close["order"], self.order)
        self.assertGreater(close["hlc"], self.log(self.order)[0].hlc)
        self.assertEqual(self.pull()["changes"][-1]["change"], close)

    def test_odoo_sync_of_lines_the_sync_created_adds_no_duplicate(self):
        self.push(self.change(self.order, self.line_add("l1", self.coke)))
        self.pay_in_odoo(self.order, [{"product": self.coke, "quantity": 1, "uuid": "l1"}])
        self.assertEqual(self.pos_order(self.order).lines.mapped("uuid"), ["l1"])

    def test_odoo_payment_of_a_payment_the_sync_created_books_it_once(self):
        earlier = self.new_uuid()
        self.pay_in_odoo(earlier, [(self.burger, 1)])
        data = self.create_ui_order_data(
            [{"product": self.coke, "quantity": 1, "uuid": "l1"}], uuid=self.order
        )
        cash = data["payment_ids"][0][2]
        # 18's POS names its local order id ("pos.order_1" read as 1): some other order.
        cash.update(uuid="p1", pos_order_id=self.pos_order(earlier).id)
        paid = {"payment_method_id": cash["payment_method_id"], "amount": cash["amount"]}
        self.push(
            self.change(
                self.order,
                self.line_add("l1", self.coke),
                {"op": "payment.add", "payment": "p1", "values": paid},
            )
        )
        self.assertEqual(self.pos_order(self.order).payment_ids.mapped("uuid"), ["p1"])
        self.sync_from_ui(data)
        self.commit_hooks()
        order = self.pos_order(self.order)
        self.assertEqual(order.state, "paid")
        self.assertEqual(order.payment_ids.mapped("uuid"), ["p1"])
        self.assertAlmostEqual(order.amount_paid, cash["amount"])
        self.assertEqual(len(self.pos_order(earlier).payment_ids), 1)

    def test_odoo_sync_of_an_order_the_log_knows_holds_it_against_pushes(self):
        # Stored, not applied: this transaction holds none of the order's locks yet.
        self.env["pos_restaurant_sync.change"]._store_and_broadcast(
            self.config, [self.change(self.order, self.line_add("l1", self.coke))]
        )
        order_row = self.env["pos_restaurant_sync.order"].search([("order_uuid", "=", self.order)])
        self.assertTrue(self.apply_lock_is_free(order_row))
        self.pay_in_odoo(self.order, [{"product": self.coke, "quantity": 1, "uuid": "l1"}])
        # A push of the order, in another connection, would wait for this transaction.
        self.assertFalse(self.apply_lock_is_free(order_row))
        self.assertEqual(self.pos_order(self.order).state, "paid")

    def test_odoo_sync_of_a_new_order_holds_its_uuid_against_pushes(self):
        # Not in the log yet: a push storing it now would look for the Odoo order, find
        # none, and create a second one, but for this lock.
        self.pay_in_odoo(self.order, [{"product": self.coke, "quantity": 1, "uuid": "l1"}])
        self.assertFalse(self.uuid_lock_is_free(self.order))
        self.assertEqual(self.pos_order(self.order).state, "paid")

    def test_odoo_sync_of_an_order_created_since_its_snapshot_starts_again(self):
        # A push's application created it and committed after this request's snapshot.
        data = self.create_ui_order_data([(self.coke, 1)], uuid=self.order)
        with (
            self.created_elsewhere(self.order),
            self.assertRaises(SerializationFailure),
            self.env.cr.savepoint(),
        ):
            self.sync_from_ui(data)
        self.assertFalse(self.pos_order(self.order))

    def test_attack_odoo_sync_naming_another_companys_session_holds_no_uuid(self):
        elsewhere = self.env["res.company"].create({"name": "Elsewhere"})
        stranger = self.new_user("possync_close_stranger", company=elsewhere)
        orders = [{"uuid": self.order, "session_id": self.config.current_session_id.id}]
        self.assertEqual(self.env["pos.order"]._possync_uuids_to_hold(orders), {self.order})
        held = self.env["pos.order"].with_user(stranger)._possync_uuids_to_hold(orders)
        self.assertEqual(held, set(), "another company's orders are not its to hold")

    def test_attack_odoo_sync_with_malformed_uuids_holds_none(self):
        session = self.config.current_session_id.id
        orders = [
            {"uuid": 12345, "session_id": session},
            {"uuid": "x" * 65, "session_id": session},
            {"uuid": ["a"], "session_id": session},
            {"uuid": self.order, "session_id": str(session)},
            {"uuid": self.order, "session_id": 10**9},
            "not an order",
        ]
        self.assertEqual(self.env["pos.order"]._possync_uuids_to_hold(orders), set())

    def test_a_paid_order_is_never_reopened_or_edited(self):
        # odoo/odoo#208448: a paid order must never go back to draft.
        self.push(self.change(self.order, self.line_add("l1", self.coke)))
        self.pay_in_odoo(self.order, [{"product": self.coke, "quantity": 1, "uuid": "l1"}])
        order = self.pos_order(self.order)
        late = self.change(
            self.order, self.line_add("l2", self.burger), self.line_set("l1", "qty", 9)
        )
        self.assertEqual(self.push(late)["acks"][0]["status"], "applied")  # stored all the same
        self.assertEqual(order.state, "paid")
        self.assertEqual((order.lines.uuid, order.lines.qty), ("l1", 1))
        self.assertEqual(self.log(self.order)[-1].change_id, late["id"])

    def test_a_cancel_in_odoo_is_sent_to_the_terminals_as_a_close(self):
        self.push(self.change(self.order, self.line_add("l1", self.coke)))
        self.pos_order(self.order).action_pos_order_cancel()
        self.commit_hooks()
        [close] = self.server_closes(self.order)
        self.assertEqual(close["ops"], [{"op": "order.close", "state": "cancel"}])

    def test_a_cancelled_order_gets_no_second_close_when_edited_again(self):
        self.push(self.change(self.order, self.line_add("l1", self.coke)))
        self.pos_order(self.order).action_pos_order_cancel()
        self.commit_hooks()
        self.push(self.change(self.order, self.line_set("l1", "qty", 3), at=10))
        self.commit_hooks()
        self.assertEqual(len(self.server_closes(self.order)), 1)
        self.assertEqual(self.pos_order(self.order).state, "cancel")

    def test_orders_the_sync_never_saw_get_no_close(self):
        self.pay_in_odoo(self.order, [(self.coke, 1)])
        self.assertEqual(self.pos_order(self.order).state, "paid")
        self.assertFalse(self.log(self.order))

    def test_an_order_closed_in_odoo_unknown_to_the_log_is_closed_on_the_next_change(self):
        # Closed while the log had nothing of it (pruned, or sync off): a late change for it
        # makes the server tell the terminals.
        self.pay_in_odoo(self.order, [(self.coke, 1)])
        self.push(self.change(self.order, self.line_add("l9", self.burger)))
        self.commit_hooks()
        self.assertEqual(self.server_closes(self.order)[0]["ops"][0]["state"], "paid")
        self.assertEqual(len(self.pos_order(self.order).lines), 1)

    def test_a_draft_saved_by_odoo_sync_emits_nothing(self):
        self.push(self.change(self.order, self.line_add("l1", self.coke)))
        data = self.create_ui_order_data(
            [{"product": self.coke, "quantity": 2, "uuid": "l1"}], uuid=self.order
        )
        data["state"] = "draft"
        self.sync_from_ui(data)
        self.commit_hooks()
        self.assertEqual(self.log(self.order).mapped("terminal"), ["A"])
        self.assertEqual(self.pos_order(self.order).lines.qty, 2)
