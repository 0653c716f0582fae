"""Two open orders on one table (two terminals opened it at once, docs/protocol.md) stay two
when Odoo's own sync sends one of them."""

from odoo.tests import tagged

from .common import PossyncCommon


@tagged("post_install", "-at_install")
class TestTableOrders(PossyncCommon):
    def setUp(self):
        super().setUp()
        self.older = self.opened_on_the_table("l1", self.coke)
        self.newer = self.opened_on_the_table("l2", self.burger)

    def opened_on_the_table(self, line: str, product) -> str:
        order = self.new_uuid()
        self.push(
            self.change(
                order, self.order_set("table_id", self.table.id), self.line_add(line, product)
            )
        )
        return order

    def send_older_as_odoo_does(self) -> None:
        """What the POS sends when the waiter on the older order leaves the table."""
        data = self.create_ui_order_data(
            [{"product": self.coke, "quantity": 1, "uuid": "l1"}], uuid=self.older
        )
        data.update(state="draft", table_id=self.table.id, access_token=False)
        self.env["pos.order"].sync_from_ui([data])

    def test_an_order_odoo_sends_for_a_table_is_written_into_itself(self):
        self.send_older_as_odoo_does()
        older, newer = self.pos_order(self.older), self.pos_order(self.newer)
        self.assertEqual(older.lines.mapped("uuid"), ["l1"])
        self.assertEqual(newer.lines.mapped("uuid"), ["l2"])
        self.assertEqual((older + newer).mapped("state"), ["draft", "draft"])

    def test_with_sync_off_odoo_writes_it_into_the_tables_newest_order(self):
        self.config.possync_enabled = False
        found = self.env["pos.order"]._get_open_order(
            {
                "uuid": self.older,
                "table_id": self.table.id,
                "state": "draft",
                "session_id": self.pos_session.id,
            }
        )
        self.assertEqual(found, self.pos_order(self.newer))
