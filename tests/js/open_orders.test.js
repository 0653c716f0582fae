// Odoo's re-reads of the open orders, one at a time (pos/open_orders.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
    READ_GAP_MS,
    onOutsideWrites,
    oneReadAtATime,
    readOpenOrders,
} from "../../addon/pos_restaurant_sync/static/src/pos/open_orders.js";
import { FakeTimers } from "./fakes.js";

/** A read of the server that the test finishes by hand; `log` says what happened when. */
function serverReads() {
    const log = [];
    const pending = [];
    const read = () => {
        log.push(`start ${pending.length + 1}`);
        return new Promise((resolve, reject) => pending.push({ resolve, reject }));
    };
    return { read, log, pending };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

test("reads asked for while one runs share the next one, which starts when it ends", async () => {
    const server = serverReads();
    const ask = oneReadAtATime(server.read);
    const done = [];
    ask().then(() => done.push("first"));
    await settle();
    ask().then(() => done.push("second"));
    ask().then(() => done.push("third"));
    await settle();
    assert.deepEqual(server.log, ["start 1"], "one read at a time");
    server.pending[0].resolve();
    await settle();
    assert.deepEqual(done, ["first"]);
    assert.deepEqual(server.log, ["start 1", "start 2"]);
    server.pending[1].resolve();
    await settle();
    assert.deepEqual(done, ["first", "second", "third"]);
});

test("a failed read fails its own askers only; the next read still runs", async () => {
    const server = serverReads();
    const ask = oneReadAtATime(server.read);
    const first = ask();
    await settle();
    const second = ask();
    server.pending[0].reject(new Error("server away"));
    await assert.rejects(first, /server away/);
    await settle();
    server.pending[1].resolve();
    await second;
    assert.deepEqual(server.log, ["start 1", "start 2"]);
});

test("a read asked for once all have ended starts at once", async () => {
    const server = serverReads();
    const ask = oneReadAtATime(server.read);
    const first = ask();
    await settle();
    server.pending[0].resolve();
    await first;
    ask();
    await settle();
    assert.deepEqual(server.log, ["start 1", "start 2"]);
});

// Odoo 19's orders domain for the orders the page holds (ids 7 and 8) and the drafts it lacks.
const ODOO_DOMAIN = [
    "|",
    "|",
    "|",
    "&",
    ["id", "=", 7],
    ["write_date", ">=", "2026-12-07 20:00:01"],
    "&",
    ["id", "=", 8],
    ["write_date", ">=", "2026-12-07 20:00:02"],
    "&",
    ["id", "=", 7],
    ["state", "!=", "draft"],
    "&",
    "&",
    ["id", "not in", [7, 8]],
    ["state", "=", "draft"],
    ["config_id", "in", [1, 2]],
];
const DATE_7 = 5;
const DATE_8 = 8;

/** The page's records: order 7 of this POS (1), order 8 of a POS it trusts (2). */
function pageOrders() {
    const ofConfig = (id) => ({ id });
    const orders = new Map([
        [7, { id: 7, config_id: ofConfig(1), possync_outside_write: 41 }],
        [8, { id: 8, session_id: { config_id: ofConfig(2) }, possync_outside_write: 40 }],
    ]);
    return { get: (id) => orders.get(id) };
}

test("the re-read asks for this POS's orders written outside possync, the rest as Odoo asks", () => {
    const orders = pageOrders();
    const asked = onOutsideWrites(ODOO_DOMAIN, (id) => (id === 7 ? orders.get(7) : null));
    assert.deepEqual(asked[DATE_7], ["possync_outside_write", ">", 41]);
    const others = (domain) => domain.filter((_term, i) => i !== DATE_7);
    assert.deepEqual(others(asked), others(ODOO_DOMAIN), "every other condition kept");
    assert.equal(ODOO_DOMAIN[DATE_7][0], "write_date", "Odoo's domain is not changed in place");
});

test("an order copied before the page knew outside writes is read again at its first one", () => {
    const asked = onOutsideWrites(ODOO_DOMAIN, (id) => (id === 7 ? { id } : null));
    assert.deepEqual(asked[DATE_7], ["possync_outside_write", ">", 0]);
});

/** Odoo's DevicesSynchronisation as far as the re-read goes; `answers` says what each brings. */
function deviceSync(answers = []) {
    return {
        asked: [],
        pos: { config: { id: 1 } },
        models: { "pos.order": pageOrders() },
        constructOrdersDomain() {
            return { domain: { "pos.order": ODOO_DOMAIN }, recordIds: { "pos.order": [7, 8] } };
        },
        processDynamicRecords() {},
        async readDataFromServer() {
            const domain = this.constructOrdersDomain().domain["pos.order"];
            this.asked.push([domain[DATE_7][0], domain[DATE_8][0]]);
            if (answers.shift()) {
                this.processDynamicRecords({ "pos.order": [] });
            }
        },
    };
}

const OUTSIDE = ["possync_outside_write", "write_date"]; // order 8 is another POS's
const ODOOS = ["write_date", "write_date"];

test("Odoo's re-reads ask for outside writes of this POS's orders while possync delivers", async () => {
    let delivering = true;
    const sync = deviceSync();
    readOpenOrders(sync, () => delivering);
    await sync.readDataFromServer();
    delivering = false;
    await sync.readDataFromServer();
    delivering = true;
    await sync.readDataFromServer();
    assert.deepEqual(sync.asked, [OUTSIDE, ODOOS, OUTSIDE]);
});

test("after a reset the reads ask Odoo's way until one brings orders", async () => {
    const sync = deviceSync([false, false, true, true]);
    const readAll = readOpenOrders(sync, () => true);
    await readAll(); // failed, or found nothing: owed still
    await sync.readDataFromServer();
    await sync.readDataFromServer(); // brings orders
    await sync.readDataFromServer();
    assert.deepEqual(sync.asked, [ODOOS, ODOOS, ODOOS, OUTSIDE]);
});

/** A device sync whose reads the test ends by hand, on a virtual clock; `log` says when. */
function spacedReads(delivering) {
    const timers = new FakeTimers();
    const sync = deviceSync();
    const server = serverReads();
    const log = [];
    sync.readDataFromServer = () => {
        log.push(timers.now);
        return server.read();
    };
    const readAll = readOpenOrders(sync, delivering, { timers, now: () => timers.now });
    return { timers, sync, server, log, readAll };
}

test("while possync delivers, Odoo's reads after one share one read, the gap after it", async () => {
    const { timers, sync, server, log } = spacedReads(() => true);
    sync.readDataFromServer(); // a table opened (18)
    await timers.run(0);
    server.pending[0].resolve();
    await timers.run(100);
    const asks = [sync.readDataFromServer(), sync.readDataFromServer()]; // a split's two syncs
    await timers.run(500);
    sync.readDataFromServer(); // a merge
    await timers.run(READ_GAP_MS);
    assert.deepEqual(log, [0, READ_GAP_MS], "one read for the three asks, the gap after the first");
    server.pending[1].resolve();
    await Promise.all(asks);
});

test("a reset's read starts at once, also while a spaced read waits", async () => {
    const { timers, sync, server, log, readAll } = spacedReads(() => true);
    sync.readDataFromServer();
    await timers.run(0);
    server.pending[0].resolve();
    await timers.run(100);
    const spaced = sync.readDataFromServer();
    await timers.run(100);
    const reset = readAll();
    await timers.run(0);
    assert.deepEqual(log, [0, 200]);
    server.pending[1].resolve();
    await Promise.all([spaced, reset]);
});

test("while possync is not delivering, Odoo's reads start as soon as the previous one ends", async () => {
    const { timers, sync, server, log } = spacedReads(() => false);
    sync.readDataFromServer();
    await timers.run(0);
    server.pending[0].resolve();
    await timers.run(100);
    sync.readDataFromServer();
    await timers.run(0);
    assert.deepEqual(log, [0, 100]);
});
