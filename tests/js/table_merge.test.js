// One open order a table, with possync's view of which orders are open (pos/table_merge.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { register } from "node:module";
import { PosRecord, startOdoo } from "./pos_records.js";

register("./odoo_loader.js", import.meta.url);
startOdoo(19);

const { mergeTablesAsPossyncSees } = await import(
    "../../addon/pos_restaurant_sync/static/src/pos/table_merge.js"
);

/** An open order of Odoo id `id` (a string: none yet) on table `table`, with these lines. */
function order(uuid, id, table, products) {
    const made = new PosRecord({ uuid, id, state: "draft", table_id: { id: table }, lines: [] });
    for (const product of products) {
        const line = new PosRecord({ product, order_id: made });
        line.update = ({ order_id }) => {
            line.order_id.lines.splice(line.order_id.lines.indexOf(line), 1);
            order_id.lines.push(line);
            line.order_id = order_id;
        };
        made.lines.push(line);
    }
    return made;
}

/** Odoo 19's device sync over `orders`, with possync's step; `shown` is on screen. */
function deviceSyncOver(orders, shown, mayMerge) {
    const done = { loaded: [], deleted: [], pending: [] };
    const pos = {
        selectedOrderUuid: shown,
        setOrder: (chosen) => (pos.selectedOrderUuid = chosen.uuid),
        addPendingOrder: (ids) => done.pending.push(...ids),
        deleteOrders: async (gone) => done.deleted.push(...gone.map((o) => o.uuid)),
    };
    const models = {
        "pos.order": { getAll: () => orders },
        connectNewData: (records) => done.loaded.push(records) && { loaded: true },
    };
    const deviceSync = { pos, models };
    mergeTablesAsPossyncSees(deviceSync, mayMerge);
    return { deviceSync, pos, done };
}

const products = (made) => made.lines.map((line) => line.product).sort();
const READ = { "pos.order": [{ id: 1 }] };

test("an order possync holds closed is not merged with the next guests' order", async () => {
    // Paid elsewhere, still on screen for its notice; the new order has no Odoo id yet.
    const paid = order("paid", 7, 3, ["Coca-Cola"]);
    const next = order("next", "pos.order_12", 3, ["Fanta"]);
    const { deviceSync, done } = deviceSyncOver([paid, next], "paid", (o) => o !== paid);
    assert.equal(await deviceSync.processDynamicRecords(READ), undefined);
    assert.deepEqual(done.loaded, [READ], "the orders read are loaded");
    assert.deepEqual([products(paid), products(next)], [["Coca-Cola"], ["Fanta"]]);
    assert.deepEqual(done.deleted, []);
});

test("open orders on one table go into the one of highest id, shown if another was", async () => {
    const older = order("older", 7, 3, ["Coca-Cola"]);
    const newer = order("newer", 9, 3, ["Fanta", "Water"]);
    const elsewhere = order("elsewhere", 8, 4, ["Tea"]);
    const { deviceSync, pos, done } = deviceSyncOver([older, newer, elsewhere], "older", () => true);
    await deviceSync.processDynamicRecords(READ);
    assert.deepEqual(products(newer), ["Coca-Cola", "Fanta", "Water"]);
    assert.deepEqual(products(elsewhere), ["Tea"], "other tables stay as they are");
    assert.deepEqual(done.deleted, ["older"]);
    assert.equal(pos.selectedOrderUuid, "newer");
    assert.deepEqual(done.pending, [9]);
});

test("a load that brought no order merges nothing and answers as Odoo's", async () => {
    const older = order("older", 7, 3, ["Coca-Cola"]);
    const newer = order("newer", 9, 3, ["Fanta"]);
    const { deviceSync, done } = deviceSyncOver([older, newer], null, () => true);
    const products = { "product.product": [{ id: 1 }] };
    assert.deepEqual(deviceSync.processDynamicRecords(products), { loaded: true });
    assert.deepEqual(done.deleted, []);
});
