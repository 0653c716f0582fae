from odoo.tests import tagged

from .common import PossyncCommon


@tagged("post_install", "-at_install")
class TestApplyAttributeValues(PossyncCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cooking = cls.env["product.attribute"].create(
            {
                "name": "Cooking",
                "create_variant": "no_variant",
                "value_ids": [(0, 0, {"name": "Rare"}), (0, 0, {"name": "Medium rare"})],
            }
        )
        cls.steak = cls.create_product("Steak", cls.categ_basic, 25.0)
        cls.env["product.template.attribute.line"].create(
            {
                "product_tmpl_id": cls.steak.product_tmpl_id.id,
                "attribute_id": cooking.id,
                "value_ids": [(6, 0, cooking.value_ids.ids)],
            }
        )
        values = cls.env["product.template.attribute.value"].search(
            [("product_tmpl_id", "=", cls.steak.product_tmpl_id.id)], order="id"
        )
        cls.rare, cls.medium_rare = values

    def setUp(self):
        super().setUp()
        self.order = self.new_uuid()

    def add_steak(self, *value_ids: int) -> None:
        ids = sorted(value_ids)
        self.push(self.change(self.order, self.line_add("l1", self.steak, attribute_value_ids=ids)))

    def test_a_line_keeps_its_attribute_values_and_shows_them_in_its_name(self):
        self.add_steak(self.medium_rare.id)
        line = self.pos_order(self.order).lines
        self.assertEqual(line.attribute_value_ids, self.medium_rare)
        self.assertEqual(line.full_product_name, "Steak (Medium rare)")

    def test_a_line_set_replaces_the_whole_set(self):
        self.add_steak(self.rare.id)
        self.push(
            self.change(
                self.order, self.line_set("l1", "attribute_value_ids", [self.medium_rare.id]), at=10
            )
        )
        line = self.pos_order(self.order).lines
        self.assertEqual(line.attribute_value_ids, self.medium_rare)
        self.assertEqual(line.full_product_name, "Steak (Medium rare)")

    def test_an_unknown_attribute_value_is_refused_and_nothing_of_the_change_applied(self):
        ids = sorted([self.rare.id, 999_999_999])
        change = self.change(self.order, self.line_add("l1", self.steak, attribute_value_ids=ids))
        ack = self.push(change)["acks"][0]
        self.assertEqual(ack["status"], "rejected")
        self.assertIn("999999999", ack["reason"])
        self.assertFalse(self.pos_order(self.order))
        self.assertFalse(self.log(self.order).mapped("payload")[0])
