"""Attacks on the server's scope: what a POS user may put in a change of a POS.

Each refused change is answered ``rejected`` with its reason, and nothing of it is kept:
no payload in the log, nothing in a pull, nothing on the Odoo order.
"""

import json
from unittest import skipIf, skipUnless
from unittest.mock import patch

from odoo.exceptions import AccessError
from odoo.tests import tagged

from .. import compat
from ..models import pos_restaurant_sync_change as change_module
from ..models import pos_restaurant_sync_change_push as push_module
from .common import PossyncCommon


@tagged("post_install", "-at_install")
class TestSecurityScope(PossyncCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.waiter = cls.new_user("possync_scope_waiter")
        cls.manager = cls.new_user("possync_scope_manager", "manager")
        cls.elsewhere = cls.env["res.company"].create({"name": "Another Restaurant"})
        cooking = cls.env["product.attribute"].create(
            {
                "name": "Cooking",
                "create_variant": "no_variant",
                "value_ids": [(0, 0, {"name": "Rare"}), (0, 0, {"name": "Well done"})],
            }
        )
        cls.steak = cls.create_product("Steak", cls.categ_basic, 25.0)
        cls.fish = cls.create_product("Fish", cls.categ_basic, 18.0)
        for product in (cls.steak, cls.fish):
            cls.env["product.template.attribute.line"].create(
                {
                    "product_tmpl_id": product.product_tmpl_id.id,
                    "attribute_id": cooking.id,
                    "value_ids": [(6, 0, cooking.value_ids.ids)],
                }
            )

    def setUp(self):
        super().setUp()
        self.order = self.new_uuid()

    # --- helpers ------------------------------------------------------------------------

    def push_as(self, user, *changes):
        return self.push(*changes, env=self.env(user=user))["acks"]

    def assert_refused(self, ack, *words):
        self.assertEqual(ack["status"], "rejected", ack)
        for word in words:
            self.assertIn(word, ack["reason"])
        [row] = self.env["pos_restaurant_sync.change"].search([("change_id", "=", ack["id"])])
        self.assertEqual(row.status, "rejected")
        self.assertFalse(row.payload)
        self.assertNotIn(ack["id"], [e["change"]["id"] for e in self.pull()["changes"]])

    def values_of(self, product):
        return self.env["product.template.attribute.value"].search(
            [("product_tmpl_id", "=", product.product_tmpl_id.id)], order="id"
        )

    # --- linked records -----------------------------------------------------------------

    def test_other_company_partner_is_refused(self):
        stranger = self.env["res.partner"].create(
            {"name": "Customer of another company", "company_id": self.elsewhere.id}
        )
        change = self.change(
            self.order,
            self.line_add("l1", self.coke),
            self.order_set("partner_id", stranger.id),
        )
        [ack] = self.push_as(self.waiter, change)
        self.assert_refused(ack, "partner", str(stranger.id))
        self.assertFalse(self.pos_order(self.order))

    def test_other_company_partner_is_refused_even_to_a_user_of_both_companies(self):
        stranger = self.env["res.partner"].create(
            {"name": "Customer of another company", "company_id": self.elsewhere.id}
        )
        self.waiter.write({"company_ids": [(4, self.elsewhere.id)]})
        [ack] = self.push_as(
            self.waiter, self.change(self.order, self.order_set("partner_id", stranger.id))
        )
        self.assert_refused(ack, "partner")

    def test_a_shared_customer_is_accepted(self):
        [ack] = self.push_as(
            self.waiter, self.change(self.order, self.order_set("partner_id", self.customer.id))
        )
        self.assertEqual(ack["status"], "applied")
        self.assertEqual(self.pos_order(self.order).partner_id, self.customer)

    def test_product_not_available_in_pos_is_refused(self):
        hidden = self.create_product("Staff meal", self.categ_basic, 1.0)
        hidden.available_in_pos = False
        [ack] = self.push_as(self.waiter, self.change(self.order, self.line_add("l1", hidden)))
        self.assert_refused(ack, "product", str(hidden.id))
        self.assertFalse(self.pos_order(self.order))

    def test_product_outside_the_pos_categories_is_refused(self):
        drinks, food = self.env["pos.category"].create([{"name": "Drinks"}, {"name": "Food"}])
        self.coke.pos_categ_ids = drinks
        self.burger.pos_categ_ids = food
        # What the POS settings allow while a session is open (Odoo's own context key).
        self.config.with_context(bypass_categories_forbidden_change=True).write(
            {"limit_categories": True, "iface_available_categ_ids": drinks.ids}
        )
        acks = self.push_as(
            self.waiter,
            self.change(self.order, self.line_add("l1", self.coke)),
            self.change(self.order, self.line_add("l2", self.burger), at=1),
        )
        self.assertEqual(acks[0]["status"], "applied")
        self.assert_refused(acks[1], "product", str(self.burger.id))

    def test_product_of_another_company_is_refused(self):
        foreign = self.env["product.product"].create(
            {"name": "Their wine", "available_in_pos": True, "company_id": self.elsewhere.id}
        )
        [ack] = self.push_as(self.waiter, self.change(self.order, self.line_add("l1", foreign)))
        self.assert_refused(ack, "product")

    def test_a_line_moved_by_a_merge_keeps_a_product_that_left_the_menu(self):
        # Split and merge re-add the moved lines: a product sold earlier stays allowed.
        self.push_as(self.waiter, self.change(self.order, self.line_add("l1", self.burger)))
        self.burger.available_in_pos = False
        target = self.new_uuid()
        [ack] = self.push_as(self.waiter, self.change(target, self.line_add("l1", self.burger)))
        self.assertEqual(ack["status"], "applied")

    def test_a_price_change_of_a_line_whose_product_left_the_menu_is_accepted(self):
        self.push_as(self.waiter, self.change(self.order, self.line_add("l1", self.burger)))
        self.burger.available_in_pos = False
        [ack] = self.push_as(
            self.waiter, self.change(self.order, self.line_set("l1", "price_unit", 8.0), at=5)
        )
        self.assertEqual(ack["status"], "applied")
        self.assertEqual(self.pos_order(self.order).lines.price_unit, 8.0)

    def test_table_of_another_floor_is_refused(self):
        terrace = self.env["restaurant.floor"].create({"name": "Another POS's terrace"})
        table = self.env["restaurant.table"].create({"table_number": 901, "floor_id": terrace.id})
        [ack] = self.push_as(
            self.waiter, self.change(self.order, self.order_set("table_id", table.id))
        )
        self.assert_refused(ack, "table", str(table.id))
        [ack] = self.push_as(
            self.waiter, self.change(self.order, self.order_set("table_id", self.table.id))
        )
        self.assertEqual(ack["status"], "applied")

    def test_attribute_value_of_another_product_is_refused(self):
        fish_value = self.values_of(self.fish)[0]
        change = self.change(
            self.order, self.line_add("l1", self.steak, attribute_value_ids=[fish_value.id])
        )
        [ack] = self.push_as(self.waiter, change)
        self.assert_refused(ack, "attribute values", str(fish_value.id))
        self.assertFalse(self.pos_order(self.order))

    def test_attribute_value_of_another_product_is_refused_in_a_line_set(self):
        rare = self.values_of(self.steak)[0]
        self.push_as(
            self.waiter,
            self.change(self.order, self.line_add("l1", self.steak, attribute_value_ids=[rare.id])),
        )
        fish_value = self.values_of(self.fish)[1]
        [ack] = self.push_as(
            self.waiter,
            self.change(
                self.order, self.line_set("l1", "attribute_value_ids", [fish_value.id]), at=5
            ),
        )
        self.assert_refused(ack, "attribute values")
        self.assertEqual(self.pos_order(self.order).lines.attribute_value_ids, rare)

    def test_payment_method_of_another_pos_is_refused(self):
        foreign = self.other_currency_config.payment_method_ids - self.config.payment_method_ids
        self.assertTrue(foreign, "the other POS needs a payment method of its own")
        payment = {
            "op": "payment.add",
            "payment": "p1",
            "values": {"payment_method_id": foreign[0].id, "amount": 3.0},
        }
        change = self.change(self.order, self.line_add("l1", self.coke), payment)
        [ack] = self.push_as(self.waiter, change)
        self.assert_refused(ack, "payment method", str(foreign[0].id))
        self.assertFalse(self.pos_order(self.order))

    # --- prices -------------------------------------------------------------------------

    def test_price_change_refused_under_restrict_price_control(self):
        self.config.restrict_price_control = True
        add_cheap = self.change(self.order, self.line_add("l1", self.burger, price=0.01))
        [ack] = self.push_as(self.waiter, add_cheap)
        self.assert_refused(ack, "only a manager", "0.01")
        self.push_as(self.waiter, self.change(self.order, self.line_add("l1", self.burger), at=1))
        cheaper = self.change(self.order, self.line_set("l1", "price_unit", 1.0), at=2)
        [ack] = self.push_as(self.waiter, cheaper)
        self.assert_refused(ack, "only a manager")
        line = self.pos_order(self.order).lines
        self.assertEqual(line.price_unit, self.burger.lst_price)
        # A manager of the POS may, as on the POS's own screen.
        cheaper = self.change(self.order, self.line_set("l1", "price_unit", 1.0), at=3)
        [ack] = self.push_as(self.manager, cheaper)
        self.assertEqual(ack["status"], "applied")
        self.assertEqual(line.price_unit, 1.0)
        # Other edits of a line with a manager's price stay open to the waiter.
        [ack] = self.push_as(
            self.waiter, self.change(self.order, self.line_set("l1", "qty", 3), at=4)
        )
        self.assertEqual(ack["status"], "applied")

    def test_a_product_swapped_under_a_managers_price_is_refused(self):
        # The manager's price was for a coke; a waiter cannot move it onto a burger.
        self.config.restrict_price_control = True
        self.push_as(self.manager, self.change(self.order, self.line_add("l1", self.coke, price=1)))
        swap = self.change(self.order, self.line_set("l1", "product_id", self.burger.id), at=5)
        [ack] = self.push_as(self.waiter, swap)
        self.assert_refused(ack, "only a manager")
        self.assertEqual(self.pos_order(self.order).lines.product_id, self.coke)

    def test_a_price_set_that_arrives_before_its_line_add_is_admitted_under_restrict_price_control(
        self,
    ):
        # Two pushes in flight: the waiter's pricelist price overtakes the line's add.
        self.config.restrict_price_control = True
        self.use_half_price_pricelist()
        half = self.burger.lst_price / 2
        add = self.change(self.order, self.line_add("l1", self.burger), at=1)
        repriced = self.change(self.order, self.line_set("l1", "price_unit", half), at=2)
        [ack] = self.push_as(self.waiter, repriced)
        self.assertEqual(ack["status"], "applied")
        [ack] = self.push_as(self.waiter, add)
        self.assertEqual(ack["status"], "applied")
        self.assertEqual(self.pos_order(self.order).lines.price_unit, half)

    def test_a_forged_price_sent_before_its_line_add_is_refused_when_the_add_arrives(self):
        self.config.restrict_price_control = True
        forged = self.change(self.order, self.line_set("l1", "price_unit", 0.01), at=2)
        self.push_as(self.waiter, forged)
        [ack] = self.push_as(
            self.waiter, self.change(self.order, self.line_add("l1", self.burger), at=1)
        )
        self.assert_refused(ack, "only a manager", "0.01")
        # The add answers for every value the line shows, even the ones it does not decide.
        for ops in (
            [self.line_set("l2", "price_unit", 0.01)],
            [self.line_set("l2", "product_id", self.coke.id)],
        ):
            self.push_as(self.waiter, self.change(self.order, *ops, at=3))
        [ack] = self.push_as(
            self.waiter, self.change(self.order, self.line_add("l2", self.burger), at=1)
        )
        self.assert_refused(ack, "only a manager", "0.01")
        self.assertFalse(self.pos_order(self.order).lines)

    def use_half_price_pricelist(self):
        pricelist = self.env["product.pricelist"].create(
            {
                "name": "Happy hour",
                "item_ids": [
                    (
                        0,
                        0,
                        {
                            "applied_on": "3_global",
                            "compute_price": "percentage",
                            "percent_price": 50,
                        },
                    ),
                ],
            }
        )
        self.config.write({"use_pricelist": True, "available_pricelist_ids": [(4, pricelist.id)]})

    def test_a_pricelist_price_is_a_pos_price_under_restrict_price_control(self):
        self.config.restrict_price_control = True
        self.use_half_price_pricelist()
        [ack] = self.push_as(
            self.waiter, self.change(self.order, self.line_add("l1", self.burger, price=5.0))
        )
        self.assertEqual(ack["status"], "applied")

    def test_prices_are_free_without_restrict_price_control(self):
        self.config.restrict_price_control = False
        [ack] = self.push_as(
            self.waiter, self.change(self.order, self.line_add("l1", self.burger, price=0.01))
        )
        self.assertEqual(ack["status"], "applied")

    # --- kitchen notes ------------------------------------------------------------------

    @skipUnless(compat.KITCHEN_NOTES_AS_JSON, "19 keeps kitchen notes as a JSON list")
    def test_plain_text_kitchen_note_on_19_is_rejected(self):
        # 19's order display JSON.parses the note: plain text blanks every 19 terminal
        # showing the order, sync on or off.
        self.push_as(self.waiter, self.change(self.order, self.line_add("l1", self.coke)))
        acks = self.push_as(
            self.waiter,
            self.change(self.order, self.order_set("internal_note", "No ice please"), at=10),
            self.change(self.order, self.line_add("l2", self.coke, internal_note="Ice"), at=20),
            self.change(self.order, self.line_set("l1", "internal_note", "No ice"), at=30),
        )
        self.assert_refused(acks[0], "kitchen note of the order", "not JSON")
        self.assert_refused(acks[1], "kitchen note of line l2")
        self.assert_refused(acks[2], "kitchen note of line l1")
        order = self.pos_order(self.order)
        self.assertFalse(order.internal_note)
        self.assertEqual(set(self.lines_by_uuid(order)), {"l1"})
        self.assertFalse(order.lines.note)

    @skipUnless(compat.KITCHEN_NOTES_AS_JSON, "19 keeps kitchen notes as a JSON list")
    def test_forged_kitchen_note_list_on_19_is_rejected(self):
        # An extra key would reach 19's tag list as it is (an "img" is drawn as an image).
        forged = [
            json.dumps([{"text": "x", "colorIndex": 0, "img": "https://evil.example/p.png"}]),
            json.dumps(["No ice"]),
            json.dumps({"text": "x", "colorIndex": 0}),
            json.dumps([{"text": "x", "colorIndex": "0"}]),
        ]
        acks = self.push_as(
            self.waiter,
            *[
                self.change(self.order, self.order_set("internal_note", note), at=i)
                for i, note in enumerate(forged)
            ],
        )
        for ack in acks:
            self.assert_refused(ack, "kitchen note of the order")
        self.assertFalse(self.pos_order(self.order))

    @skipUnless(compat.KITCHEN_NOTES_AS_JSON, "19 keeps kitchen notes as a JSON list")
    def test_kitchen_notes_as_odoo_19_writes_them_are_accepted(self):
        notes = json.dumps([{"text": "No ice", "colorIndex": 0}, {"text": "Wait", "colorIndex": 3}])
        acks = self.push_as(
            self.waiter,
            self.change(self.order, self.order_set("internal_note", notes)),
            self.change(self.order, self.line_add("l1", self.coke, internal_note=notes), at=1),
            self.change(self.order, self.line_add("l2", self.coke, internal_note=""), at=2),
            # 19's note button leaves "[]" on a line whose notes were all cleared.
            self.change(self.order, self.line_set("l1", "internal_note", "[]"), at=3),
            self.change(self.order, self.order_set("internal_note", ""), at=4),
        )
        self.assertEqual([ack["status"] for ack in acks], ["applied"] * 5)
        order = self.pos_order(self.order)
        self.assertFalse(order.internal_note)
        self.assertEqual(self.lines_by_uuid(order)["l1"].note, "[]")

    @skipIf(compat.KITCHEN_NOTES_AS_JSON, "18 keeps kitchen notes as plain text")
    def test_plain_text_kitchen_note_on_18_is_accepted(self):
        acks = self.push_as(
            self.waiter,
            self.change(self.order, self.order_set("internal_note", "No ice please")),
            self.change(self.order, self.line_add("l1", self.coke, internal_note="[ice"), at=1),
        )
        self.assertEqual([ack["status"] for ack in acks], ["applied"] * 2)
        order = self.pos_order(self.order)
        self.assertEqual((order.general_note, order.lines.note), ("No ice please", "[ice"))

    # --- change ids ---------------------------------------------------------------------

    def test_same_change_id_with_other_payload_is_refused(self):
        first = self.change(self.order, self.line_add("l1", self.coke))
        self.assertEqual(self.push(first)["acks"][0]["status"], "applied")
        forged = {**first, "ops": [self.line_add("l1", self.burger, qty=9)]}
        [ack] = self.push(forged)["acks"]
        self.assertEqual(ack["status"], "rejected")
        self.assertIn("already used with another content", ack["reason"])
        self.assertEqual(self.pos_order(self.order).lines.product_id, self.coke)
        # The same change again is still a duplicate; 3.0 and 3 are one JSON number.
        self.assertEqual(self.push(first)["acks"][0]["status"], "duplicate")
        same = json.loads(json.dumps(first).replace('"qty": 1', '"qty": 1.0'))
        self.assertEqual(self.push(same)["acks"][0]["status"], "duplicate")

    def test_same_change_id_twice_in_one_push_with_other_payloads(self):
        first = self.change(self.order, self.line_add("l1", self.coke))
        forged = {**first, "ops": [self.line_add("l1", self.burger)]}
        acks = self.push(first, forged)["acks"]
        self.assertEqual([a["status"] for a in acks], ["applied", "rejected"])
        self.assertIn("another content", acks[1]["reason"])

    def test_change_id_of_another_pos_does_not_collide(self):
        mine = self.change(self.order, self.line_add("l1", self.coke), change_id="shared-id")
        other = self.other_currency_config
        other.possync_enabled = True
        theirs = self.change(self.new_uuid(), self.line_add("x1", self.coke), change_id="shared-id")
        Log = self.env["pos_restaurant_sync.change"]
        [their_ack] = self.push(theirs, config=other)["acks"]
        self.assertEqual(their_ack["status"], "applied")
        # The first POS to use an id does not own it for the others, nor the reverse.
        self.assertEqual(self.push(mine)["acks"][0]["status"], "applied")
        self.assertEqual(self.pos_order(self.order).lines.uuid, "l1")
        self.assertEqual(len(Log.search([("change_id", "=", "shared-id")])), 2)

    def test_an_update_replaces_the_global_change_id_index(self):
        # A database from before the per-POS key still has the global index: -u drops it.
        cr = self.env.cr
        cr.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS pos_restaurant_sync_change_change_id_uniq "
            "ON pos_restaurant_sync_change (change_id)"
        )
        self.push(self.change(self.order, self.line_add("l1", self.coke)))
        self.env.flush_all()
        cr.execute("UPDATE pos_restaurant_sync_change SET payload_hash = NULL")
        self.env["pos_restaurant_sync.change"].init()
        cr.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'pos_restaurant_sync_change' "
            "AND indexname LIKE '%%uniq'"
        )
        names = {row[0] for row in cr.fetchall()}
        self.assertEqual(names, {"pos_restaurant_sync_change_config_change_uniq"})
        self.env["pos_restaurant_sync.change"].invalidate_model()
        self.assertTrue(self.log(self.order).payload_hash)

    # --- caps ---------------------------------------------------------------------------

    def test_too_many_lines_in_an_order_is_refused(self):
        with patch.object(push_module, "MAX_ITEMS_PER_ORDER", 3):
            lines = [self.line_add(f"l{i}", self.coke) for i in range(3)]
            self.assertEqual(
                self.push(self.change(self.order, *lines))["acks"][0]["status"], "applied"
            )
            # A deleted line still counts: every replica keeps its tombstone.
            deleted = self.change(self.order, {"op": "line.delete", "line": "l0"}, at=1)
            self.assertEqual(self.push(deleted)["acks"][0]["status"], "applied")
            [ack] = self.push(self.change(self.order, self.line_add("l9", self.coke), at=2))["acks"]
        self.assert_refused(ack, "too_large", "lines")
        self.assertEqual(len(self.pos_order(self.order).lines), 2)

    def test_too_many_changes_for_an_order_is_refused(self):
        with patch.object(push_module, "MAX_CHANGES_PER_ORDER", 2):
            acks = self.push(
                *[self.change(self.order, self.line_set("l1", "qty", i), at=i) for i in (1, 2, 3)]
            )["acks"]
        self.assertEqual([a["status"] for a in acks], ["applied", "applied", "rejected"])
        self.assertIn("too_large", acks[2]["reason"])

    def test_pull_answer_is_capped_in_bytes(self):
        note = "x" * 1500
        changes = [
            self.change(self.order, self.line_add(f"l{i}", self.coke, customer_note=note), at=i)
            for i in range(6)
        ]
        self.push(*changes)
        start = self.log(self.order)[0].id - 1
        size = len(self.log(self.order)[0].payload) + change_module.PULL_ENTRY_OVERHEAD
        with patch.object(change_module, "MAX_PULL_BYTES", size * 2 + 10):
            page = self.pull(after=start)
            self.assertEqual([e["change"] for e in page["changes"]], changes[:2])
            self.assertTrue(page["more"])
            rest, seen = page, list(page["changes"])
            while rest["more"]:
                rest = self.pull(after=rest["cursor"])
                seen += rest["changes"]
        self.assertEqual([e["change"] for e in seen], changes)

    def test_one_change_larger_than_the_byte_cap_is_still_pulled(self):
        self.push(self.change(self.order, self.line_add("l1", self.coke, customer_note="x" * 900)))
        with patch.object(change_module, "MAX_PULL_BYTES", 100):
            page = self.pull()
        self.assertEqual(len(page["changes"]), 1)

    # --- company rules ------------------------------------------------------------------

    def test_user_of_another_company_cannot_read_the_log(self):
        self.push(self.change(self.order, self.line_add("l1", self.coke)))
        stranger = self.new_user("possync_scope_stranger", "manager", company=self.elsewhere)
        Log = self.env["pos_restaurant_sync.change"]
        Orders = self.env["pos_restaurant_sync.order"]
        self.assertFalse(Log.with_user(stranger).search([("order_uuid", "=", self.order)]))
        self.assertFalse(Orders.with_user(stranger).search([("order_uuid", "=", self.order)]))
        with self.assertRaises(AccessError):
            self.log(self.order).with_user(stranger).read(["payload"])
        # A manager of the POS's own company reads it.
        self.assertTrue(Log.with_user(self.manager).search([("order_uuid", "=", self.order)]))

    # --- the merged state -----------------------------------------------------------------

    def test_a_push_reads_no_log(self):
        self.push(self.change(self.order, self.line_add("l1", self.coke)))
        Log = type(self.env["pos_restaurant_sync.change"])
        with patch.object(Log, "_order_records", side_effect=AssertionError("log read")):
            self.push(self.change(self.order, self.line_set("l1", "qty", 4), at=5))
        self.assertEqual(self.pos_order(self.order).lines.qty, 4)

    def test_a_late_close_sorting_before_edits_is_merged_from_the_log(self):
        self.push(
            self.change(self.order, self.line_add("l1", self.coke), at=0),
            self.change(self.order, self.line_set("l1", "qty", 5), at=20),
        )
        close = self.change(self.order, {"op": "order.close", "state": "cancel"}, at=10)
        self.push(close)
        order_row = self.env["pos_restaurant_sync.order"].search([("order_uuid", "=", self.order)])
        state = json.loads(order_row.merged_state)
        self.assertEqual(state["state"], "cancel")
        # The qty set after the close is ignored, as protocol.materialize ignores it.
        self.assertEqual(state["line"]["l1"]["fields"]["qty"][1], 1)

    def test_an_order_saved_before_the_merged_state_is_made_from_its_log(self):
        self.push(self.change(self.order, self.line_add("l1", self.coke)))
        order_row = self.env["pos_restaurant_sync.order"].search([("order_uuid", "=", self.order)])
        order_row.sudo().write({"merged_state": False, "merged_seq": 0, "change_count": 0})
        self.push(self.change(self.order, self.line_add("l2", self.burger), at=5))
        self.assertEqual(set(self.lines_by_uuid(self.pos_order(self.order))), {"l1", "l2"})
        self.assertEqual(order_row.change_count, 2)
