from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import PossyncCommon


@tagged("post_install", "-at_install")
class TestAccess(PossyncCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.waiter = cls.new_user("possync_waiter")
        cls.accountant = cls.new_user("possync_accountant", "employee")
        elsewhere = cls.env["res.company"].create({"name": "Another Restaurant"})
        cls.stranger = cls.new_user("possync_stranger", company=elsewhere)

    def config_as(self, user):
        return self.env["pos.config"].with_user(user)._possync_config_for_user(self.config.id)

    def test_a_pos_user_gets_the_config_and_can_push(self):
        self.assertEqual(self.config_as(self.waiter), self.config)
        order = self.new_uuid()
        result = self.push(
            self.change(order, self.line_add("l1", self.coke)), env=self.env(user=self.waiter)
        )
        self.assertEqual(result["acks"][0]["status"], "applied")
        self.assertEqual(self.pos_order(order).lines.uuid, "l1")

    def test_a_user_without_point_of_sale_rights_is_refused(self):
        with self.assertRaises(AccessError):
            self.config_as(self.accountant)

    def test_a_pos_user_of_another_company_is_refused(self):
        with self.assertRaises(AccessError):
            self.config_as(self.stranger)

    def test_an_unknown_or_archived_pos_is_refused(self):
        with self.assertRaises(AccessError):
            self.env["pos.config"].with_user(self.waiter)._possync_config_for_user(10**9)
        archived = self.other_currency_config  # no open session: it may be archived
        archived.active = False
        with self.assertRaises(AccessError):
            self.env["pos.config"].with_user(self.waiter)._possync_config_for_user(archived.id)

    def test_info_tells_the_protocol_mode_and_bus_channel(self):
        self.config.write({"possync_mode": "interval", "possync_interval_ms": 300})
        info = self.config_as(self.waiter)._possync_info()
        self.assertEqual(info["protocol"], 1)
        self.assertEqual(
            (info["enabled"], info["mode"], info["interval_ms"]), (True, "interval", 300)
        )
        self.assertEqual(info["channel"], f"possync:{self.config.id}")
        self.assertEqual(info["bus_type"], "POSSYNC_CHANGES")
        # The series, then the addon's own three numbers: what the desktop app compares.
        self.assertRegex(info["addon_version"], r"^1[89]\.0\.\d+\.\d+\.\d+$")

    def test_the_change_log_is_not_readable_by_waiters(self):
        self.push(self.change(self.new_uuid(), self.line_add("l1", self.coke)))
        with self.assertRaises(AccessError):
            self.env["pos_restaurant_sync.change"].with_user(self.waiter).search([])
