from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from odoo import Command, api, fields, models
from odoo.sql_db import db_connect
from odoo.tools import SQL

from .. import compat
from ..lib import protocol
from ..lib.kitchen_notes import check_kitchen_notes

_logger = logging.getLogger(__name__)

# Odoo order state -> the protocol's closed state. done (posted) and invoiced are paid.
CLOSED_STATES = {"paid": "paid", "done": "paid", "invoiced": "paid", "cancel": "cancel"}

LINE_FIELDS = {
    "product_id": "product_id",
    "qty": "qty",
    "price_unit": "price_unit",
    "discount": "discount",
    "customer_note": "customer_note",
    "internal_note": "note",
    "attribute_value_ids": "attribute_value_ids",
}
PAYMENT_FIELDS = {"payment_method_id": "payment_method_id", "amount": "amount"}
# A line's totals depend on these; they are recomputed when one of them changes.
LINE_PRICE_FIELDS = {"product_id", "qty", "price_unit", "discount"}
# The line's name shows these (the product, then its attribute values).
LINE_NAME_FIELDS = {"product_id", "attribute_value_ids"}

# First key of the advisory lock that guards a session's order references (b"posr").
REFS_LOCK_CLASS = 0x706F7372
# First key of the advisory lock under which one transaction at a time looks for the Odoo
# order of a uuid and creates it (b"posu"; the second key: the uuid's hashtext).
UUID_LOCK_CLASS = 0x706F7375
# How long a push's application waits for a lock Odoo's own sync holds (PostgreSQL's
# lock_timeout), and never past the context's APPLY_DEADLINE_KEY (the push's budget, in
# time.monotonic()); past it, it fails as Odoo's own draw of a number would, and is tried
# again.
LOCK_WAIT_S = 2.0
APPLY_DEADLINE_KEY = "possync_apply_deadline"

# The context key that marks possync's own writes into an Odoo order (``_possync_apply``),
# and its value: an object no client can send, so no request can pass its write off as one.
APPLYING_KEY = "possync_applying"
APPLYING = object()

# The PostgreSQL sequence that numbers the writes of Odoo orders made outside the apply.
OUTSIDE_WRITE_SEQUENCE = "pos_order_possync_outside_write_seq"

# A value that cannot be stored in Odoo: left out. What a change names was checked for the
# POS and the user when the change was admitted (scope.py); a record deleted since is skipped.
_SKIP = object()


