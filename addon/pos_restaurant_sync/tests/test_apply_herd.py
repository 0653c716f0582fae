import itertools
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from unittest.mock import patch

from odoo import SUPERUSER_ID, api, sql_db
from odoo.modules.registry import Registry
from odoo.tests import tagged
from odoo.tests.common import BaseCase, get_db_name
from psycopg2.errors import LockNotAvailable

from .. import compat
from ..models import pos_order as pos_order_module
from ..models import pos_restaurant_sync_change_push as push_module
from ..models.pos_restaurant_sync_order import APPLY_LOCK_CLASS
from .common import PossyncCommon

HELD = "could not obtain lock on row in relation ir_sequence"


@tagged("post_install", "-at_install")
class TestApplyUnderContention(PossyncCommon):
    """After a heal every terminal pushes the same backlog at once: the applications of
    those pushes meet each other's locks (docs/protocol.md, "After a heal")."""

    def setUp(self):
        super().setUp()
        self.Log = self.env["pos_restaurant_sync.change"]
        self.order_model = type(self.env["pos.order"])
        # No real pauses between the tries: the test counts them.
        self.clock = self.startPatcher(patch.object(push_module, "time"))

    def lock_held_for(self, *orders):
        """Patch Odoo's side of the application to lose a lock for ``orders`` on every try;
        returns the uuids it was called for, in order."""
        apply, calls = self.order_model._possync_apply, []

        def held(records, config, view, *removed):
            calls.append(view["uuid"])
            if view["uuid"] in orders:
                raise LockNotAvailable(HELD)
            return apply(records, config, view, *removed)

        self.startPatcher(
            patch.object(self.order_model, "_possync_apply", autospec=True, side_effect=held)
        )
        return calls

    def left_behind(self):
        """An order whose only change is stored but lost the lock on every try: (its uuid,
        that change)."""
        order = self.new_uuid()
        change = self.change(order, self.line_add("l1", self.coke))
        with patch.object(self.order_model, "_possync_apply", side_effect=LockNotAvailable(HELD)):
            self.push(change)
        self.assertFalse(self.pos_order(order))
        return order, change

    def order_row(self, order):
        return self.env["pos_restaurant_sync.order"].search([("order_uuid", "=", order)])

    @contextmanager
    def line_number_drawn_elsewhere(self):
        """An order with a line, then its POS's line sequence held by another transaction
        (Odoo's own sync of an order has drawn a line number and not committed yet); yields
        (the order, that connection). The other connection sees only what is committed:
        the POS takes a no-gap sequence of the database."""
        Sequence = self.env["ir.sequence"].sudo()
        committed = [("implementation", "=", "no_gap"), ("use_date_range", "=", False)]
        line_sequence = Sequence.search(committed, order="id", limit=1)
        if not line_sequence:
            self.skipTest("no committed no-gap sequence in this database")
        order = self.new_uuid()
        self.push(self.change(order, self.line_add("l1", self.coke)))
        (field,) = compat.LINE_SEQUENCES
        self.config.sudo()[field] = line_sequence
        self.env.flush_all()
        with sql_db.db_connect(self.env.cr.dbname).cursor() as other:
            drawn = "UPDATE ir_sequence SET number_next = number_next + 1 WHERE id = %s"
            other.execute(drawn, [line_sequence.id])
            yield order, other

    def test_a_new_line_waits_for_the_pos_sequence_another_transaction_holds(self):
        # Without the wait, every instant try would fail on Odoo's FOR UPDATE NOWAIT.
        with self.line_number_drawn_elsewhere() as (order, other):
            calls = self.lock_held_for()
            write_lines = self.order_model._possync_write_lines
            commits = threading.Timer(1.5, other.rollback)  # its sync ends 1.5 s later

            def lines_written_meanwhile(order, *args, **kwargs):
                if commits.ident is None:
                    commits.start()
                return write_lines(order, *args, **kwargs)

            with patch.object(self.order_model, "_possync_write_lines", lines_written_meanwhile):
                self.push(self.change(order, self.line_add("l2", self.coke), at=1))
            commits.join()
        self.assertEqual(calls, [order], "one try")
        self.assertEqual(sorted(self.pos_order(order).lines.mapped("uuid")), ["l1", "l2"])

    def test_a_new_order_odoo_is_creating_is_left_to_it(self):
        order = self.new_uuid()
        calls = self.lock_held_for()
        with sql_db.db_connect(self.env.cr.dbname).cursor() as odoo_sync:
            # Odoo's own sync of the order, under way for longer than the push's budget.
            held = "SELECT pg_advisory_xact_lock(%s, hashtext(%s))"
            odoo_sync.execute(held, [pos_order_module.UUID_LOCK_CLASS, order])
            self.push(self.change(order, self.line_add("l1", self.coke)))
        self.assertTrue(calls, "tried, and waited each time")
        self.assertFalse(self.pos_order(order), "Odoo's sync creates it")

    def test_the_cron_leaves_an_order_created_since_it_began_to_its_next_run(self):
        (stuck, _), (other, _) = self.left_behind(), self.left_behind()
        with self.created_elsewhere(stuck):
            self.Log._apply_pending(grace=timedelta(seconds=-60))  # the push's rows too
        self.assertFalse(self.pos_order(stuck))
        self.assertEqual(self.pos_order(other).lines.uuid, "l1", "the others go on")

    def test_an_order_created_since_the_applications_snapshot_is_not_created_again(self):
        order = self.new_uuid()
        calls = self.lock_held_for()
        with self.created_elsewhere(order):
            self.push(self.change(order, self.line_add("l1", self.coke)))
        self.assertEqual(calls, [order] * push_module.APPLY_ATTEMPTS, "each try starts again")
        self.assertFalse(self.pos_order(order))

    def test_an_application_takes_the_sequences_once_however_many_lines_it_creates(self):
        waits = self.startPatcher(
            patch.object(
                self.order_model,
                "_possync_wait_for_sequences",
                autospec=True,
                side_effect=self.order_model._possync_wait_for_sequences,
            )
        )
        order = self.new_uuid()
        new_lines = [self.line_add(f"l{i}", self.coke) for i in range(3)]
        self.push(self.change(order, *new_lines))  # a new order
        more_lines = [self.line_add(f"l{i}", self.coke) for i in range(3, 6)]
        self.push(self.change(order, *more_lines, at=1))  # an order Odoo has
        self.assertEqual(len(self.pos_order(order).lines), 6)
        self.assertEqual(waits.call_count, 2, "one wait per order's application")

    def test_attack_a_push_past_its_budget_waits_for_no_sequence(self):
        # A push naming many new orders while the sequence stays held would otherwise wait
        # up to two seconds for each of them.
        with self.line_number_drawn_elsewhere() as (order, _other):
            spent = {pos_order_module.APPLY_DEADLINE_KEY: time.monotonic()}
            pos_order = self.pos_order(order).with_context(**spent)
            started = time.monotonic()
            with self.assertRaises(LockNotAvailable), self.env.cr.savepoint():
                pos_order._possync_wait_for_sequences(self.config, compat.LINE_SEQUENCES)
            self.assertLess(time.monotonic() - started, 1.0)

    def test_a_lock_held_on_every_try_is_tried_again_after_growing_jittered_pauses(self):
        order = self.new_uuid()
        calls = self.lock_held_for(order)
        ack = self.push(self.change(order, self.line_add("l1", self.coke)))["acks"][0]
        self.assertEqual(ack["status"], "applied")  # stored: the answer stands
        self.assertEqual(calls, [order] * push_module.APPLY_ATTEMPTS)
        pauses = [call.args[0] for call in self.clock.sleep.call_args_list]
        self.assertEqual(len(pauses), push_module.APPLY_ATTEMPTS - 1)
        low, high = push_module.APPLY_PAUSE_S
        for attempt, pause in enumerate(pauses):
            self.assertTrue(low * 2**attempt <= pause <= high * 2**attempt, pauses)
        self.assertFalse(self.pos_order(order))

    def test_one_order_that_loses_the_lock_holds_back_no_other_order_of_its_push(self):
        stuck, other = self.new_uuid(), self.new_uuid()
        self.lock_held_for(stuck)
        self.push(
            self.change(stuck, self.line_add("l1", self.coke)),
            self.change(other, self.line_add("l2", self.coke)),
        )
        self.assertFalse(self.pos_order(stuck))
        self.assertEqual(self.pos_order(other).lines.uuid, "l2")
        self.assertEqual(self.order_row(other).applied_seq, self.log(other).id)

    def test_an_order_left_behind_is_applied_by_the_next_push_of_the_same_changes(self):
        # Another terminal pushes the backlog it relayed: every change is a duplicate.
        order, change = self.left_behind()
        ack = self.push(change)["acks"][0]
        self.assertEqual(ack["status"], "duplicate")
        self.assertEqual(self.pos_order(order).lines.uuid, "l1")
        self.assertEqual(self.order_row(order).applied_seq, self.log(order).id)

    def test_an_order_behind_that_another_request_is_applying_is_left_to_it(self):
        order, change = self.left_behind()
        calls = self.lock_held_for()
        with sql_db.db_connect(self.env.cr.dbname).cursor() as other:
            lock = (APPLY_LOCK_CLASS, self.order_row(order).id)
            other.execute("SELECT pg_advisory_xact_lock(%s, %s)", lock)
            self.push(change)  # does not wait for the other request
            self.assertEqual(calls, [])
        self.push(change)  # that request ended without applying it
        self.assertEqual(calls, [order])
        self.assertEqual(self.pos_order(order).lines.uuid, "l1")

    def test_attack_a_replayed_push_rewrites_no_order_already_applied(self):
        order = self.new_uuid()
        change = self.change(order, self.line_add("l1", self.coke))
        self.push(change)
        self.assertEqual(self.pos_order(order).lines.uuid, "l1")
        calls = self.lock_held_for()
        for _ in range(3):
            self.assertEqual(self.push(change)["acks"][0]["status"], "duplicate")
        self.assertEqual(calls, [], "an order up to date is not written again")

    def test_attack_a_push_naming_another_pos_order_applies_nothing_of_it(self):
        # An order of another POS, left behind there, is not this push's to apply.
        other_config = self.other_currency_config
        other_config.possync_enabled = True
        order = self.new_uuid()
        change = self.change(order, self.order_set("customer_count", 2))
        with patch.object(self.order_model, "_possync_apply", side_effect=LockNotAvailable(HELD)):
            self.push(change, config=other_config)
        there = self.order_row(order)
        self.assertEqual(there.config_id, other_config)
        self.assertGreater(there.merged_seq, there.applied_seq)  # behind, over there
        calls = self.lock_held_for()
        forged = self.change(order, self.line_add("l2", self.coke), at=10)
        ack = self.push(forged)["acks"][0]
        self.assertEqual(ack["status"], "rejected")
        self.assertEqual(calls, [])

    def test_attack_a_push_whose_orders_keep_losing_locks_stops_at_its_budget(self):
        # Each read of the clock is two seconds later: the budget (3 s) ends after the first
        # order's second try; every later order gets its one try, without a pause.
        orders = [self.new_uuid() for _ in range(3)]
        calls = self.lock_held_for(*orders)
        clock = itertools.count(0, 2)
        self.startPatcher(patch.object(push_module, "monotonic", side_effect=clock))
        lines = (self.line_add(f"l{i}", self.coke) for i in range(len(orders)))
        self.push(*(self.change(o, line) for o, line in zip(orders, lines, strict=True)))
        first, *others = sorted(orders)
        self.assertEqual(calls, [first, first, *others])
        self.assertEqual(self.clock.sleep.call_count, 1)

    def test_attack_a_replay_of_many_orders_behind_takes_up_a_bounded_number(self):
        behind = [self.left_behind() for _ in range(push_module.MAX_BEHIND_PER_PUSH + 3)]
        calls = self.lock_held_for()
        self.startPatcher(patch.object(push_module, "monotonic", return_value=0.0))  # in budget
        self.push(*(change for _, change in behind))
        self.assertEqual(len(calls), push_module.MAX_BEHIND_PER_PUSH)
        self.assertEqual(calls, sorted(order for order, _ in behind)[: len(calls)])


