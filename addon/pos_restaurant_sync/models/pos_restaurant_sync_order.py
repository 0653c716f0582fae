from __future__ import annotations

import json
from dataclasses import dataclass, field

from odoo import api, fields, models

from ..lib import order_state, protocol

# First key of the per-order advisory lock that serialises applying the log to Odoo (b"posa").
APPLY_LOCK_CLASS = 0x706F7361


@dataclass
class MergedOrder:
    """An order's merged state (lib/order_state), with the newest log position folded into
    it (``seq``) and the number of changes it took (``count``)."""

    state: dict
    seq: int = 0
    count: int = 0
    admitted: list[dict] = field(default_factory=list)  # folded in by the push under way


class PosRestaurantSyncOrder(models.Model):
    """An order the sync log knows: which POS owns it and how far it is closed.

    Its row is also the lock of the order's log: every push for the order and every close
    made by the server goes through ``_lock``, which updates the row. A push (READ
    COMMITTED) waits there for the one before it and then sees what it committed. Odoo's
    own transactions (REPEATABLE READ) would fail with a serialization error instead if a
    push updated the row first, so ``sync_from_ui`` and a cancel take the order's locks
    before they write anything (``_lock_for_odoo``): a push then waits for them. Either
    way the Odoo order is made from the complete merged state.

    A new order is created once: Odoo's sync and a push's application each look for the
    Odoo order of a uuid, and create it, under that uuid's lock
    (``pos.order._possync_hold_uuids``). Odoo's sync took its snapshot before it could wait
    for that lock: it starts again if an order it does not see was created meanwhile
    (``pos.order._possync_start_again_if_created_since``), and so does the cron's
    application; a push's, in READ COMMITTED, finds it after the wait.

    The row keeps that merged state (``merged_state``, lib/order_state as JSON): a push
    folds only its own changes into it, under the row's lock, and the Odoo side is applied
    from it, so neither reads the order's log. The log is read again only for a close that
    sorts before changes already folded in, and for a row saved before the state was kept.

    Lock order, per order by uuid (so no two transactions wait for each other's order
    locks; the locks of a whole POS, Odoo 19's sequences and 18's session references, can
    still close a cycle with Odoo's sync, which PostgreSQL breaks as a deadlock that both
    sides try again):

    1. the order's apply lock (``_lock_apply``, advisory);
    2. the order's row (``_lock``);
    3. the order's uuid lock (``pos.order._possync_hold_uuids``, advisory);
    4. the Odoo order's records (pos.order, its lines and payments; Odoo 19's POS
       sequences);
    5. the POS's log lock (``pos_restaurant_sync.change._lock_log``, advisory).

    A push stores with 2 then 5 and applies, in a transaction of its own, with 1, 3, 4,
    and then 2 to note how far it applied. That late 2 cannot close a cycle: whoever holds
    a row, or the uuid lock of an order the log knows, while waiting for an Odoo order's
    records took that order's apply lock first.
    """

    _name = "pos_restaurant_sync.order"
    _description = "Order known to the sync log"
    _rec_name = "order_uuid"
    _order = "write_date desc, id desc"

    config_id = fields.Many2one("pos.config", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="config_id.company_id", store=True, index=True)
    order_uuid = fields.Char(string="Order UUID", required=True, readonly=True)
    state = fields.Selection(
        [("draft", "Open"), ("cancel", "Cancelled"), ("paid", "Paid")],
        required=True,
        default="draft",
        readonly=True,
        help="The state the sync log gives the order; it never goes back to Open.",
    )
    applied_seq = fields.Integer(
        string="Applied Up To",
        readonly=True,
        help="The last log position applied to the Odoo order. Behind the log: the cron "
        "applies it again.",
    )
    merged_state = fields.Text(readonly=True, prefetch=False, help="The merged order as JSON.")
    merged_seq = fields.Integer(
        string="Merged Up To", readonly=True, help="The last log position in the merged state."
    )
    change_count = fields.Integer(readonly=True, help="Changes the order took.")

    def init(self) -> None:
        # One row per order across all POS: an order never changes POS. (A unique index
        # rather than a declared constraint: 18 and 19 declare those differently.)
        self.env.cr.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS pos_restaurant_sync_order_uuid_uniq "
            "ON pos_restaurant_sync_order (order_uuid)"
        )

    @api.model
    def _lock(self, config, order_uuid: str) -> PosRestaurantSyncOrder:
        """The order's row, created if new, locked until commit; empty if another POS owns it."""
        self.flush_model()
        self.env.cr.execute(
            """
            INSERT INTO pos_restaurant_sync_order
                   (config_id, company_id, order_uuid, state, create_uid, write_uid,
                    create_date, write_date)
            VALUES (%(config)s, %(company)s, %(uuid)s, 'draft', %(uid)s, %(uid)s,
                    now() at time zone 'UTC', now() at time zone 'UTC')
            ON CONFLICT (order_uuid) DO UPDATE
               SET write_date = EXCLUDED.write_date, write_uid = EXCLUDED.write_uid
             WHERE pos_restaurant_sync_order.config_id = EXCLUDED.config_id
            RETURNING id
            """,
            {
                "config": config.id,
                "company": config.sudo().company_id.id,
                "uuid": order_uuid,
                "uid": self.env.uid,
            },
        )
        row = self.env.cr.fetchone()
        record = self.browse(row[0] if row else [])
        record.invalidate_recordset()
        return record

    @api.model
    def _lock_for_odoo(self, order_uuids: set[str]) -> None:
        """Lock the orders the log knows among ``order_uuids`` (1 and 2 of the lock order)
        before Odoo's own flow writes them, so their pushes wait for this transaction.

        Only orders of a POS with sync on: with it off nothing pushes or applies them (the
        push refuses, the cron skips them), and Odoo's flow takes no lock of possync's.
        """
        domain = [("order_uuid", "in", list(order_uuids)), ("config_id.possync_enabled", "=", True)]
        order_rows = self.sudo().search(domain)
        for order_row in order_rows.sorted("order_uuid"):
            order_row._lock_apply()
            order_row._lock(order_row.config_id, order_row.order_uuid)

    def _lock_apply(self, wait: bool = True) -> bool:
        """Serialise applying this order's log to Odoo, until commit; with ``wait=False``,
        only if no other transaction holds it (False then: it is being applied now).

        A lock of its own, not the row's: pushes of the order store and broadcast while an
        earlier one is still applying.
        """
        self.ensure_one()
        lock = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
        self.env.cr.execute(f"SELECT {lock}(%s, %s)", (APPLY_LOCK_CLASS, self.id))
        taken = wait or self.env.cr.fetchone()[0]
        self.invalidate_recordset(["applied_seq"])
        return bool(taken)

    # --- the merged state -----------------------------------------------------------------

    def _merged(self) -> MergedOrder:
        """The order's merged state as saved on the row (made from the log if none is)."""
        self.ensure_one()
        self.flush_recordset(["merged_state", "merged_seq", "change_count"])
        # One read of the row as committed now (the cache may hold an older copy).
        self.env.cr.execute(
            "SELECT merged_state, merged_seq, change_count FROM pos_restaurant_sync_order "
            "WHERE id = %s",
            [self.id],
        )
        text, seq, count = self.env.cr.fetchone()
        if text:
            state = json.loads(text)
            if state.get("v") == order_state.STATE_VERSION:
                return MergedOrder(state, seq or 0, count or 0)
        return self._merged_from_log()

    def _merged_from_log(self, extra: list[dict] = ()) -> MergedOrder:
        """The merged state made from every change of the order's log, and ``extra``."""
        self.ensure_one()
        log = self.env["pos_restaurant_sync.change"].sudo()
        records = log._order_records(self.config_id, self.order_uuid)
        changes = [json.loads(record.payload) for record in records]
        state = order_state.rebuild(self.order_uuid, [*changes, *extra])
        return MergedOrder(state, records[-1:].id or 0, len(records))

    def _save_merged(self, order: MergedOrder) -> None:
        """Save the merged state (the row is locked: ``_lock``) and how far it is closed."""
        self.ensure_one()
        self.write(
            {
                "merged_state": json.dumps(order.state, separators=(",", ":"), ensure_ascii=False),
                "merged_seq": order.seq,
                "change_count": order.count,
            }
        )
        if order.state["state"] != "draft":
            self._raise_state(order.state["state"])

    def _raise_state(self, state: str) -> None:
        """Move the state up to ``state``; it never goes down (paid outranks cancel)."""
        for order in self:
            if protocol.STATE_RANK[state] > protocol.STATE_RANK[order.state]:
                order.state = state