class PosOrder(models.Model):
    _inherit = "pos.order"

    # Odoo's re-read of the open orders asks, on a page with sync on, for the orders of its
    # POS whose last outside write comes after the page's copy (pos/open_orders.js): possync
    # brings its own changes to every page, and its apply writes the Odoo order after each
    # one, which would make every order it touched new to every page's re-read. A number
    # drawn from one sequence under the order's row lock, not a time: later for each later
    # write of an order, and never equal for two (a date is to the second).
    possync_outside_write = fields.Integer(
        string="Last Write outside Real-Time Sync",
        readonly=True,
        copy=False,
        help="Where the order's last write by anything but Real-Time Sync's own application "
        "of the terminals' changes comes in one sequence of the database.",
    )

    def init(self):
        result = super().init()
        sequence = SQL.identifier(OUTSIDE_WRITE_SEQUENCE)
        self.env.cr.execute(SQL("CREATE SEQUENCE IF NOT EXISTS %s", sequence))
        return result

    # --- Odoo finalizes an order: tell the terminals ------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        vals_list = [_without_outside_write(vals) for vals in vals_list]
        orders = super().create(vals_list)
        orders._possync_number_outside_write()
        orders.filtered(lambda o: o.state != "draft")._possync_queue_close()
        return orders

    def write(self, vals):
        vals = _without_outside_write(vals)
        closing = self.browse()
        if vals.get("state") and vals["state"] != "draft":
            closing = self.filtered(lambda o: o.state == "draft")
        result = super().write(vals)
        self._possync_number_outside_write()
        closing._possync_queue_close()
        return result

    def unlink(self):
        self.filtered(lambda o: o.state == "draft")._possync_queue_close("cancel")
        return super().unlink()

    def _possync_number_outside_write(self) -> None:
        """Give these orders the next number of the outside write sequence, unless possync's
        apply writes them. The UPDATE takes each order's row lock before it draws, so of
        two transactions writing an order, the one that commits last leaves the larger."""
        ids = tuple(id_ for id_ in self._ids if isinstance(id_, int))  # not a draft in a form
        if self.env.context.get(APPLYING_KEY) is APPLYING or not ids:
            return
        self.env.cr.execute(
            SQL(
                "UPDATE pos_order SET possync_outside_write = nextval(%s) WHERE id IN %s",
                OUTSIDE_WRITE_SEQUENCE,
                ids,
            )
        )
        self.invalidate_recordset(["possync_outside_write"])

    def _possync_queue_close(self, state: str | None = None) -> None:
        """Have the sync log close these orders when the transaction commits.

        Covers payment validated by Odoo's own flow (sync_from_ui), cancel
        (action_pos_order_cancel, remove_from_ui) and deletion. Deferred to pre-commit so
        the log's lock is held for the commit only, not for the pickings and invoice of a
        payment; nothing is emitted if the transaction rolls back.
        """
        for order in self:
            closing = state or CLOSED_STATES.get(order.state)
            if closing and order.uuid and order.config_id.possync_enabled:
                closes = self._possync_pending_closes()
                key = (order.config_id.id, order.uuid)
                rank = protocol.STATE_RANK
                if rank[closing] > rank.get(closes.get(key), -1):
                    closes[key] = closing

    def _possync_pending_closes(self) -> dict:
        data = self.env.cr.precommit.data
        if "pos_restaurant_sync.closes" not in data:
            data["pos_restaurant_sync.closes"] = {}
            env = self.env

            @env.cr.precommit.add
            def emit_closes():
                closes = env.cr.precommit.data.pop("pos_restaurant_sync.closes", {})
                env["pos_restaurant_sync.change"].sudo()._emit_closes(closes)

        return data["pos_restaurant_sync.closes"]

    # --- Odoo's own order sync (sync_from_ui) -------------------------------------------

    @api.model
    def sync_from_ui(self, orders):
        # Before Odoo writes anything: a push of these orders then waits for this
        # transaction instead of making it fail (see pos_restaurant_sync.order), and does
        # not create an order this one creates.
        uuids = {order.get("uuid") for order in orders if isinstance(order, dict)} - {None}
        self.env["pos_restaurant_sync.order"]._lock_for_odoo(uuids)
        held = self._possync_uuids_to_hold(orders)
        self._possync_hold_uuids(held)
        unseen = held - set(self.sudo().search([("uuid", "in", list(held))]).mapped("uuid"))
        self._possync_start_again_if_created_since(unseen)
        return super().sync_from_ui(orders)

    @api.model
    def _possync_uuids_to_hold(self, orders: list) -> set[str]:
        """The uuids of ``orders`` of an open session of a POS with sync on, in the user's
        companies; a uuid that is not an id (protocol's, at most 64 characters) is Odoo's
        own business."""
        by_session: dict[int, set[str]] = {}
        for order in orders:
            if not isinstance(order, dict) or not isinstance(order.get("session_id"), int):
                continue
            if isinstance(order.get("uuid"), str) and len(order["uuid"]) <= protocol.MAX_ID_LENGTH:
                by_session.setdefault(order["session_id"], set()).add(order["uuid"])
        sessions = self.env["pos.session"].sudo().browse(list(by_session)).exists()
        synced = sessions.filtered(
            lambda s: s.config_id.possync_enabled and s.company_id in self.env.companies
        )
        return set().union(*(by_session[session.id] for session in synced))

    @api.model
    def _possync_hold_uuids(self, uuids: set[str]) -> None:
        """Look for, and create, the Odoo orders of ``uuids`` one transaction at a time:
        Odoo's own sync and a push's application each create the order they do not find,
        and two that looked at once would make two (18 has no unique uuid; on 19 one would
        fail). Held until commit; a push waits within its budget (``_possync_budget``)."""
        with self._possync_budget():
            for order_uuid in sorted(uuids):
                self.env.cr.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(%s::text))",
                    [UUID_LOCK_CLASS, order_uuid],
                )

    @api.model
    def _possync_start_again_if_created_since(self, uuids: set[str]) -> None:
        """Fail with a serialization failure, which Odoo's request and the push try again
        in a new transaction, if the Odoo order of one of ``uuids`` (which this transaction
        does not see) exists now: created by a transaction committed after this one's
        snapshot. Odoo's request reads a REPEATABLE READ snapshot taken before it could
        wait for ``_possync_hold_uuids``; only another connection sees what committed since.
        """
        if not uuids:
            return
        with db_connect(self.env.cr.dbname).cursor() as now:
            # Behind a schema change's lock, it would wait for this transaction: fail, and
            # Odoo tries again.
            now.execute("SET LOCAL lock_timeout = '2s'")
            now.execute("SELECT uuid FROM pos_order WHERE uuid IN %s", [tuple(uuids)])
            created = sorted(row[0] for row in now.fetchall())
        if created:
            self.env.cr.execute(
                "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'serialization_failure',"
                " MESSAGE = 'possync: order created meanwhile, start again'; END $$",
                log_exceptions=False,
            )

    @api.model
    def _get_open_order(self, order):
        """The Odoo order a POS's order data is written into: with sync on, the order of its
        uuid only. Odoo's restaurant also takes the table's newest open order for a draft
        sent for a table, to keep one open order a table; with sync on a table may hold two
        (two terminals that opened it at once: docs/protocol.md), and each is the order of
        its own uuid on every terminal, so writing one into the other would move its lines
        behind the terminals' backs. The restaurant looks up by uuid alone an order sent for
        no table: so is each order asked for with sync on."""
        session = self.env["pos.session"].browse(order.get("session_id")).exists()
        if session.config_id.possync_enabled:
            return super()._get_open_order({**order, "table_id": False})
        return super()._get_open_order(order)

    @api.model
    def _process_order(self, order, existing_order):
        if existing_order and existing_order.config_id.possync_enabled:
            # The restaurant may hand over another draft order of the table: lock it too.
            self.env["pos_restaurant_sync.order"]._lock_for_odoo({existing_order.uuid})
            existing_order._possync_adopt_commands(order)
        return super()._process_order(order, existing_order)

    def action_pos_order_cancel(self):
        self.env["pos_restaurant_sync.order"]._lock_for_odoo(set(self.mapped("uuid")) - {False})
        return super().action_pos_order_cancel()

    def _possync_adopt_commands(self, order_data: dict) -> None:
        """Make the POS's "create" commands safe for what the sync already created.

        Lines with a known uuid become updates of the sync's line, so Odoo never
        duplicates them. Payments with a known uuid are deleted and the POS's own create
        books them: it carries what the sync never sees (terminal status, receipt), and 18
        refuses to update a payment whose values name another (posted) order. On 19 the
        delete also keeps the payment uuid unique. The sync emits no change for what
        sync_from_ui writes: the terminals have already sent every edit as a change.
        """
        commands = order_data.get("lines") or []
        uuids = [_created_uuid(command) for command in commands]
        lines = self._possync_records_by_uuid("pos.order.line", "order_id", set(uuids) - {None})
        if lines:
            order_data["lines"] = [
                self._possync_adopt_line(command, lines.get(uuid))
                for command, uuid in zip(commands, uuids, strict=True)
            ]
        created = {_created_uuid(command) for command in order_data.get("payment_ids") or []}
        payments = self._possync_records_by_uuid("pos.payment", "pos_order_id", created - {None})
        self.env["pos.payment"].union(*payments.values()).unlink()

    def _possync_records_by_uuid(self, model: str, parent: str, uuids: set[str]) -> dict:
        """Records of ``model`` with these uuids that this order may take over: its own, or
        those of another open or cancelled order of the POS (a merge moves lines)."""
        if not uuids:
            return {}
        records = self.env[model].search([("uuid", "in", list(uuids))])
        return {
            record.uuid: record
            for record in records
            if record[parent] == self
            or (
                record[parent].config_id == self.config_id
                and record[parent].state in ("draft", "cancel")
            )
        }

    def _possync_adopt_line(self, command, line):
        if not line:
            return command
        vals = {key: value for key, value in command[2].items() if key != "id"}
        # 18's POS sends its local order id ("pos.order_1" read as 1) in the values: never
        # trust it, or the line moves to whatever order has that id.
        vals["order_id"] = self.id
        return [1, line.id, vals]

    # --- the sync log applied to the Odoo order -----------------------------------------

    @api.model
    def _possync_apply(
        self, config, view: dict, removed_lines: set[str], removed_payments: set[str]
    ) -> None:
        """Make the Odoo order show ``view`` (the merged order, as protocol.materialize
        gives it); ``removed_*``: the uuids of its deleted lines and payment lines.

        Creates the draft order if needed, in the POS's open session. Never reopens or
        edits a paid or cancelled Odoo order. A view closed as paid leaves the state to
        Odoo's payment flow (it books the payment); a view cancelled cancels the order.
        The Odoo order keeps its number of the last outside write (``possync_outside_write``).
        """
        orders = self.with_context(**{APPLYING_KEY: APPLYING})
        order = orders.search([("uuid", "=", view["uuid"])], limit=1)
        created = False
        if not order and view["state"] == "draft":
            order, created = orders._possync_find_or_create_draft(config, view)
        if not order:
            return
        if order.state != "draft":
            # Odoo closed it but the log may not say so yet (closed while the log was
            # pruned, or sync was off): the terminals learn it from a server close.
            order._possync_queue_close()
            return
        if view["state"] == "cancel":
            order.action_pos_order_cancel()
            return
        order._possync_write_order(view)
        priced = order._possync_write_lines(view["lines"], removed_lines, sequences_taken=created)
        priced |= order._possync_write_payments(view["payments"], removed_payments)
        if priced:  # a note, a guest count or a table leaves the totals as they are
            order._compute_prices()

    @api.model
    def _possync_find_or_create_draft(self, config, view: dict) -> tuple[PosOrder, bool]:
        """The Odoo order of ``view``, which Odoo's own sync may be creating at the same
        time (see ``_possync_hold_uuids``): the one it created meanwhile, or a new draft in
        the POS's open session (True). None (an empty recordset) without an open session,
        or with sync switched off since the push: Odoo's sync then takes no lock."""
        session = config.current_session_id
        if not config.possync_enabled or session.state not in ("opening_control", "opened"):
            why = "no open session" if config.possync_enabled else "sync is off"
            _logger.info("order %s kept in the sync log only: %s", view["uuid"], why)
            return self.browse(), False
        self._possync_hold_uuids({view["uuid"]})
        # A push (READ COMMITTED) sees what committed while it waited; the cron (REPEATABLE
        # READ) starts again instead.
        order = self.search([("uuid", "=", view["uuid"])], limit=1)
        if order:
            return order, False
        self._possync_start_again_if_created_since({view["uuid"]})
        return self._possync_create_draft(config, session, view), True

    @api.model
    def _possync_create_draft(self, config, session, view: dict) -> PosOrder:
        # Before 18's references take their session lock: no wait while holding it.
        self._possync_wait_for_sequences(config, compat.ORDER_SEQUENCES + compat.LINE_SEQUENCES)
        vals = {
            "session_id": session.id,
            "uuid": view["uuid"],
            "amount_tax": 0.0,
            "amount_total": 0.0,
            "amount_paid": 0.0,
            "amount_return": 0.0,
            **self._possync_order_refs(session),
        }
        return self.create({**vals, **self._possync_order_vals(view)})

    def _possync_wait_for_sequences(self, config, names: tuple[str, ...]) -> None:
        """Take the POS's no-gap sequences ``names`` before drawing from them, waiting for a
        transaction that holds one (``_possync_budget``). Called once per order's
        application: the rows stay taken until its transaction ends.

        Odoo draws from such a sequence with FOR UPDATE NOWAIT, which fails at once while
        another transaction has drawn and not committed: Odoo's own sync of an order,
        another push's application. After a heal every terminal pushes its backlog at once
        and an application could lose that race on every try, the order then waiting for
        the cron. Only a push's application waits (its context has the deadline): the
        cron's REPEATABLE READ transaction would fail on a row committed meanwhile all the
        same.
        """
        deadline = self.env.context.get(APPLY_DEADLINE_KEY)
        if deadline is None:
            return
        config = config.sudo()
        named = [config[name] for name in names if name in config._fields]
        sequences = self.env["ir.sequence"].sudo().union(*named)
        self._possync_take_sequences(sequences.filtered(lambda s: s.implementation == "no_gap"))

    @api.model
    def _possync_take_sequences(self, sequences) -> None:
        """Lock the rows of ``sequences`` for this transaction (see
        ``_possync_wait_for_sequences``), then forget their cached next number.

        The application runs in READ COMMITTED (``_own_transaction``), so once the holder
        commits this sees the number it drew. Odoo's own draw then finds the row already
        taken by this transaction and reads its number from the cache, which predates the
        wait: read again, it is the holder's next one, not the holder's own.
        """
        if not sequences:
            return
        ids = tuple(sorted(sequences.ids))
        with self._possync_budget():
            self.env.cr.execute(
                "SELECT id FROM ir_sequence WHERE id IN %s ORDER BY id FOR UPDATE", [ids]
            )
        sequences.invalidate_recordset(["number_next"])

    @contextmanager
    def _possync_budget(self) -> Iterator[None]:
        """Lock waits in the block end after ``LOCK_WAIT_S``, and by the push's budget (the
        context's ``APPLY_DEADLINE_KEY``), with PostgreSQL's lock_timeout error; the
        caller's own lock_timeout holds again after the block. Without a deadline (the
        cron, Odoo's own requests), the caller's holds throughout."""
        deadline = self.env.context.get(APPLY_DEADLINE_KEY)
        if deadline is None:
            yield
            return
        cr = self.env.cr
        wait_ms = round(min(LOCK_WAIT_S, deadline - time.monotonic()) * 1000)
        cr.execute("SELECT current_setting('lock_timeout')")
        (callers_timeout,) = cr.fetchone()
        # PostgreSQL reads 0 as "wait for ever": a budget spent still waits a millisecond.
        cr.execute("SET LOCAL lock_timeout = %s", [f"{max(1, wait_ms)}ms"])
        yield  # a wait that times out aborts the transaction: nothing to put back then
        cr.execute("SELECT set_config('lock_timeout', %s, true)", [callers_timeout])

    @api.model
    def _possync_order_refs(self, session) -> dict:
        """The receipt number and sequence of a new order, as the POS would give them.

        19's ``create`` draws them itself (``_get_next_order_refs``). 18's POS draws them
        in the browser: "Order <session>-<login number>-<sequence>", the login number being
        the terminal's own (``pos.session.login``). The sync takes one login number per
        session for the orders it creates, so its references never clash with a
        terminal's. Without one, a loaded order breaks the POS (pos_self_order calls
        ``pos_reference.startsWith``).
        """
        if compat.ORDER_REFS_FROM_CREATE:
            return {}
        code = f"pos_restaurant_sync.order_{session.id}"
        sequences = self.env["ir.sequence"].sudo().with_company(session.company_id)
        # One sequence per session, even when two pushes create its first orders at once.
        self.env.cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", (REFS_LOCK_CLASS, session.id))
        if not sequences.search_count([("code", "=", code)]):
            login_number = int(session.sudo().login() or 0)
            sequences.create(
                {
                    "name": f"POS Real-Time Sync orders of {session.name}",
                    "code": code,
                    "prefix": f"{session.id:05d}-{login_number:03d}-",
                    "padding": 4,
                    "company_id": session.company_id.id,
                }
            )
        reference = sequences.next_by_code(code)
        return {
            "pos_reference": f"Order {reference}",
            "sequence_number": int(reference.rsplit("-", 1)[-1]),
        }

    def _possync_order_vals(self, view: dict) -> dict:
        fields_map = {key: name for key, name in compat.ORDER_FIELDS.items() if name}
        [vals] = _odoo_vals(self, fields_map, [view])
        return vals

    def _possync_write_order(self, view: dict) -> None:
        _write_changed(self, self._possync_order_vals(view))

    def _possync_write_lines(
        self, lines: dict, removed: set[str], sequences_taken: bool = False
    ) -> bool:
        """Write the lines; True if the order's totals may have changed.
        ``sequences_taken``: this transaction holds the POS's line sequences already."""
        Line = self.env["pos.order.line"]
        existing = self._possync_records_by_uuid(Line._name, "order_id", set(lines))
        priced = False
        all_vals = _odoo_vals(Line, LINE_FIELDS, list(lines.values()))
        for line_uuid, vals in zip(lines, all_vals, strict=True):
            line = existing.get(line_uuid)
            if line:
                priced |= self._possync_update_line(line, vals)
            # A line needs its product: one without shows once its line.add arrives.
            elif vals.get("product_id") and not Line.search_count([("uuid", "=", line_uuid)]):
                if not sequences_taken:
                    self._possync_wait_for_sequences(self.config_id, compat.LINE_SEQUENCES)
                    sequences_taken = True
                self._possync_create_line(line_uuid, vals)
                priced = True
        gone = self.lines.filtered(lambda line: line.uuid in removed)
        gone.unlink()
        return priced or bool(gone)

    def _possync_update_line(self, line, vals: dict) -> bool:
        moved = line.order_id != self
        if moved:
            vals = {**vals, "order_id": self.id}  # moved here by a merge
        changed = _write_changed(line, vals)
        if "product_id" in changed:
            line.write(self._possync_product_vals(line.product_id))
        if changed & LINE_NAME_FIELDS:
            line.full_product_name = _full_product_name(line)
        if changed & LINE_PRICE_FIELDS:
            line.write(line._compute_amount_line_all())
        return moved or bool(changed & LINE_PRICE_FIELDS)

    def _possync_create_line(self, line_uuid: str, vals: dict) -> None:
        product = self.env["product.product"].browse(vals["product_id"])
        vals = {"qty": 1.0, **vals}
        if "price_unit" not in vals:
            vals["price_unit"] = self._possync_default_price(product, vals["qty"])
        line = self.env["pos.order.line"].create(
            {
                "order_id": self.id,
                "uuid": line_uuid,
                "price_subtotal": 0.0,
                "price_subtotal_incl": 0.0,
                **self._possync_product_vals(product),
                **vals,
            }
        )
        line.write(
            {"full_product_name": _full_product_name(line), **line._compute_amount_line_all()}
        )

    def _possync_product_vals(self, product) -> dict:
        taxes = product.taxes_id.filtered_domain(
            self.env["account.tax"]._check_company_domain(self.company_id)
        )
        return {"tax_ids": [(6, 0, taxes.ids)]}

    def _possync_default_price(self, product, qty: float) -> float:
        if not self.pricelist_id:
            return product.lst_price
        return self.pricelist_id._get_product_price(product, qty, currency=self.currency_id)

    def _possync_write_payments(self, payments: dict, removed: set[str]) -> bool:
        """Write the payment lines; True if the amount paid may have changed."""
        Payment = self.env["pos.payment"]
        priced = False
        existing = {payment.uuid: payment for payment in self.payment_ids}
        methods = self.config_id.payment_method_ids.ids
        all_vals = _odoo_vals(Payment, PAYMENT_FIELDS, list(payments.values()))
        for payment_uuid, vals in zip(payments, all_vals, strict=True):
            if vals.get("payment_method_id") not in methods:
                vals.pop("payment_method_id", None)  # not a method of this POS
            payment = existing.get(payment_uuid)
            if payment:
                priced |= bool(_write_changed(payment, vals))
            elif vals.keys() >= {"payment_method_id", "amount"} and not Payment.search_count(
                [("uuid", "=", payment_uuid)]
            ):
                Payment.create({"pos_order_id": self.id, "uuid": payment_uuid, **vals})
                priced = True
        gone = self.payment_ids.filtered(lambda payment: payment.uuid in removed)
        gone.unlink()
        return priced or bool(gone)


