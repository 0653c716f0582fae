from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    pos_possync_enabled = fields.Boolean(related="pos_config_id.possync_enabled", readonly=False)
    pos_possync_mode = fields.Selection(related="pos_config_id.possync_mode", readonly=False)
    pos_possync_interval_ms = fields.Integer(
        related="pos_config_id.possync_interval_ms", readonly=False
    )
    possync_server_ca_pem = fields.Text(related="company_id.possync_server_ca_pem", readonly=False)
    pos_possync_kiosk = fields.Boolean(related="pos_config_id.possync_kiosk", readonly=False)
