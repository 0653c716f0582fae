from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import timedelta

import psycopg2
from odoo import api, fields, models
from odoo.exceptions import UserError

from ..lib import protocol

_logger = logging.getLogger(__name__)

SERVER_TERMINAL = "server"
MAX_CHANGES_PER_PUSH = 500
MAX_PULL = 500
RETENTION = timedelta(days=7)
CLOSED_RETENTION = timedelta(hours=24)
# The cron leaves changes this recent to the push that stored them (it applies them next).
APPLY_GRACE = timedelta(seconds=30)
# First key of the per-config advisory lock that orders the log (b"poss").
LOG_LOCK_CLASS = 0x706F7373


class SyncRequestError(UserError):
    """A push or pull refused whole; nothing was stored.

    ``code`` (too_large, version, disabled, bad_request) reaches the client in the
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
    order_uuid = fields.Char(string="Order UUID", index=True, readonly=True)
    terminal = fields.Char(readonly=True)
    hlc = fields.Char(string="Clock", readonly=True)
    status = fields.Selection(
        [("applied", "Applied"), ("rejected", "Rejected")], required=True, readonly=True
    )
    reason = fields.Char(readonly=True)
    payload = fields.Text(readonly=True, help="The change as JSON; empty when rejected.")

    def init(self) -> None:
        # The idempotency key. (A unique index: 18 and 19 declare constraints differently.)
        self.env.cr.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS pos_restaurant_sync_change_change_id_uniq "
            "ON pos_restaurant_sync_change (change_id)"
        )

    # --- push --------------------------------------------------------------------------

    @api.model
    def _push(self, config, raw_changes: list) -> dict:
        """Store, broadcast and apply changes in this transaction (see ``_push_store``)."""
        result, order_uuids = self._push_store(config, raw_changes)
        self._apply_orders(config, order_uuids)
        return result

    @api.model
    def _push_store(self, config, raw_changes: list) -> tuple[dict, set[str]]:
        """Store and broadcast changes; one acknowledgement per change, in order.

        Returns the answer and the orders whose Odoo side is now behind the log. The push
        route commits this (the acknowledgement means "stored"; the bus message leaves at
        that commit) and only then applies the orders, in a transaction of its own, with
        ``_apply_orders``. The log itself is sudo; the Odoo order is written with the
        pushing user's rights.
        """
        _check_push(config, raw_changes)
        log = self.sudo()
        entries = log._classify(config, raw_changes)
        heads = log._claim_orders(config, {e["change"]["order"] for e in entries if _fresh(e)})
        log._recheck(config, entries)
        for entry in entries:
            if _fresh(entry) and entry["change"]["order"] not in heads:
                entry["ack"] = _rejected(entry["ack"]["id"], "the order belongs to another POS")
        stored = log._store(config, entries)
        for entry in entries:
            if "copy_of" in entry:
                entry["ack"] = _replay(entries[entry["copy_of"]]["ack"])
        entries_out = [record._entry() for record in stored]
        for entry in entries_out:
            for op in entry["change"]["ops"]:
                if op["op"] == "order.close":
                    heads[entry["change"]["order"]]._raise_state(op["state"])
        config._possync_broadcast(entries_out)
        acks = [entry["ack"] for entry in entries]
        result = {"acks": [_public(ack) for ack in acks], "cursor": _cursor(acks)}
        return result, {entry["change"]["order"] for entry in entries_out}

    @api.model
    def _classify(self, config, raw_changes: list) -> list[dict]:
        """One entry per pushed change: its acknowledgement so far, and the change if new.

        A change id seen before gets its first answer again; a copy later in the same push
        is marked ``copy_of`` and answered once the first copy's fate is known.
        """
        known = self._first_answers(config, [_change_id(raw) for raw in raw_changes])
        now_ms = int(time.time() * 1000)
        first_copy: dict[str, int] = {}
        entries = []
        for index, raw in enumerate(raw_changes):
            change_id = _change_id(raw)
            if change_id in known:
                entries.append({"ack": _replay(known[change_id])})
            elif change_id in first_copy:
                entries.append({"copy_of": first_copy[change_id]})
            else:
                if change_id:
                    first_copy[change_id] = index
                entries.append(_new_entry(raw, now_ms))
        return entries

    @api.model
    def _first_answers(self, config, change_ids: list) -> dict[str, dict]:
        """The first answer given to each change id already in the log."""
        answers = {}
        for record in self.search([("change_id", "in", [i for i in change_ids if i])]):
            if record.config_id != config:
                reason = "this change id was used by another POS"
                answers[record.change_id] = _rejected(record.change_id, reason)
            elif record.status == "rejected":
                answers[record.change_id] = _rejected(record.change_id, record.reason)
            else:
                answers[record.change_id] = _applied(record.change_id, record.id)
        return answers

    @api.model
    def _recheck(self, config, entries: list[dict]) -> None:
        """Answer as duplicates the new changes that a push we waited for has stored."""
        fresh = [entry for entry in entries if _fresh(entry)]
        if fresh:
            known = self._first_answers(config, [entry["ack"]["id"] for entry in fresh])
            for entry in fresh:
                if entry["ack"]["id"] in known:
                    del entry["new"]
                    entry["ack"] = _replay(known[entry["ack"]["id"]])

    @api.model
    def _claim_orders(self, config, order_uuids: set[str]) -> dict:
        """The orders of ``order_uuids`` that belong to ``config``: {uuid: its row in
        pos_restaurant_sync.order, locked until commit}."""
        heads = {}
        pos_orders = self.env["pos.order"].search([("uuid", "in", list(order_uuids))])
        foreign = set(pos_orders.filtered(lambda o: o.config_id != config).mapped("uuid"))
        # Sorted, so two pushes that touch the same orders lock them in the same order.
        for order_uuid in sorted(order_uuids - foreign):
            head = self.env["pos_restaurant_sync.order"]._lock(config, order_uuid)
            if head:
                heads[order_uuid] = head
        return heads

    @api.model
    def _store(self, config, entries: list[dict]) -> PosRestaurantSyncChange:
        """Append the new entries to the log (rejected ones too, for their id); return the
        applied records, in push order."""
        rows = [_row(config, entry) for entry in entries if entry.get("new") and entry["ack"]["id"]]
        if not rows:
            return self.browse()
        self._lock_log(config)
        records = self.create(rows)
        by_id = {record.change_id: record for record in records}
        for entry in entries:
            if entry.get("new") and entry["ack"]["status"] == "applied":
                entry["ack"]["seq"] = by_id[entry["ack"]["id"]].id
        return records.filtered(lambda r: r.status == "applied")

    @api.model
    def _lock_log(self, config) -> None:
        """Serialise appends to ``config``'s log until commit (see the class docstring)."""
        self.env.cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOG_LOCK_CLASS, config.id))

    @api.model
    def _apply_orders(self, config, order_uuids: set[str]) -> None:
        """Rebuild each Odoo order from its whole log; a failure leaves the log intact.

        Each order is applied under its own lock (not the log's: a push never waits for
        the Odoo side of the push before it) and in a savepoint. Its row then remembers
        the log position applied; an order left behind by a failure is retried by its next
        push or by the cron (``_apply_pending``).
        """
        heads = self.env["pos_restaurant_sync.order"].sudo()
        for order_uuid in sorted(order_uuids):
            head = heads.search([("order_uuid", "=", order_uuid), ("config_id", "=", config.id)])
            if not head:
                continue
            head._lock_apply()
            records = self.sudo()._order_records(config, order_uuid)
            if not records or records[-1].id <= head.applied_seq:
                continue  # another request applied it meanwhile
            changes = [json.loads(record.payload) for record in records]
            view = protocol.materialize(order_uuid, changes)
            try:
                with self.env.cr.savepoint():
                    config.env["pos.order"]._possync_apply(config, view, changes)
            except psycopg2.OperationalError:
                raise  # a concurrency error: the caller tries again (the push route, the cron)
            except Exception:
                # The change is stored and broadcast all the same: the terminals merge it,
                # and the next change of this order (or the cron) retries the Odoo side.
                _logger.warning("could not apply order %s to Odoo", order_uuid, exc_info=True)
            else:
                head.applied_seq = records[-1].id

    @api.model
    def _apply_pending(self, limit: int = 100, grace: timedelta = APPLY_GRACE) -> None:
        """Apply the orders whose Odoo side is behind the log (the cron): a failed or
        interrupted application, or a request that ended between commit and apply."""
        self.flush_model()
        self.env["pos_restaurant_sync.order"].flush_model()
        self.env.cr.execute(
            """
            SELECT o.id, max(c.id)
              FROM pos_restaurant_sync_order o
              JOIN pos_restaurant_sync_change c
                ON c.order_uuid = o.order_uuid AND c.config_id = o.config_id
               AND c.status = 'applied'
             WHERE c.id > coalesce(o.applied_seq, 0) AND c.create_date < %s
             GROUP BY o.id
             ORDER BY o.order_uuid
             LIMIT %s
            """,
            [fields.Datetime.now() - grace, limit],
        )
        rows = self.env.cr.fetchall()
        log = self.sudo()
        for head in self.env["pos_restaurant_sync.order"].sudo().browse([r[0] for r in rows]):
            # With the rights of the user who pushed the order's latest change.
            latest = log._order_records(head.config_id, head.order_uuid)[-1:]
            user = latest.create_uid or self.env.user
            config = head.config_id.with_user(user)
            log.with_user(user).sudo()._apply_orders(config, {head.order_uuid})

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

        ``reset`` says that changes after ``after`` are no longer in the log (pruned, or
        the cursor is from another database): the client re-reads the open orders.
        """
        log = self.sudo()
        reset = after < config.sudo().possync_pruned_seq
        if after > log._last_position():
            after, reset = 0, True  # from another database (restored or recreated)
        records = log.search(
            [("config_id", "=", config.id), ("status", "=", "applied"), ("id", ">", after)],
            order="id",
            limit=limit + 1,
        )
        page = records[:limit]
        return {
            "changes": [record._entry() for record in page],
            "cursor": page[-1].id if page else after,
            "more": len(records) > limit,
            "reset": reset,
        }

    @api.model
    def _last_position(self) -> int:
        self.env.cr.execute(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END "
            "FROM pos_restaurant_sync_change_id_seq"
        )
        return self.env.cr.fetchone()[0]

    # --- closes made by the server ----------------------------------------------------

    @api.model
    def _emit_closes(self, closes: dict[tuple[int, str], str]) -> None:
        """Log and broadcast ``order.close`` for orders Odoo finalized itself.

        ``closes`` maps (config id, order uuid) to "paid" or "cancel". Only orders the log
        knows and does not already show as closed that far get a change.
        """
        heads = self.env["pos_restaurant_sync.order"]
        closing = []
        # Every order's row before any log lock (the lock order of pos_restaurant_sync.order).
        for (config_id, order_uuid), state in sorted(closes.items(), key=lambda i: i[0][1]):
            config = self.env["pos.config"].browse(config_id)
            head = heads.search([("order_uuid", "=", order_uuid), ("config_id", "=", config_id)])
            if head and protocol.STATE_RANK[state] > protocol.STATE_RANK[head.state]:
                heads._lock(config, order_uuid)._raise_state(state)
                closing.append((config, order_uuid, state))
        for config, order_uuid, state in closing:
            change = self._server_close(config, order_uuid, state)
            self._lock_log(config)
            record = self.create(_row(config, {"ack": _applied(change["id"]), "change": change}))
            config._possync_broadcast([record._entry()])

    @api.model
    def _server_close(self, config, order_uuid: str, state: str) -> dict:
        """A close by the server, sorting after every change it has seen for the order."""
        now_ms = int(time.time() * 1000)
        clock = protocol.HybridClock()
        latest = self.search(
            [("config_id", "=", config.id), ("order_uuid", "=", order_uuid), ("hlc", "!=", False)],
            order="hlc desc",
            limit=1,
        )
        if latest:
            clock.observe(latest.hlc, now_ms)
        return {
            "v": protocol.PROTOCOL_VERSION,
            "id": uuid.uuid4().hex,
            "terminal": SERVER_TERMINAL,
            "hlc": clock.tick(now_ms),
            "order": order_uuid,
            "ops": [{"op": "order.close", "state": state}],
        }

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


# --- acknowledgements and rows -----------------------------------------------------------


def _check_push(config, raw_changes) -> None:
    if not config.possync_enabled:
        raise SyncRequestError("disabled", f"Real-Time Sync is off for {config.name}")
    if not isinstance(raw_changes, list):
        raise SyncRequestError("bad_request", "changes must be a list")
    if len(raw_changes) > MAX_CHANGES_PER_PUSH:
        raise SyncRequestError("too_large", f"at most {MAX_CHANGES_PER_PUSH} changes per push")
    for raw in raw_changes:
        # Another version is not refused for good: the sender keeps it until updated.
        if isinstance(raw, dict) and "v" in raw and raw["v"] != protocol.PROTOCOL_VERSION:
            raise SyncRequestError(
                "version",
                f"protocol version {raw['v']!r} is not supported; this server speaks "
                f"{protocol.PROTOCOL_VERSION} (update possync or the addon)",
            )


def _change_id(raw) -> str | None:
    """The change's id if it is a valid one (only those can be remembered)."""
    change_id = raw.get("id") if isinstance(raw, dict) else None
    try:
        protocol._check_id(change_id, "id")
    except protocol.InvalidChange:
        return None
    return change_id


