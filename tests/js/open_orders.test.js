// Odoo's re-reads of the open orders, one at a time (pos/open_orders.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { oneReadAtATime } from "../../addon/pos_restaurant_sync/static/src/pos/open_orders.js";

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
