from contextlib import contextmanager
from types import SimpleNamespace
from unittest.mock import patch

from odoo.addons.bus.websocket import _wsrequest_stack
from odoo.tests import tagged

from .common import PossyncCommon


@contextmanager
def websocket_request(env, uid):
    """A websocket message being handled for ``env``'s user, as Odoo's websocket sets it
    up: the channel building of bus and of other modules (mail's guests) reads it."""
    fake = SimpleNamespace(
        env=env, session=SimpleNamespace(uid=uid), cookies={}, update_context=lambda **kw: None
    )
    _wsrequest_stack.push(fake)
    try:
        yield
    finally:
        _wsrequest_stack.pop()


@tagged("post_install", "-at_install")
class TestBusChannel(PossyncCommon):
    """Only a user allowed on the POS joins its possync channel (models/ir_websocket.py)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.waiter = cls.new_user("possync_bus_waiter")
        cls.accountant = cls.new_user("possync_bus_accountant", "employee")
        cls.customer = cls.new_user("possync_bus_customer", "portal")
        elsewhere = cls.env["res.company"].create({"name": "Another Bus Restaurant"})
        cls.stranger = cls.new_user("possync_bus_stranger", company=elsewhere)
        cls.public = cls.env.ref("base.public_user")
        cls.request = f"possync:{cls.config.id}"

    def channels_for(self, user, requested: list[str]) -> list:
        """What Odoo subscribes ``user``'s websocket to when it asks for ``requested``."""
        websocket = self.env["ir.websocket"].with_user(user)
        with websocket_request(websocket.env, None if user == self.public else user.id):
            return list(websocket._build_bus_channel_list(list(requested)))

    def possync_channels(self, channels: list) -> list:
        """The possync channels among ``channels``: asked-for strings and record channels."""
        return [
            c
            for c in channels
            if (isinstance(c, str) and c.startswith("possync"))
            or (isinstance(c, tuple) and c[1:] == ("possync",))
        ]

    def test_a_pos_user_gets_the_pos_record_channel_instead_of_the_string(self):
        channels = self.channels_for(self.waiter, [self.request, "some_other_channel"])
        self.assertEqual(self.possync_channels(channels), [(self.config, "possync")])
        # Odoo's own behaviour for other strings is untouched.
        self.assertIn("some_other_channel", channels)

    def test_the_public_user_gets_no_possync_channel(self):
        self.assertEqual(self.possync_channels(self.channels_for(self.public, [self.request])), [])

    def test_a_portal_user_gets_no_possync_channel(self):
        channels = self.channels_for(self.customer, [self.request])
        self.assertEqual(self.possync_channels(channels), [])

    def test_a_user_of_another_company_gets_no_possync_channel(self):
        channels = self.channels_for(self.stranger, [self.request])
        self.assertEqual(self.possync_channels(channels), [])

    def test_a_user_without_the_pos_group_gets_no_possync_channel(self):
        channels = self.channels_for(self.accountant, [self.request])
        self.assertEqual(self.possync_channels(channels), [])

    def test_a_pos_user_asking_for_another_pos_only_gets_the_pos_allowed(self):
        other = self.other_currency_config
        other.group_pos_user_id = self.env.ref("point_of_sale.group_pos_manager")
        channels = self.channels_for(self.waiter, [self.request, f"possync:{other.id}"])
        self.assertEqual(self.possync_channels(channels), [(self.config, "possync")])

    def test_a_pos_user_gets_no_possync_channel_of_a_pos_with_sync_off(self):
        # Nothing is sent there with sync off: the websocket stays as Odoo alone makes it.
        self.config.possync_enabled = False
        self.assertEqual(self.possync_channels(self.channels_for(self.waiter, [self.request])), [])

    def test_garbage_channel_names_are_dropped_without_an_error(self):
        garbage = [
            "possync:",
            "possync:abc",
            "possync:-1",
            "possync:0",
            "possync:1.0",
            f"possync:{self.config.id} ",
            f"possync:0{self.config.id}",
            "possync:99999999999999999999",
            "possync:999999999",
            f"possync:{self.config.id}:extra",
        ]
        self.assertEqual(self.possync_channels(self.channels_for(self.waiter, garbage)), [])

    def test_the_access_token_channel_carries_no_possync_data(self):
        # The token is printed in self-order QR codes: a string anyone may subscribe to.
        bus = type(self.env["bus.bus"])
        with patch.object(bus, "_sendone", autospec=True) as sendone:
            self.push(self.change(self.new_uuid(), self.line_add("l1", self.coke)))
        targets = [call.args[1] for call in sendone.call_args_list]
        self.assertEqual(targets, [(self.config, "possync")])
        self.assertNotIn(self.config.access_token, str(targets))
