// Odoo 18's copy of the orders into IndexedDB: with Real-Time Sync on at most one every
// 300 ms, the changes meanwhile taken up by it; off, one per change, as Odoo's own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { register } from "node:module";
import { startOdoo } from "./pos_records.js";

register("./odoo_loader.js", import.meta.url);
startOdoo(18);

/** Odoo 18's data service: `syncDataWithIndexedDB` records each copy it makes. */
class PosData {
    constructor(config) {
        this.models = { "pos.config": { getFirst: () => config } };
        this.copies = [];
    }
    syncDataWithIndexedDB(records) {
        this.copies.push(records);
    }
}
odoo.loader.modules.set("@point_of_sale/app/models/data_service", { PosData });

/** The page's own events: the override listens for the page being closed or hidden. */
const page = { listeners: {}, visibilityState: "visible" };
globalThis.addEventListener = (type, listener) => (page.listeners[type] = listener);
globalThis.document = {
    get visibilityState() {
        return page.visibilityState;
    },
    addEventListener: (type, listener) => (page.listeners[type] = listener),
};

const { INDEXED_DB_EVERY_MS } = await import(
    "../../addon/pos_restaurant_sync/static/src/overrides/models/data_service.js"
);

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test("on 18 with sync on, changes in one 300 ms make one copy of the orders, at its end", async () => {
    const data = new PosData({ possync_enabled: true });
    const records = { "pos.order": new Map() };
    for (let i = 0; i < 5; i++) {
        data.syncDataWithIndexedDB(records); // Odoo's effect, after each change
    }
    assert.deepEqual(data.copies, [], "not in the change's own task");
    await wait(INDEXED_DB_EVERY_MS + 20);
    assert.deepEqual(data.copies, [records]);
    data.syncDataWithIndexedDB(records);
    await wait(INDEXED_DB_EVERY_MS + 20);
    assert.equal(data.copies.length, 2, "a change after the copy makes the next one");
});

test("on 18 with sync on, a page closed or hidden makes the waiting copy at once", () => {
    const data = new PosData({ possync_enabled: true });
    const records = { "pos.order": new Map() };
    data.syncDataWithIndexedDB(records); // an order paid offline
    page.listeners.pagehide();
    assert.deepEqual(data.copies, [records], "closed: copied before the page goes");
    data.syncDataWithIndexedDB(records);
    page.visibilityState = "hidden"; // the tablet put to sleep
    page.listeners.visibilitychange();
    assert.equal(data.copies.length, 2);
    page.listeners.pagehide();
    assert.equal(data.copies.length, 2, "nothing waits: no copy");
});

test("on 18 with sync off, each change makes its copy at once, as Odoo's own", () => {
    const data = new PosData({ possync_enabled: false });
    const records = { "pos.order": new Map() };
    data.syncDataWithIndexedDB(records);
    data.syncDataWithIndexedDB(records);
    assert.deepEqual(data.copies, [records, records]);
});
