"""Who may receive a POS's changes over the bus.

Odoo subscribes a websocket to every string channel its client names, so order data never
goes out on a string channel. A client asks for ``possync:<config id>``; the string is
dropped, and only a user allowed on that POS (``pos.config._possync_config_for_user``, run
as that user) gets the record channel ``(config, "possync")`` instead, the one
``pos.config._possync_broadcast`` sends to, and only while the POS has Real-Time Sync on.
Anything else is dropped without an error, as Odoo does for channels a user may not join:
an exception here would close the socket.
"""

from __future__ import annotations

import re

from odoo import models
from odoo.exceptions import AccessError

from .pos_config import BUS_CHANNEL_PREFIX, BUS_SUBCHANNEL

# Nine digits at most: any real config id, and never an integer PostgreSQL cannot compare.
_REQUEST = re.compile(re.escape(BUS_CHANNEL_PREFIX) + r"([1-9][0-9]{0,8})")


class IrWebsocket(models.AbstractModel):
    _inherit = "ir.websocket"

    def _build_bus_channel_list(self, channels):
        channels = list(channels)  # the caller's list stays as it was
        requests = [c for c in channels if isinstance(c, str) and c.startswith(BUS_CHANNEL_PREFIX)]
        channels = [c for c in channels if c not in requests]
        channels.extend(self._possync_channels(requests))
        return super()._build_bus_channel_list(channels)

    def _possync_channels(self, requests: list[str]) -> list[tuple]:
        """The record channels of the POS the current user asked for and may use."""
        user = self.env.user
        if not user or not user._is_internal():
            return []
        granted = []
        for request in requests:
            match = _REQUEST.fullmatch(request)
            if not match:
                continue
            try:
                config = self.env["pos.config"]._possync_config_for_user(int(match[1]))
            except AccessError:
                continue
            if config.possync_enabled:  # with sync off, nothing is sent there
                granted.append((config, BUS_SUBCHANNEL))
        return granted