@tagged("post_install", "-at_install")
class TestSequenceTakenAfterACommit(BaseCase):
    """A push's application waits for a no-gap sequence another transaction drew from,
    then draws after it: on real connections (not the test's one transaction), so what the
    holder commits the application sees, as in production."""

    def setUp(self):
        super().setUp()
        self.registry = Registry(get_db_name())
        with self.registry.cursor() as cr:
            sequences = api.Environment(cr, SUPERUSER_ID, {})["ir.sequence"]
            self.sequence_id = sequences.create(
                {"name": "possync test: drawn from twice", "implementation": "no_gap"}
            ).id
        self.addCleanup(self.drop_sequence)

    def drop_sequence(self):
        with self.registry.cursor() as cr:
            api.Environment(cr, SUPERUSER_ID, {})["ir.sequence"].browse(self.sequence_id).unlink()

    def test_a_number_the_holder_committed_meanwhile_is_not_drawn_again(self):
        with self.registry.cursor() as holder_cr, self.registry.cursor() as cr:
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")  # as _own_transaction
            holder = api.Environment(holder_cr, SUPERUSER_ID, {})["ir.sequence"]
            drawn = holder.browse(self.sequence_id)._next()  # Odoo's sync of another order
            deadline = {pos_order_module.APPLY_DEADLINE_KEY: time.monotonic() + 3.0}
            env = api.Environment(cr, SUPERUSER_ID, deadline)
            sequence = env["ir.sequence"].browse(self.sequence_id)
            self.assertEqual(sequence.implementation, "no_gap")  # read as the wait reads it
            commits = threading.Timer(0.3, holder_cr.commit)
            commits.start()
            env["pos.order"]._possync_take_sequences(sequence)
            commits.join()
            self.assertNotEqual(sequence._next(), drawn)
            cr.rollback()

    def test_the_callers_lock_timeout_is_put_back(self):
        with self.registry.cursor() as cr:
            cr.execute("SET LOCAL lock_timeout = '7s'")
            deadline = {pos_order_module.APPLY_DEADLINE_KEY: time.monotonic() + 3.0}
            env = api.Environment(cr, SUPERUSER_ID, deadline)
            env["pos.order"]._possync_take_sequences(env["ir.sequence"].browse(self.sequence_id))
            cr.execute("SHOW lock_timeout")
            self.assertEqual(cr.fetchone()[0], "7s")
            cr.rollback()
