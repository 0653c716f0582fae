import json
import time
from unittest.mock import patch

from odoo.tests import tagged

from ..lib import protocol
from ..models.pos_restaurant_sync_change import SyncRequestError
from .common import PossyncCommon


@tagged("post_install", "-at_install")
class TestPush(PossyncCommon):
    def setUp(self):
        super().setUp()
        self.order = self.new_uuid()

    def test_a_replayed_change_is_stored_once_and_answered_duplicate(self):
        # A retry after a lost answer must not add the line twice (odoo/odoo#40567).
        change = self.change(self.order, self.line_add("l1", self.coke))
        first = self.push(change)
        again = self.push(change)
        self.assertEqual(first["acks"], [{"id": change["id"], "status": "applied"}])
        self.assertEqual(again["acks"], [{"id": change["id"], "status": "duplicate"}])
        self.assertEqual(len(self.log(self.order)), 1)
        self.assertEqual(first["cursor"], again["cursor"])
        self.assertEqual(first["cursor"], self.log(self.order).id)
        self.assertEqual(len(self.pos_order(self.order).lines), 1)

    def test_a_copy_in_the_same_push_counts_once(self):
        change = self.change(self.order, self.line_add("l1", self.coke))
        result = self.push(change, dict(change))
        self.assertEqual([a["status"] for a in result["acks"]], ["applied", "duplicate"])
        self.assertEqual(len(self.log(self.order)), 1)

    def test_an_invalid_change_is_rejected_alone_and_nothing_of_it_is_kept(self):
        good = self.change(self.order, self.line_add("l1", self.coke))
        bad = self.change(self.order, {"op": "line.explode", "line": "l1"})
        result = self.push(bad, good)
        self.assertEqual(result["acks"][0]["status"], "rejected")
        self.assertIn("unknown operation", result["acks"][0]["reason"])
        self.assertEqual(result["acks"][1]["status"], "applied")
        rejected = self.env["pos_restaurant_sync.change"].search([("change_id", "=", bad["id"])])
        self.assertEqual(rejected.status, "rejected")
        self.assertFalse(rejected.payload)
        self.assertEqual([e["change"]["id"] for e in self.pull()["changes"]], [good["id"]])

    def test_a_rejected_change_replayed_gets_its_first_answer_again(self):
        bad = self.change(self.order, {"op": "line.explode", "line": "l1"})
        first = self.push(bad)["acks"][0]
        self.assertEqual(self.push(bad)["acks"][0], first)
        # "Repaired" under the same id, it is another change: an id is used once.
        bad["ops"] = [self.line_add("l1", self.coke)]
        again = self.push(bad)["acks"][0]
        self.assertEqual(again["status"], "rejected")
        self.assertIn("already used with another content", again["reason"])
        self.assertFalse(self.pos_order(self.order))

    def test_far_future_clock_is_refused(self):
        # A stamp from the far future would win every later edit of its fields for good.
        line = self.change(self.order, self.line_add("l1", self.coke))
        future = self.change(self.order, self.line_set("l1", "qty", 99))
        future["hlc"] = "999999999999999-99999"
        result = self.push(line, future)
        self.assertEqual([a["status"] for a in result["acks"]], ["applied", "rejected"])
        self.assertRegex(result["acks"][1]["reason"], r"^clock \d+\.\d s ahead of the server")
        self.assertEqual(self.pos_order(self.order).lines.qty, 1)
        self.assertEqual([e["change"]["id"] for e in self.pull()["changes"]], [line["id"]])
        # Refused for good: the same id is refused again, even once its time has come.
        self.assertEqual(self.push(future)["acks"][0]["status"], "rejected")

    def test_a_change_a_minute_ahead_is_accepted(self):
        # A terminal's corrected clock may lead the server's a little: up to 60 s is merged.
        change = self.change(self.order, self.line_add("l1", self.coke))
        change["hlc"] = protocol.format_hlc(int(time.time() * 1000) + 55_000, 0)
        self.assertEqual(self.push(change)["acks"][0]["status"], "applied")

    def test_a_change_without_a_usable_id_is_rejected_and_not_remembered(self):
        result = self.push({"v": 1, "id": "bad id!", "ops": []}, "not a change")
        self.assertEqual([a["status"] for a in result["acks"]], ["rejected", "rejected"])
        self.assertEqual(result["acks"][1]["id"], None)
        self.assertFalse(
            self.env["pos_restaurant_sync.change"].search([("change_id", "=", "bad id!")])
        )

    def test_another_protocol_version_refuses_the_whole_push(self):
        good = self.change(self.order, self.line_add("l1", self.coke))
        future = {**self.change(self.order, self.line_add("l2", self.coke)), "v": 2}
        with self.assertRaises(SyncRequestError) as caught:
            self.push(good, future)
        self.assertEqual(caught.exception.code, "version")
        self.assertFalse(self.log(self.order))

    def test_more_than_500_changes_refuse_the_whole_push(self):
        changes = [self.change(self.order, self.line_add(f"l{i}", self.coke)) for i in range(501)]
        with self.assertRaises(SyncRequestError) as caught:
            self.push(*changes)
        self.assertEqual(caught.exception.code, "too_large")
        self.assertFalse(self.log(self.order))

    def test_a_pos_with_sync_off_refuses_pushes(self):
        self.config.possync_enabled = False
        with self.assertRaises(SyncRequestError) as caught:
            self.push(self.change(self.order, self.line_add("l1", self.coke)))
        self.assertEqual(caught.exception.code, "disabled")

    def test_a_change_for_an_order_of_another_pos_is_rejected(self):
        self.push(self.change(self.order, self.line_add("l1", self.coke)))
        other = self.other_currency_config
        other.possync_enabled = True
        change = self.change(self.order, self.line_add("l2", self.coke))
        ack = self.push(change, config=other)["acks"][0]
        self.assertEqual(ack["status"], "rejected")
        self.assertIn("another POS", ack["reason"])
        self.assertEqual(len(self.pos_order(self.order).lines), 1)

    def test_each_push_is_broadcast_once_with_positions_and_changes(self):
        first = self.change(self.order, self.line_add("l1", self.coke))
        second = self.change(self.order, self.line_set("l1", "qty", 2), at=5)
        bus = type(self.env["bus.bus"])
        with patch.object(bus, "_sendone", autospec=True) as sendone:
            result = self.push(first, second)
            self.push(first)  # a replay is not broadcast again
        sendone.assert_called_once()
        _bus, channel, kind, payload = sendone.call_args.args
        # The POS's record channel, which only its users can join (test_bus_channel.py).
        self.assertEqual((channel, kind), ((self.config, "possync"), "POSSYNC_CHANGES"))
        self.assertEqual([e["change"] for e in payload["changes"]], [first, second])
        seqs = [e["seq"] for e in payload["changes"]]
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(result["cursor"], seqs[-1])
        json.dumps(payload)  # what the bus stores

    def test_the_stored_change_is_exactly_what_was_sent(self):
        change = self.change(
            self.order, self.line_add("l1", self.coke, customer_note="sans glaçons ❄")
        )
        self.push(change)
        self.assertEqual(self.pull()["changes"][-1]["change"], change)
