from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import timedelta

import psycopg2
from odoo import api, fields, models
from odoo.exceptions import UserError

from ..lib import change_key, order_state, protocol
from ..scope import Scope
from .pos_restaurant_sync_order import MergedOrder

_logger = logging.getLogger(__name__)

SERVER_TERMINAL = "server"
MAX_CHANGES_PER_PUSH = 500
MAX_PULL = 500
# A pull answer stops before this many bytes of changes (at least one change is sent; a
# change is at most the 1 MiB of a push) and says "more".
MAX_PULL_BYTES = 4 * 1024 * 1024
# Lines of one order, and payment lines, each counted with the deleted ones (a deletion is
# a tombstone every replica keeps).
MAX_ITEMS_PER_ORDER = 1000
# Changes one order takes in its life.
MAX_CHANGES_PER_ORDER = 10_000
# What one {"seq", "change"} adds to a pull answer besides the change itself.
PULL_ENTRY_OVERHEAD = 32
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
        ``_apply_orders``. The log itself is sudo; what a change names is checked with the
        pushing user's rights (``scope.Scope``, ``config`` is in that user's environment),
        and the Odoo order is written with them.
        """
        _check_push(config, raw_changes)
        log = self.sudo()
        entries = log._classify(config, raw_changes)
        heads = log._claim_orders(config, {e["change"]["order"] for e in entries if _fresh(e)})
        log._recheck(config, entries)
        for entry in entries:
            if _fresh(entry) and entry["change"]["order"] not in heads:
                entry["ack"] = _rejected(entry["ack"]["id"], "the order belongs to another POS")
        merged = log._admit(config, entries, heads)
        stored = log._store(config, entries)
        for entry in entries:
            if "copy_of" in entry:
                first = entries[entry["copy_of"]]
                entry["ack"] = _answer_again(first["ack"], first["hash"], entry["hash"])
        entries_out = [record._entry() for record in stored]
        for order_uuid, order in merged.items():
            if order.admitted:
                order.seq = max(r.id for r in stored if r.order_uuid == order_uuid)
                heads[order_uuid]._save_merged(order)
        config._possync_broadcast(entries_out)
        acks = [entry["ack"] for entry in entries]
        result = {"acks": [_public(ack) for ack in acks], "cursor": _cursor(acks)}
        return result, {entry["change"]["order"] for entry in entries_out}

    @api.model
    def _classify(self, config, raw_changes: list) -> list[dict]:
        """One entry per pushed change: its acknowledgement so far, and the change if new.

        A change id this POS saw before gets its first answer again if the change is the
        same (``hash``), and is rejected if it is not; a copy later in the same push is
        marked ``copy_of`` and answered once the first copy's fate is known.
        """
        hashes = [change_key.payload_hash(raw) for raw in raw_changes]
        known = self._first_answers(config, [_change_id(raw) for raw in raw_changes])
        now_ms = int(time.time() * 1000)
        first_copy: dict[str, int] = {}
        entries = []
        for index, raw in enumerate(raw_changes):
            change_id = _change_id(raw)
            if change_id in known:
                entries.append({"ack": _answer_again(*known[change_id], hashes[index])})
            elif change_id in first_copy:
                entries.append({"copy_of": first_copy[change_id], "hash": hashes[index]})
            else:
                if change_id:
                    first_copy[change_id] = index
                entries.append({**_new_entry(raw, now_ms), "hash": hashes[index]})
        return entries

    @api.model
    def _first_answers(self, config, change_ids: list) -> dict[str, tuple[dict, str | None]]:
        """The first answer given to each change id already in this POS's log, with the
        hash of the change it was given to."""
        answers = {}
        domain = [("config_id", "=", config.id), ("change_id", "in", [i for i in change_ids if i])]
        for record in self.search(domain):
            if record.status == "rejected":
                answer = _rejected(record.change_id, record.reason)
            else:
                answer = _applied(record.change_id, record.id)
            answers[record.change_id] = (answer, record.payload_hash)
        return answers

    @api.model
    def _recheck(self, config, entries: list[dict]) -> None:
        """Answer again the new changes that a push we waited for has stored."""
        fresh = [entry for entry in entries if entry.get("new") and entry["ack"]["id"]]
        if fresh:
            known = self._first_answers(config, [entry["ack"]["id"] for entry in fresh])
            for entry in fresh:
                if entry["ack"]["id"] in known:
                    del entry["new"]
                    entry["ack"] = _answer_again(*known[entry["ack"]["id"]], entry["hash"])

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
    def _admit(self, config, entries: list[dict], heads: dict) -> dict[str, MergedOrder]:
        """Fold each new change into its order's merged state, or reject it.

        A change is rejected, and nothing of it kept, when the order would grow past the
        caps (``too_large``) or when it names what the pushing user may not put in this
        POS's orders (``scope.Scope``). Returns each order's merged state with the changes
        admitted; the caller saves it once the changes are stored.
        """
        scope = Scope(config)
        merged: dict[str, MergedOrder] = {}
        for entry in entries:
            if not _fresh(entry):
                continue
            change = entry["change"]
            head = heads[change["order"]]
            if change["order"] not in merged:
                merged[change["order"]] = head._merged()
            order = merged[change["order"]]
            state, reason = self._admission(head, order, change, scope)
            if reason:
                entry["ack"] = _rejected(change["id"], reason)
            else:
                order.state = state
                order.count += 1
                order.admitted.append(change)
        return merged

    @api.model
    def _admission(self, head, order: MergedOrder, change: dict, scope: Scope):
        """(the order's state with ``change`` folded in, why it is refused or None)."""
        if order.count >= MAX_CHANGES_PER_ORDER:
            return None, (
                f"too_large: the order already has {order.count} changes, the most one order takes"
            )
        try:
            state = order_state.folded(order.state, change)
        except order_state.NeedsReplay:
            state = head._merged_from_log([*order.admitted, change]).state
        for part, label in (("line", "lines"), ("payment", "payment lines")):
            if len(state[part]) > max(MAX_ITEMS_PER_ORDER, len(order.state[part])):
                return None, (
                    f"too_large: an order has at most {MAX_ITEMS_PER_ORDER} {label}, "
                    "deleted ones included"
                )
        return state, scope.refusal(change, state)

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
        """Make each Odoo order show its merged state; a failure leaves the log intact.

        The state is the one the pushes saved on the order's row (``_admit``): applying
        reads no log. Each order is applied under its own lock (not the log's: a push never
        waits for the Odoo side of the push before it) and in a savepoint. Its row then
        remembers the log position applied; an order left behind by a failure is retried by
        its next push or by the cron (``_apply_pending``).
        """
        heads = self.env["pos_restaurant_sync.order"].sudo()
        for order_uuid in sorted(order_uuids):
            head = heads.search([("order_uuid", "=", order_uuid), ("config_id", "=", config.id)])
            if not head:
                continue
            head._lock_apply()
            order = head._merged()
            if not order.seq or order.seq <= head.applied_seq:
                continue  # another request applied it meanwhile
            view = order_state.view(order.state)
            removed = [order_state.deleted(order.state, part) for part in ("line", "payment")]
            try:
                with self.env.cr.savepoint():
                    config.env["pos.order"]._possync_apply(config, view, *removed)
            except psycopg2.OperationalError:
                raise  # a concurrency error: the caller tries again (the push route, the cron)
            except Exception:
                # The change is stored and broadcast all the same: the terminals merge it,
                # and the next change of this order (or the cron) retries the Odoo side.
                _logger.warning("could not apply order %s to Odoo", order_uuid, exc_info=True)
            else:
                head.applied_seq = order.seq

    @api.model
    def _apply_pending(self, limit: int = 100, grace: timedelta = APPLY_GRACE) -> None:
        """Apply the orders whose Odoo side is behind the log (the cron): a failed or
        interrupted application, or a request that ended between commit and apply."""
        self.flush_model()
        self.env["pos_restaurant_sync.order"].flush_model()
        # An order without a merged state was last pushed before the addon kept one.
        self.env.cr.execute(
            """
            SELECT o.id
              FROM pos_restaurant_sync_order o
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
        for head in self.env["pos_restaurant_sync.order"].sudo().browse([r[0] for r in rows]):
            # With the rights of the user who pushed the order's latest change.
            user = head.write_uid or self.env.user
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
                head = heads._lock(config, order_uuid)
                closing.append((config, head, state))
        for config, head, state in closing:
            change = self._server_close(config, head.order_uuid, state)
            order = head._merged()
            self._lock_log(config)
            entry = {
                "ack": _applied(change["id"]),
                "change": change,
                "hash": change_key.payload_hash(change),
            }
            record = self.create(_row(config, entry))
            try:
                order.state = order_state.folded(order.state, change)
            except order_state.NeedsReplay:
                order.state = head._merged_from_log().state
            order.seq, order.count = record.id, order.count + 1
            head._save_merged(order)
            config._possync_broadcast([record._entry()])

    @api.model
    def _server_close(self, config, order_uuid: str, state: str) -> dict:
        """A close by the server, sorting after every change it has seen for the order."""
        now_ms = int(time.time() * 1000)
        clock = protocol.HybridClock()
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


def _answer_again(first: dict, first_hash: str | None, sent_hash: str) -> dict:
    """The answer to a change id this POS saw before, sent again with ``sent_hash``.

    The same change again (a retry, a relay) gets its first answer; another change under a
    used id is refused, so an id can never be taken over. A row stored without a hash
    (a change rejected before the hash was kept) keeps its first answer for any content.
    """
    if first_hash and first_hash != sent_hash:
        return _rejected(first["id"], "this change id was already used with another content")
    return _replay(first)


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
        "payload_hash": entry.get("hash"),
        "payload": json.dumps(change, separators=(",", ":"), ensure_ascii=False)
        if applied
        else False,
    }
