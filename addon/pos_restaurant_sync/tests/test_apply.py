from unittest import skipUnless
from unittest.mock import patch

from odoo.tests import tagged

from .. import compat
from ..scope import Scope
from .common import PossyncCommon


@tagged("post_install", "-at_install")
class TestApplyToOdooOrder(PossyncCommon):
    def setUp(self):
        super().setUp()
        self.order = self.new_uuid()

    def test_the_first_change_creates_the_draft_order_in_the_open_session(self):
        self.push(
            self.change(
                self.order,
                self.order_set("table_id", self.table.id),
                self.order_set("customer_count", 4),
                self.order_set("partner_id", self.customer.id),
                self.line_add("l1", self.burger, qty=2, price=9.5, discount=10),
            )
        )
        order = self.pos_order(self.order)
        self.assertEqual(order.state, "draft")
        self.assertEqual(order.session_id, self.pos_session)
        self.assertEqual(order.table_id, self.table)
        self.assertEqual(order.customer_count, 4)
        self.assertEqual(order.partner_id, self.customer)
        line = order.lines
        self.assertEqual((line.uuid, line.product_id, line.qty), ("l1", self.burger, 2))
        self.assertEqual((line.price_unit, line.discount), (9.5, 10))
        self.assertAlmostEqual(line.price_subtotal_incl, 17.1)
        self.assertAlmostEqual(order.amount_total, 17.1)

    def test_an_apply_costs_no_more_queries_for_twelve_lines_than_for_two(self):
        # An apply writes the whole view, which names every line's product: the products
        # are looked up at once, not one query a line.
        Log = self.env["pos_restaurant_sync.change"]
        products = (self.burger, self.coke)
        orders = {size: self.new_uuid() for size in (2, 12)}
        for size, order in orders.items():
            adds = [self.line_add(f"{order}-{i}", products[i % 2]) for i in range(size)]
            self.push(self.change(order, *adds))

        def apply_queries(order: str, qty: int) -> int:
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            change = self.change(order, self.line_set(f"{order}-0", "qty", qty), at=qty)
            _answer, named = Log._store_and_broadcast(self.config, [change])
            Log._apply_orders(self.config, named)
            self.env.flush_all()
            return self.env.cr.sql_log_count - before

        for order in orders.values():
            apply_queries(order, 2)  # the first apply after a create fills Odoo's caches
        counts = [apply_queries(order, 3) for order in orders.values()]
        self.assertLessEqual(counts[1], counts[0], counts)
        for order in orders.values():
            self.assertEqual(self.lines_by_uuid(self.pos_order(order))[f"{order}-0"].qty, 3)

    def test_notes_land_in_the_fields_of_this_odoo_version(self):
        allergy, first = self.kitchen_note("allergy: nuts"), self.kitchen_note("first")
        self.push(
            self.change(
                self.order,
                self.order_set("internal_note", allergy),
                self.order_set("customer_note", "happy birthday"),
                self.line_add("l1", self.coke, customer_note="no ice", internal_note=first),
            )
        )
        order = self.pos_order(self.order)
        self.assertEqual(order[compat.ORDER_FIELDS["internal_note"]], allergy)
        if compat.ORDER_FIELDS["customer_note"]:  # 19 only; 18 keeps it in the log
            self.assertEqual(order[compat.ORDER_FIELDS["customer_note"]], "happy birthday")
        self.assertEqual((order.lines.customer_note, order.lines.note), ("no ice", first))

    @skipUnless(compat.KITCHEN_NOTES_AS_JSON, "19 keeps kitchen notes as a JSON list")
    def test_kitchen_note_stored_before_the_check_is_not_applied_on_19(self):
        # A log may hold a note the server took before it checked notes: applied, it would
        # blank every 19 terminal showing the order. The order keeps the note it has.
        allergy, first = self.kitchen_note("allergy: nuts"), self.kitchen_note("first")
        order_note = self.order_set("internal_note", allergy)
        self.push(
            self.change(self.order, order_note, self.line_add("l1", self.coke, internal_note=first))
        )
        with patch.object(Scope, "_kitchen_note_refusal", return_value=None):
            self.push(
                self.change(
                    self.order,
                    self.order_set("internal_note", "No ice please"),
                    self.line_set("l1", "internal_note", '[{"text": "x"}]'),
                    self.line_set("l1", "qty", 3),
                    self.line_add("l2", self.burger, internal_note="Well done"),
                    at=10,
                )
            )
        order = self.pos_order(self.order)
        self.assertEqual(order.internal_note, allergy)
        lines = self.lines_by_uuid(order)
        self.assertEqual((lines["l1"].note, lines["l1"].qty), (first, 3), "the rest applied")
        self.assertFalse(lines["l2"].note)

    def test_two_waiters_adding_at_once_both_keep_their_lines(self):
        # odoo/odoo#138664: one waiter's lines vanished when the other saved.
        a = self.change(self.order, self.line_add("la", self.coke), terminal="A", at=10)
        b = self.change(self.order, self.line_add("lb", self.burger), terminal="B", at=10)
        self.push(b)
        self.push(a)
        self.assertEqual(set(self.lines_by_uuid(self.pos_order(self.order))), {"la", "lb"})

    def test_a_quantity_raised_while_another_adds_a_line_survives_in_any_order(self):
        # The lost update measured on native 18 and 19 (field notes).
        for arrival in ("add first", "raise first"):
            with self.subTest(arrival):
                order_uuid = self.new_uuid()
                self.push(self.change(order_uuid, self.line_add("l1", self.coke), at=0))
                add = self.change(order_uuid, self.line_add("l2", self.burger), terminal="A", at=10)
                raise_qty = self.change(
                    order_uuid, self.line_set("l1", "qty", 2), terminal="B", at=11
                )
                self.push(*((add, raise_qty) if arrival == "add first" else (raise_qty, add)))
                lines = self.lines_by_uuid(self.pos_order(order_uuid))
                self.assertEqual(set(lines), {"l1", "l2"})
                self.assertEqual(lines["l1"].qty, 2)

    def test_the_later_edit_of_one_field_wins_even_when_it_arrives_first(self):
        self.push(self.change(self.order, self.line_add("l1", self.coke)))
        later = self.change(self.order, self.line_set("l1", "price_unit", 4.0), terminal="A", at=20)
        earlier = self.change(
            self.order, self.line_set("l1", "price_unit", 2.0), terminal="B", at=10
        )
        self.push(later)
        self.push(earlier)
        line = self.pos_order(self.order).lines
        self.assertEqual(line.price_unit, 4.0)
        self.assertAlmostEqual(line.price_subtotal_incl, 4.0)

    def test_a_deleted_line_is_removed_and_never_comes_back(self):
        self.push(
            self.change(self.order, self.line_add("l1", self.coke), self.line_add("l2", self.coke))
        )
        self.push(self.change(self.order, {"op": "line.delete", "line": "l1"}, at=10))
        late_edit = self.change(self.order, self.line_set("l1", "qty", 5), terminal="B", at=5)
        self.push(late_edit)
        self.assertEqual(set(self.lines_by_uuid(self.pos_order(self.order))), {"l2"})

    def test_payment_lines_are_added_edited_and_removed(self):
        self.push(self.change(self.order, self.line_add("l1", self.burger)))
        add = {
            "op": "payment.add",
            "payment": "p1",
            "values": {"payment_method_id": self.cash_pm1.id, "amount": 4.0},
        }
        self.push(self.change(self.order, add, at=1))
        order = self.pos_order(self.order)
        self.assertEqual(order.payment_ids.uuid, "p1")
        self.assertEqual(order.amount_paid, 4.0)
        edit = {"op": "payment.set", "payment": "p1", "field": "amount", "value": 10.0}
        self.push(self.change(self.order, edit, at=2))
        self.assertEqual(order.payment_ids.amount, 10.0)
        self.push(self.change(self.order, {"op": "payment.remove", "payment": "p1"}, at=3))
        self.assertFalse(order.payment_ids)
        self.assertEqual(order.amount_paid, 0.0)

    def test_unknown_records_are_refused_and_nothing_is_applied(self):
        unknown = 987654321
        for op, what in (
            (self.order_set("partner_id", unknown), "partner"),
            (
                {"op": "line.add", "line": "l1", "values": {"product_id": unknown, "qty": 1}},
                "product",
            ),
            (
                {
                    "op": "payment.add",
                    "payment": "p1",
                    "values": {"payment_method_id": unknown, "amount": 1},
                },
                "payment method",
            ),
        ):
            ack = self.push(self.change(self.order, op))["acks"][0]
            self.assertEqual(ack["status"], "rejected")
            self.assertIn(f"{what} {unknown} is not available", ack["reason"])
        self.assertFalse(self.pos_order(self.order))

    def test_a_record_deleted_after_its_change_is_left_out_of_the_odoo_order(self):
        guest = self.env["res.partner"].create({"name": "Guest who left"})
        Log = self.env["pos_restaurant_sync.change"]
        Log._store_and_broadcast(
            self.config, [self.change(self.order, self.order_set("partner_id", guest.id))]
        )
        guest.unlink()  # before the Odoo order was made (19 forbids it after)
        self.push(self.change(self.order, self.line_add("l1", self.coke), at=5))
        order = self.pos_order(self.order)
        self.assertFalse(order.partner_id)
        self.assertEqual(order.lines.uuid, "l1")

    def test_a_cancel_from_a_terminal_cancels_the_odoo_order(self):
        self.push(self.change(self.order, self.line_add("l1", self.coke)))
        self.push(self.change(self.order, {"op": "order.close", "state": "cancel"}, at=10))
        self.assertEqual(self.pos_order(self.order).state, "cancel")
        self.commit_hooks()
        # The terminal's own close is in the log: the server adds none of its own.
        self.assertNotIn("server", self.log(self.order).mapped("terminal"))

    def test_a_merge_moves_the_lines_to_the_target_order(self):
        source, target = self.order, self.new_uuid()
        self.push(
            self.change(
                source, self.order_set("table_id", self.table.id), self.line_add("l1", self.coke)
            )
        )
        self.push(
            self.change(
                target,
                self.order_set("table_id", self.other_table.id),
                self.line_add("l1", self.coke),
                at=10,
            ),
            self.change(
                source,
                {"op": "line.delete", "line": "l1"},
                {"op": "order.close", "state": "cancel"},
                at=10,
            ),
        )
        self.assertEqual(self.pos_order(target).lines.uuid, "l1")
        self.assertEqual(self.pos_order(source).state, "cancel")
        self.assertFalse(self.pos_order(source).lines)

    def test_without_an_open_session_the_change_waits_in_the_log(self):
        self.pos_session.state = "closing_control"
        self.push(self.change(self.order, self.line_add("l1", self.coke)))
        self.assertFalse(self.pos_order(self.order))
        self.assertEqual(len(self.log(self.order)), 1)
