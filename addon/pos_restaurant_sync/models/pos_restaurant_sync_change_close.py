"""The closes the server adds to the log itself, for orders Odoo finalized (pos_order.py)."""

from __future__ import annotations

import uuid

from odoo import api, models

from ..lib import change_key, order_state, protocol
from ..lib import clock as server_clock

SERVER_TERMINAL = "server"


class PosRestaurantSyncChange(models.Model):
    _inherit = "pos_restaurant_sync.change"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _emit_closes(self, closes: dict[tuple[int, str], str]) -> None:
        """Log and broadcast ``order.close`` for orders Odoo finalized itself.

        ``closes`` maps (config id, order uuid) to "paid" or "cancel". Only orders the log
        knows and does not already show as closed that far get a change.
        """
        order_rows = self.env["pos_restaurant_sync.order"]
        closing = []
        # Every order's row before any log lock (the lock order of pos_restaurant_sync.order).
        for (config_id, order_uuid), state in sorted(closes.items(), key=lambda i: i[0][1]):
            config = self.env["pos.config"].browse(config_id)
            domain = [("order_uuid", "=", order_uuid), ("config_id", "=", config_id)]
            order_row = order_rows.search(domain)
            if order_row and protocol.STATE_RANK[state] > protocol.STATE_RANK[order_row.state]:
                closing.append((config, order_rows._lock(config, order_uuid), state))
        for config, order_row, state in closing:
            self._close(config, order_row, state)

    @api.model
    def _close(self, config, order_row, state: str) -> None:
        """Append a close by the server to the order's log, fold it into the order's merged
        state, and broadcast it."""
        change = self._server_close(config, order_row.order_uuid, state)
        merged = order_row._merged()
        record = self._append(
            config, [self._row(config, change["id"], change_key.payload_hash(change), change)]
        )
        try:
            merged.state = order_state.folded(merged.state, change)
        except order_state.NeedsReplay:
            merged.state = order_row._merged_from_log().state
        merged.seq, merged.count = record.id, merged.count + 1
        order_row._save_merged(merged)
        config._possync_broadcast([record._entry()])

    @api.model
    def _server_close(self, config, order_uuid: str, state: str) -> dict:
        """A close by the server, sorting after every change it has seen for the order."""
        now_ms = server_clock.now_ms()
        hybrid = protocol.HybridClock()
        latest = self.search(
            [
                ("config_id", "=", config.id),
                ("order_uuid", "=", order_uuid),
                ("status", "=", "applied"),
                ("hlc", "!=", False),
            ],
            order="hlc desc",
            limit=1,
        )
        if latest:
            hybrid.observe(latest.hlc, now_ms)
        return {
            "v": protocol.PROTOCOL_VERSION,
            "id": uuid.uuid4().hex,
            "terminal": SERVER_TERMINAL,
            "hlc": hybrid.tick(now_ms),
            "order": order_uuid,
            "ops": [{"op": "order.close", "state": state}],
        }
