"""What a change may name, for the POS it is pushed to and the user who pushes it.

The server checks each new change where it admits it into its order
(``pos_restaurant_sync.change._admit``), against the order's merged state, before anything
of it is stored or applied; a change that fails a check is answered ``rejected`` with the
reason this module gives. The rules (docs/protocol.md, "What the server accepts"):

- every id a change names is checked with the pushing user's rights, never with sudo: a
  customer the user can read, of the POS's company or shared; a table on one of the POS's
  floors; a product the POS sells (available in the POS, can be sold, of its company or
  shared, in its categories when the POS limits them; or one of the POS's special products,
  an item of a combo it sells, or a product already on an open order of the POS, so that a
  split or a merge can move a line whose product left the menu meanwhile); a payment method
  of the POS;
- the attribute values of a line belong to its product's template;
- on Odoo 19, a kitchen note (the ``internal_note`` of the order or of a line) is ``""`` or
  the JSON list of notes that 19's POS writes and parses (``lib/kitchen_notes.py``): a
  note of any other shape would blank the screen of every 19 terminal showing the order.
  18 keeps plain text there;
- under *Restrict Price Modifications to Managers* (``restrict_price_control``), a user who
  is not a manager of the POS may only give a line a price the POS computes itself: the
  product's sales price or its price in one of the POS's pricelists, for the line's quantity
  and attribute values. That is the rule of the POS's own screen, where only managers get
  the price button.

A line whose price alone changes (``line.set price_unit``, its product already in the order)
only meets the price rule: its product is not checked again, so a line keeps working when
its product leaves the menu, as it does on the POS's own screen. Checks that depend on a
line (attribute values, price) look at the line as the change leaves it and only when this
change decides the value: an older value that a newer one already overrides changes
nothing, on any replica. Changes of a line may arrive before the line's add (two pushes in
flight, two agents relaying); as they show nothing yet, the line's checks wait for the
change that brings the add, which answers for the whole line as it then stands.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from odoo.exceptions import AccessError, MissingError
from odoo.tools import float_compare

from . import compat
from .lib.kitchen_notes import check_kitchen_notes


@dataclass
class Scope:
    """The checks of one push: ``config`` is in the pushing user's environment."""

    config: object
    _known: dict = field(default_factory=dict)

    @property
    def env(self):
        return self.config.env

    # --- a change -----------------------------------------------------------------------

    def refusal(self, change: dict, state: dict) -> str | None:
        """Why ``change`` is refused (``state``: the order with the change folded in), or None."""
        for op in change["ops"]:
            if reason := self._op_refusal(op):
                return reason
        for line_id in {op["line"] for op in change["ops"] if "line" in op}:
            if reason := self._line_refusal(state, line_id, change):
                return reason
        return None

    def _op_refusal(self, op: dict) -> str | None:
        """The ids an operation names, on their own."""
        kind = op["op"]
        values = op.get("values") or {op.get("field"): op.get("value")}
        if "internal_note" in values and (reason := self._kitchen_note_refusal(op, values)):
            return reason
        if kind == "order.set":
            if op["field"] == "partner_id" and op["value"] is not None:
                return self._checked("partner", int(op["value"]), self._partner_ok)
            if op["field"] == "table_id" and op["value"] is not None:
                return self._checked("table", int(op["value"]), self._table_ok)
        elif kind in ("line.add", "line.set") and values.get("product_id") is not None:
            return self._checked("product", int(values["product_id"]), self._product_ok)
        elif kind in ("payment.add", "payment.set") and values.get("payment_method_id"):
            return self._checked(
                "payment method", int(values["payment_method_id"]), self._payment_method_ok
            )
        return None

    def _kitchen_note_refusal(self, op: dict, values: dict) -> str | None:
        """A kitchen note this Odoo's POS cannot draw (19: not a JSON list of notes)."""
        if not compat.KITCHEN_NOTES_AS_JSON:
            return None
        try:
            check_kitchen_notes(values["internal_note"])
        except ValueError as exc:
            where = f"line {op['line']}" if "line" in op else "the order"
            return f"the kitchen note of {where} {exc}"
        return None

    def _line_refusal(self, state: dict, line_id: str, change: dict) -> str | None:
        """The line as this change leaves it: the attribute values and price it decides.

        A line whose add has not arrived yet is in no view, so nothing of it is applied and
        these checks wait: its changes may overtake the add (two pushes in flight, or two
        agents relaying). The change that brings the add makes the line visible, so it is
        answerable for every value the line then shows, whichever change set it.
        """
        item = state["line"].get(line_id)
        if not item or item.get("deleted") or not item.get("added"):
            return None
        line = {name: value for name, (_key, value) in item["fields"].items()}
        if _adds_line(change, line_id):
            decided = set(line)
        else:
            decided = {n for n, (key, _value) in item["fields"].items() if key[2] == change["id"]}
        product_id = int(line["product_id"]) if line.get("product_id") else None
        attributes = line.get("attribute_value_ids") or []
        checks_attributes = bool(attributes and decided & {"product_id", "attribute_value_ids"})
        if product_id and checks_attributes and not self._attributes_ok(product_id, attributes):
            return (
                f"attribute values {attributes} are not values of product {product_id} "
                f"(line {line_id})"
            )
        # A new product under an old price is a price by hand too.
        if decided & {"price_unit", "product_id"} and self._price_restricted():
            return self._price_refusal(line_id, product_id, line)
        return None

    def _price_refusal(self, line_id: str, product_id: int | None, line: dict) -> str | None:
        if "price_unit" not in line:
            return None  # the server gives the line the product's price
        if not product_id:
            return f"line {line_id} has a price but no product"
        prices = self._pos_prices(
            product_id, line.get("qty", 1), line.get("attribute_value_ids") or []
        )
        if any(self._same_price(line["price_unit"], allowed) for allowed in prices):
            return None
        return (
            f"only a manager of {self.config.name} may change prices: {line['price_unit']} "
            f"is not the POS price of product {product_id} (line {line_id})"
        )

    def _checked(self, what: str, record_id: int, check) -> str | None:
        key = (what, record_id)
        if key not in self._known:
            try:
                self._known[key] = bool(check(record_id))
            except (AccessError, MissingError):
                self._known[key] = False
        if self._known[key]:
            return None
        return f"{what} {record_id} is not available in {self.config.name}"

    # --- linked records -----------------------------------------------------------------

    def _partner_ok(self, partner_id: int) -> bool:
        partners = self.env["res.partner"]
        domain = [("id", "=", partner_id), *partners._check_company_domain(self.config.company_id)]
        return partners.search_count(domain, limit=1)

    def _table_ok(self, table_id: int) -> bool:
        domain = [("id", "=", table_id), ("floor_id", "in", self.config.floor_ids.ids)]
        return self.env["restaurant.table"].search_count(domain, limit=1)

    def _payment_method_ok(self, method_id: int) -> bool:
        return method_id in self.config.payment_method_ids.ids

    def _product_ok(self, product_id: int) -> bool:
        config, products = self.config, self.env["product.product"]
        product = products.with_context(active_test=False).search([("id", "=", product_id)])
        if not product:
            return False  # unknown, or not readable by the user
        sold = self._sold_domain()
        if products.search_count([("id", "=", product_id), *sold], limit=1):
            return True
        if product in config._get_special_products() | config.tip_product_id:
            return True
        in_combo = [
            *sold,
            ("type", "=", "combo"),
            ("combo_ids.combo_item_ids.product_id", "=", product_id),
        ]
        if products.search_count(in_combo, limit=1):
            return True
        if "pos_optional_product_ids" in products._fields:
            optional = [*sold, ("pos_optional_product_ids", "in", product.product_tmpl_id.ids)]
            if products.search_count(optional, limit=1):
                return True
        on_open_order = [
            ("product_id", "=", product_id),
            ("order_id.config_id", "=", config.id),
            ("order_id.state", "=", "draft"),
        ]
        return bool(self.env["pos.order.line"].search_count(on_open_order, limit=1))

    def _sold_domain(self) -> list:
        """The products the POS offers on its screen (its own product domain)."""
        config, products = self.config, self.env["product.product"]
        domain = [
            *products._check_company_domain(config.company_id),
            ("available_in_pos", "=", True),
            ("sale_ok", "=", True),
        ]
        if config.limit_categories and config.iface_available_categ_ids:
            categories = self.env["pos.category"].search(
                [("id", "child_of", config.iface_available_categ_ids.ids)]
            )
            domain.append(("pos_categ_ids", "in", categories.ids))
        return domain

    def _attributes_ok(self, product_id: int, value_ids: list) -> bool:
        products = self.env["product.product"].with_context(active_test=False)
        template = products.search([("id", "=", product_id)]).product_tmpl_id
        if not template:
            return False
        values = self.env["product.template.attribute.value"].search_count(
            [("id", "in", [int(i) for i in value_ids]), ("product_tmpl_id", "=", template.id)]
        )
        return values == len(value_ids)

    # --- prices -------------------------------------------------------------------------

    def _price_restricted(self) -> bool:
        if "restricted" not in self._known:
            config, user = self.config, self.env.user
            manager = config.group_pos_manager_id in compat.user_groups(user)
            self._known["restricted"] = bool(config.restrict_price_control) and not (
                manager or self.env.su
            )
        return self._known["restricted"]

    def _pos_prices(self, product_id: int, qty: float, value_ids: list) -> list[float]:
        """The prices the POS gives the product: its sales price, and its price in each of
        the POS's pricelists for ``qty``, with the extra prices of the attribute values."""
        product = self.env["product.product"].browse(product_id)
        values = self.env["product.template.attribute.value"].browse([int(i) for i in value_ids])
        product = product.with_context(**product._get_product_price_context(values))
        config = self.config
        prices = [product.lst_price + product._get_no_variant_attributes_price_extra(values)]
        for pricelist in config.pricelist_id | config.available_pricelist_ids:
            price = pricelist._get_product_price(product, qty or 1.0, currency=config.currency_id)
            prices.append(price)
        return prices

    def _same_price(self, price: float, allowed: float) -> bool:
        digits = self.env["decimal.precision"].precision_get("Product Price")
        return float_compare(price, allowed, precision_digits=digits) == 0


def _adds_line(change: dict, line_id: str) -> bool:
    return any(op["op"] == "line.add" and op["line"] == line_id for op in change["ops"])
