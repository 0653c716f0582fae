import base64
import json
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, tagged

from ..lib import enrolment_code
from ..models.pos_restaurant_sync_enrolment import (
    MAX_FAILURES_PER_ADDRESS,
    MAX_FAILURES_PER_DATABASE,
)
from .common import PossyncCommon

ENROLMENT_MODULE = "odoo.addons.pos_restaurant_sync.models.pos_restaurant_sync_enrolment"
TABLET = "192.0.2.10"
ATTACKER = "198.51.100.66"


def self_signed_pem() -> str:
    """A throwaway authority certificate, made the way a restaurant's openssl one-liner is."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Restaurant CA")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


@tagged("post_install", "-at_install")
class TestEnrolment(PossyncCommon):
    """Tablet enrolment codes: who issues them, what a code gives, and every refusal."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = cls.new_user("possync_enrol_manager", "manager")
        cls.waiter = cls.new_user("possync_enrol_waiter")
        cls.elsewhere = cls.env["res.company"].create({"name": "Another Enrolment Restaurant"})
        cls.other_manager = cls.new_user("possync_enrol_manager2", "manager", company=cls.elsewhere)
        cls.Enrolment = cls.env["pos_restaurant_sync.enrolment"]
        cls.Attempt = cls.env["pos_restaurant_sync.enrolment.attempt"].sudo()

    def issue(self, user=None, config=None, **values):
        Enrolment = self.Enrolment.with_user(user or self.manager)
        return Enrolment.create({"config_id": (config or self.config).id, **values})

    def claim(self, code, address=TABLET) -> dict:
        return self.Enrolment.sudo()._possync_claim(code, address)

    def refusal(self, code, address=TABLET) -> str:
        answer = self.claim(code, address)
        self.assertEqual(set(answer), {"error"}, answer)
        self.assertTrue(answer["error"]["message"])
        return answer["error"]["code"]

    def snapshot(self, enrolment) -> dict:
        enrolment.invalidate_recordset()
        return enrolment.sudo().read(["code", "code_hash", "used_at", "used_from", "cancelled"])[0]

    # --- issuing ----------------------------------------------------------------------

    def test_a_manager_gets_a_short_code_its_qr_code_and_the_enrolment_text(self):
        enrolment = self.issue()
        self.assertRegex(enrolment.code, r"^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}$")
        self.assertEqual(enrolment.code_hash, enrolment_code.code_hash(enrolment.code))
        minutes = (enrolment.expires_at - fields.Datetime.now()).total_seconds() / 60
        self.assertTrue(14 <= minutes <= 15, minutes)
        self.assertEqual(enrolment.state, "valid")
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url")
        self.assertEqual(enrolment.server_url, base)
        self.assertEqual(
            enrolment.enrolment_string,
            enrolment_code.enrolment_string(base, self.env.cr.dbname, enrolment.code),
        )
        self.assertTrue(base64.b64decode(enrolment.qr_code).startswith(b"\x89PNG"))

    def test_the_company_authority_goes_into_the_qr_code_as_its_fingerprint(self):
        pem = self_signed_pem()
        self.config.company_id.possync_server_ca_pem = pem
        enrolment = self.issue()
        fingerprint = enrolment_code.authority_sha256(pem)
        self.assertEqual(enrolment.authority_sha256, fingerprint)
        self.assertTrue(enrolment.enrolment_string.endswith(f"&ca={fingerprint}"))
        self.assertEqual(self.claim(enrolment.code)["ca_pem"].strip(), pem.strip())

    def test_a_malformed_authority_is_refused(self):
        with self.assertRaises(ValidationError):
            self.config.company_id.possync_server_ca_pem = "not a certificate"

    def test_a_waiter_cannot_issue_a_code(self):
        with self.assertRaises(AccessError):
            self.issue(user=self.waiter)

    def test_a_manager_cannot_issue_a_code_for_another_companys_pos(self):
        with self.assertRaises(AccessError):
            self.issue(user=self.other_manager)

    def test_a_manager_cannot_read_another_companys_codes(self):
        enrolment = self.issue()
        seen = self.Enrolment.with_user(self.other_manager).search([("id", "=", enrolment.id)])
        self.assertFalse(seen)
        with self.assertRaises(AccessError):
            enrolment.with_user(self.other_manager).read(["code"])

    def test_a_manager_cannot_rearm_extend_or_move_a_code(self):
        enrolment = self.issue()
        self.claim(enrolment.code)
        before = self.snapshot(enrolment)
        far = fields.Datetime.now() + timedelta(days=365)
        other_pos = self.env["pos.config"].sudo().search([("id", "!=", self.config.id)], limit=1)
        for values in (
            {"used_at": False, "expires_at": far},
            {"cancelled": False, "valid_minutes": 60},
            {"config_id": (other_pos or self.config).id},
        ):
            with self.subTest(values=values), self.assertRaises(AccessError):
                enrolment.with_user(self.manager).write(values)
        self.assertEqual(self.snapshot(enrolment), before)
        self.assertEqual(enrolment.state, "used")

    def test_a_manager_of_another_company_cannot_cancel_a_code(self):
        enrolment = self.issue()
        with self.assertRaises(AccessError):
            enrolment.with_user(self.other_manager).action_cancel()
        with self.assertRaises(AccessError):
            enrolment.with_user(self.waiter).action_cancel()
        self.assertEqual(enrolment.state, "valid")

    def test_a_validity_outside_one_minute_to_one_day_is_refused(self):
        for minutes in (-5, 24 * 60 + 1):
            with self.subTest(minutes=minutes), self.assertRaises(ValidationError):
                self.issue(valid_minutes=minutes)

    # --- claiming ---------------------------------------------------------------------

    def test_a_valid_code_answers_the_database_and_the_pos_once(self):
        enrolment = self.issue()
        code = enrolment.code
        answer = self.claim(code.lower().replace("-", " "))  # typed loosely
        self.assertEqual(
            answer,
            {
                "database": self.env.cr.dbname,
                "config_id": self.config.id,
                "config_name": self.config.name,
                "odoo_major": answer["odoo_major"],
                "server_url": enrolment.server_url,
                "ca_pem": "",
            },
        )
        self.assertIn(answer["odoo_major"], (18, 19))
        enrolment.invalidate_recordset()
        self.assertEqual(
            (enrolment.state, enrolment.code, enrolment.used_from), ("used", False, TABLET)
        )
        self.assertFalse(enrolment.qr_code)

    def test_a_replayed_code_is_refused_as_used_and_nothing_changes(self):
        enrolment = self.issue()
        code = enrolment.code
        self.claim(code)
        before = self.snapshot(enrolment)
        self.assertEqual(self.refusal(code, ATTACKER), "enrol_code_used")
        self.assertEqual(self.snapshot(enrolment), before)

    def test_an_expired_code_is_refused_and_nothing_changes(self):
        enrolment = self.issue()
        code = enrolment.code
        enrolment.sudo().expires_at = fields.Datetime.now() - timedelta(seconds=1)
        before = self.snapshot(enrolment)
        self.assertEqual(self.refusal(code), "enrol_code_expired")
        self.assertEqual(self.snapshot(enrolment), before)
        # The autovacuum erases expired codes; the answer stays "expired", not "wrong".
        self.Enrolment._gc_expired_codes()
        self.assertFalse(self.snapshot(enrolment)["code"])
        self.assertEqual(self.refusal(code), "enrol_code_expired")

    def test_a_cancelled_code_is_refused(self):
        enrolment = self.issue()
        code = enrolment.code
        enrolment.with_user(self.manager).action_cancel()
        self.assertEqual(self.refusal(code), "enrol_code_cancelled")
        self.assertFalse(self.snapshot(enrolment)["used_at"])

    def test_a_guessed_code_is_refused_as_wrong_and_counted(self):
        enrolment = self.issue()
        before = self.snapshot(enrolment)
        for guess in ("AAAA-AAAA", "not a code", None, 12345678, "X" * 500):
            with self.subTest(guess=guess):
                self.assertEqual(self.refusal(guess, ATTACKER), "enrol_code_wrong")
        self.assertEqual(self.snapshot(enrolment), before)
        self.assertEqual(self.Attempt.search_count([("address", "=", ATTACKER)]), 5)

    def test_a_code_of_another_database_is_wrong_here(self):
        # Issued elsewhere: well formed, but no enrolment of this database has its hash.
        self.assertEqual(self.refusal(enrolment_code.new_code()), "enrol_code_wrong")

    def test_a_brute_force_from_one_address_is_locked_out_even_with_the_right_code(self):
        enrolment = self.issue()
        for _ in range(MAX_FAILURES_PER_ADDRESS):
            self.assertEqual(self.refusal(enrolment_code.new_code(), ATTACKER), "enrol_code_wrong")
        self.assertEqual(self.refusal(enrolment.code, ATTACKER), "enrol_locked")
        # Locked-out tries are not stored (a flood cannot grow the table), the code still
        # works, and another address (the real tablet) is not locked out.
        self.assertEqual(self.Attempt.search_count([]), MAX_FAILURES_PER_ADDRESS)
        self.assertEqual(self.snapshot(enrolment)["used_at"], False)
        self.assertEqual(self.claim(enrolment.code)["config_id"], self.config.id)

    def test_a_brute_force_from_many_addresses_pauses_enrolment_for_everyone(self):
        enrolment = self.issue()
        self.Attempt.create(
            [{"address": f"203.0.113.{n % 250}"} for n in range(MAX_FAILURES_PER_DATABASE)]
        )
        self.assertEqual(self.refusal(enrolment.code), "enrol_locked")
        # Once the window has passed, the code works again.
        later = fields.Datetime.now() + timedelta(minutes=16)
        with patch(f"{ENROLMENT_MODULE}.fields.Datetime.now", return_value=later):
            enrolment.sudo().expires_at = later + timedelta(minutes=1)
            self.assertEqual(self.claim(enrolment.code)["config_id"], self.config.id)

    def test_a_code_races_once(self):
        # Two tablets with one code: the second finds it used (the row is locked first).
        enrolment = self.issue()
        code = enrolment.code
        self.assertIn("database", self.claim(code))
        self.assertEqual(self.refusal(code), "enrol_code_used")

    def test_the_authority_is_given_only_for_its_fingerprint(self):
        pem = self_signed_pem()
        self.config.company_id.possync_server_ca_pem = pem
        Company = self.env["res.company"]
        self.assertEqual(
            Company._possync_authority_pem(enrolment_code.authority_sha256(pem)).strip(),
            pem.strip(),
        )
        for other in ("0" * 64, "", None, ["x"], "a" * 10):
            self.assertEqual(Company._possync_authority_pem(other), "")


@tagged("post_install", "-at_install")
class TestEnrolmentRoute(PossyncCommon, HttpCase):
    """The public route, with no session at all."""

    def rpc(self, route: str, params: dict) -> dict:
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params})
        response = self.url_open(
            f"/pos_restaurant_sync/{route}", data=body, headers={"Content-Type": "application/json"}
        )
        self.assertEqual(response.status_code, 200)
        return response.json()["result"]

    def test_a_tablet_without_a_login_trades_its_code_for_the_set_up(self):
        manager = self.new_user("possync_enrol_route_manager", "manager")
        enrolment = (
            self.env["pos_restaurant_sync.enrolment"]
            .with_user(manager)
            .create({"config_id": self.config.id})
        )
        code = enrolment.code
        answer = self.rpc("enroll", {"code": code})
        self.assertEqual(
            (answer["database"], answer["config_id"]), (self.env.cr.dbname, self.config.id)
        )
        self.assertEqual(self.rpc("enroll", {"code": code})["error"]["code"], "enrol_code_used")
        self.assertEqual(self.rpc("enroll", {})["error"]["code"], "enrol_code_wrong")
        self.assertEqual(self.rpc("enroll/authority", {"sha256": "0" * 64}), {"ca_pem": ""})
