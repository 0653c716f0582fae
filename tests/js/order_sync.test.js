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

/** A page on `screen` showing order "shown", with these orders; `dropped` lists removals. */
function pageWith(screen, orders) {
    const dropped = [];
    const pos = {
        models: { "pos.order": { getAll: () => orders } },
        router: { state: { current: screen } },
        getOrder: () => orders.find((o) => o.uuid === "shown"),
        pendingOrder: { create: new Set(), write: new Set([7]), delete: new Set() },
        syncingOrders: new Set(["sending"]),
        data: { localDeleteCascade: (order) => dropped.push(order.uuid) },
    };
    const sync = new PosOrderSync(pos, { notify() {}, showStatus() {} });
    sync.client = { seenOf: (uuid) => (uuid === "seen-open" ? { state: "draft" } : undefined) };
    return { sync, dropped };
}

const restaurant = () => [
    { uuid: "open", id: 1, state: "draft", lines: [] },
    { uuid: "paid", id: 2, state: "paid" },
    { uuid: "cancelled", id: 3, state: "cancel" },
    { uuid: "shown", id: 4, state: "paid" }, // the receipt of a payment here
    { uuid: "unsent", id: "unsent", state: "paid" }, // paid offline: Odoo sends it later
    { uuid: "queued", id: 7, state: "paid" },
    { uuid: "sending", id: 8, state: "paid" },
    { uuid: "paid-here", id: 9, state: "paid" },
    { uuid: "seen-open", id: 12, state: "paid" }, // Odoo's load closed it before possync did
];

test("on the floor plan, closed orders Odoo has sent and this page saw closed are removed", () => {
    const { sync, dropped } = pageWith("FloorScreen", restaurant());
    sync.paidHere.add("paid-here"); // the server's close has not reached this page yet
    sync.dropClosed();
    assert.deepEqual(dropped, ["paid", "cancelled"]);
});

test("a paid order being refunded stays, with the lines its refund names", () => {
    const refunded = { uuid: "refunded", id: 10, state: "paid" };
    const picked = { uuid: "picked", id: 11, state: "paid", uiState: { lineToRefund: { l: {} } } };
    const refund = {
        uuid: "refund",
        id: "refund",
        state: "draft",
        lines: [{ refunded_orderline_id: { order_id: refunded } }],
    };
    const { sync, dropped } = pageWith("FloorScreen", [refunded, picked, refund]);
    sync.dropClosed();
    assert.deepEqual(dropped, []);
});

test("on any other screen no closed order is removed", () => {
    for (const screen of ["ProductScreen", "TicketScreen", "PaymentScreen", "ReceiptScreen"]) {
        const { sync, dropped } = pageWith(screen, restaurant());
        sync.dropClosed();
        assert.deepEqual(dropped, [], screen);
    }
});
