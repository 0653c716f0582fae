"""The server side of docs/protocol.md "Agent or page -> server": the JSON-RPC routes."""

from __future__ import annotations

from odoo import http
from odoo.http import request

from ..compat import json_route
from ..lib import app_version, clock
from ..models.pos_restaurant_sync_change import MAX_PULL, SyncRequestError

MAX_BODY_BYTES = 1024 * 1024


class PosRestaurantSyncController(http.Controller):
    @json_route("/pos_restaurant_sync/info", auth="user")
    def info(self, config_id):
        return _timed(_config(config_id)._possync_info())

    @json_route("/pos_restaurant_sync/push", auth="user")
    def push(self, config_id, changes, app_version=None):
        body = request.httprequest.get_data()
        if len(body) > MAX_BODY_BYTES:
            raise SyncRequestError("too_large", f"a push is at most {MAX_BODY_BYTES} bytes")
        config = _config(config_id)
        _check_app(app_version)
        return _timed(request.env["pos_restaurant_sync.change"]._push(config, changes))

    @json_route("/pos_restaurant_sync/pull", auth="user")
    def pull(self, config_id, after=0, limit=MAX_PULL):
        config = _config(config_id)
        after = _integer(after, "after")
        # A larger limit is not an error: "more" tells the client to ask again.
        limit = min(max(_integer(limit, "limit"), 1), MAX_PULL)
        return _timed(request.env["pos_restaurant_sync.change"]._pull(config, after, limit))

    @json_route("/pos_restaurant_sync/device/register", auth="user")
    def device_register(self, config_id, terminal=None, public_key=None, certificate_sha256=None):
        config = _config(config_id)
        device = _devices()._possync_register(
            config, request.env.user, terminal, public_key, certificate_sha256
        )
        return {"device_id": device.id, "terminal": device.terminal, "revoked": False}

    # Enrolment: no login (the tablet has none yet); the code is the credential, and
    # wrong codes are counted toward a lock (models/pos_restaurant_sync_enrolment.py).
    # readonly=False: a route without a login runs read-only by default, and this one
    # writes (the code used, a wrong try counted).
    @json_route("/pos_restaurant_sync/enroll", auth="none", readonly=False)
    def enroll(self, code=None):
        address = request.httprequest.remote_addr
        return request.env["pos_restaurant_sync.enrolment"].sudo()._possync_claim(code, address)

    @json_route("/pos_restaurant_sync/enroll/authority", auth="none")
    def enroll_authority(self, sha256=None):
        """The certificate authority of this fingerprint, fetched by a tablet before it
        sends its code: certificates are public, and only the fingerprint finds one."""
        return {"ca_pem": request.env["res.company"].sudo()._possync_authority_pem(sha256)}

    @json_route("/pos_restaurant_sync/devices", auth="user")
    def devices(self, config_id):
        return {"devices": _devices()._possync_active(_config(config_id))}


def _timed(result: dict) -> dict:
    """The answer with the server's clock (`time_ms`), read as it leaves: terminals measure
    their clock's offset from it, so a tablet whose own clock is wrong stamps right."""
    return {**result, "time_ms": clock.now_ms()}


def _config(config_id):
    """The requested POS, if the logged-in user may use it (AccessError otherwise)."""
    return request.env["pos.config"]._possync_config_for_user(_integer(config_id, "config_id"))


def _check_app(announced) -> None:
    """Refuse the whole push of an app too old for this server, or one announcing no valid
    version: an old app could store changes this addon reads wrongly."""
    minimum = request.env["pos.config"]._possync_app_versions()["app_min_version"]
    try:
        app_version.check_announced(announced, minimum)
    except app_version.AppVersionRefused as exc:
        raise SyncRequestError(exc.code, str(exc)) from None


def _devices():
    """The device registry as superuser: waiters have no access to the model itself, and
    the routes call this only once ``_config`` let the user in."""
    return request.env["pos_restaurant_sync.device"].sudo()


def _integer(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SyncRequestError("bad_request", f"{name} must be a non-negative integer")
    return value
