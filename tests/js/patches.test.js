// The page's patches of Odoo's POS (static/src/overrides/) change nothing for a POS with
// Real-Time Sync off: each one hands the call to Odoo's own code, unchanged (issue #15).
// Odoo's classes are played by small fakes registered as Odoo 19's modules.
import { test } from "node:test";
import assert from "node:assert/strict";
import { register } from "node:module";

register("./odoo_loader.js", import.meta.url);

/** Odoo's POS store: `syncAllOrders` returns what it is told to and records its calls. */
class PosStore {
    constructor(config, possync) {
        this.config = config;
        this.env = { services: { possync } };
        this.calls = [];
        this.answer = Promise.resolve(["synced"]);
    }
    syncAllOrders(...args) {
        this.calls.push(args);
        return this.answer;
    }
}

/** Odoo 19's customer display adapter: `dispatch` posts locally and makes one RPC. */
class CustomerDisplayPosAdapter {
    constructor() {
        this.data = { amount: "3.00" };
        this.posted = [];
        this.rpcs = 0;
        this.channel = { postMessage: (message) => this.posted.push(message) };
    }
    dispatch() {
        this.channel.postMessage(this.data);
        this.rpcs += 1;
    }
}

/** Odoo's `pos.order` model: the loaded orders, counting Odoo's searches through them all. */
class Orders {
    constructor(orders) {
        this.orders = orders;
        this.searches = 0;
    }
    getAll() {
        return this.orders;
    }
    filter(keep) {
        this.searches += 1;
        return this.orders.filter(keep);
    }
}

/** Odoo 19's restaurant table: `getOrders` searches every loaded order; pos_self_order
 * (installed with pos_restaurant, its patch applied before possync's) adds the self-orders
 * placed from the table's QR code that sit on no table or another one. */
class RestaurantTable {
    constructor(id, models) {
        this.id = id;
        this.models = models;
    }
    getOrders() {
        const shown = (o) => !o.finalized || o.uiState.screen_data?.value?.name === "TipScreen";
        const orders = this.models["pos.order"].filter(
            (o) => o.table_id?.id === this.id && shown(o)
        );
        // Not counted in `searches`: those count pos_restaurant's own.
        const selfOrdered = this.models["pos.order"].getAll().filter(
            (o) =>
                o.self_ordering_table_id?.id === this.id && o.table_id?.id !== this.id && shown(o)
        );
        return [...orders, ...selfOrdered];
    }
}

/** Odoo 19's floor screen: its template asks each table whether it is occupied and its
 * kitchen changes, between Owl's render hooks. */
class FloorScreen {
    constructor(pos) {
        this.pos = pos;
        this.setup();
    }
    setup() {}
    getChangeCount(table) {
        const open = this.pos.models["pos.order"].filter(
            (o) => o.table_id?.id === table.id && !o.finalized
        );
        return { changes: open.reduce((sum, o) => sum + o.kitchenChanges, 0) };
    }
    drawTables(tables) {
        return tables.map((table) => ({
            occupied: Boolean(table.getOrders().length), // the store's tableHasOrders
            changes: this.getChangeCount(table).changes,
            orders: table.getOrders().map((o) => o.name),
        }));
    }
    render(tables) {
        owlHooks.willRender.forEach((hook) => hook());
        const drawn = this.drawTables(tables);
        owlHooks.rendered.forEach((hook) => hook());
        return drawn;
    }
}

const storage = new Map();
globalThis.localStorage = {
    getItem: (key) => (storage.has(key) ? storage.get(key) : null),
    setItem: (key, value) => storage.set(key, String(value)),
    removeItem: (key) => storage.delete(key),
};
globalThis.odoo = {
    loader: {
        modules: new Map([
            ["@point_of_sale/app/services/pos_store", { PosStore }],
            ["@point_of_sale/app/components/navbar/navbar", { Navbar: class {} }],
            [
                "@point_of_sale/app/customer_display/customer_display_adapter",
                { CustomerDisplayPosAdapter },
            ],
            ["@pos_restaurant/app/screens/floor_screen/floor_screen", { FloorScreen }],
            ["@pos_restaurant/app/models/restaurant_table", { RestaurantTable }],
        ]),
    },
};

