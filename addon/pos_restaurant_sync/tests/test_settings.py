from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .. import compat
from .common import PossyncCommon


@tagged("post_install", "-at_install")
class TestSettings(PossyncCommon):
    def test_a_new_pos_syncs_by_bus_every_500_ms_once_switched_on(self):
        config = self.env["pos.config"].create({"name": "Fresh POS"})
        self.assertFalse(config.possync_enabled)
        self.assertEqual(config.possync_mode, "bus")
        self.assertEqual(config.possync_interval_ms, 500)

    def test_an_interval_outside_300_to_1000_ms_is_refused_with_a_clear_message(self):
        for bad in (299, 1001, 0):
            with self.assertRaisesRegex(ValidationError, r"between 300 and 1000 ms, not"):
                self.config.write({"possync_interval_ms": bad})
        for good in (300, 1000):
            self.config.write({"possync_interval_ms": good})
            self.assertEqual(self.config.possync_interval_ms, good)

    def test_the_settings_page_writes_through_to_the_pos(self):
        settings = self.env["res.config.settings"].create(
            {
                "pos_config_id": self.config.id,
                "pos_possync_enabled": True,
                "pos_possync_mode": "interval",
                "pos_possync_interval_ms": 750,
            }
        )
        settings.execute()
        self.assertEqual(self.config.possync_mode, "interval")
        self.assertEqual(self.config.possync_interval_ms, 750)

    def test_kiosk_terminals_are_set_on_the_settings_page_and_told_to_the_app(self):
        # The desktop app reads it from /info at each start (docs/shell.md, "Kiosk").
        self.assertFalse(self.config.possync_kiosk)
        settings = self.env["res.config.settings"].create(
            {"pos_config_id": self.config.id, "pos_possync_kiosk": True}
        )
        settings.execute()
        self.assertTrue(self.config.possync_kiosk)
        self.assertIs(self.config._possync_info()["kiosk"], True)

    def test_the_settings_page_refuses_a_bad_interval(self):
        with self.assertRaisesRegex(ValidationError, r"between 300 and 1000 ms"):
            settings = self.env["res.config.settings"].create(
                {"pos_config_id": self.config.id, "pos_possync_interval_ms": 5000}
            )
            settings.execute()

    def test_the_settings_sit_in_the_restaurant_block(self):
        arch = self.env["res.config.settings"].get_views([(False, "form")])["views"]["form"]
        names = ("pos_possync_enabled", "pos_possync_mode", "pos_possync_interval_ms",
                 "pos_possync_kiosk")  # fmt: skip
        for name in names:
            self.assertIn(f'name="{name}"', arch["arch"])

    def test_the_pos_loads_the_sync_settings(self):
        waiter = self.new_user("possync_settings_waiter")
        loaded = compat.read_pos_config_data(self.config.with_user(waiter))
        self.assertTrue(loaded["possync_enabled"])
        self.assertEqual(loaded["possync_mode"], "bus")
        self.assertEqual(loaded["possync_interval_ms"], 500)
