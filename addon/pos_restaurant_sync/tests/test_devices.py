import base64
import hashlib
import os
from unittest.mock import patch

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged

from ..models.pos_restaurant_sync_change import SyncRequestError
from .common import PossyncCommon

DEVICE_MODULE = "odoo.addons.pos_restaurant_sync.models.pos_restaurant_sync_device"


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def certificate_hash() -> str:
    return hashlib.sha256(os.urandom(64)).hexdigest()


@tagged("post_install", "-at_install")
class TestDevices(PossyncCommon):
    """The device registry: what the routes do, revocation, and who sees it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.waiter = cls.new_user("possync_dev_waiter")
        cls.other_waiter = cls.new_user("possync_dev_waiter2")
        cls.manager = cls.new_user("possync_dev_manager", "manager")
        elsewhere = cls.env["res.company"].create({"name": "Another Device Restaurant"})
        cls.other_manager = cls.new_user("possync_dev_manager2", "manager", company=elsewhere)
        cls.Device = cls.env["pos_restaurant_sync.device"].sudo()

    def register(self, terminal="t1", key=None, cert=None, user=None):
        return self.Device._possync_register(
            self.config,
            user or self.waiter,
            terminal,
            key or new_key(),
            cert or certificate_hash(),
        )

    def listed(self) -> list[dict]:
        return self.Device._possync_active(self.config)

    def test_a_registered_device_is_listed_with_its_key_and_certificate(self):
        key, cert = new_key(), certificate_hash()
        device = self.register(key=key, cert=cert)
        self.assertEqual(
            self.listed(), [{"terminal": "t1", "public_key": key, "certificate_sha256": cert}]
        )
        self.assertEqual((device.user_id, device.company_id), (self.waiter, self.config.company_id))
        self.assertEqual(device.name, f"t1 ({self.waiter.name})")

    def test_registering_again_refreshes_the_same_device(self):
        key = new_key()
        first = self.register(key=key)
        first.last_seen = "2020-01-01 00:00:00"
        new_cert = certificate_hash()
        again = self.register(key=key, cert=new_cert, user=self.other_waiter)
        self.assertEqual(again, first)
        self.assertEqual(again.certificate_sha256, new_cert)
        self.assertEqual(again.user_id, self.other_waiter)
        self.assertGreater(again.last_seen.year, 2020)
        self.assertEqual(self.Device.search_count([("config_id", "=", self.config.id)]), 1)

    def test_a_revoked_device_cannot_register_again(self):
        key = new_key()
        device = self.register(key=key)
        device.with_user(self.manager).action_revoke()
        self.assertTrue(device.revoked and device.revoked_at)
        self.assertEqual(self.listed(), [])
        with self.assertRaises(SyncRequestError) as caught:
            self.register(key=key)
        self.assertEqual(caught.exception.code, "revoked")
        self.assertEqual(self.listed(), [])

    def test_a_new_key_for_a_terminal_revokes_its_old_key(self):
        old = self.register(key=new_key())
        new_key_value = new_key()
        new = self.register(key=new_key_value)
        self.assertNotEqual(new, old)
        self.assertTrue(old.revoked)
        self.assertFalse(new.revoked)
        self.assertEqual([d["public_key"] for d in self.listed()], [new_key_value])

    def test_other_terminals_keep_their_keys(self):
        self.register("t1")
        self.register("t2")
        self.assertEqual(sorted(d["terminal"] for d in self.listed()), ["t1", "t2"])

    def test_archiving_a_user_revokes_their_devices(self):
        user = self.new_user("possync_dev_leaver")
        leaving = self.register("t1", user=user)
        staying = self.register("t2")
        user.action_archive()
        self.assertTrue(leaving.revoked)
        self.assertFalse(staying.revoked)
        self.assertEqual([d["terminal"] for d in self.listed()], ["t2"])

    def test_a_user_who_lost_the_pos_hides_their_devices(self):
        user = self.new_user("possync_dev_moved")
        device = self.register(user=user)
        self.config.group_pos_user_id = self.env.ref("point_of_sale.group_pos_manager")
        self.assertEqual(self.listed(), [])
        self.config.group_pos_user_id = False
        self.assertEqual(len(self.listed()), 1)
        elsewhere = self.env["res.company"].create({"name": "Elsewhere"})
        user.write({"company_ids": [(6, 0, elsewhere.ids)], "company_id": elsewhere.id})
        self.assertEqual(self.listed(), [])
        self.assertFalse(device.revoked)

    def test_archiving_a_user_by_write_revokes_their_devices(self):
        user = self.new_user("possync_dev_leaver2")
        device = self.register(user=user)
        user.write({"active": False})
        self.assertTrue(device.revoked)

    def test_a_pos_full_of_devices_refuses_a_new_one_but_refreshes_a_known_one(self):
        with patch(f"{DEVICE_MODULE}.MAX_ACTIVE_DEVICES", 2):
            known = self.register("t1", key=(key := new_key()))
            self.register("t2")
            with self.assertRaises(SyncRequestError) as caught:
                self.register("t3")
            self.assertEqual(caught.exception.code, "too_many")
            self.assertEqual(self.register("t1", key=key), known)
            # A tablet that made a new key takes its old key's place.
            self.register("t2", key=new_key())

    def test_malformed_identities_are_refused(self):
        key, cert = new_key(), certificate_hash()
        padless = key.rstrip("=")
        urlsafe = base64.urlsafe_b64encode(b"\xff" * 32).decode()
        cases = {
            "bad base64": ("t1", "not base64!!", cert),
            "31 bytes": ("t1", base64.b64encode(b"k" * 31).decode(), cert),
            "33 bytes": ("t1", base64.b64encode(b"k" * 33).decode(), cert),
            "no padding": ("t1", padless, cert),
            "url-safe alphabet": ("t1", urlsafe, cert),
            "upper-case hex": ("t1", key, cert.upper()),
            "short hex": ("t1", key, cert[:-1]),
            "not hex": ("t1", key, "g" * 64),
            "empty terminal": ("", key, cert),
            "terminal with a space": ("t 1", key, cert),
            "long terminal": ("t" * 65, key, cert),
            "terminal not a string": (7, key, cert),
            "key not a string": ("t1", None, cert),
        }
        for case, (terminal, public_key, certificate) in cases.items():
            with self.subTest(case), self.assertRaises(SyncRequestError) as caught:
                self.Device._possync_register(
                    self.config, self.waiter, terminal, public_key, certificate
                )
            self.assertEqual(caught.exception.code, "bad_request", case)
        self.assertEqual(self.listed(), [])

    def test_the_model_refuses_a_malformed_key_written_directly(self):
        device = self.register()
        with self.assertRaises(ValidationError):
            device.public_key = "short"

    def test_waiters_have_no_access_to_the_device_model(self):
        device = self.register()
        with self.assertRaises(AccessError):
            self.env["pos_restaurant_sync.device"].with_user(self.waiter).search([])
        with self.assertRaises(AccessError):
            device.with_user(self.waiter).action_revoke()
        self.assertFalse(device.revoked)

    def test_a_manager_reads_and_revokes_but_cannot_create_or_edit(self):
        device = self.register()
        as_manager = self.env["pos_restaurant_sync.device"].with_user(self.manager)
        self.assertEqual(as_manager.search([]), device)
        with self.assertRaises(AccessError):
            as_manager.create(
                {
                    "config_id": self.config.id,
                    "user_id": self.manager.id,
                    "terminal": "t9",
                    "public_key": new_key(),
                    "certificate_sha256": certificate_hash(),
                }
            )
        with self.assertRaises(AccessError):
            device.with_user(self.manager).write({"revoked": False})
        device.with_user(self.manager).action_revoke()
        self.assertTrue(device.revoked)

    def test_a_manager_of_another_company_neither_sees_nor_revokes_the_device(self):
        device = self.register()
        as_stranger = self.env["pos_restaurant_sync.device"].with_user(self.other_manager)
        self.assertFalse(as_stranger.search([]))
        with self.assertRaises(AccessError):
            device.with_user(self.other_manager).action_revoke()
        self.assertFalse(device.revoked)
