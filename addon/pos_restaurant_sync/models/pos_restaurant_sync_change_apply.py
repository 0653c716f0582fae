"""Making the Odoo orders show the log: after each push, and by the cron for those left behind."""

from __future__ import annotations

import logging
from datetime import timedelta

import psycopg2
from odoo import api, fields, models

from ..lib import order_state

_logger = logging.getLogger(__name__)

# The cron leaves changes this recent to the push that stored them (it applies them next).
APPLY_GRACE = timedelta(seconds=30)


class PosRestaurantSyncChange(models.Model):
    _inherit = "pos_restaurant_sync.change"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _apply_orders(self, config, order_uuids: set[str], wait: bool = True) -> None:
        """Make each Odoo order show its merged state; a failure leaves the log intact.

        The state is the one the pushes saved on the order's row (``_admit``): applying
        reads no log. Each order is applied under its own lock (not the log's: a push never
        waits for the Odoo side of the push before it) and in a savepoint. Its row then
        remembers the log position applied; an order left behind by a failure is retried by
        its next push, a push of any of its changes again, or the cron (``_apply_pending``).
        With ``wait=False`` an order another transaction is applying now is left to it.
        """
        order_rows = self.env["pos_restaurant_sync.order"].sudo()
        for order_uuid in sorted(order_uuids):
            domain = [("order_uuid", "=", order_uuid), ("config_id", "=", config.id)]
            order_row = order_rows.search(domain)
            if order_row:
                self._apply_order(config, order_row, wait)

    @api.model
    def _apply_order(self, config, order_row, wait: bool = True) -> None:
        """Apply one order (see ``_apply_orders``), unless another request already did."""
        if not order_row._lock_apply(wait):
            return  # another request is applying it now
        merged = order_row._merged()
        if not merged.seq or merged.seq <= order_row.applied_seq:
            return  # another request applied it meanwhile
        view = order_state.view(merged.state)
        removed = [order_state.deleted(merged.state, part) for part in ("line", "payment")]
        try:
            with self.env.cr.savepoint():
                config.env["pos.order"]._possync_apply(config, view, *removed)
        except psycopg2.OperationalError:
            raise  # a concurrency error: the caller tries again (the push, the cron)
        except Exception:
            # The change is stored and broadcast all the same: the terminals merge it,
            # and the next change of this order (or the cron) retries the Odoo side.
            _logger.warning("could not apply order %s to Odoo", order_row.order_uuid, exc_info=True)
        else:
            order_row.applied_seq = merged.seq

    @api.model
    def _behind(self, config, order_uuids: set[str]) -> set[str]:
        """Those of ``order_uuids`` whose Odoo order is behind the merged state the log
        saved for ``config``: an application lost (a lock held on every try, a worker
        killed) or under way."""
        if not order_uuids:
            return set()
        self.env["pos_restaurant_sync.order"].flush_model()
        self.env.cr.execute(
            """
            SELECT order_uuid FROM pos_restaurant_sync_order
             WHERE config_id = %s AND order_uuid IN %s
               AND merged_seq > coalesce(applied_seq, 0)
            """,
            [config.id, tuple(order_uuids)],
        )
        return {row[0] for row in self.env.cr.fetchall()}

    @api.model
    def _apply_pending(self, limit: int = 100, grace: timedelta = APPLY_GRACE) -> None:
        """Apply the orders whose Odoo side is behind the log (the cron): a failed or
        interrupted application, or a request that ended between commit and apply.

        Only orders of a POS with sync on: a POS switched off keeps its orders as Odoo's
        own flow leaves them."""
        self.flush_model()
        self.env["pos_restaurant_sync.order"].flush_model()
        self.env["pos.config"].flush_model(["possync_enabled"])
        # An order without a merged state was last pushed before the addon kept one.
        self.env.cr.execute(
            """
            SELECT o.id
              FROM pos_restaurant_sync_order o
              JOIN pos_config p ON p.id = o.config_id AND p.possync_enabled
             WHERE o.write_date < %s
               AND (o.merged_seq > coalesce(o.applied_seq, 0)
                    OR o.merged_state IS NULL AND EXISTS (
                        SELECT 1 FROM pos_restaurant_sync_change c
                         WHERE c.order_uuid = o.order_uuid AND c.config_id = o.config_id
                           AND c.status = 'applied' AND c.id > coalesce(o.applied_seq, 0)))
             ORDER BY o.order_uuid
             LIMIT %s
            """,
            [fields.Datetime.now() - grace, limit],
        )
        rows = self.env.cr.fetchall()
        log = self.sudo()
        order_rows = self.env["pos_restaurant_sync.order"].sudo().browse([r[0] for r in rows])
        for order_row in order_rows:
            # With the rights of the user who pushed the order's latest change.
            user = order_row.write_uid or self.env.user
            config = order_row.config_id.with_user(user)
            try:
                with self.env.cr.savepoint():
                    log.with_user(user).sudo()._apply_orders(config, {order_row.order_uuid})
            except psycopg2.OperationalError:
                # A concurrent transaction holds the order, or created it since this one
                # began: the next run applies it, and this one goes on with the others.
                _logger.info("cron: order %s left to the next run", order_row.order_uuid)
