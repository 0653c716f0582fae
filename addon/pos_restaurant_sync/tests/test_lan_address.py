import json

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, tagged

from .common import PossyncCommon
from .test_devices import certificate_hash, new_key


@tagged("post_install", "-at_install")
class TestLanAddress(PossyncCommon, HttpCase):
    """A device's fixed LAN address: set by a POS manager of its company, checked, and
    listed to the tablets by `/pos_restaurant_sync/devices`."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.waiter = cls.new_user("possync_lan_waiter")
        cls.manager = cls.new_user("possync_lan_manager", "manager")
        elsewhere = cls.env["res.company"].create({"name": "Another LAN Restaurant"})
        cls.other_manager = cls.new_user("possync_lan_manager2", "manager", company=elsewhere)

    def setUp(self):
        super().setUp()
        self.device = (
            self.env["pos_restaurant_sync.device"]
            .sudo()
            ._possync_register(self.config, self.waiter, "t-lan", new_key(), certificate_hash())
        )

    def set_as(self, user, address):
        self.device.with_user(user).write({"lan_address": address})

    def listed(self) -> list[dict]:
        body = json.dumps(
            {"jsonrpc": "2.0", "method": "call", "id": 1, "params": {"config_id": self.config.id}}
        )
        response = self.url_open(
            "/pos_restaurant_sync/devices", data=body, headers={"Content-Type": "application/json"}
        )
        return response.json()["result"]["devices"]

    def test_a_manager_sets_a_fixed_address_and_the_tablets_are_told(self):
        self.authenticate("possync_lan_waiter", "possync_lan_waiter")
        self.assertNotIn("lan_address", self.listed()[0])  # none set: none listed
        self.set_as(self.manager, " 192.168.1.21:8766 ")
        self.assertEqual(self.device.lan_address, "192.168.1.21:8766")
        self.assertEqual(self.listed()[0]["lan_address"], "192.168.1.21:8766")
        self.set_as(self.manager, "fd00::21")
        self.assertEqual(self.listed()[0]["lan_address"], "[fd00::21]")
        self.set_as(self.manager, False)
        self.assertNotIn("lan_address", self.listed()[0])

    def test_host_names_and_loopback_are_accepted(self):
        # Loopback: one-machine demos and tests; the tablets' certificate check makes a
        # wrong address harmless (agent/peers.py).
        for address, stored in (("Tablet-2.local", "tablet-2.local"), ("127.0.0.1", "127.0.0.1")):
            self.set_as(self.manager, address)
            self.assertEqual(self.device.lan_address, stored)

    def test_forged_address_from_a_waiter_is_refused(self):
        with self.assertRaises(AccessError):
            self.set_as(self.waiter, "192.168.1.66")
        self.assertFalse(self.device.lan_address)

    def test_address_set_by_a_manager_of_another_company_is_refused(self):
        with self.assertRaises(AccessError):
            self.set_as(self.other_manager, "192.168.1.66")
        self.assertFalse(self.device.lan_address)

    def test_a_manager_changes_nothing_but_the_address(self):
        forged = {"lan_address": "192.168.1.21", "certificate_sha256": certificate_hash()}
        with self.assertRaises(AccessError):
            self.device.with_user(self.manager).write(forged)
        with self.assertRaises(AccessError):
            self.device.with_user(self.manager).write({"terminal": "t-other"})
        self.assertFalse(self.device.lan_address)
        self.assertEqual(self.device.terminal, "t-lan")

    def test_oversized_or_malformed_address_is_refused(self):
        for address in (
            "1" * 300,
            "https://192.168.1.21:8766",
            "user@192.168.1.21",
            "192.168.1.21/peer",
            "192.168.1.21 8766",
            "192.168.1.21:0",
            "192.168.1.21:65536",
            "192.168.1.21:port",
            "192.168.1",
            "tablet_2.local",
            "-tablet.local",
            "[fd00::1",
            "fe80::1%wlan0",
            "tablette-é.local",
        ):
            with self.assertRaises(ValidationError, msg=address):
                self.set_as(self.manager, address)
        self.assertFalse(self.device.lan_address)

    def test_address_pointing_at_a_public_or_broadcast_host_is_refused(self):
        # Likely the server's public address typed by mistake: the tablets share a LAN.
        for address in ("8.8.8.8", "203.0.113.7:8766", "0.0.0.0", "255.255.255.255", "ff02::1"):
            with self.assertRaises(ValidationError, msg=address):
                self.set_as(self.manager, address)
        self.assertFalse(self.device.lan_address)

    def test_a_badly_written_address_cannot_be_stored_by_the_server_either(self):
        with self.assertRaises(ValidationError):
            self.device.sudo().create(
                {
                    "config_id": self.config.id,
                    "user_id": self.waiter.id,
                    "terminal": "t-lan2",
                    "public_key": new_key(),
                    "certificate_sha256": certificate_hash(),
                    "lan_address": "HTTP://x",
                }
            )
