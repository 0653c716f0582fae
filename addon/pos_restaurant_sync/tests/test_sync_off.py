"""A POS with Real-Time Sync off runs as Odoo alone would: none of the addon's overrides of
Odoo's own models changes what they do for it (the page's side: tests/realodoo)."""

from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from ..models.pos_config import POS_LOADED_FIELDS, PosConfig
from .common import PossyncCommon


def next_in_mro(model, ours: type, method: str) -> type:
    """The class after ``ours`` in ``model``'s inheritance that defines ``method``: what our
    override's ``super()`` reaches (Odoo's own, or another module's)."""
    mro = type(model).__mro__
    return next(cls for cls in mro[mro.index(ours) + 1 :] if method in vars(cls))


@tagged("post_install", "-at_install")
class TestSyncOff(PossyncCommon):
    def setUp(self):
        super().setUp()
        self.order = self.new_uuid()

    def switch_off(self) -> None:
        self.config.possync_enabled = False
        self.env.flush_all()

    def known_to_the_log(self):
        """An order pushed while sync was on: the log knows it. Stored, not applied: this
        transaction holds none of the order's locks yet."""
        self.env["pos_restaurant_sync.change"]._store_and_broadcast(
            self.config, [self.change(self.order, self.line_add("l1", self.coke))]
        )
        return self.env["pos_restaurant_sync.order"].search([("order_uuid", "=", self.order)])

    def sync_from_ui(self, draft: bool = False) -> None:
        """What the POS sends when the waiter pays, or leaves the table (``draft``)."""
        data = self.create_ui_order_data(
            [{"product": self.coke, "quantity": 1, "uuid": "l2"}], uuid=self.order
        )
        data["access_token"] = False  # the POS always sends the key
        if draft:
            data["state"] = "draft"
        self.env["pos.order"].sync_from_ui([data])
        self.env.cr.flush()  # the pre-commit hooks: a close would be logged here

    def test_an_explicit_field_list_of_a_pos_with_sync_off_is_left_as_odoo_gives_it(self):
        configs = self.env["pos.config"]
        below = next_in_mro(configs, PosConfig, "_load_pos_data_fields")
        explicit = ["name", "currency_id"]
        with patch.object(below, "_load_pos_data_fields", lambda self, config: list(explicit)):
            on = configs._load_pos_data_fields(self.config.id)  # 18 passes the id
            self.switch_off()
            for config in (self.config.id, self.config):  # 19 passes the record
                self.assertEqual(configs._load_pos_data_fields(config), explicit)
        self.assertEqual(on, explicit + POS_LOADED_FIELDS)

    def test_odoo_payment_of_an_order_the_log_knows_takes_no_lock_with_sync_off(self):
        order_row = self.known_to_the_log()
        self.switch_off()
        self.sync_from_ui()
        self.assertTrue(self.apply_lock_is_free(order_row))
        self.assertEqual(self.pos_order(self.order).state, "paid")
        self.assertEqual(len(self.log(self.order)), 1, "no close logged by the server")

    def test_a_push_stored_before_sync_was_switched_off_creates_no_order(self):
        # Odoo's own sync of it takes no lock now: the two would create it twice.
        self.known_to_the_log()
        self.switch_off()
        self.env["pos_restaurant_sync.change"]._apply_orders(self.config, {self.order})
        self.assertFalse(self.pos_order(self.order))

    def test_odoo_sync_of_a_new_order_takes_no_lock_with_sync_off(self):
        self.switch_off()
        self.sync_from_ui()
        self.assertTrue(self.uuid_lock_is_free(self.order))
        self.assertEqual(self.pos_order(self.order).state, "paid")

    def test_odoo_cancel_of_an_order_the_log_knows_takes_no_lock_with_sync_off(self):
        order_row = self.known_to_the_log()
        self.switch_off()
        self.sync_from_ui(draft=True)
        self.pos_order(self.order).action_pos_order_cancel()
        self.env.cr.flush()
        self.assertTrue(self.apply_lock_is_free(order_row))
        self.assertEqual(self.pos_order(self.order).state, "cancel")
        self.assertEqual(len(self.log(self.order)), 1, "no close logged by the server")

    def test_the_cron_leaves_the_orders_of_a_pos_with_sync_off_alone(self):
        order_model = type(self.env["pos.order"])
        with patch.object(order_model, "_possync_apply", side_effect=ValueError("boom")):
            self.push(self.change(self.order, self.line_add("l1", self.coke)))
        self.switch_off()
        self.env.cr.execute(
            "UPDATE pos_restaurant_sync_order SET write_date = %s WHERE order_uuid = %s",
            (fields.Datetime.now() - timedelta(minutes=1), self.order),
        )
        with patch.object(order_model, "_possync_apply", autospec=True) as apply:
            self.env["pos_restaurant_sync.change"]._apply_pending(grace=timedelta(0))
        apply.assert_not_called()
        self.assertFalse(self.pos_order(self.order))
