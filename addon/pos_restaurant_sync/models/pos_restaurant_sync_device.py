"""The tablets (devices) of each POS and the keys they sign their LAN traffic with.

A tablet's agent registers its Ed25519 public key and the SHA-256 of the TLS certificate
its peer port serves, under the Odoo login of the waiter on it. The other tablets of the
POS fetch the list of devices that are not revoked and accept peer traffic only from
those keys and certificates. A POS manager revokes a device in the backend; archiving a
user revokes every device they registered.

Where the Wi-Fi keeps the tablets apart or blocks mDNS, a POS manager sets a device's
fixed LAN address (`lan_address`, lib/lan_address.py); it is the only field anyone but the
server itself may change, and the other tablets still check the registered certificate
and key of whoever answers there.

Register errors reach the client as ``SyncRequestError`` codes: ``bad_request`` (a value
of the wrong shape), ``revoked`` (this key was revoked for this terminal; only a new key
registers again) and ``too_many`` (the POS has MAX_ACTIVE_DEVICES devices already: one
waiter's session cannot grow every tablet's list of peers without end).
"""

from __future__ import annotations

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

from .. import compat
from ..lib.device_identity import identity_error
from ..lib.lan_address import normalized_lan_address
from .pos_restaurant_sync_change import SyncRequestError

MAX_ACTIVE_DEVICES = 200
# What a POS manager may change on a device (the access rules give them write access for
# it); every other field is written by the routes, as superuser.
MANAGER_FIELDS = frozenset({"lan_address"})
# First key of the per-(POS, terminal) advisory lock that orders registrations (b"posd").
REGISTER_LOCK_CLASS = 0x706F7364


