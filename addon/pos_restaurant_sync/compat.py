"""Everything that differs between Odoo 18.0 and 19.0, in one place.

The rest of the addon imports these names and never tests the Odoo version itself.
"""

from __future__ import annotations

from odoo import http, release

ODOO_MAJOR: int = release.version_info[0]

# 19.0 renamed the JSON-RPC route type; 'json' still works there but logs a deprecation.
JSON_ROUTE_TYPE = "jsonrpc" if ODOO_MAJOR >= 19 else "json"

# Protocol order field -> pos.order field. 18 has a single kitchen note (general_note) and
# no order-level customer note; 19 has both. None: the field is kept in the change log and
# sent to the terminals, but there is nowhere to store it on an 18 order.
ORDER_FIELDS: dict[str, str | None] = {
    "partner_id": "partner_id",
    "table_id": "table_id",
    "customer_count": "customer_count",
    "customer_note": "general_customer_note" if ODOO_MAJOR >= 19 else None,
    "internal_note": "internal_note" if ODOO_MAJOR >= 19 else "general_note",
}

# 19's re-read of the open orders (pos.config.read_config_open_orders) also lists the
# cancelled orders a page holds among the deleted ones, so its screens drop them.
REREAD_DROPS_CANCELLED: bool = ODOO_MAJOR >= 19

# 19 keeps the kitchen notes of an order and of a line (the protocol's internal_note) as
# the text of a JSON list its screens parse (lib/kitchen_notes.py); 18 keeps plain text.
KITCHEN_NOTES_AS_JSON: bool = ODOO_MAJOR >= 19

# 19's pos.order.create gives a new order its pos_reference, tracking_number and
# sequence_number; on 18 the POS draws them in the browser and the server sets none.
ORDER_REFS_FROM_CREATE: bool = ODOO_MAJOR >= 19

# The POS's sequences (fields of pos.config) that creating an order, and a line, draws from.
# Those with the no-gap implementation (19's, and 18's where a localisation asks for it) are
# drawn FOR UPDATE NOWAIT and held until commit.
ORDER_SEQUENCES: tuple[str, ...] = (
    ("order_seq_id", "order_backend_seq_id") if ODOO_MAJOR >= 19 else ("sequence_id",)
)
LINE_SEQUENCES: tuple[str, ...] = (
    ("order_line_seq_id",) if ODOO_MAJOR >= 19 else ("sequence_line_id",)
)


def json_route(route: str, **kwargs):
    """``http.route`` for a JSON-RPC endpoint, with the route type this Odoo expects."""
    return http.route(route, type=JSON_ROUTE_TYPE, **kwargs)


def user_groups(user):
    """All groups of ``user``, implied ones included (19 split them into all_group_ids)."""
    if "all_group_ids" in user._fields:
        return user.all_group_ids
    return user.groups_id


def read_pos_config_data(config) -> dict:
    """The pos.config row exactly as the POS loads it at start-up."""
    if ODOO_MAJOR >= 19:
        return config._load_pos_data_read(config, config)[0]
    session_data = {"pos.session": {"data": [{"config_id": config.id}]}}
    return config._load_pos_data(session_data)["data"][0]
