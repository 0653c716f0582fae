"""A restaurant POS with an open session, and small builders for protocol changes."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from unittest.mock import MagicMock, patch

from odoo import sql_db
from odoo.addons.point_of_sale.tests.common import TestPoSCommon
from odoo.tests.common import new_test_user

from .. import compat
from ..lib import protocol
from ..models import pos_order as pos_order_module
from ..models.pos_order import UUID_LOCK_CLASS
from ..models.pos_restaurant_sync_order import APPLY_LOCK_CLASS

# Changes are stamped "now" so the server's own closes, stamped later, sort after them.
START_MS = int(time.time() * 1000)
# The kinds of user the tests make (PossyncCommon.new_user), as their groups.
USER_GROUPS = {
    "waiter": "base.group_user,point_of_sale.group_pos_user",
    "manager": "base.group_user,point_of_sale.group_pos_manager",
    "employee": "base.group_user",  # an internal user who may not run the POS
    "portal": "base.group_portal",
}
_numbers = itertools.count(1)


class PossyncCommon(TestPoSCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.basic_config
        cls.config.write({"module_pos_restaurant": True, "possync_enabled": True})
        floor = cls.env["restaurant.floor"].create(
            {"name": "Sync Floor", "pos_config_ids": [(4, cls.config.id)]}
        )
        cls.table, cls.other_table = cls.env["restaurant.table"].create(
            [
                {"table_number": 101, "floor_id": floor.id},
                {"table_number": 102, "floor_id": floor.id},
            ]
        )
        cls.coke = cls.create_product("Coke", cls.categ_basic, 3.0)
        cls.burger = cls.create_product("Burger", cls.categ_basic, 10.0)
        cls.config.open_ui()
        cls.pos_session = cls.config.current_session_id
        cls.pos_session.set_opening_control(0, None)
        # What TestPoSCommon.create_ui_order_data expects (open_new_session sets them).
        cls.currency = cls.pos_session.currency_id
        cls.pricelist = cls.config.pricelist_id
        cls.enter_registry_test_mode()

    @classmethod
    def enter_registry_test_mode(cls):
        """Make the new cursors a push opens savepoints of the test's transaction (an
        HttpCase is in this mode already), so a push runs its own transactions here too."""
        if hasattr(cls, "registry_enter_test_mode_cls"):  # 19
            if not cls._registry_patched:
                cls.registry_enter_test_mode_cls()
        elif not cls.registry.in_test_mode():  # 18
            cls.registry.enter_test_mode(cls.cr)
            cls.addClassCleanup(cls.registry.leave_test_mode)

    # --- users -------------------------------------------------------------------------

    @classmethod
    def new_user(cls, login: str, kind: str = "waiter", company=None):
        """A user of ``kind`` (``USER_GROUPS``), its password its login; of ``company``
        alone when one is given, else of the test's company."""
        values = {"company_id": company.id} if company else {}
        return new_test_user(cls.env, login, USER_GROUPS[kind], **values)

    # --- changes -----------------------------------------------------------------------

    @staticmethod
    def new_uuid() -> str:
        return uuid.uuid4().hex

    @staticmethod
    def change(order: str, *ops: dict, terminal: str = "A", at: int = 0, change_id=None):
        """A change by ``terminal``, ``at`` milliseconds after the test run started."""
        return {
            "v": 1,
            "id": change_id or f"c{next(_numbers)}-{uuid.uuid4().hex[:12]}",
            "terminal": terminal,
            "hlc": protocol.format_hlc(START_MS + at, 0),
            "order": order,
            "ops": list(ops),
        }

    @staticmethod
    def line_add(line: str, product, qty=1, price=None, **values) -> dict:
        values = {"product_id": product.id, "qty": qty, **values}
        values["price_unit"] = product.lst_price if price is None else price
        return {"op": "line.add", "line": line, "values": values}

    @staticmethod
    def line_set(line: str, field: str, value) -> dict:
        return {"op": "line.set", "line": line, "field": field, "value": value}

    @staticmethod
    def order_set(field: str, value) -> dict:
        return {"op": "order.set", "field": field, "value": value}

    @staticmethod
    def kitchen_note(text: str) -> str:
        """A kitchen note as this Odoo's note button writes it (lib/kitchen_notes.py)."""
        if compat.KITCHEN_NOTES_AS_JSON:
            return json.dumps([{"text": text, "colorIndex": 0}])
        return text

    # --- the server --------------------------------------------------------------------

    def push(self, *changes: dict, env=None, config=None) -> dict:
        """Push as the route does (to ``config``, by default the test's POS).

        The push works in transactions of its own, here savepoints of the test's through
        another environment: what the test wrote is flushed before, and read afresh after.
        """
        env = env or self.env
        config = env["pos.config"].browse((config or self.config).id)
        env.flush_all()
        try:
            return env["pos_restaurant_sync.change"]._push(config, list(changes))
        finally:
            env.invalidate_all()

    def pull(self, after: int = 0, limit: int = 500) -> dict:
        return self.env["pos_restaurant_sync.change"]._pull(self.config, after, limit)

    def pos_order(self, order_uuid: str):
        return self.env["pos.order"].search([("uuid", "=", order_uuid)])

    def lines_by_uuid(self, order) -> dict:
        return {line.uuid: line for line in order.lines}

    def log(self, order_uuid: str):
        return self.env["pos_restaurant_sync.change"].search(
            [("order_uuid", "=", order_uuid)], order="id"
        )

    def commit_hooks(self) -> None:
        """Run what Odoo runs just before a commit (the server's closes, bus messages)."""
        self.env.cr.flush()

    def uuid_lock_is_free(self, order_uuid: str) -> bool:
        """Whether another connection could take the lock under which an order of this uuid
        is looked for and created: False while this transaction holds it."""
        with sql_db.db_connect(self.env.cr.dbname).cursor() as other:
            other.execute(
                "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", (UUID_LOCK_CLASS, order_uuid)
            )
            return other.fetchone()[0]

    @staticmethod
    def created_elsewhere(*order_uuids: str):
        """A patch of the connection that looks for Odoo orders committed since this
        transaction's snapshot: it finds ``order_uuids``."""
        connect = MagicMock()
        now = connect.return_value.cursor.return_value.__enter__.return_value
        asked: list[str] = []  # the uuids the last query looked for

        def execute(query: str, params: list | None = None) -> None:
            asked[:] = params[0] if params else ()

        now.execute.side_effect = execute
        now.fetchall.side_effect = lambda: [(u,) for u in asked if u in order_uuids]
        return patch.object(pos_order_module, "db_connect", connect)

    def apply_lock_is_free(self, order_row) -> bool:
        """Whether another connection could take the order's apply lock now: False while
        this transaction holds it (a push of the order would wait)."""
        with sql_db.db_connect(self.env.cr.dbname).cursor() as other:
            other.execute(
                "SELECT pg_try_advisory_xact_lock(%s, %s)", (APPLY_LOCK_CLASS, order_row.id)
            )
            return other.fetchone()[0]