class PosRestaurantSyncDevice(models.Model):
    _name = "pos_restaurant_sync.device"
    _description = "Real-time sync device"
    _order = "config_id, terminal, id desc"

    name = fields.Char(compute="_compute_name", store=True)
    config_id = fields.Many2one(
        "pos.config", string="Point of Sale", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="config_id.company_id", store=True, index=True)
    user_id = fields.Many2one(
        "res.users",
        string="Registered By",
        required=True,
        index=True,
        ondelete="cascade",
        readonly=True,
        help="The user logged in on the tablet when it last registered.",
    )
    terminal = fields.Char(required=True, readonly=True)
    public_key = fields.Char(
        required=True, readonly=True, help="Base64 of the tablet's raw Ed25519 public key."
    )
    certificate_sha256 = fields.Char(
        string="Certificate SHA-256",
        required=True,
        readonly=True,
        help="SHA-256 of the TLS certificate the tablet serves to the other tablets.",
    )
    first_seen = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)
    last_seen = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)
    revoked = fields.Boolean(readonly=True, index=True)
    revoked_at = fields.Datetime(readonly=True)
    lan_address = fields.Char(
        string="Fixed LAN Address",
        help="Where the other tablets reach this one when the Wi-Fi keeps the tablets apart "
        "or blocks their discovery: host or host:port on the restaurant's network, e.g. "
        "192.168.1.21 or 192.168.1.21:8766 (the port defaults to the tablets' peer port). "
        "Empty: the tablets find it on the network.",
    )

    def init(self) -> None:
        # One record per key and terminal of a POS: registering again updates it, and a
        # revoked one stays to refuse that key. (18 and 19 declare constraints differently.)
        self.env.cr.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS pos_restaurant_sync_device_key_uniq "
            "ON pos_restaurant_sync_device (config_id, terminal, public_key)"
        )

    @api.depends("terminal", "user_id")
    def _compute_name(self) -> None:
        for device in self:
            device.name = f"{device.terminal} ({device.user_id.name or '?'})"

    @api.constrains("terminal", "public_key", "certificate_sha256")
    def _check_identity(self) -> None:
        for device in self:
            error = identity_error(device.terminal, device.public_key, device.certificate_sha256)
            if error:
                raise ValidationError(error)

    @api.constrains("lan_address")
    def _check_lan_address(self) -> None:
        for device in self.filtered("lan_address"):
            stored = device._possync_lan_address(device.lan_address)
            if stored != device.lan_address:
                raise ValidationError(self.env._("Write the fixed LAN address as %s", stored))

    def write(self, vals):
        """Only the server changes a device, except for its fixed LAN address, which a POS
        manager of its company sets (the access rules decide who may write at all)."""
        if not self.env.su and set(vals) - MANAGER_FIELDS:
            raise AccessError(
                self.env._("Only the fixed LAN address of a sync device can be changed.")
            )
        if vals.get("lan_address"):
            vals = {**vals, "lan_address": self._possync_lan_address(vals["lan_address"])}
        return super().write(vals)

    def _possync_lan_address(self, value) -> str:
        """The address as stored; ValidationError saying what is wrong with it."""
        try:
            return normalized_lan_address(value)
        except ValueError as exc:
            address = str(value)[:80]
            raise ValidationError(
                self.env._("Fixed LAN address “%(address)s”: %(error)s", address=address, error=exc)
            ) from exc

    # --- what the routes do (as superuser, after the route checked the user's access) --

    @api.model
    def _possync_register(self, config, user, terminal, public_key, certificate_sha256):
        """The device of this key and terminal, registered or refreshed; SyncRequestError
        if a value is malformed or the key was revoked. A new key for a known terminal
        revokes that terminal's other keys (a tablet that made a new key)."""
        error = identity_error(terminal, public_key, certificate_sha256)
        if error:
            raise SyncRequestError("bad_request", error)
        self.env.cr.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
            (REGISTER_LOCK_CLASS, f"{config.id}:{terminal}"),
        )
        known = self.search([("config_id", "=", config.id), ("terminal", "=", terminal)])
        device = known.filtered(lambda d: d.public_key == public_key)
        if device.revoked:
            raise SyncRequestError(
                "revoked", f"the key of terminal {terminal} was revoked; register a new key"
            )
        replaced = (known - device).filtered(lambda d: not d.revoked)
        if not device:
            self._possync_check_room(config, replaced)
        replaced._possync_revoke()
        now = fields.Datetime.now()
        values = {"user_id": user.id, "certificate_sha256": certificate_sha256, "last_seen": now}
        if device:
            device.write(values)
            return device
        return self.create(
            {
                **values,
                "config_id": config.id,
                "terminal": terminal,
                "public_key": public_key,
                "first_seen": now,
            }
        )

    @api.model
    def _possync_check_room(self, config, replaced) -> None:
        """SyncRequestError unless one more device fits, once ``replaced`` are revoked."""
        active = self.search_count([("config_id", "=", config.id), ("revoked", "=", False)])
        if active - len(replaced) >= MAX_ACTIVE_DEVICES:
            raise SyncRequestError(
                "too_many",
                f"this POS has {active} devices; a manager revokes unused ones "
                "(Point of Sale > Configuration > Sync Devices)",
            )

    @api.model
    def _possync_active(self, config) -> list[dict]:
        """The devices of a POS whose signatures count: not revoked, registered by a user
        who may still use the POS (archiving revokes; losing the POS's group or company
        only hides the device until someone allowed registers it again)."""
        devices = self.search([("config_id", "=", config.id), ("revoked", "=", False)])
        allowed = _users_allowed_on(config, devices.user_id)
        devices = devices.filtered(lambda d: d.user_id in allowed)
        return [d._possync_listed() for d in devices]

    def _possync_listed(self) -> dict:
        """A device as `/devices` lists it; `lan_address` only when a manager set one."""
        listed = {
            "terminal": self.terminal,
            "public_key": self.public_key,
            "certificate_sha256": self.certificate_sha256,
        }
        if self.lan_address:
            listed["lan_address"] = self.lan_address
        return listed

    @api.model
    def _possync_revoke_users(self, users) -> None:
        self.search([("user_id", "in", users.ids), ("revoked", "=", False)])._possync_revoke()

    def _possync_revoke(self) -> None:
        self.write({"revoked": True, "revoked_at": fields.Datetime.now()})

    # --- the backend ---------------------------------------------------------------------

    def action_revoke(self) -> None:
        """The backend's Revoke button: POS managers only, within their companies."""
        if not self.env.user.has_group("point_of_sale.group_pos_manager"):
            raise AccessError(self.env._("Only a Point of Sale manager can revoke a device."))
        self.check_access("read")  # the company rule
        self.sudo().filtered(lambda d: not d.revoked)._possync_revoke()


def _users_allowed_on(config, users):
    """``users`` who may run ``config``'s POS: what ``pos.config._possync_config_for_user``
    checks when they log in (active internal user, the POS's group, its company), read
    without switching to each user."""
    group = config.sudo().group_pos_user_id
    return users.filtered(
        lambda user: (
            user.active
            and user._is_internal()
            and config.company_id in user.company_ids
            and (not group or group in compat.user_groups(user))
        )
    )