def _new_entry(raw, now_ms: int) -> dict:
    """A change not seen before; refused for good when invalid or stamped more than 60 s
    ahead of the server's clock (a reading from the future would win every later edit)."""
    try:
        change = protocol.check_clock(protocol.parse_change(raw), now_ms, "the server")
    except protocol.InvalidChange as exc:
        return {"new": True, "ack": _rejected(_change_id(raw), str(exc))}
    return {"new": True, "ack": _applied(change["id"]), "change": change}


def _fresh(entry: dict) -> bool:
    return bool(entry.get("new")) and entry["ack"]["status"] == "applied"


def _applied(change_id: str, seq: int | None = None) -> dict:
    return {"id": change_id, "status": "applied", "seq": seq}


def _rejected(change_id: str | None, reason: str) -> dict:
    return {"id": change_id, "status": "rejected", "reason": reason}


def _replay(first: dict) -> dict:
    """The answer to a change id seen before: its first answer stands."""
    if first["status"] == "rejected":
        return dict(first)
    return {"id": first["id"], "status": "duplicate", "seq": first.get("seq")}


def _public(ack: dict) -> dict:
    return {key: value for key, value in ack.items() if key != "seq"}


def _cursor(acks: list[dict]) -> int:
    """The log position of the newest change this push has stored (0 if none)."""
    return max((ack.get("seq") or 0 for ack in acks), default=0)


def _row(config, entry: dict) -> dict:
    ack, change = entry["ack"], entry.get("change") or {}
    applied = ack["status"] == "applied"
    return {
        "change_id": ack["id"],
        "config_id": config.id,
        "order_uuid": change.get("order"),
        "terminal": change.get("terminal"),
        "hlc": change.get("hlc"),
        "status": ack["status"],
        "reason": ack.get("reason"),
        "payload": json.dumps(change, separators=(",", ":"), ensure_ascii=False)
        if applied
        else False,
    }
