"""Tablet enrolment: a POS manager issues a one-time code; a tablet trades it for its set-up.

The manager creates an enrolment for one POS (Point of Sale > Configuration > Tablet
Enrolments, or Settings > Point of Sale > Restaurant > Enrol a tablet). Its form shows
the code, when it expires, the server's address, the fingerprint of the certificate
authority tablets must trust and a QR code of all of it (lib/enrolment_code.py). The
tablet sends the code to ``/pos_restaurant_sync/enroll`` (no login) and gets the
database, the POS and the authority's certificate. The device itself registers when the
waiter logs in on the tablet (``pos_restaurant_sync.device._possync_register``): a device
is always registered under a user who may run the POS.

The code is kept readable while it is valid, because the form shows it and its QR code
for as long as the manager walks from tablet to tablet; only POS managers of the POS's
company can read it, and they can issue codes anyway. It is erased at first use, at
cancellation and at expiry (the autovacuum); its SHA-256 stays, so a replayed or late
code gets its own clear error instead of "wrong".

Refusals are answers, not exceptions: the transaction commits with the refused attempt
counted (``pos_restaurant_sync.enrolment.attempt``), so a brute force runs into
``enrol_locked``: MAX_FAILURES_PER_ADDRESS wrong codes from one address, or
MAX_FAILURES_PER_DATABASE from all addresses, within FAILURE_WINDOW, lock enrolment
for that address (or everyone) until the window has passed. Nothing else changes.
"""

from __future__ import annotations

import base64
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.release import version_info

from ..lib import enrolment_code

DEFAULT_MINUTES = 15
MAX_MINUTES = 24 * 60
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ADDRESS = 10
MAX_FAILURES_PER_DATABASE = 100
MAX_ADDRESS_CHARS = 64


class EnrolmentRefused(Exception):
    """Why a code was refused: ``code`` for the tablet, ``message`` for its user;
    ``counts``: the attempt counts toward the lock (a guess, not a locked-out retry)."""

    def __init__(self, code: str, message: str, counts: bool = True) -> None:
        super().__init__(message)
        self.code, self.message, self.counts = code, message, counts