# --- values ------------------------------------------------------------------------------


def _created_uuid(command) -> str | None:
    """The uuid of an x2many "create" command from the POS, if it has one."""
    if isinstance(command, list | tuple) and len(command) == 3 and command[0] == 0:
        vals = command[2]
        if isinstance(vals, dict) and isinstance(vals.get("uuid"), str):
            return vals["uuid"]
    return None


def _odoo_vals(model, fields_map: dict[str, str], records: list[dict]) -> list[dict]:
    """Each record's protocol values as Odoo field values of ``model``, without what cannot
    be stored. What the records name (a line's product) is looked up once a model for them
    all: the view of an order names every line's product, and an apply writes the view."""
    existing = _existing(model, fields_map, records)
    return [_record_vals(model, fields_map, values, existing) for values in records]


def _existing(model, fields_map: dict[str, str], records: list[dict]) -> dict[str, set[int]]:
    """{model name: the ids among those the records name that exist}."""
    named: dict[str, set[int]] = defaultdict(set)
    for values in records:
        for key, name in fields_map.items():
            if not values.get(key):
                continue
            field = model._fields[name]
            if field.type in ("many2one", "many2many"):
                ids = values[key] if field.type == "many2many" else [values[key]]
                named[field.comodel_name].update(int(i) for i in ids)  # JSON's 3.0 is the id 3
    env = model.env
    return {
        name: set(env[name].sudo().browse(sorted(ids)).exists().ids) for name, ids in named.items()
    }


