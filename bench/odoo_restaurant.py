"""A busy restaurant for ``bench.odoo``: waiters at the protocol level and their open orders.

The protocol terminals (``devkit.protocol_terminal``) log in as POS users of their own and
open ``OPEN_ORDERS`` orders (unless told otherwise) through the protocol, one to four lines
each, on the tables of every floor but those kept for terminal A; then each edits its own
orders at a waiter's pace while A's edits are measured.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from devkit.protocol_terminal import ProtocolFleet, ProtocolTerminal, Waiter, new_waiter_login

if TYPE_CHECKING:
    from devkit.odoo import OdooInstance

OPEN_ORDERS = 100
MAIN_FLOOR = "Main Floor"
WAITER_PACE_S = (2.0, 6.0)  # between two edits of one protocol terminal


@dataclass(frozen=True)
class Table:
    id: int
    number: int
    floor: str


def tables(odoo: OdooInstance, at_least: int = 0) -> list[Table]:
    """The POS's tables, every floor; first, tables added round the floors until there are
    ``at_least``. Odoo keeps one open order a table: a page that learns of a second one on
    a table moves its lines to the other and cancels it (Odoo's device sync), so a busy
    restaurant of 100 open orders needs 100 tables."""
    [config] = odoo.jsonrpc("pos.config", "read", [[odoo.config_id], ["floor_ids"]])
    domain = [("floor_id", "in", config["floor_ids"])]
    rows = odoo.jsonrpc("restaurant.table", "search_read", [domain, ["table_number", "floor_id"]])
    if len(rows) < at_least:
        add_tables(odoo, config["floor_ids"], rows, at_least - len(rows))
        return tables(odoo)
    return [Table(r["id"], r["table_number"], r["floor_id"][1]) for r in rows]


def add_tables(odoo: OdooInstance, floors: list[int], rows: list[dict], count: int) -> None:
    """``count`` more tables, round ``floors``, numbered after each floor's last."""
    last = {
        f: max((r["table_number"] for r in rows if r["floor_id"][0] == f), default=0)
        for f in floors
    }
    values = []
    for index in range(count):
        floor = floors[index % len(floors)]
        last[floor] += 1
        spot = last[floor]
        values.append(
            {
                "floor_id": floor,
                "table_number": spot,
                "seats": 4,
                "position_h": 20 + 110 * (spot % 10),
                "position_v": 20 + 110 * (spot // 10),
            }
        )
    odoo.jsonrpc("restaurant.table", "create", [values])


def keep_for_a(all_tables: list[Table], count: int) -> list[Table]:
    """``count`` tables of the main floor with no open order, for terminal A."""
    free = sorted((t for t in all_tables if t.floor == MAIN_FLOOR), key=lambda t: t.number)
    if len(free) < count:
        raise RuntimeError(f"only {len(free)} tables on the main floor")
    return free[-count:]


def sold_products(odoo: OdooInstance, limit: int = 20) -> list[tuple[int, float]]:
    """(id, price) of simple products the POS sells (no attributes, no combos; in its
    categories when it limits them)."""
    fields = ["limit_categories", "iface_available_categ_ids"]
    [config] = odoo.jsonrpc("pos.config", "read", [[odoo.config_id], fields])
    domain = [
        ("available_in_pos", "=", True),
        ("sale_ok", "=", True),
        ("list_price", ">", 0),
        ("attribute_line_ids", "=", False),
        ("type", "!=", "combo"),
    ]
    if config["limit_categories"] and config["iface_available_categ_ids"]:
        domain.append(("pos_categ_ids", "in", config["iface_available_categ_ids"]))
    rows = odoo.jsonrpc(
        "product.product", "search_read", [domain, ["lst_price"]], {"limit": limit, "order": "id"}
    )
    return [(r["id"], r["lst_price"]) for r in rows]


def open_fleet(
    odoo: OdooInstance, count: int, theirs: list[Table], orders: int = OPEN_ORDERS
) -> ProtocolFleet:
    """``count`` protocol terminals, logged in, with ``orders`` open orders between them
    on ``theirs`` (round the floors), not yet following the bus."""
    products = sold_products(odoo)
    by_floor = [[t.id for t in theirs if t.floor == f] for f in sorted({t.floor for t in theirs})]
    spread = [t for group in itertools.zip_longest(*by_floor) for t in group if t is not None]
    terminals = []
    for index in range(count):
        login = new_waiter_login(odoo, f"bench-waiter-{index}-{secrets.token_hex(3)}")
        waiter = Waiter(login, login, products, spread[index::count] or spread)
        terminals.append(
            ProtocolTerminal(str(index), odoo.base_url, odoo.db, odoo.config_id, waiter)
        )
    fleet = ProtocolFleet(terminals)
    try:
        fleet.each("start")
        shares = [len(range(index, orders, count)) for index in range(count)]
        opening = [t.open_orders(n) for t, n in zip(terminals, shares, strict=True)]
        fleet.together(opening, timeout=600)
    except BaseException:
        fleet.close()
        raise
    return fleet
