"""The push: changes from a terminal into the log, then into the Odoo orders.

``_push`` is the push as the route runs it (and the tests with it): two transactions of its
own, the first to store and broadcast, the second to apply, tried again when a concurrent
transaction held a row. Each change is one record of ``lib/push_records`` from the moment
it is received to its answer.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from time import monotonic

from odoo import api, models, sql_db
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY

from ..lib import clock, order_state, protocol, push_records
from ..lib.push_records import InvalidChange, Logged, NewChange, Received
from ..scope import Scope
from .pos_order import APPLY_DEADLINE_KEY
from .pos_restaurant_sync_change import SyncRequestError
from .pos_restaurant_sync_order import MergedOrder, PosRestaurantSyncOrder

_logger = logging.getLogger(__name__)

MAX_CHANGES_PER_PUSH = 500
# Lines of one order, and payment lines, each counted with the deleted ones (a deletion is
# a tombstone every replica keeps).
MAX_ITEMS_PER_ORDER = 1000
# Changes one order takes in its life.
MAX_CHANGES_PER_ORDER = 10_000
# Odoo's own sync of the same order, or another push's application (Odoo 19 takes a POS's
# order and line sequences FOR UPDATE NOWAIT until commit), may hold a row the application
# needs for a moment: tries of one order, and the first pause, which doubles each time.
APPLY_ATTEMPTS = 4
APPLY_PAUSE_S = (0.05, 0.25)
# What one push may spend applying: past it, an order that loses a lock gets no pause and no
# further try, and no order behind is taken up; the next push or the cron applies them. A
# push names up to 500 orders, and a replayed one must not hold a worker for minutes.
APPLY_BUDGET_S = 3.0
# Orders behind a push of duplicates takes up at most (the other pushes share the rest).
MAX_BEHIND_PER_PUSH = 20
ANOTHER_POS = "the order belongs to another POS"


class PosRestaurantSyncChange(models.Model):
    _inherit = "pos_restaurant_sync.change"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _push(self, config, raw_changes: list) -> dict:
        """Store, broadcast and apply ``raw_changes``; the answer (acks and cursor).

        The changes are stored and broadcast in a transaction of their own, committed
        before the Odoo orders are touched: the answer means "stored", and the bus message
        leaves at that commit. Each order is then applied in a transaction of its own
        (``_apply_retrying``); if that fails, the answer stands and the order's next push,
        a push of any of its changes again, or the cron applies it from the log. An order
        the push names only with changes the log already holds is applied too when its
        Odoo side is behind (``_behind``) and no other request is applying it: after a
        server outage every terminal pushes the same backlog, and each of those pushes is a
        chance for an order whose application lost a lock. ``config`` is in the pushing
        user's environment.
        """
        with _own_transaction(self.env) as env:
            log = env[self._name]
            result, order_uuids = log._store_and_broadcast(config.with_env(env), raw_changes)
            behind = log._behind(config.with_env(env), _named_orders(raw_changes) - order_uuids)
        deadline = monotonic() + APPLY_BUDGET_S
        for order_uuid in sorted(order_uuids):
            self._apply_retrying(config, order_uuid, deadline)
        for order_uuid in sorted(behind)[:MAX_BEHIND_PER_PUSH]:
            if monotonic() >= deadline:
                break
            self._apply_retrying(config, order_uuid, deadline, wait=False)
        return result

    @api.model
    def _apply_retrying(self, config, order_uuid: str, deadline: float, wait: bool = True) -> None:
        """Apply one order to Odoo in a transaction of its own, again after a growing,
        jittered pause when a concurrent transaction held a row: an order closed by this
        push gets no next push to catch up, and the cron may be a minute or more away. One
        order per transaction, so a lock lost by one order holds back no other, and the
        sequences Odoo locks for a new order or line are held only while that order is
        written; no pause, and no wait for a sequence, past the push's ``deadline``
        (``monotonic()``). A failure is logged: the answer to the push stands."""
        for attempt in range(1, APPLY_ATTEMPTS + 1):
            try:
                with _own_transaction(self.env) as env:
                    applying = config.with_env(env).with_context(**{APPLY_DEADLINE_KEY: deadline})
                    env[self._name]._apply_orders(applying, {order_uuid}, wait)
                return
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                if attempt == APPLY_ATTEMPTS or monotonic() >= deadline:
                    _logger.warning("push: %s not applied, a lock held on every try", order_uuid)
                    return
                time.sleep(random.uniform(*APPLY_PAUSE_S) * 2 ** (attempt - 1))
            except Exception:
                _logger.warning("push: applying %s to Odoo failed", order_uuid, exc_info=True)
                return

    # --- storing ------------------------------------------------------------------------

    @api.model
    def _store_and_broadcast(self, config, raw_changes: list) -> tuple[dict, set[str]]:
        """Store and broadcast changes; one acknowledgement per change, in order.

        Returns the answer and the orders whose Odoo side is now behind the log. The log
        itself is sudo; what a change names is checked with the pushing user's rights
        (``scope.Scope``), and the Odoo order is later written with them.
        """
        _check_push(config, raw_changes)
        log = self.sudo()
        ids = [push_records.usable_id(raw) for raw in raw_changes]
        received = push_records.receive(raw_changes, log._logged(config, ids), clock.now_ms())
        order_rows = log._lock_order_rows(config, {r.order for r in _new_changes(received)})
        received = log._seen_meanwhile(config, received)
        merged, refusals = log._admit(config, _new_changes(received), order_rows)
        stored = log._store(config, received, refusals)
        answers = push_records.answers(received, refusals, {r.change_id: r.id for r in stored})
        log._save_merged_states(merged, order_rows, stored)
        entries = [record._entry() for record in stored]
        config._possync_broadcast(entries)
        result = {"acks": [a.public() for a in answers], "cursor": push_records.cursor(answers)}
        return result, {entry["change"]["order"] for entry in entries}

    @api.model
    def _logged(self, config, change_ids: list[str | None]) -> dict[str, Logged]:
        """What this POS's log holds for each of ``change_ids`` it holds."""
        logged = {}
        domain = [("config_id", "=", config.id), ("change_id", "in", [i for i in change_ids if i])]
        for record in self.search(domain):
            if record.status == "rejected":
                answer = push_records.Answer(record.change_id, "rejected", record.reason)
            else:
                answer = push_records.Answer(record.change_id, "applied", seq=record.id)
            logged[record.change_id] = Logged(answer, record.payload_hash)
        return logged

    @api.model
    def _seen_meanwhile(self, config, received: list[Received]) -> list[Received]:
        """``received`` with the changes that a push we waited for has stored meanwhile."""
        ids = push_records.stored_ids(received)
        if not ids:
            return received
        return push_records.seen_meanwhile(received, self._logged(config, ids))

    @api.model
    def _lock_order_rows(self, config, order_uuids: set[str]) -> dict[str, PosRestaurantSyncOrder]:
        """The orders of ``order_uuids`` that belong to ``config``: {uuid: its row in
        pos_restaurant_sync.order, locked until commit}."""
        order_rows = {}
        pos_orders = self.env["pos.order"].search([("uuid", "in", list(order_uuids))])
        foreign = set(pos_orders.filtered(lambda o: o.config_id != config).mapped("uuid"))
        # Sorted, so two pushes that touch the same orders lock them in the same order.
        for order_uuid in sorted(order_uuids - foreign):
            order_row = self.env["pos_restaurant_sync.order"]._lock(config, order_uuid)
            if order_row:
                order_rows[order_uuid] = order_row
        return order_rows

    @api.model
    def _admit(
        self, config, new_changes: list[NewChange], order_rows: dict
    ) -> tuple[dict[str, MergedOrder], dict[str, str]]:
        """Fold each new change into its order's merged state, or refuse it.

        A change is refused, and nothing of it kept, when its order belongs to another POS
        (no row in ``order_rows``), when the order would grow past the caps (``too_large``),
        or when it names what the pushing user may not put in this POS's orders
        (``scope.Scope``). Returns each order's merged state with the changes admitted
        (saved once they are stored), and why each refused change is refused.
        """
        scope = Scope(config)
        merged: dict[str, MergedOrder] = {}
        refusals: dict[str, str] = {}
        for new in new_changes:
            order_row = order_rows.get(new.order)
            if not order_row:
                refusals[new.change_id] = ANOTHER_POS
                continue
            if new.order not in merged:
                merged[new.order] = order_row._merged()
            order = merged[new.order]
            state, reason = self._admission(order_row, order, new.change, scope)
            if reason:
                refusals[new.change_id] = reason
            else:
                order.state = state
                order.count += 1
                order.admitted.append(new.change)
        return merged, refusals

    @api.model
    def _admission(self, order_row, order: MergedOrder, change: dict, scope: Scope):
        """(the order's state with ``change`` folded in, why it is refused or None)."""
        if order.count >= MAX_CHANGES_PER_ORDER:
            return None, (
                f"too_large: the order already has {order.count} changes, the most one order takes"
            )
        try:
            state = order_state.folded(order.state, change)
        except order_state.NeedsReplay:
            state = order_row._merged_from_log([*order.admitted, change]).state
        for part, label in (("line", "lines"), ("payment", "payment lines")):
            if len(state[part]) > max(MAX_ITEMS_PER_ORDER, len(order.state[part])):
                return None, (
                    f"too_large: an order has at most {MAX_ITEMS_PER_ORDER} {label}, "
                    "deleted ones included"
                )
        return state, scope.refusal(change, state)

    @api.model
    def _store(self, config, received: list[Received], refusals: dict[str, str]):
        """Append the changes the log does not hold yet (the refused ones too, for their
        id); return the applied records, in push order."""
        rows = []
        for record in received:
            if isinstance(record, NewChange):
                reason = refusals.get(record.change_id)
                rows.append(self._row(config, record.change_id, record.hash, record.change, reason))
            elif isinstance(record, InvalidChange) and record.change_id:
                rows.append(self._row(config, record.change_id, record.hash, None, record.reason))
        if not rows:
            return self.browse()
        return self._append(config, rows).filtered(lambda r: r.status == "applied")

    @api.model
    def _save_merged_states(self, merged: dict[str, MergedOrder], order_rows: dict, stored):
        """Save on each order's row the merged state its stored changes made."""
        for order_uuid, order in merged.items():
            if order.admitted:
                order.seq = max(r.id for r in stored if r.order_uuid == order_uuid)
                order_rows[order_uuid]._save_merged(order)


