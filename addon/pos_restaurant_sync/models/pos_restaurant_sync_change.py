"""The server's change log (``pos_restaurant_sync.change``): the model, reading it, and
forgetting old changes.

The rest of the model lives by job: the push (``pos_restaurant_sync_change_push``), making
the Odoo orders show the log (``pos_restaurant_sync_change_apply``), and the closes the
server adds itself (``pos_restaurant_sync_change_close``).
"""

from __future__ import annotations

import json
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..lib import change_key

MAX_PULL = 500
# A pull answer stops before this many bytes of changes (at least one change is sent; a
# change is at most the 1 MiB of a push) and says "more".
MAX_PULL_BYTES = 4 * 1024 * 1024
# What one {"seq", "change"} adds to a pull answer besides the change itself.
PULL_ENTRY_OVERHEAD = 32
RETENTION = timedelta(days=7)
CLOSED_RETENTION = timedelta(hours=24)
# First key of the per-config advisory lock that orders the log (b"poss").
LOG_LOCK_CLASS = 0x706F7373


class SyncRequestError(UserError):
    """A push or pull refused whole; nothing was stored.

    ``code`` (too_large, version, disabled, bad_request, app_too_old) reaches the client in the
    JSON-RPC error as ``data.context.possync_error``, and starts ``data.message``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.context = {"possync_error": code}


class PosRestaurantSyncChange(models.Model):
    """The server's change log: every change a terminal sent, and the server's own closes.

    ``id`` is the log position (``seq`` in the protocol). Appends take a per-config lock
    held until commit, so positions of one config commit in order and a reader that pulls
    "after N" can never miss a change committed later with a smaller position.
    """

    _name = "pos_restaurant_sync.change"
    _description = "Real-time sync change"
    _order = "id desc"
    _rec_name = "change_id"

    change_id = fields.Char(string="Change ID", required=True, readonly=True)
    config_id = fields.Many2one("pos.config", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="config_id.company_id", store=True, index=True)
    order_uuid = fields.Char(string="Order UUID", index=True, readonly=True)
    terminal = fields.Char(readonly=True)
    hlc = fields.Char(string="Clock", readonly=True)
    status = fields.Selection(
        [("applied", "Applied"), ("rejected", "Rejected")], required=True, readonly=True
    )
    reason = fields.Char(readonly=True)
    payload = fields.Text(readonly=True, help="The change as JSON; empty when rejected.")
    payload_hash = fields.Char(
        readonly=True, help="SHA-256 of the change as sent (canonical JSON): a resend must match."
    )

    def init(self) -> None:
        # The idempotency key, per POS: a change id of one POS never answers for another.
        # (A unique index: 18 and 19 declare constraints differently.)
        cr = self.env.cr
        cr.execute("DROP INDEX IF EXISTS pos_restaurant_sync_change_change_id_uniq")
        cr.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS pos_restaurant_sync_change_config_change_uniq "
            "ON pos_restaurant_sync_change (config_id, change_id)"
        )
        # Rows stored before the hash existed: hash what they kept (a rejected change kept
        # nothing, and its first answer stands whatever is sent again).
        cr.execute(
            "SELECT id, payload FROM pos_restaurant_sync_change "
            "WHERE payload_hash IS NULL AND payload IS NOT NULL"
        )
        for row_id, payload in cr.fetchall():
            cr.execute(
                "UPDATE pos_restaurant_sync_change SET payload_hash = %s WHERE id = %s",
                [change_key.payload_hash(json.loads(payload)), row_id],
            )

    # --- appending --------------------------------------------------------------------

    @api.model
    def _append(self, config, rows: list[dict]) -> PosRestaurantSyncChange:
        """Append ``rows`` (``_row``) to ``config``'s log, in this order, under the log lock
        held until commit."""
        self._lock_log(config)
        return self.create(rows)

    @api.model
    def _lock_log(self, config) -> None:
        """Serialise appends to ``config``'s log until commit (see the class docstring)."""
        self.env.cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOG_LOCK_CLASS, config.id))

    @api.model
    def _row(
        self, config, change_id: str, content: str, change: dict | None, reason: str | None = None
    ) -> dict:
        """The values of a log row: ``change`` applied, or rejected with ``reason`` (then only
        its id and the hash of its ``content`` are kept, with what it names of its order)."""
        change = change or {}
        return {
            "change_id": change_id,
            "config_id": config.id,
            "order_uuid": change.get("order"),
            "terminal": change.get("terminal"),
            "hlc": change.get("hlc"),
            "status": "rejected" if reason else "applied",
            "reason": reason,
            "payload_hash": content,
            "payload": False
            if reason
            else json.dumps(change, separators=(",", ":"), ensure_ascii=False),
        }

    # --- reading ----------------------------------------------------------------------

    @api.model
    def _order_records(self, config, order_uuid: str) -> PosRestaurantSyncChange:
        return self.search(
            [
                ("config_id", "=", config.id),
                ("order_uuid", "=", order_uuid),
                ("status", "=", "applied"),
            ],
            order="id",
        )

    def _entry(self) -> dict:
        """The record as the protocol's {seq, change}."""
        self.ensure_one()
        return {"seq": self.id, "change": json.loads(self.payload)}

    # --- pull --------------------------------------------------------------------------

    @api.model
    def _pull(self, config, after: int, limit: int) -> dict:
        """The config's changes after position ``after``, oldest first.

        A page holds at most ``limit`` changes and stops before ``MAX_PULL_BYTES`` of
        them; ``more`` says there is more to pull. ``reset`` says that changes after
        ``after`` are no longer in the log (pruned, or the cursor is from another
        database): the client re-reads the open orders.
        """
        log = self.sudo()
        reset = after < config.sudo().possync_pruned_seq
        if after > log._last_position():
            after, reset = 0, True  # from another database (restored or recreated)
        log.flush_model()
        # Sizes first: the payloads of the page only are read.
        self.env.cr.execute(
            """
            SELECT id, octet_length(payload) FROM pos_restaurant_sync_change
             WHERE config_id = %s AND status = 'applied' AND id > %s
             ORDER BY id LIMIT %s
            """,
            [config.id, after, limit + 1],
        )
        rows = self.env.cr.fetchall()
        page_ids, size = [], 0
        for row_id, length in rows[:limit]:
            size += (length or 0) + PULL_ENTRY_OVERHEAD
            if page_ids and size > MAX_PULL_BYTES:
                break
            page_ids.append(row_id)
        page = log.browse(page_ids)
        return {
            "changes": [record._entry() for record in page],
            "cursor": page_ids[-1] if page_ids else after,
            "more": len(rows) > len(page_ids),
            "reset": reset,
        }

    @api.model
    def _last_position(self) -> int:
        self.env.cr.execute(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END "
            "FROM pos_restaurant_sync_change_id_seq"
        )
        return self.env.cr.fetchone()[0]

    # --- retention ---------------------------------------------------------------------

    @api.model
    def _prune(self) -> None:
        """Forget changes after 7 days, and those of orders closed for 24 h (the cron)."""
        now = fields.Datetime.now()
        self.flush_model()
        self.env["pos_restaurant_sync.order"].flush_model()
        cr = self.env.cr
        cr.execute(
            """
            WITH gone AS (DELETE FROM pos_restaurant_sync_change WHERE create_date < %s
                          RETURNING config_id, id)
            SELECT config_id, max(id) FROM gone GROUP BY config_id
            """,
            [now - RETENTION],
        )
        pruned = cr.fetchall()
        cr.execute(
            """
            WITH gone AS (DELETE FROM pos_restaurant_sync_change c
                           USING pos_restaurant_sync_order o
                           WHERE o.order_uuid = c.order_uuid AND o.state != 'draft'
                             AND o.write_date < %s
                       RETURNING c.config_id, c.id)
            SELECT config_id, max(id) FROM gone GROUP BY config_id
            """,
            [now - CLOSED_RETENTION],
        )
        pruned += cr.fetchall()
        for config_id, seq in pruned:
            # SQL, not write(): a POS setting must not look edited (nor wake its checks).
            cr.execute(
                "UPDATE pos_config SET possync_pruned_seq = GREATEST(possync_pruned_seq, %s) "
                "WHERE id = %s",
                [seq, config_id],
            )
        cr.execute(
            """
            DELETE FROM pos_restaurant_sync_order o
             WHERE o.write_date < %s
               AND NOT EXISTS (SELECT 1 FROM pos_restaurant_sync_change c
                                WHERE c.order_uuid = o.order_uuid)
            """,
            [now - CLOSED_RETENTION],
        )
        self.invalidate_model()
        self.env["pos_restaurant_sync.order"].invalidate_model()
        self.env["pos.config"].invalidate_model(["possync_pruned_seq"])
