from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import PossyncCommon


@tagged("post_install", "-at_install")
class TestPull(PossyncCommon):
    def setUp(self):
        super().setUp()
        self.order = self.new_uuid()
        self.changes = [
            self.change(self.order, self.line_add(f"l{i}", self.coke), at=i) for i in range(5)
        ]
        self.push(*self.changes)
        self.start = self.pull()["changes"][0]["seq"] - 1

    def test_pull_pages_through_the_log_after_a_cursor(self):
        page = self.pull(after=self.start, limit=2)
        self.assertEqual([e["change"] for e in page["changes"]], self.changes[:2])
        self.assertTrue(page["more"])
        rest = self.pull(after=page["cursor"], limit=10)
        self.assertEqual([e["change"] for e in rest["changes"]], self.changes[2:])
        self.assertFalse(rest["more"])
        self.assertEqual(
            self.pull(after=rest["cursor"]),
            {"changes": [], "cursor": rest["cursor"], "more": False, "reset": False},
        )

    def test_a_cursor_is_the_position_of_the_last_change_returned(self):
        page = self.pull(after=self.start, limit=3)
        self.assertEqual(page["cursor"], page["changes"][-1]["seq"])

    def test_pull_shows_neither_rejected_changes_nor_other_pos(self):
        self.push(self.change(self.order, {"op": "nope"}))
        other = self.other_currency_config
        other.possync_enabled = True
        self.push(self.change(self.new_uuid(), self.line_add("x", self.coke)), config=other)
        after = self.pull(after=self.start)
        self.assertEqual([e["change"] for e in after["changes"]], self.changes)

    def test_a_cursor_from_another_database_starts_over(self):
        page = self.pull(after=10**12)
        self.assertEqual(page["changes"][-1]["change"], self.changes[-1])
        self.assertTrue(page["reset"])

    def test_a_pull_from_before_the_pruned_log_says_reset(self):
        log = self.env["pos_restaurant_sync.change"]
        records = self.log(self.order)
        self.age(records[:2], fields.Datetime.now() - timedelta(days=8))
        log._prune()
        for after in (0, self.start, records[0].id):
            page = self.pull(after=after)
            self.assertTrue(page["reset"], after)
            self.assertEqual([e["change"] for e in page["changes"]], self.changes[2:])
        page = self.pull(after=records[1].id)
        self.assertFalse(page["reset"])  # the client saw everything pruned
        self.assertEqual([e["change"] for e in page["changes"]], self.changes[2:])
        other = self.other_currency_config
        self.assertFalse(log._pull(other, self.start, 10)["reset"])  # another POS lost nothing

    def test_pruning_forgets_old_changes_and_closed_orders_after_a_day(self):
        log = self.env["pos_restaurant_sync.change"]
        closed, fresh_closed = self.new_uuid(), self.new_uuid()
        for order_uuid in (closed, fresh_closed):
            self.push(
                self.change(order_uuid, self.line_add("l1", self.coke)),
                self.change(order_uuid, {"op": "order.close", "state": "cancel"}, at=1),
            )
        now = fields.Datetime.now()
        self.age(log.search([("order_uuid", "=", self.order)])[:2], now - timedelta(days=8))
        self.age(self.order_row(closed), now - timedelta(hours=25))
        log._prune()
        self.assertEqual(len(self.log(self.order)), 3)  # the two 8-day-old ones are gone
        self.assertFalse(self.log(closed))
        self.assertFalse(self.order_row(closed))
        self.assertEqual(len(self.log(fresh_closed)), 2)

    def order_row(self, order_uuid):
        return self.env["pos_restaurant_sync.order"].search([("order_uuid", "=", order_uuid)])

    def age(self, records, when) -> None:
        records.flush_recordset()
        self.env.cr.execute(
            f"UPDATE {records._table} SET create_date = %s, write_date = %s WHERE id IN %s",
            (when, when, tuple(records.ids)),
        )
        records.invalidate_recordset()