const { possyncEnabled, possyncEnabledFor } = await import(
    "../../addon/pos_restaurant_sync/static/src/pos/enabled.js"
);
await import("../../addon/pos_restaurant_sync/static/src/overrides/models/pos_store.js");
const { releaseBulkDeletes } = await import(
    "../../addon/pos_restaurant_sync/static/src/overrides/models/related_models.js"
);
await import(
    "../../addon/pos_restaurant_sync/static/src/overrides/customer_display/customer_display_adapter.js"
);
await import("../../addon/pos_restaurant_sync/static/src/overrides/screens/floor_screen.js");
const { Base } = await import("./odoo_stubs/related_models.js");
const { hooks: owlHooks, observersOf, reactive } = await import("./odoo_stubs/owl.js");
const { counted } = await import("./odoo_stubs/order_change.js");

const ON = { possync_enabled: true };
const OFF = { possync_enabled: false };

/** A possync service as possync_service.js starts it for `config`, counting flushes. */
function service(config) {
    const flushed = [];
    return { enabled: possyncEnabled(config), flushed, flush: async (ms) => flushed.push(ms) };
}

/** A POS record of the POS whose config is `config`, as Odoo 19 builds one. */
function record(config, values) {
    const line = Object.assign(new Base(), values);
    const container = { "pos.config": { getFirst: () => config } };
    Object.defineProperty(line, "models", { value: container }); // 19: a getter, not a field
    line.model = { name: "pos.order.line" };
    return line;
}

test("only a config with possync_enabled exactly true has sync on", () => {
    assert.equal(possyncEnabled(ON), true);
    for (const config of [OFF, {}, null, undefined, { possync_enabled: "true" }]) {
        assert.equal(possyncEnabled(config), false);
    }
    assert.equal(possyncEnabledFor({}), false, "a record of no loaded POS");
    assert.equal(possyncEnabledFor(record(ON, {})), true);
});

test("with sync off, Odoo's order sync runs at once and its own promise is returned", () => {
    const possync = service(OFF);
    const store = new PosStore(OFF, possync);
    const options = { orders: ["o1"], throw: true };
    const answer = store.syncAllOrders(options);
    assert.equal(answer, store.answer, "Odoo's promise itself, not one around it");
    assert.deepEqual(store.calls, [[options]]);
    assert.deepEqual(possync.flushed, []);
});

test("with sync on, Odoo's order sync waits for possync's flush", async () => {
    const possync = service(ON);
    const store = new PosStore(ON, possync);
    const options = { orders: ["o1"] };
    const pending = store.syncAllOrders(options);
    assert.deepEqual(store.calls, [], "not before the flush");
    assert.deepEqual(await pending, ["synced"]);
    assert.deepEqual(possync.flushed, [2000]);
    assert.deepEqual(store.calls, [[options]]);
});

test("before the possync service started, Odoo's order sync runs as Odoo's", () => {
    const store = new PosStore(ON, undefined);
    assert.equal(store.syncAllOrders(), store.answer);
});

test("with sync off, a record turns into JSON as Odoo's own does", () => {
    const line = record(OFF, { id: 7, uuid: "l1", qty: 2 });
    assert.equal(JSON.stringify(line), JSON.stringify({ ...line }));
    // Odoo's records link back to what links to them: stringify meets the cycle and throws.
    const cyclic = record(OFF, { id: 8, uuid: "l2" });
    cyclic.order_id = { lines: [cyclic] };
    assert.throws(() => JSON.stringify(cyclic), /circular/);
});

test("with sync on, a record turns into JSON as its model, id and uuid", () => {
    const line = record(ON, { id: 7, uuid: "l1", qty: 2 });
    line.order_id = { lines: [line] };
    assert.deepEqual(JSON.parse(JSON.stringify(line)), {
        model: "pos.order.line",
        id: 7,
        uuid: "l1",
    });
});

/** An order of the POS whose config is `config`, whose lazy getter (as Odoo 19's are) reads
 * the config's currency through an observer of its own; returns the order and how often
 * that observer was told of a change. */
