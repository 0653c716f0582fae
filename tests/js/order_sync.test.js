// The page's pacing of changes to orders off screen (docs/protocol.md "Changes from
// elsewhere, on a busy floor"): a second, or until twice the last catch-up's drawing time
// has passed since it was drawn.
import { test } from "node:test";
import assert from "node:assert/strict";
import { register } from "node:module";
import { startOdoo } from "./pos_records.js";

register("./odoo_loader.js", import.meta.url);
startOdoo(19);

const { PosOrderSync } = await import("../../addon/pos_restaurant_sync/static/src/pos/order_sync.js");

const page = () => new PosOrderSync({ models: {} }, { notify() {}, showStatus() {} });

test("changes off screen wait a second on a page that drew no catch-up yet", () => {
    assert.equal(page().offScreenWait(5_000), 1000);
});

test("changes right after a slow catch-up wait twice its drawing time", () => {
    const sync = page();
    sync.lastCatchUp = { drawnAt: 10_000, tookMs: 2_500 };
    assert.equal(sync.offScreenWait(10_000), 5_000);
    assert.equal(sync.offScreenWait(13_000), 2_000);
});

test("changes after a quiet spell wait only the second, however slow the last catch-up", () => {
    const sync = page();
    sync.lastCatchUp = { drawnAt: 10_000, tookMs: 2_500 };
    assert.equal(sync.offScreenWait(14_500), 1000);
    assert.equal(sync.offScreenWait(60_000), 1000);
});