class PosRestaurantSyncEnrolment(models.Model):
    _name = "pos_restaurant_sync.enrolment"
    _description = "Real-time sync tablet enrolment"
    _order = "id desc"
    _rec_name = "config_id"

    config_id = fields.Many2one(
        "pos.config", string="Point of Sale", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="config_id.company_id", store=True, index=True)
    code = fields.Char(readonly=True, copy=False, help="Erased at first use and at expiry.")
    code_hash = fields.Char(readonly=True, copy=False, index=True)
    valid_minutes = fields.Integer(string="Valid For (minutes)", default=DEFAULT_MINUTES)
    expires_at = fields.Datetime(string="Expires", readonly=True, copy=False)
    used_at = fields.Datetime(string="Used", readonly=True, copy=False)
    used_from = fields.Char(readonly=True, copy=False)
    cancelled = fields.Boolean(readonly=True, copy=False)
    state = fields.Selection(
        [("valid", "Valid"), ("used", "Used"), ("expired", "Expired"), ("cancelled", "Cancelled")],
        compute="_compute_state",
    )
    server_url = fields.Char(string="Server Address", compute="_compute_enrolment_string")
    authority_sha256 = fields.Char(
        string="Certificate Authority SHA-256", compute="_compute_enrolment_string"
    )
    enrolment_string = fields.Char(string="Enrolment Text", compute="_compute_enrolment_string")
    qr_code = fields.Binary(string="QR Code", compute="_compute_qr_code", attachment=False)

    @api.constrains("valid_minutes")
    def _check_valid_minutes(self) -> None:
        for enrolment in self:
            if not 1 <= enrolment.valid_minutes <= MAX_MINUTES:
                raise ValidationError(
                    self.env._(
                        "An enrolment code is valid for 1 to %(max)s minutes.", max=MAX_MINUTES
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su and not self.env.user.has_group("point_of_sale.group_pos_manager"):
            raise AccessError(self.env._("Only a Point of Sale manager can enrol a tablet."))
        now = fields.Datetime.now()
        for vals in vals_list:
            code = enrolment_code.new_code()
            minutes = vals.get("valid_minutes") or DEFAULT_MINUTES
            vals.update(
                code=code,
                code_hash=enrolment_code.code_hash(code),
                expires_at=now + timedelta(minutes=minutes),
            )
            for set_by_use in ("used_at", "used_from", "cancelled"):
                vals.pop(set_by_use, None)
        return super().create(vals_list)

    @api.depends("expires_at", "used_at", "cancelled")
    def _compute_state(self) -> None:
        now = fields.Datetime.now()
        for enrolment in self:
            enrolment.state = enrolment._possync_state(now)

    def _possync_state(self, now) -> str:
        if self.used_at:
            return "used"
        if self.cancelled:
            return "cancelled"
        if not self.expires_at or self.expires_at <= now:
            return "expired"
        return "valid"

    @api.depends("code", "config_id", "company_id.possync_server_ca_pem")
    def _compute_enrolment_string(self) -> None:
        url = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        for enrolment in self:
            company = enrolment.company_id
            ca = company._possync_authority_sha256() if company else ""
            enrolment.server_url, enrolment.authority_sha256 = url, ca
            enrolment.enrolment_string = enrolment.code and enrolment_code.enrolment_string(
                url, self.env.cr.dbname, enrolment.code, ca
            )

    @api.depends("enrolment_string", "expires_at", "used_at", "cancelled")
    def _compute_qr_code(self) -> None:
        report = self.env["ir.actions.report"]
        for enrolment in self:
            text = enrolment.state == "valid" and enrolment.enrolment_string
            png = text and report.barcode("QR", text, width=300, height=300, barLevel="M")
            enrolment.qr_code = png and base64.b64encode(png)

    def action_cancel(self) -> None:
        """The form's Cancel button: the code stops working at once. Nobody writes these
        rows but the superuser (a written row could be re-armed, extended or moved to
        another company's POS): the button checks that the user may see them (a POS
        manager of their company), then writes as superuser."""
        self.check_access("read")
        valid = self.filtered(lambda e: e.state == "valid")
        valid.sudo().write({"cancelled": True, "code": False})

    @api.autovacuum
    def _gc_expired_codes(self) -> None:
        """Erase the codes that expired (their hash stays, for a clear answer)."""
        expired = self.sudo().search(
            [("code", "!=", False), ("expires_at", "<=", fields.Datetime.now())]
        )
        expired.write({"code": False})

    # --- what the public route does (as superuser) ----------------------------------------

    @api.model
    def _possync_claim(self, code: object, address: str) -> dict:
        """The set-up for the tablet that sent ``code`` from ``address``, or
        ``{"error": {"code", "message"}}`` with the attempt counted."""
        address = str(address or "?")[:MAX_ADDRESS_CHARS]
        attempts = self.env["pos_restaurant_sync.enrolment.attempt"].sudo()
        try:
            attempts._possync_check_lock(address)
            with self.env.cr.savepoint():
                return self._possync_take(code, address)._possync_answer()
        except EnrolmentRefused as refusal:
            if refusal.counts:
                attempts.create({"address": address})
            return {"error": {"code": refusal.code, "message": refusal.message}}

    @api.model
    def _possync_take(self, code: object, address: str) -> PosRestaurantSyncEnrolment:
        issued = enrolment_code.normalized(code)
        wrong = EnrolmentRefused(
            "enrol_code_wrong",
            self.env._("This enrolment code does not exist: check what was typed."),
        )
        if not issued:
            raise wrong
        enrolment = self.sudo().search(
            [("code_hash", "=", enrolment_code.code_hash(issued))], limit=1
        )
        if not enrolment:
            raise wrong
        # One tablet per code, even when two send it at the same moment.
        self.env.cr.execute(
            "SELECT id FROM pos_restaurant_sync_enrolment WHERE id = %s FOR UPDATE",
            (enrolment.id,),
        )
        enrolment.invalidate_recordset()
        enrolment._possync_check_usable()
        enrolment.write({"used_at": fields.Datetime.now(), "used_from": address, "code": False})
        return enrolment

    def _possync_check_usable(self) -> None:
        state = self._possync_state(fields.Datetime.now())
        if state == "used":
            raise EnrolmentRefused(
                "enrol_code_used",
                self.env._(
                    "This enrolment code was used already: each code enrols one tablet. "
                    "Ask the manager for a new one."
                ),
            )
        if state == "expired":
            raise EnrolmentRefused(
                "enrol_code_expired",
                self.env._("This enrolment code has expired. Ask the manager for a new one."),
            )
        if state == "cancelled" or not self.config_id.active:
            raise EnrolmentRefused(
                "enrol_code_cancelled",
                self.env._("This enrolment code was cancelled. Ask the manager for a new one."),
            )

    def _possync_answer(self) -> dict:
        self.ensure_one()
        return {
            "database": self.env.cr.dbname,
            "config_id": self.config_id.id,
            "config_name": self.config_id.name,
            "odoo_major": version_info[0],
            "server_url": self.server_url,
            "ca_pem": self.env["res.company"]._possync_authority_pem(self.authority_sha256),
        }


class PosRestaurantSyncEnrolmentAttempt(models.Model):
    """A refused enrolment code, counted toward the lock; kept one day."""

    _name = "pos_restaurant_sync.enrolment.attempt"
    _description = "Real-time sync refused enrolment code"
    _order = "id desc"

    address = fields.Char(readonly=True, index=True)

    @api.model
    def _possync_check_lock(self, address: str) -> None:
        recent = [("create_date", ">", fields.Datetime.now() - FAILURE_WINDOW)]
        limits = (
            (
                recent,
                MAX_FAILURES_PER_DATABASE,
                self.env._(
                    "Too many wrong enrolment codes were tried on this server: enrolment is "
                    "paused for up to 15 minutes."
                ),
            ),
            (
                [*recent, ("address", "=", address)],
                MAX_FAILURES_PER_ADDRESS,
                self.env._(
                    "Too many wrong enrolment codes from this address: wait 15 minutes, "
                    "then type the code again."
                ),
            ),
        )
        for domain, limit, message in limits:
            if self.search_count(domain, limit=limit) >= limit:
                raise EnrolmentRefused("enrol_locked", message, counts=False)

    @api.autovacuum
    def _gc_old_attempts(self) -> None:
        self.sudo().search(
            [("create_date", "<", fields.Datetime.now() - timedelta(days=1))]
        ).unlink()
