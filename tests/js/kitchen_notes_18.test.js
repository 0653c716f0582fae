// Kitchen notes on an Odoo 18 page: 18 keeps them as plain text, and the page leaves them so
// (tests/js/kitchen_notes.test.js has 19's lists).
import { test } from "node:test";
import assert from "node:assert/strict";
import { register } from "node:module";
import { draftOrder, startOdoo } from "./pos_records.js";

register("./odoo_loader.js", import.meta.url);
startOdoo(18);

const { MAX_TEXT_LENGTH } = await import(
    "../../addon/pos_restaurant_sync/static/src/lib/protocol.js"
);
const { writeOps } = await import("../../addon/pos_restaurant_sync/static/src/pos/order_writer.js");
const { readOrderView } = await import(
    "../../addon/pos_restaurant_sync/static/src/pos/order_view.js"
);

test("on 18 a kitchen note is written and read as the plain text it is", () => {
    const { order, models } = draftOrder();
    writeOps(models, order, [{ op: "order.set", field: "internal_note", value: "No ice" }]);
    assert.equal(order.general_note, "No ice");
    assert.equal(readOrderView(order).internal_note, "No ice");
});

test("on 18 a kitchen note past the length cap is cut as text", () => {
    const { order } = draftOrder({ general_note: "x".repeat(MAX_TEXT_LENGTH + 5) });
    assert.equal(readOrderView(order).internal_note, "x".repeat(MAX_TEXT_LENGTH));
});
