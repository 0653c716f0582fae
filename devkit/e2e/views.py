"""One shape for an order wherever it is read (truth, page, agent, Odoo), and the diff.

A normalized order: ``{"state", "table_id", "partner_id", "internal_note", "lines": {uuid:
(product_id, qty, price_unit, discount, customer_note)}, "payments": {uuid: (method,
amount)}}``. Numbers are rounded to what Odoo stores, so 2.0 and 2 compare equal.
"""

from __future__ import annotations

from typing import Any

from devkit.odoo import OdooInstance

Order = dict[str, Any]
CLOSED = {"paid": "paid", "done": "paid", "invoiced": "paid", "cancel": "cancel"}


def _num(value: Any, digits: int = 2) -> float:
    return round(float(value or 0), digits)


def _id(value: Any) -> int | None:
    if isinstance(value, list | tuple):  # Odoo's (id, name)
        return value[0] if value else None
    return value or None


def line_tuple(line: dict) -> tuple:
    return (
        _id(line.get("product_id")),
        _num(line.get("qty"), 3),
        _num(line.get("price_unit")),
        _num(line.get("discount")),
        line.get("customer_note") or "",
    )


def normalize(view: dict) -> Order:
    """A protocol view (docs/protocol.md, page or agent) in the shared shape."""
    return {
        "state": view.get("state", "draft"),
        "table_id": _id(view.get("table_id")),
        "partner_id": _id(view.get("partner_id")),
        "internal_note": view.get("internal_note") or "",
        "lines": {u: line_tuple(v) for u, v in (view.get("lines") or {}).items()},
        "payments": {
            u: (_id(p.get("payment_method_id")), _num(p.get("amount")))
            for u, p in (view.get("payments") or {}).items()
        },
    }


def odoo_orders(odoo: OdooInstance, uuids: list[str]) -> dict[str, Order]:
    """The Odoo orders with these uuids, read as admin over JSON-RPC."""
    note = "internal_note" if odoo.tree.major >= 19 else "general_note"
    fields = ["uuid", "state", "table_id", "partner_id", note]
    orders = odoo.jsonrpc("pos.order", "search_read", [[("uuid", "in", uuids)], fields])
    ids = [o["id"] for o in orders]
    line_fields = ["uuid", "order_id", "product_id", "qty", "price_unit", "discount"]
    lines = odoo.jsonrpc(
        "pos.order.line",
        "search_read",
        [[("order_id", "in", ids)], [*line_fields, "customer_note"]],
    )
    payments = odoo.jsonrpc(
        "pos.payment",
        "search_read",
        [[("pos_order_id", "in", ids)], ["uuid", "pos_order_id", "payment_method_id", "amount"]],
    )
    result: dict[str, Order] = {}
    by_id: dict[int, Order] = {}
    for order in orders:
        view = normalize({**order, "internal_note": order[note] or ""})
        view["state"] = CLOSED.get(order["state"], "draft")
        view["line_count"] = 0
        result[order["uuid"]] = by_id[order["id"]] = view
    for line in lines:
        view = by_id[line["order_id"][0]]
        view["lines"][line["uuid"]] = line_tuple(line)
        view["line_count"] += 1  # two lines with one uuid would show here
    for pay in payments:
        by_id[pay["pos_order_id"][0]]["payments"][pay["uuid"]] = (
            _id(pay["payment_method_id"]),
            _num(pay["amount"]),
        )
    return result


def moved(lines: dict[str, dict], *, discount: bool = True) -> dict[tuple, float]:
    """Quantity per kind of line (product, price, discount, note), whatever the uuids: what a
    split or a merge must keep. ``discount=False`` leaves the discount out of the kind."""
    out: dict[tuple, float] = {}
    for line in lines.values():
        product, qty, price, line_discount, note = line_tuple(line)
        key = (product, price, line_discount if discount else None, note)
        out[key] = round(out.get(key, 0) + qty, 3)
    return out


Fact = tuple[str, str, str]  # (kind: "lost" | "extra", what, text for the report)


def differences(
    where: str, uuid: str, expected: Order, found: Order | None, *, payments: bool = True
) -> list[Fact]:
    """What ``found`` (one replica's copy of order ``uuid``) gets wrong about ``expected``."""
    if expected["state"] == "cancel":
        # Merged into another: only that it is closed counts (Odoo may never have had it,
        # and keeps the lines of an order it cancels).
        if found is None or found["state"] == "cancel":
            return []
        return [("lost", f"{uuid}:state", f"{where}: merged order {uuid[:8]} still open")]
    if found is None:
        return [("lost", f"{uuid}:order", f"{where}: order {uuid[:8]} missing")]
    out: list[Fact] = []
    for key in ("state", "table_id", "partner_id", "internal_note"):
        if expected[key] != found[key]:
            text = f"{where}: order {uuid[:8]} {key} {found[key]!r}, expected {expected[key]!r}"
            out.append(("lost", f"{uuid}:{key}", text))
    for part in ("lines", "payments") if payments else ("lines",):
        for item, value in expected[part].items():
            if found[part].get(item) != value:
                text = f"{where}: {part[:-1]} {item[:8]} {found[part].get(item)}, expected {value}"
                out.append(("lost", f"{uuid}:{item}", text))
        for item in found[part].keys() - expected[part].keys():
            text = f"{where}: extra {part[:-1]} {item[:8]} {found[part][item]}"
            out.append(("extra", f"{uuid}:{item}", text))
    if found.get("line_count", len(found["lines"])) != len(found["lines"]):
        out.append(("extra", f"{uuid}:dup-line", f"{where}: a line uuid appears twice"))
    return out
