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
        ]),
    },
};

const { possyncEnabled, possyncEnabledFor } = await import(
    "../../addon/pos_restaurant_sync/static/src/pos/enabled.js"
);
await import("../../addon/pos_restaurant_sync/static/src/overrides/models/pos_store.js");
await import("../../addon/pos_restaurant_sync/static/src/overrides/models/related_models.js");
await import(
    "../../addon/pos_restaurant_sync/static/src/overrides/customer_display/customer_display_adapter.js"
);
const { Base } = await import("./odoo_stubs/related_models.js");

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
