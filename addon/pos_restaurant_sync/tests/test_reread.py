"""Odoo's re-read of the open orders, with sync on, asks for outside writes only.

A page asks for each order of its POS whose ``possync_outside_write`` number is past its
copy's (static/src/pos/open_orders.js): possync's own apply leaves the number as it is,
every other write of the order draws the next one.
"""

from odoo.tests import tagged

from .. import compat
from .common import PossyncCommon

OUTSIDE = "possync_outside_write"


@tagged("post_install", "-at_install")
class TestOutsideWrites(PossyncCommon):
    def setUp(self):
        super().setUp()
        self.uuids = [self.new_uuid(), self.new_uuid()]
        for at, order_uuid in enumerate(self.uuids):
            self.push(self.change(order_uuid, self.line_add(f"{order_uuid}-l1", self.coke), at=at))
        self.orders = [self.pos_order(order_uuid) for order_uuid in self.uuids]
        for order in self.orders:
            order.customer_count = 2  # Odoo wrote each once, then a page copied them
        self.copies = {order.id: order[OUTSIDE] for order in self.orders}

    def reread(self) -> list[str]:
        """The uuids Odoo's re-read returns when a page holding ``self.copies`` asks."""
        domain = ["|"] * (len(self.copies) - 1)
        for order_id, number in self.copies.items():
            domain += ["&", ("id", "=", order_id), (OUTSIDE, ">", number)]
        answer = self.config.read_config_open_orders(
            {"pos.order": domain}, {"pos.order": list(self.copies)}
        )
        return sorted(order["uuid"] for order in answer["dynamic_records"]["pos.order"])

    def test_an_order_possync_created_has_no_outside_write_yet(self):
        created = self.new_uuid()
        self.push(self.change(created, self.line_add("l1", self.coke)))
        self.assertFalse(self.pos_order(created)[OUTSIDE])

    def test_possyncs_apply_leaves_the_outside_write_number(self):
        self.push(self.change(self.uuids[0], self.line_set(f"{self.uuids[0]}-l1", "qty", 4), at=5))
        order = self.orders[0]
        self.assertEqual(order.lines.qty, 4)
        self.assertEqual(order[OUTSIDE], self.copies[order.id])

    def test_each_odoo_write_draws_a_later_number(self):
        order = self.orders[1]
        order.customer_count = 3
        first = order[OUTSIDE]
        order.customer_count = 4
        self.assertGreater(first, self.copies[order.id])
        self.assertGreater(order[OUTSIDE], first, "two writes in one second differ too")

    def test_the_reread_returns_the_order_odoo_wrote_not_the_one_possync_wrote(self):
        self.push(self.change(self.uuids[0], self.line_set(f"{self.uuids[0]}-l1", "qty", 4), at=5))
        self.orders[1].customer_count = 3
        self.assertEqual(self.reread(), [self.uuids[1]])

    def test_a_forged_apply_context_or_number_cannot_hide_a_write_from_the_rereads(self):
        # A client may send any context and any values: neither makes its write possync's.
        forged = self.orders[1].with_context(possync_applying=True)
        forged.write({"customer_count": 5, OUTSIDE: self.copies[self.orders[1].id]})
        self.assertGreater(self.orders[1][OUTSIDE], self.copies[self.orders[1].id])
        self.assertEqual(self.reread(), [self.uuids[1]])

    def test_an_order_odoo_creates_with_a_forged_outside_write_number_gets_its_own(self):
        order_uuid = self.new_uuid()
        data = self.create_ui_order_data([(self.coke, 1)], uuid=order_uuid)
        data.update(access_token=False, **{OUTSIDE: 2**31 - 1})
        self.env["pos.order"].sync_from_ui([data])
        number = self.pos_order(order_uuid)[OUTSIDE]
        self.assertGreater(number, max(self.copies.values()))
        self.assertLess(number, 2**31 - 1)

    def test_a_reread_finds_the_gone_orders_of_thirty_in_no_more_queries_than_of_three(self):
        # Odoo looks up each order a page holds with a query of its own.
        held = [self.pos_order(self.push_order()).id for _ in range(30)]

        def reread_queries(ids: list[int]) -> int:
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            domain = [("id", "in", ids), (OUTSIDE, ">", 2**31 - 2)]  # none written since
            self.config.read_config_open_orders({"pos.order": domain}, {"pos.order": ids})
            return self.env.cr.sql_log_count - before

        reread_queries(held[:3])  # the first read fills Odoo's caches
        self.assertLessEqual(reread_queries(held), reread_queries(held[:3]))

    def test_a_reread_tells_the_deleted_and_cancelled_orders_as_odoo_does(self):
        deleted, cancelled, kept = (self.pos_order(self.push_order()) for _ in range(3))
        deleted.unlink()
        cancelled.action_pos_order_cancel()
        ids = [deleted.id, cancelled.id, kept.id]
        answer = self.config.read_config_open_orders(
            {"pos.order": [("id", "=", 0)]}, {"pos.order": ids}
        )
        gone = [deleted.id, cancelled.id] if compat.REREAD_DROPS_CANCELLED else [deleted.id]
        self.assertEqual(answer["deleted_record_ids"], {"pos.order": gone})

    def push_order(self) -> str:
        order_uuid = self.new_uuid()
        self.push(self.change(order_uuid, self.line_add(f"{order_uuid}-l1", self.coke)))
        return order_uuid