function orderObservingItsConfig(config) {
    class Order extends Base {
        get currency() {
            return this.config.currency_id;
        }
    }
    const order = Object.assign(new Order(), { id: 3, uuid: "o1", config });
    Object.defineProperty(order, "models", { value: { "pos.config": { getFirst: () => config } } });
    order.model = { name: "pos.order", deleted: [] };
    const told = { count: 0 };
    assert.equal(reactive(order, () => (told.count += 1)).currency, "EUR");
    return { order, told };
}

test("with sync on, a deleted record's observers let go of the config that lives on", async () => {
    const config = { ...ON, currency_id: "EUR" };
    const { order, told } = orderObservingItsConfig(config);
    assert.equal(observersOf(config, "currency_id").length, 1, "the config holds the observer");
    assert.equal(order.delete(), 3, "Odoo's delete, its answer");
    assert.deepEqual(order.model.deleted, [order]);
    await Promise.resolve();
    assert.equal(observersOf(config, "currency_id").length, 0, "nothing holds the order");
    assert.equal(told.count, 1, "told once, as of any change it read");
    assert.deepEqual(
        [order.id, order.uuid, order.config, order.currency],
        [3, "o1", config, "EUR"],
        "the deleted record is left as it was"
    );
});

test("with sync off, a deleted record's observers stay as Odoo leaves them", async () => {
    const config = { ...OFF, currency_id: "EUR" };
    const { order, told } = orderObservingItsConfig(config);
    assert.equal(order.delete(), 3);
    await Promise.resolve();
    assert.equal(observersOf(config, "currency_id").length, 1);
    assert.equal(told.count, 0);
});

/** Odoo's model of orders, as 18 builds it (a plain object) or 19 (an instance of a class),
 * whose `deleteMany` deletes without the records' own `delete`, as Odoo's loads use it; with
 * possync's patch applied as when sync starts. */
function ordersDeletedInBulk(shape) {
    const deleteMany = (records) => [...records].map((r) => r.model.deleted.push(r));
    class Model {
        deleteMany(records) {
            return deleteMany(records);
        }
    }
    const models = { "pos.order": shape === 18 ? { deleteMany } : new Model() };
    releaseBulkDeletes(models, ["pos.order"]);
    return models["pos.order"];
}

for (const shape of [18, 19]) {
    test(`with sync on, records Odoo ${shape} deletes in bulk let go of what they observed`, async () => {
        const config = { ...ON, currency_id: "EUR" };
        const { order, told } = orderObservingItsConfig(config);
        assert.deepEqual(ordersDeletedInBulk(shape).deleteMany(new Set([order])), [1]);
        assert.deepEqual(order.model.deleted, [order], "Odoo's own deletion ran");
        await Promise.resolve();
        assert.equal(observersOf(config, "currency_id").length, 0, "nothing holds the order");
        assert.equal(told.count, 1);
    });
}

test("with sync off, records deleted in bulk stay as Odoo leaves them", async () => {
    const config = { ...OFF, currency_id: "EUR" };
    const { order, told } = orderObservingItsConfig(config);
    ordersDeletedInBulk(19).deleteMany([order]);
    await Promise.resolve();
    assert.equal(observersOf(config, "currency_id").length, 1);
    assert.equal(told.count, 0);
});

test("with sync off, the customer display gets Odoo's RPC also without a paired display", () => {
    storage.delete("device_uuid");
    const adapter = new CustomerDisplayPosAdapter();
    adapter.dispatch({ config: OFF });
    assert.equal(adapter.rpcs, 1);
    assert.deepEqual(adapter.posted, [adapter.data]);
});

test("with sync on, the RPC is skipped without a paired display, sent with one", () => {
    storage.delete("device_uuid");
    const adapter = new CustomerDisplayPosAdapter();
    adapter.dispatch({ config: ON });
    assert.equal(adapter.rpcs, 0);
    assert.deepEqual(adapter.posted, [{ amount: "3.00" }], "the local display is still fed");
    storage.set("device_uuid", "d1");
    adapter.dispatch({ config: ON });
    assert.equal(adapter.rpcs, 1);
    storage.delete("device_uuid");
});

