from odoo import models


class ResUsers(models.Model):
    _inherit = "res.users"

    def write(self, vals):
        result = super().write(vals)
        if "active" in vals and not vals["active"]:
            # An archived user (an ex-waiter) keeps no tablet able to sign peer traffic.
            self.env["pos_restaurant_sync.device"].sudo()._possync_revoke_users(self)
        return result
