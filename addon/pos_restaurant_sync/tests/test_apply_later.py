from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from .. import compat
from .common import PossyncCommon


@tagged("post_install", "-at_install")
class TestApplyAfterBroadcast(PossyncCommon):
    """The push route stores and broadcasts first, then applies the Odoo order."""

    def setUp(self):
        super().setUp()
        self.order = self.new_uuid()
        self.Log = self.env["pos_restaurant_sync.change"]

    def order_row(self):
        return self.env["pos_restaurant_sync.order"].search([("order_uuid", "=", self.order)])

    def test_storing_answers_and_broadcasts_without_touching_the_odoo_order(self):
        change = self.change(self.order, self.line_add("l1", self.coke))
        with patch.object(type(self.config), "_possync_broadcast", autospec=True) as broadcast:
            result, pending = self.Log._store_and_broadcast(self.config, [change])
        self.assertEqual(result["acks"], [{"id": change["id"], "status": "applied"}])
        self.assertEqual(pending, {self.order})
        self.assertEqual(broadcast.call_args.args[1][0]["change"], change)
        self.assertFalse(self.pos_order(self.order))
        self.Log._apply_orders(self.config, pending)
        self.assertEqual(self.pos_order(self.order).lines.uuid, "l1")
        self.assertEqual(self.order_row().applied_seq, result["cursor"])

    def test_a_failed_application_is_retried_by_the_cron(self):
        order_model = type(self.env["pos.order"])
        with patch.object(order_model, "_possync_apply", side_effect=ValueError("boom")):
            ack = self.push(self.change(self.order, self.line_add("l1", self.coke)))["acks"][0]
        self.assertEqual(ack["status"], "applied")  # stored: the answer stands
        self.assertFalse(self.pos_order(self.order))
        self.assertFalse(self.order_row().applied_seq)
        # The push wrote the row in its own transaction, stamped later than this one's now.
        self.written_ago(self.order_row(), timedelta(minutes=1))
        self.Log._apply_pending(grace=timedelta(0))
        self.assertEqual(self.pos_order(self.order).lines.uuid, "l1")
        self.assertEqual(self.order_row().applied_seq, self.log(self.order).id)

    def written_ago(self, records, ago: timedelta) -> None:
        records.flush_recordset()
        self.env.cr.execute(
            f"UPDATE {records._table} SET write_date = %s WHERE id IN %s",
            (fields.Datetime.now() - ago, tuple(records.ids)),
        )
        records.invalidate_recordset()

    def test_a_failed_application_is_retried_by_the_next_push(self):
        order_model = type(self.env["pos.order"])
        with patch.object(order_model, "_possync_apply", side_effect=ValueError("boom")):
            self.push(self.change(self.order, self.line_add("l1", self.coke)))
        self.push(self.change(self.order, self.line_add("l2", self.burger), at=10))
        self.assertEqual(set(self.lines_by_uuid(self.pos_order(self.order))), {"l1", "l2"})

    def test_totals_are_recomputed_only_when_a_price_may_change(self):
        self.push(self.change(self.order, self.line_add("l1", self.coke)))
        order_model = type(self.env["pos.order"])
        original = order_model._compute_prices
        with patch.object(
            order_model, "_compute_prices", autospec=True, side_effect=original
        ) as compute:
            self.push(self.change(self.order, self.order_set("customer_count", 3), at=10))
            self.assertEqual(compute.call_count, 0)
            note = self.line_set("l1", "internal_note", self.kitchen_note("x"))
            self.push(self.change(self.order, note, at=20))
            self.assertEqual(compute.call_count, 0)
            self.push(self.change(self.order, self.line_set("l1", "qty", 3), at=30))
            self.assertEqual(compute.call_count, 1)
        self.assertAlmostEqual(self.pos_order(self.order).amount_total, 9.0)

    def test_a_draft_created_by_the_sync_loads_in_the_pos(self):
        # An order without pos_reference stops every 18 POS at start-up (pos_self_order
        # calls pos_reference.startsWith).
        self.push(self.change(self.order, self.order_set("table_id", self.table.id)))
        self.push(self.change(self.new_uuid(), self.line_add("l1", self.coke)))
        order = self.pos_order(self.order)
        loaded = self.config.read_config_open_orders(
            {"pos.order": [("id", "=", order.id)]}, {"pos.order": []}
        )["dynamic_records"]["pos.order"]
        self.assertEqual(len(loaded), 1)
        data = loaded[0]
        self.assertIsInstance(data["pos_reference"], str)
        self.assertTrue(data["pos_reference"])
        self.assertIsInstance(data["tracking_number"], str)
        self.assertTrue(data["tracking_number"])
        self.assertGreater(data["sequence_number"], 0)
        self.assertEqual(data["user_id"], self.env.uid)
        self.assertEqual(data["amount_total"], 0.0)
        self.assertTrue(data["name"])
        references = self.env["pos.order"].search([("session_id", "=", self.pos_session.id)])
        self.assertEqual(len(set(references.mapped("pos_reference"))), len(references))
        if not compat.ORDER_REFS_FROM_CREATE:  # 18: as the POS itself writes them
            session = f"{self.pos_session.id:05d}"
            self.assertRegex(data["pos_reference"], rf"^Order {session}-\d{{3}}-\d{{4}}$")
            self.assertTrue(data["pos_reference"].endswith(f"-{data['sequence_number']:04d}"))
