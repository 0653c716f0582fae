// A record on an Odoo 18 page: 18 keeps each record's last values in its model's store, by
// id, and leaves them there when the record goes (tests/js/patches.test.js has 19); it keeps
// a record created here under its first id in its id index; and it keeps each record updated
// with a link to a model the POS does not load, or to a user it does not have.
import { test } from "node:test";
import assert from "node:assert/strict";
import { register } from "node:module";
import { startOdoo } from "./pos_records.js";

register("./odoo_loader.js", import.meta.url);
startOdoo(18);

await import("../../addon/pos_restaurant_sync/static/src/overrides/models/related_models.js");
const { Base } = await import("./odoo_stubs/related_models.js");
const { loadKeepingUnloadedLinks } = await import("../../addon/pos_restaurant_sync/static/src/pos/compat.js");

/** A line of the POS whose config is `config`, its kept values naming its order, as 18's. */
function keptLine(config) {
    const order = { uuid: "o1" };
    const kept = { "pos.order.line_7": { id: "pos.order.line_7", order_id: order } };
    const line = Object.assign(new Base(), { id: "pos.order.line_7", baseData: kept });
    line.models = { "pos.config": { getFirst: () => config } };
    const byId = { "pos.order.line_7": line, "pos.order.line_8": { id: 8 } };
    line.model = {
        modelName: "pos.order.line",
        deleted: [],
        indexedRecords: { "pos.order.line": { id: byId } },
    };
    return { line, kept, byId };
}

test("on 18 with sync on, a deleted record's kept values go, and the order they name", async () => {
    const { line, kept } = keptLine({ possync_enabled: true });
    assert.equal(line.delete(), "pos.order.line_7");
    assert.ok(kept["pos.order.line_7"], "kept while Odoo's deletion runs");
    await Promise.resolve();
    assert.deepEqual(kept, {});
});

test("on 18 a record loaded again under the same id in the same task keeps its values", async () => {
    const { line, kept } = keptLine({ possync_enabled: true });
    line.delete();
    const again = { id: "pos.order.line_7", order_id: { uuid: "o1" } };
    kept["pos.order.line_7"] = again; // Odoo's load creates the record anew
    await Promise.resolve();
    assert.equal(kept["pos.order.line_7"], again);
});

test("on 18 with sync off, a deleted record's kept values stay as Odoo leaves them", async () => {
    const { line, kept } = keptLine({ possync_enabled: false });
    line.delete();
    await Promise.resolve();
    assert.deepEqual(Object.keys(kept), ["pos.order.line_7"]);
});

test("on 18 a deleted record created here leaves the id index under its first id too", async () => {
    const { line, byId } = keptLine({ possync_enabled: true });
    line.id = 57; // the server's id replaced "pos.order.line_7"; 18 kept the first entry
    line.delete();
    await Promise.resolve();
    assert.deepEqual(Object.keys(byId), ["pos.order.line_8"]);
});

test("on 18 links of held orders to models the POS does not load go straight to their raw values", () => {
    const fields = {
        account_move: { type: "many2one", relation: "account.move" },
        partner_id: { type: "many2one", relation: "res.partner" },
    };
    const held = { raw: { uuid: "held", account_move: false } };
    const models = {
        "pos.order": { modelFields: fields, getBy: (key, uuid) => uuid === "held" && held },
        "res.partner": {},
    };
    const paid = { uuid: "held", account_move: 42, partner_id: 3 };
    const fresh = { uuid: "fresh", account_move: 43, partner_id: 3 };
    const data = { "pos.order": [paid, fresh], "res.partner": [{ id: 3 }] };
    let loaded;
    loadKeepingUnloadedLinks(models, data, ["pos.order", "pos.order.line"], (given) => {
        loaded = given;
        assert.equal(held.raw.account_move, false, "not yet: Odoo's load comes first");
    });
    assert.deepEqual(loaded["pos.order"], [{ uuid: "held", partner_id: 3 }, fresh]);
    assert.equal(loaded["res.partner"], data["res.partner"]);
    assert.equal(held.raw.account_move, 42, "the invoice, where 18's payment screen reads it");
    assert.deepEqual(data["pos.order"][0], paid, "the server's data is left as it came");
});

test("on 18 an order's link to a user the POS does not have goes to its raw values, held or new", () => {
    const fields = {
        user_id: { type: "many2one", relation: "res.users" },
        partner_id: { type: "many2one", relation: "res.partner" },
    };
    const records = { held: { raw: { uuid: "held" } } };
    const models = {
        "pos.order": {
            modelFields: fields,
            getBy: (key, uuid) => records[uuid],
        },
        "res.users": { get: (id) => (id === 2 ? { id: 2 } : undefined) }, // this page's user
        "res.partner": { get: () => undefined }, // 18 fetches missing partners with the load
    };
    const data = {
        "pos.order": [
            { uuid: "held", user_id: 9, partner_id: 5 },
            { uuid: "fresh", user_id: 9 },
            { uuid: "mine", user_id: 2 },
        ],
    };
    let loaded;
    loadKeepingUnloadedLinks(models, data, ["pos.order"], (given) => {
        loaded = given;
        records.fresh = { raw: { uuid: "fresh" } }; // Odoo's load creates it
    });
    assert.deepEqual(loaded["pos.order"], [
        { uuid: "held", partner_id: 5 },
        { uuid: "fresh" },
        { uuid: "mine", user_id: 2 },
    ]);
    assert.equal(records.held.raw.user_id, 9);
    assert.equal(records.fresh.raw.user_id, 9);
});

test("on 18 an order's link to a session that comes in the same load is left to Odoo's load", () => {
    const fields = { session_id: { type: "many2one", relation: "pos.session" } };
    const models = {
        "pos.order": { modelFields: fields, getBy: () => undefined },
        "pos.session": { get: () => undefined }, // the rescue session Odoo opened meanwhile
    };
    const data = {
        "pos.session": [{ id: 7, name: "RESCUE FOR POS/0001" }],
        "pos.order": [{ uuid: "fresh", session_id: 7 }],
    };
    let loaded;
    loadKeepingUnloadedLinks(models, data, ["pos.order"], (given) => (loaded = given));
    assert.deepEqual(loaded["pos.order"], data["pos.order"]);
});

test("on 18 a link that replaces a linked user is left to Odoo's load", () => {
    const fields = { user_id: { type: "many2one", relation: "res.users" } };
    const held = { user_id: { id: 2 }, raw: { uuid: "held", user_id: 2 } };
    const models = {
        "pos.order": { modelFields: fields, getBy: () => held },
        "res.users": { get: () => undefined },
    };
    const data = { "pos.order": [{ uuid: "held", user_id: 9 }] };
    let loaded;
    loadKeepingUnloadedLinks(models, data, ["pos.order"], (given) => (loaded = given));
    assert.deepEqual(loaded["pos.order"], data["pos.order"]);
});
