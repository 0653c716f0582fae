from __future__ import annotations

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..lib import enrolment_code


class ResCompany(models.Model):
    _inherit = "res.company"

    possync_server_ca_pem = fields.Text(
        string="Server Certificate Authority (PEM)",
        help="The PEM certificate(s) of the authority that signed this server's HTTPS "
        "certificate, when it is not publicly trusted (a self-signed or company "
        "certificate). Enrolled tablets trust it for this server only. Empty: a publicly "
        "trusted certificate.",
    )

    @api.constrains("possync_server_ca_pem")
    def _check_possync_server_ca_pem(self) -> None:
        for company in self:
            try:
                company._possync_authority_sha256()
            except ValueError as exc:
                raise ValidationError(
                    self.env._(
                        "The server certificate authority must be PEM certificates: %(error)s",
                        error=exc,
                    )
                ) from exc

    def _possync_authority_sha256(self) -> str:
        """The fingerprint enrolment QR codes carry (``ca=``); "" without an authority."""
        self.ensure_one()
        pem = (self.sudo().possync_server_ca_pem or "").strip()
        return enrolment_code.authority_sha256(pem) if pem else ""

    @api.model
    def _possync_authority_pem(self, sha256: object) -> str:
        """The authority PEM whose fingerprint is ``sha256``, or "" (what a tablet fetches
        before it sends its code, to check the server's certificate with it)."""
        if not isinstance(sha256, str) or len(sha256) != 64:
            return ""
        companies = self.sudo().search([("possync_server_ca_pem", "!=", False)])
        for company in companies:
            if company._possync_authority_sha256() == sha256.lower():
                return company.possync_server_ca_pem.strip() + "\n"
        return ""
