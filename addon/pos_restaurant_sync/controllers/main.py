"""The server side of docs/protocol.md "Agent or page -> server": the JSON-RPC routes."""

from __future__ import annotations

import logging
import random
import time
from contextlib import contextmanager

from odoo import http, sql_db
from odoo.http import request
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY

from ..compat import json_route
from ..models.pos_restaurant_sync_change import MAX_PULL, SyncRequestError

_logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
# Odoo's own sync of the same order may hold a row the application needs for a moment.
APPLY_ATTEMPTS = 3


class PosRestaurantSyncController(http.Controller):
    @json_route("/pos_restaurant_sync/info", auth="user")
    def info(self, config_id):
        return _timed(_config(config_id)._possync_info())

    @json_route("/pos_restaurant_sync/push", auth="user")
    def push(self, config_id, changes):
        body = request.httprequest.get_data()
        if len(body) > MAX_BODY_BYTES:
            raise SyncRequestError("too_large", f"a push is at most {MAX_BODY_BYTES} bytes")
        config = _config(config_id)
        # Stored and broadcast first: the bus message leaves at this commit, without waiting
        # for the Odoo order. Then the order is applied in a transaction of its own; if that
        # fails, the order's next push or the cron applies it again from the log.
        with _own_transaction(request.env) as env:
            result, order_uuids = env["pos_restaurant_sync.change"]._push_store(
                config.with_env(env), changes
            )
        if order_uuids:
            try:
                _apply_retrying(request.env, config, order_uuids)
            except Exception:
                # The changes are stored: the answer stands, the cron catches up.
                _logger.warning("push: applying %s to Odoo failed", order_uuids, exc_info=True)
        return _timed(result)

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

    @json_route("/pos_restaurant_sync/devices", auth="user")
    def devices(self, config_id):
        return {"devices": _devices()._possync_active(_config(config_id))}


def _timed(result: dict) -> dict:
    """The answer with the server's clock (`time_ms`), read as it leaves: terminals measure
    their clock's offset from it, so a tablet whose own clock is wrong stamps right."""
    return {**result, "time_ms": int(time.time() * 1000)}


def _apply_retrying(env, config, order_uuids: set[str]) -> None:
    """Apply the orders to Odoo, again after a short pause when a concurrent transaction
    held a row: an order closed by this push gets no next push to catch up, and the cron
    may be a minute or more away."""
    for attempt in range(1, APPLY_ATTEMPTS + 1):
        try:
            with _own_transaction(env) as own_env:
                own_env["pos_restaurant_sync.change"]._apply_orders(
                    config.with_env(own_env), order_uuids
                )
            return
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
            if attempt == APPLY_ATTEMPTS:
                raise
            time.sleep(random.uniform(0.05, 0.25) * attempt)


@contextmanager
def _own_transaction(env):
    """A new READ COMMITTED transaction, committed when the block succeeds.

    A push waits for the lock of each order it touches. In READ COMMITTED it then sees
    what the push holding the lock committed, so concurrent pushes of one order (two
    waiters on a table, or one change relayed by several tablets) queue behind each other.
    In the request's own REPEATABLE READ transaction the later push would fail instead, and
    Odoo would replay it after a random sleep of up to seconds.
    """
    with env.registry.cursor() as cr:
        # Under HttpCase the "new" cursor is the test's own transaction: nothing to set.
        if isinstance(cr, sql_db.Cursor):
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        yield env(cr=cr)


def _config(config_id):
    """The requested POS, if the logged-in user may use it (AccessError otherwise)."""
    return request.env["pos.config"]._possync_config_for_user(_integer(config_id, "config_id"))


def _devices():
    """The device registry as superuser: waiters have no access to the model itself, and
    the routes call this only once ``_config`` let the user in."""
    return request.env["pos_restaurant_sync.device"].sudo()


def _integer(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SyncRequestError("bad_request", f"{name} must be a non-negative integer")
    return value