/** A floor of five tables, with open, paid, tipping and table-less orders on it. */
function floor(config) {
    const models = { "pos.order": null };
    const tables = [1, 2, 3, 4, 5].map((id) => new RestaurantTable(id, models));
    const order = (name, table, finalized, kitchenChanges, screen) => ({
        name,
        table_id: table && tables[table - 1],
        finalized,
        kitchenChanges,
        uiState: { screen_data: { value: { name: screen } } },
    });
    models["pos.order"] = new Orders([
        order("a", 1, false, 2),
        order("b", 1, false, 1), // two open orders on one table: both, in the models' order
        order("c", 2, true, 5), // paid: the table is free
        order("d", 3, true, 4, "TipScreen"), // paid, waiting for the tip: still shown
        order("e", null, false, 3), // no table (a takeaway)
        order("f", 4, false, 0),
    ]);
    owlHooks.willRender.length = owlHooks.rendered.length = 0;
    return { tables, orders: models["pos.order"], screen: new FloorScreen({ config, models }) };
}

test("with sync off, the floor plan searches the orders for each table as Odoo does", () => {
    const { tables, orders, screen } = floor(OFF);
    assert.equal(owlHooks.willRender.length, 0, "no render hook");
    screen.render(tables);
    assert.equal(orders.searches, 3 * tables.length);
});

test("with sync on, the floor plan draws from one pass and shows what Odoo's searches do", () => {
    const { tables, orders, screen } = floor(ON);
    const drawn = screen.render(tables);
    assert.equal(orders.searches, 0, "no search of all orders while drawing");
    orders.searches = 0;
    assert.deepEqual(drawn, screen.drawTables(tables), "Odoo's own answers, outside a draw");
    assert.equal(orders.searches, 3 * tables.length, "outside a draw, Odoo's own searches");
    assert.deepEqual(
        drawn.map((t) => t.orders),
        [["a", "b"], [], ["d"], ["f"], []]
    );
});

test("with sync on, a draw counts each table's kitchen changes once", () => {
    const { tables, screen } = floor(ON);
    // Odoo asks for each table's count, and again for its floor's tab.
    const drawTables = screen.drawTables.bind(screen);
    screen.drawTables = (drawn) => {
        const tab = drawn.reduce((sum, t) => sum + screen.getChangeCount(t).changes, 0);
        return { tables: drawTables(drawn), tab };
    };
    counted.length = 0;
    const { tables: drawn, tab } = screen.render(tables);
    assert.deepEqual(
        drawn.map((t) => t.changes),
        [3, 0, 0, 0, 0]
    );
    assert.equal(tab, 3);
    assert.deepEqual(
        counted.map((o) => o.name),
        ["a", "b", "f"],
        "each open order on a table counted once"
    );
});

test("with sync on, a table with only a QR self-order open is drawn occupied", () => {
    const { tables, orders, screen } = floor(ON);
    const selfOrder = (name, table, selfTable, finalized = false) => ({
        name,
        table_id: table && tables[table - 1],
        self_ordering_table_id: tables[selfTable - 1],
        finalized,
        kitchenChanges: 1,
        uiState: {},
    });
    orders.orders.push(
        selfOrder("s", null, 5), // ordered from table 5's QR code, on no table
        selfOrder("t", 1, 2), // moved to table 1 since: shown on both, as Odoo does
        selfOrder("u", 4, 4), // on its own table: listed once
        selfOrder("v", null, 3, true) // paid: not shown
    );
    const drawn = screen.render(tables);
    assert.deepEqual(drawn, screen.drawTables(tables), "Odoo's own answers, outside a draw");
    assert.deepEqual(
        drawn.map((t) => [t.occupied, t.orders]),
        [
            [true, ["a", "b", "t"]],
            [true, ["t"]],
            [true, ["d"]],
            [true, ["f", "u"]],
            [true, ["s"]],
        ]
    );
});

test("with sync on, a render that throws leaves no index behind for the next action", async () => {
    const { tables, orders, screen } = floor(ON);
    screen.drawTables = () => {
        throw new Error("template failed");
    };
    assert.throws(() => screen.render(tables), /template failed/);
    await Promise.resolve();
    orders.orders.push({ name: "g", table_id: tables[4], finalized: false, uiState: {} });
    assert.deepEqual(
        tables[4].getOrders().map((o) => o.name),
        ["g"],
        "the order opened after the failed draw is found"
    );
});