def _named_orders(raw_changes: list) -> set[str]:
    """The order uuids the changes of a push name, as sent (a known order's row is what
    ``_behind`` looks up, for the pushing POS only)."""
    return {
        raw["order"]
        for raw in raw_changes
        if isinstance(raw, dict) and isinstance(raw.get("order"), str) and len(raw["order"]) <= 64
    }


def _new_changes(received: list[Received]) -> list[NewChange]:
    return [record for record in received if isinstance(record, NewChange)]


def _check_push(config, raw_changes) -> None:
    """Refuse the whole push (SyncRequestError) when nothing of it may be stored."""
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


@contextmanager
def _own_transaction(env) -> Iterator:
    """A new READ COMMITTED transaction, committed when the block succeeds.

    A push waits for the lock of each order it touches. In READ COMMITTED it then sees
    what the push holding the lock committed, so concurrent pushes of one order (two
    waiters on a table, or one change relayed by several tablets) queue behind each other.
    In the request's own REPEATABLE READ transaction the later push would fail instead, and
    Odoo would replay it after a random sleep of up to seconds.
    """
    with env.registry.cursor() as cr:
        # In the addon's tests (registry test mode) the "new" cursor is a savepoint of the
        # test's own transaction: nothing to set.
        if isinstance(cr, sql_db.Cursor):
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        yield env(cr=cr)
