from __future__ import annotations

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.modules.module import get_manifest

from .. import compat
from ..lib import app_version, protocol

INTERVAL_MIN_MS = 300
INTERVAL_MAX_MS = 1000

# What the POS page needs to start syncing.
POS_LOADED_FIELDS = ["possync_enabled", "possync_mode", "possync_interval_ms"]

# The bus: changes go to the record channel (config, BUS_SUBCHANNEL), which no client can
# name; a client asks for it with the string "possync:<config id>", which
# ir.websocket._build_bus_channel_list grants only to the users of that POS.
BUS_SUBCHANNEL = "possync"
BUS_CHANNEL_PREFIX = "possync:"
BUS_TYPE = "POSSYNC_CHANGES"


class PosConfig(models.Model):
    _inherit = "pos.config"

    possync_enabled = fields.Boolean(
        string="Real-Time Sync",
        help="Share every change of an open order with the other terminals as it happens.",
    )
    possync_mode = fields.Selection(
        [("bus", "Bus (push)"), ("interval", "Interval (polling)")],
        string="Sync Mode",
        default="bus",
        required=True,
        help="Bus: the server pushes each change over Odoo's websocket. "
        "Interval: terminals ask the server for new changes at a fixed interval.",
    )
    possync_interval_ms = fields.Integer(
        string="Polling Interval (ms)",
        default=500,
        help=f"How often terminals ask for changes in Interval mode "
        f"({INTERVAL_MIN_MS}-{INTERVAL_MAX_MS} ms).",
    )
    possync_kiosk = fields.Boolean(
        string="Kiosk Terminals",
        help="The possync desktop app runs this POS's terminals as kiosks from their next "
        "start: full screen, only the POS, Settings and Quit behind each tablet's manager PIN.",
    )
    # The newest log position pruned for this POS (pos_restaurant_sync.change._prune): a
    # pull from before it may have missed changes, and says so.
    possync_pruned_seq = fields.Integer(string="Sync Log Pruned Up To", readonly=True, copy=False)

    @api.constrains("possync_interval_ms")
    def _check_possync_interval_ms(self) -> None:
        for config in self:
            if not INTERVAL_MIN_MS <= config.possync_interval_ms <= INTERVAL_MAX_MS:
                raise ValidationError(
                    self.env._(
                        "Real-Time Sync: the polling interval of %(pos)s must be between "
                        "%(min)s and %(max)s ms, not %(value)s ms.",
                        pos=config.name,
                        min=INTERVAL_MIN_MS,
                        max=INTERVAL_MAX_MS,
                        value=config.possync_interval_ms,
                    )
                )

    @api.model
    def _load_pos_data_fields(self, config):
        loaded = super()._load_pos_data_fields(config)
        # An empty list means "every field" (18 and 19 alike): only an explicit list, from
        # some other module, needs ours added, and only for a POS with sync on (the page
        # reads a missing possync_enabled as off).
        if loaded and self._possync_enabled_for(config):
            loaded = loaded + [name for name in POS_LOADED_FIELDS if name not in loaded]
        return loaded

    def read_config_open_orders(self, domain, record_ids=None):
        """Odoo's re-read of the open orders, with the records a page holds that are gone
        found in one query a model: Odoo looks each one up with a query of its own, 100 a
        read on a floor of 100 open orders, and with sync on every page re-reads after each
        Odoo sync of another (pos/open_orders.js). Answers as Odoo does."""
        self.ensure_one()
        if not self.possync_enabled or not isinstance(domain, dict):
            return super().read_config_open_orders(domain, [] if record_ids is None else record_ids)
        held = record_ids if isinstance(record_ids, dict) else {}
        answer = super().read_config_open_orders(domain, {model: [] for model in domain})
        answer["deleted_record_ids"] = {
            model: self._possync_gone(model, held.get(model) or []) for model in domain
        }
        return answer

    def _possync_gone(self, model: str, ids: list) -> list:
        """Those of ``ids`` (records of ``model`` a page holds) that a page must drop: the
        deleted ones and, where Odoo drops them too, the cancelled orders."""
        existing = self.env[model].browse(ids).exists()
        gone = set(ids) - set(existing.ids)
        if model == "pos.order" and compat.REREAD_DROPS_CANCELLED:
            gone |= set(existing.filtered(lambda order: order.state == "cancel").ids)
        return [record_id for record_id in ids if record_id in gone]

    @api.model
    def _possync_enabled_for(self, config) -> bool:
        """Whether Real-Time Sync is on for ``config``: a pos.config (19) or its id (18)."""
        record = config if isinstance(config, models.BaseModel) else self.browse(config)
        return bool(record.sudo().possync_enabled)

    # --- the sync endpoints' view of a config ------------------------------------------

    @api.model
    def _possync_config_for_user(self, config_id: int) -> PosConfig:
        """The config if the current user may run its POS, else AccessError."""
        denied = AccessError(self.env._("You are not allowed to use this Point of Sale."))
        config = self.browse(config_id)
        user = self.env.user
        if not user._is_internal() or not config.exists():
            raise denied
        config.check_access("read")  # access rights and record rules (companies)
        group = config.sudo().group_pos_user_id
        if not config.active or (group and group not in compat.user_groups(user)):
            raise denied
        return config

    def _possync_info(self) -> dict:
        self.ensure_one()
        return {
            "addon_version": get_manifest("pos_restaurant_sync")["version"],
            "protocol": protocol.PROTOCOL_VERSION,
            "enabled": self.possync_enabled,
            "mode": self.possync_mode,
            "interval_ms": self.possync_interval_ms,
            "kiosk": self.possync_kiosk,
            "channel": f"{BUS_CHANNEL_PREFIX}{self.id}",
            "bus_type": BUS_TYPE,
            **self._possync_app_versions(),
        }

    @api.model
    def _possync_app_versions(self) -> dict[str, str]:
        """The desktop app versions this server works with: the addon's, raised by the
        administrator's system parameters (lib/app_version.py)."""
        parameters = self.env["ir.config_parameter"].sudo()
        return app_version.named(*(parameters.get_param(name) for name in app_version.PARAMETERS))

    def _possync_broadcast(self, entries: list[dict]) -> None:
        """Send stored changes ([{seq, change}]) to every terminal of this config, on the
        channel only its users may join (models/ir_websocket.py)."""
        self.ensure_one()
        if entries:
            self.env["bus.bus"]._sendone((self, BUS_SUBCHANNEL), BUS_TYPE, {"changes": entries})
