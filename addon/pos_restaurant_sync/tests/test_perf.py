import logging
import statistics
import time

from odoo.tests import tagged

from .common import PossyncCommon

_logger = logging.getLogger(__name__)


@tagged("post_install", "-at_install", "possync_perf")
class TestPerf(PossyncCommon):
    """Queries and time of one push, logged (PERF): the broadcast path, then the apply."""

    def _measure(self, label, make_op, runs=15):
        Log = self.env["pos_restaurant_sync.change"]
        order = self.new_uuid()
        self.push(self.change(order, self.line_add("l1", self.coke)))
        self.env.flush_all()
        split = hasattr(Log, "_store_and_broadcast")
        counts, times, counts2, times2 = [], [], [], []
        for i in range(runs):
            change = self.change(order, make_op(i), at=10 + i)
            cr = self.env.cr
            n0, t0 = cr.sql_log_count, time.perf_counter()
            if split:
                _result, uuids = Log._store_and_broadcast(self.config, [change])
            else:
                self.push(change)
            self.env.flush_all()
            counts.append(cr.sql_log_count - n0)
            times.append((time.perf_counter() - t0) * 1000)
            if split:
                n0, t0 = cr.sql_log_count, time.perf_counter()
                Log._apply_orders(self.config, uuids)
                self.env.flush_all()
                counts2.append(cr.sql_log_count - n0)
                times2.append((time.perf_counter() - t0) * 1000)
        _logger.info(
            "PERF %s split=%s broadcast-path queries=%s median=%.1fms | apply queries=%s median=%s",
            label,
            split,
            statistics.median(counts),
            statistics.median(times),
            statistics.median(counts2) if counts2 else "-",
            f"{statistics.median(times2):.1f}ms" if times2 else "-",
        )

    def test_perf(self):
        self._measure("qty", lambda i: self.line_set("l1", "qty", i + 2))
        self._measure("note", lambda i: self.order_set("customer_count", i + 1))
        self._measure("line.add", lambda i: self.line_add(f"n{i}", self.burger))

    def test_perf_push_on_a_long_log(self):
        """One push on an order whose log already holds 3,000 changes (PERF)."""
        Log = self.env["pos_restaurant_sync.change"]
        order = self.new_uuid()
        self.push(self.change(order, self.line_add("l1", self.coke)))
        for batch in range(6):
            changes = [
                self.change(order, self.line_set("l1", "qty", i + 2), at=1 + batch * 500 + i)
                for i in range(500)
            ]
            self.push(*changes)
        self.env.flush_all()
        times = []
        for i in range(10):
            change = self.change(order, self.line_set("l1", "qty", i + 1), at=5000 + i)
            t0 = time.perf_counter()
            _result, uuids = Log._store_and_broadcast(self.config, [change])
            Log._apply_orders(self.config, uuids)
            self.env.flush_all()
            times.append((time.perf_counter() - t0) * 1000)
        _logger.info(
            "PERF long-log (3001 changes) push+apply median=%.1fms max=%.1fms",
            statistics.median(times),
            max(times),
        )
