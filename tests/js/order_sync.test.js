// PosOrderSync, the page's side of the sync: how long changes to orders off screen wait
// (docs/protocol.md "Changes from elsewhere, on a busy floor"), which closed orders the page
// drops, and its watchers of orders ("What a page remembers").
import { test } from "node:test";
import assert from "node:assert/strict";
import { register } from "node:module";
import { draftOrder, startOdoo } from "./pos_records.js";

register("./odoo_loader.js", import.meta.url);
startOdoo(19);

const { PosOrderSync } = await import("../../addon/pos_restaurant_sync/static/src/pos/order_sync.js");
const { observersOf, reactive } = await import("./odoo_stubs/owl.js");

const page = () => new PosOrderSync({ models: {} }, { notify() {}, showStatus() {} });

test("changes off screen wait a second on a page that drew no catch-up yet", () => {
    assert.equal(page().offScreenWait(5_000), 1000);
});

test("changes right after a slow catch-up wait twice its drawing time", () => {
    const sync = page();
    sync.lastCatchUp = { drawnAt: 10_000, tookMs: 1_400 };
    assert.equal(sync.offScreenWait(10_000), 2_800);
    assert.equal(sync.offScreenWait(11_000), 1_800);
});

test("changes after a catch-up slower still wait three seconds at most", () => {
    // After a heal every page draws its backlog slowly: the orders off screen must still
    // agree within seconds (bench.e2e's convergence after each fault).
    const sync = page();
    sync.lastCatchUp = { drawnAt: 10_000, tookMs: 4_000 };
    assert.equal(sync.offScreenWait(10_000), 3_000);
    assert.equal(sync.offScreenWait(16_000), 2_000);
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

test("a paid order waiting for its tip stays", () => {
    const tipping = {
        uuid: "tipping",
        id: 13,
        state: "paid",
        uiState: { screen_data: { value: { name: "TipScreen" } } },
    };
    const { sync, dropped } = pageWith("FloorScreen", [tipping]);
    sync.dropClosed();
    assert.deepEqual(dropped, []);
});

test("on the screen saver and the login screen, the same go", () => {
    for (const screen of ["SaverScreen", "LoginScreen"]) {
        const { sync, dropped } = pageWith(screen, restaurant());
        sync.paidHere.add("paid-here");
        sync.dropClosed();
        assert.deepEqual(dropped, ["paid", "cancelled"], screen);
    }
});

test("on a table's order screen, closed orders of other tables go, those of its table stay", () => {
    const table = (id) => ({ id });
    const orders = [
        { uuid: "shown", id: 4, state: "draft", lines: [], table_id: table(5) },
        { uuid: "paid-here-before", id: 1, state: "paid", table_id: table(5) },
        { uuid: "paid-elsewhere", id: 2, state: "paid", table_id: table(6) },
        { uuid: "takeaway", id: 3, state: "paid" },
    ];
    const { sync, dropped } = pageWith("ProductScreen", orders);
    sync.dropClosed();
    assert.deepEqual(dropped, ["paid-elsewhere", "takeaway"]);
});

test("on a takeaway order's screen, the closed orders on no table stay", () => {
    const orders = [
        { uuid: "shown", id: 4, state: "draft", lines: [] },
        { uuid: "takeaway", id: 3, state: "paid" },
        { uuid: "paid-elsewhere", id: 2, state: "paid", table_id: { id: 6 } },
    ];
    const { sync, dropped } = pageWith("ProductScreen", orders);
    sync.dropClosed();
    assert.deepEqual(dropped, ["paid-elsewhere"]);
});

test("on any other screen no closed order is removed", () => {
    const others = ["TicketScreen", "PaymentScreen", "ReceiptScreen", "SplitBillScreen"];
    for (const screen of others) {
        const { sync, dropped } = pageWith(screen, restaurant());
        sync.dropClosed();
        assert.deepEqual(dropped, [], screen);
    }
});

/** A page whose models hold `orders`, counting the edits its watchers report. */
function watchingPage(orders) {
    const list = { orders };
    const models = {
        "pos.order": {
            getAll: () => list.orders,
            getBy: (key, uuid) => list.orders.find((order) => order.uuid === uuid),
            find: (predicate) => list.orders.find(predicate),
        },
    };
    const sync = new PosOrderSync({ models }, { notify() {}, showStatus() {} });
    const reports = [];
    sync.client = { captureEdits: () => reports.push([...sync.editedOrders]) };
    return { sync, list, reports };
}

const anOrder = (uuid) => ({ uuid, state: "draft", customer_count: 1, lines: [], payment_ids: [] });

test("an order's watcher reports each edit of it", () => {
    const order = anOrder("o1");
    const { sync, reports } = watchingPage([order]);
    sync.watchOrder(order);
    reactive(order).customer_count = 3;
    assert.deepEqual(reports, [["o1"], ["o1"]]);
});

test("a deleted order's watcher reads nothing more, so the page can let the order go", () => {
    const order = anOrder("o1");
    const { sync, list, reports } = watchingPage([order]);
    sync.watchOrder(order);
    assert.equal(observersOf(order, "customer_count").length, 1);
    list.orders = [];
    reactive(order).customer_count = 0; // as the release of a deleted record notifies
    assert.equal(reports.length, 1, "no edit reported for the deleted order");
    for (const key of Object.keys(order)) {
        assert.deepEqual(observersOf(order, key), [], key);
    }
    assert.equal(sync.watchedOrders.has(order), false, "watched again if it comes back");
});

/**
 * A page whose POS creates orders as Odoo 18's does, on the table open on its screen, and a
 * sync client whose only order is `target`.
 */
function pageOnTable(table, target) {
    const { order, models } = draftOrder();
    const pos = {
        models,
        createNewOrder(data) {
            order.update({ ...data, table_id: table });
            return order;
        },
    };
    const sync = new PosOrderSync(pos, { notify() {}, showStatus() {} });
    const replica = { seen: undefined, target: () => target };
    sync.client = {
        replicas: new Map([[target.uuid, replica]]),
        markSeen() {},
    };
    return { sync, order };
}

test("an order from elsewhere whose table is not known yet stays off the table open here", () => {
    // Its line came first; its table comes with a later change. On this screen's table,
    // Odoo 18's server would merge it into that table's order when Odoo sends it.
    const target = {
        uuid: "o1",
        state: "draft",
        lines: { l1: { product_id: 1, qty: 1, price_unit: 2.2 } },
        payments: {},
    };
    const { sync, order } = pageOnTable({ id: 24 }, target);
    sync.createFromRemote(target);
    assert.equal(order.table_id, false);
    assert.deepEqual(order.lines.map((line) => line.uuid), ["l1"]);
});

/** A page showing `order`, just closed by Odoo's load or by possync; `left` counts its leaves. */
function pageShowingClosed(order) {
    const left = [];
    const pos = {
        models: {},
        config: { module_pos_restaurant: true },
        router: { state: { current: "ProductScreen" } },
        selected: order,
        getOrder: () => pos.selected,
        navigate: (screen) => left.push(screen),
    };
    const notices = [];
    const sync = new PosOrderSync(pos, { notify: (text) => notices.push(text), showStatus() {} });
    sync.client = { seenOf: () => ({ state: "draft" }) }; // this page saw it open
    return { sync, pos, left, notices };
}

// A frame is a timer here: Node runs timers of one length in the order they were set, so
// three turns of timers see afterPaint's callback (a frame, then a timer) run.
globalThis.requestAnimationFrame ??= (callback) => setTimeout(callback);
async function nextPaint() {
    for (let turn = 0; turn < 3; turn++) {
        await new Promise((resolve) => setTimeout(resolve));
    }
}

test("an order on screen closed by Odoo's own load leaves for the floor plan", async () => {
    const { order } = draftOrder({ id: 5, state: "paid", table_id: { id: 24 } });
    const { sync, pos, left, notices } = pageShowingClosed(order);
    sync.tellIfClosedByOdoo(order);
    // Odoo's order screen draws next, and puts a new empty order in the closed one's place.
    pos.selected = draftOrder({ uuid: "new", id: "pos.order_9" }).order;
    await nextPaint();
    assert.equal(notices.length, 1);
    assert.deepEqual(left, ["FloorScreen"]);
});

test("an order on screen closed by possync leaves, also when Odoo's load swapped it first", async () => {
    const { order } = draftOrder({ id: 5, table_id: { id: 24 } });
    const { sync, pos, left, notices } = pageShowingClosed(order);
    pos.models["pos.order"] = { getBy: () => undefined, find: () => undefined };
    sync.client = { replicas: new Map([[order.uuid, { seen: { state: "draft" } }]]), markSeen() {} };
    sync.closeFromElsewhere(order, "paid");
    // Odoo's own load brings the payment in the same frame; its order screen then puts a new
    // empty order on the table in the paid one's place.
    pos.selected = draftOrder({ uuid: "new", id: "pos.order_9", table_id: { id: 24 } }).order;
    await nextPaint();
    assert.equal(notices.length, 1);
    assert.deepEqual(left, ["FloorScreen"]);
});

test("an order on screen paid elsewhere is closed in the records as the screen leaves it", async () => {
    const { order } = draftOrder({ id: 5, table_id: { id: 24 } });
    const { sync, pos, left } = pageShowingClosed(order);
    pos.models["pos.order"] = { getBy: () => order, find: () => order };
    sync.client = { replicas: new Map([[order.uuid, { seen: { state: "draft" } }]]), markSeen() {} };
    const deleted = [];
    pos.data = { localDeleteCascade: (record) => deleted.push(record.state) };
    sync.closeFromElsewhere(order, "paid");
    assert.equal(order.state, "draft", "open while the screen shows its notice");
    await nextPaint();
    assert.deepEqual(left, ["FloorScreen"]);
    // The floor plan Odoo draws next shows the table free: the order is closed, not yet gone.
    assert.equal(order.state, "paid");
    await new Promise((resolve) => setTimeout(resolve));
    assert.deepEqual(deleted, ["paid"], "removed after that drawing");
});

test("a waiter who opened another table as Odoo's load closed the order stays there", async () => {
    const { order } = draftOrder({ id: 5, state: "paid", table_id: { id: 24 } });
    const { sync, pos, left } = pageShowingClosed(order);
    sync.tellIfClosedByOdoo(order);
    pos.selected = draftOrder({ uuid: "new", id: "pos.order_9", table_id: { id: 8 } }).order;
    await nextPaint();
    assert.deepEqual(left, []);
});

test("an order closed by Odoo's own load off screen leaves the screen as it is", async () => {
    const { order } = draftOrder({ id: 5, state: "paid" });
    const { sync, pos, left } = pageShowingClosed(draftOrder({ uuid: "other", id: 6 }).order);
    pos.selected.lines.push({});
    sync.tellIfClosedByOdoo(order);
    await nextPaint();
    assert.deepEqual(left, []);
});