def _record_vals(model, fields_map: dict[str, str], values: dict, existing: dict) -> dict:
    vals = {}
    for key, name in fields_map.items():
        if key in values and _drawable(key, values[key]):
            value = _odoo_value(model._fields[name], values[key], existing)
            if value is not _SKIP:
                vals[name] = value
    return vals


def _drawable(key: str, value) -> bool:
    """False for a kitchen note this Odoo's POS cannot draw (19: not a JSON list of notes,
    lib/kitchen_notes.py). A push of one is refused (scope.py), but a log may hold one stored
    before the server checked notes: the record keeps the note it has."""
    if key != "internal_note" or not compat.KITCHEN_NOTES_AS_JSON:
        return True
    try:
        check_kitchen_notes(value)
    except ValueError as exc:
        _logger.warning("possync: kitchen note not written to Odoo: %s", exc)
        return False
    return True


def _odoo_value(field, value, existing: dict[str, set[int]]):
    if field.type == "many2many":
        return [Command.set(_existing_ids(field, value, existing))]
    if field.type == "many2one":
        if value is None:
            return False
        return int(value) if int(value) in existing.get(field.comodel_name, ()) else _SKIP
    if field.type == "integer":
        return int(value)
    if field.type in ("float", "monetary"):
        return float(value)
    return value or False


def _existing_ids(field, ids: list, existing: dict[str, set[int]]) -> list[int]:
    """The ids of records that exist, in the given order; the others are logged and left
    out (the change keeps them in the log)."""
    wanted = [int(i) for i in ids]
    found = existing.get(field.comodel_name, set())
    if missing := [i for i in wanted if i not in found]:
        model = field.comodel_name
        _logger.error("possync: no %s with ids %s, left out of the line", model, missing)
    return [i for i in wanted if i in found]


def _full_product_name(line) -> str:
    """The line's name as the POS gives it: the product, then its attribute values."""
    product = line.product_id.display_name
    values = ", ".join(line.attribute_value_ids.mapped("name"))
    return f"{product} ({values})" if values else product


def _write_changed(record, vals: dict) -> set[str]:
    """Write the values that differ from the record's; return their names."""
    changed = {name: value for name, value in vals.items() if not _same(record[name], value)}
    if changed:
        record.write(changed)
    return set(changed)


def _same(current, value) -> bool:
    if isinstance(value, list):  # a many2many's [Command.set(ids)], ids in increasing order
        return value == [Command.set(sorted(current.ids))]
    if isinstance(current, models.BaseModel):
        return current.id == (value or False)
    if isinstance(current, float) or isinstance(value, float):
        return abs((current or 0.0) - (value or 0.0)) < 1e-9
    return (current or False) == (value or False)


def _without_outside_write(vals: dict) -> dict:
    """``vals`` without the order's number of the last outside write: only
    ``PosOrder._possync_number_outside_write`` sets it, whatever a caller sends."""
    return {key: value for key, value in vals.items() if key != "possync_outside_write"}
