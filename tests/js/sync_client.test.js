// The page's sync client without Odoo: capture, outbox, push window, receive, replicas.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SyncClient, newId } from "../../addon/pos_restaurant_sync/static/src/lib/sync_client.js";
import { OrderReplica } from "../../addon/pos_restaurant_sync/static/src/lib/replica.js";
import {
    MAX_BATCH_BYTES,
    Outbox,
} from "../../addon/pos_restaurant_sync/static/src/lib/outbox.js";
import { formatHlc } from "../../addon/pos_restaurant_sync/static/src/lib/protocol.js";
import { FakePage, FakeTimers, MemoryStorage } from "./fakes.js";

function makeClient({
    storage = new MemoryStorage(),
    timers = new FakeTimers(),
    page = new FakePage(),
} = {}) {
    const client = new SyncClient({
        storage, prefix: "p:", page, now: () => timers.now, timers,
    });
    /** The waiter edits an order and the page's watcher reports it. */
    const edit = (uuid, view) => page.edit(client, uuid, view);
    return { client, storage, timers, page, edit };
}

/**
 * A transport that acknowledges every push after `delay` ms and records them; with `fail`,
 * fails them instead (a function of the push's index and changes: fails the pushes it
 * names), after `failDelay` ms.
 */
function recordingTransport(
    timers, { delay = 0, fail = null, failDelay = delay, concurrentPushes = 1 } = {}
) {
    const fails = typeof fail === "function" ? fail : () => fail;
    return {
        kind: "server",
        concurrentPushes,
        pushes: [],
        start() {},
        stop() {},
        push(changes) {
            const failure = fails(this.pushes.length, changes);
            this.pushes.push({ at: timers.now, ids: changes.map((c) => c.id) });
            return new Promise((resolve, reject) =>
                timers.setTimeout(() => (failure ? reject(new Error(failure)) : resolve({
                    acked: changes.map((c) => c.id), rejected: [],
                })), failure ? failDelay : delay)
            );
        },
    };
}

const line = (qty) => ({ product_id: 5, qty, price_unit: 2, discount: 0 });

/** A client with one edit of order o1 waiting, through a `recordingTransport(options)`. */
function oneEditThrough(options) {
    const made = makeClient();
    const transport = recordingTransport(made.timers, options);
    made.client.useTransport(transport);
    made.edit("o1", { uuid: "o1", lines: { l1: line(1) } });
    return { ...made, transport };
}

test("an edit becomes one valid change with this terminal's id and a fresh clock reading", () => {
    const { client, timers } = makeClient();
    timers.now = 1000;
    const [change] = client.capture("o1", { uuid: "o1", table_id: 3, lines: { l1: line(1) } });
    assert.equal(change.terminal, client.terminal);
    assert.equal(change.hlc, formatHlc(1000, 0));
    assert.deepEqual(change.ops.map((op) => op.op), ["order.set", "line.add"]);
    assert.equal(client.outbox.size, 1);
});

test("nothing changed since the last look means no change", () => {
    const { client } = makeClient();
    const view = { uuid: "o1", lines: { l1: line(1) } };
    client.capture("o1", view);
    assert.deepEqual(client.capture("o1", structuredClone(view)), []);
});

test("edits in one window go out in one push; the next window gets the next push", async () => {
    const { client, timers, edit } = makeClient();
    const transport = recordingTransport(timers);
    client.useTransport(transport);
    edit("o1", { uuid: "o1", lines: { l1: line(1) } });
    await timers.run(0);
    edit("o1", { uuid: "o1", lines: { l1: line(2) } });
    await timers.run(30);
    edit("o1", { uuid: "o1", lines: { l1: line(3) } });
    await timers.run(200);
    assert.deepEqual(transport.pushes.map((p) => [p.at, p.ids.length]), [[0, 1], [100, 2]]);
    assert.equal(client.outbox.size, 0);
    assert.equal(client.status.state, "synced");
});

test("a failed push keeps the changes and retries with a growing pause", async () => {
    const { client, timers, transport } = oneEditThrough({ fail: "server unreachable" });
    await timers.run(3600);
    assert.deepEqual(transport.pushes.map((p) => p.at), [0, 1000, 3000]);
    assert.equal(client.outbox.size, 1);
    assert.equal(client.status.state, "error");
    assert.equal(client.status.cause, "server unreachable");
});

test("once the link is back, what waits is pushed at once, not after the grown pause", async () => {
    let down = true;
    const { client, timers, transport } = oneEditThrough({
        fail: () => down && "server unreachable",
    });
    client.linkError("cannot receive: server unreachable");
    await timers.run(60000); // failures at 0, 1, 3, 7, 15, 31 s: the next at 61 s
    const failed = transport.pushes.length;
    down = false;
    client.linkError(null); // a pull answered: the server is back
    await timers.run(0);
    assert.equal(transport.pushes.length, failed + 1, "pushed as the link came back");
    assert.equal(transport.pushes.at(-1).at, 60000);
    assert.equal(client.outbox.size, 0);
});

test("a link that stays up does not shorten the pause of a push that keeps failing", async () => {
    const { client, timers, transport } = oneEditThrough({ fail: "413" });
    for (let i = 0; i < 8; i++) {
        client.linkError(null); // pulls keep answering
        await timers.run(500);
    }
    assert.deepEqual(transport.pushes.map((p) => p.at), [0, 1000, 3000]);
});

test("unsent changes survive a reload of the page", () => {
    const { client, storage } = makeClient();
    client.capture("o1", { uuid: "o1", lines: { l1: line(1) } });
    const { client: reloaded } = makeClient({ storage });
    assert.equal(reloaded.pendingCount(), 1);
    assert.equal(reloaded.terminal, client.terminal);
    assert.ok(reloaded.clock.reading() >= client.clock.reading());
});

/** The quantity a change gives line l1 (its add or its set). */
const qtyOf = (change) => change.ops.map((op) => op.values?.qty ?? op.value).at(-1);

test("an edit is in the saved outbox at once, even while failed pushes pause", async () => {
    const { client, storage, timers, edit } = makeClient();
    const transport = recordingTransport(timers, { fail: "server unreachable" });
    client.useTransport(transport);
    const editQty = (qty) => edit("o1", { uuid: "o1", lines: { l1: line(qty) } });
    editQty(1);
    await timers.run(1500); // two failed pushes; the next waits 2 s
    editQty(2);
    editQty(3);
    await timers.run(50);
    assert.equal(transport.pushes.length, 2, "no push outside its retry pause");
    const { client: reopened } = makeClient({ storage }); // the page was closed
    assert.deepEqual(reopened.outbox.changes.map(qtyOf), [1, 2, 3]);
});

test("edits in one window are saved one by one and still go out in one push", async () => {
    const { client, storage, timers, edit } = makeClient();
    const transport = recordingTransport(timers);
    client.useTransport(transport);
    for (const qty of [1, 2, 3]) {
        edit("o1", { uuid: "o1", lines: { l1: line(qty) } });
        const saved = JSON.parse(storage.getItem("p:outbox"));
        assert.equal(qtyOf(saved.at(-1)), qty, "saved at edit time");
        await timers.run(30);
    }
    await timers.run(200);
    assert.deepEqual(transport.pushes.map((p) => [p.at, p.ids.length]), [[0, 1], [100, 2]]);
});

test("the page's edits of two orders leave in one push before its queued rendering runs", () => {
    const { client, timers, page } = makeClient();
    const transport = recordingTransport(timers);
    client.useTransport(transport);
    page.pending.push(["o1", { uuid: "o1", lines: { l1: line(1) } }]);
    page.pending.push(["o2", { uuid: "o2", lines: { l2: line(2) } }]);
    let rendered = false;
    queueMicrotask(() => (rendered = true)); // Owl's rendering of the edit, queued first
    client.captureEdits();
    assert.deepEqual(transport.pushes.map((p) => p.ids.length), [2]);
    assert.equal(rendered, false, "pushed before the microtasks queued ahead of it");
});

test("pendingCount counts an edit from the moment the page reports it", () => {
    const { client, edit } = makeClient();
    edit("o1", { uuid: "o1", lines: { l1: line(1) } });
    assert.equal(client.pendingCount(), 1);
});

test("one edit is read and captured once: pushes and counts do not read the page again", async () => {
    const { client, timers, page, edit } = makeClient();
    const transport = recordingTransport(timers, { delay: 20 });
    client.useTransport(transport);
    edit("o1", { uuid: "o1", lines: { l1: line(1) } });
    assert.equal(client.pendingCount(), 1);
    await timers.run(10); // pushed, not yet acknowledged
    assert.equal(client.pendingCount(), 1);
    const flushed = client.flush(2000);
    await timers.run(200);
    await flushed;
    assert.equal(client.pendingCount(), 0);
    assert.equal(transport.pushes.length, 1);
    assert.equal(page.reads, 1, "read once, when the page reported the edit");
});

test("the page is shown the status from the start, and each change of it", () => {
    const { page, edit } = makeClient();
    assert.equal(page.status.state, "synced");
    edit("o1", { uuid: "o1", lines: { l1: line(1) } });
    assert.equal(page.status.state, "pending");
    assert.equal(page.status.pending, 1);
});

test("received changes count once, move the cursor and name the orders they touch", () => {
    const touched = [];
    const { client } = makeClient({ page: new FakePage({ applyRemote: (u) => touched.push(u) }) });
    const change = {
        v: 1, id: "c1", terminal: "B", hlc: formatHlc(5000, 0), order: "o1",
        ops: [{ op: "line.add", line: "l9", values: line(4) }],
    };
    client.receive([{ seq: 7, change }, { seq: 8, change }], "server");
    client.receive([{ seq: 9, change: { ...change, ops: [] } }], "server"); // invalid: no ops
    assert.deepEqual(touched, [["o1"]]);
    assert.equal(client.cursor("server"), 9);
    assert.deepEqual(client.target("o1").lines, { l9: line(4) });
    assert.ok(client.clock.tick(0) > formatHlc(5000, 0), "causality: later edits sort after");
});

test("a local edit and a remote one on the same order both survive", () => {
    const { client } = makeClient();
    const start = { uuid: "o1", lines: { l1: line(1) } };
    client.adopt("o1", start);
    client.markSeen("o1", start);
    client.capture("o1", { uuid: "o1", lines: { l1: line(3) } }); // B raises the quantity
    client.receive([{ seq: 1, change: {
        v: 1, id: "a1", terminal: "A", hlc: formatHlc(1, 0), order: "o1",
        ops: [{ op: "line.add", line: "l2", values: line(1) }],
    } }], "server");
    assert.deepEqual(client.target("o1").lines, { l1: line(3), l2: line(1) });
});

test("the adopted state never brings back a deleted line, and never overrides a change", () => {
    const replica = new OrderReplica("o1");
    replica.receive({
        v: 1, id: "c1", terminal: "A", hlc: formatHlc(1, 0), order: "o1",
        ops: [
            { op: "line.add", line: "l1", values: line(1) },
            { op: "line.delete", line: "l1" },
            { op: "order.set", field: "table_id", value: 4 },
        ],
    });
    const odoo = {
        uuid: "o1", table_id: 9, customer_count: 2, lines: { l1: line(1), l2: line(2) },
    };
    replica.adopt(odoo);
    assert.deepEqual(replica.target(), {
        uuid: "o1", state: "draft", table_id: 4, customer_count: 2,
        lines: { l2: line(2) }, payments: {},
    });
});

test("a batch stays under the size limits of a push", () => {
    const outbox = new Outbox(new MemoryStorage(), "k");
    const big = "x".repeat(1900);
    const changes = Array.from({ length: 600 }, (_, i) => ({ id: `c${i}`, note: big }));
    outbox.add(changes);
    const batch = outbox.batch();
    assert.ok(batch.length < 500 && batch.length > 400, String(batch.length));
    assert.deepEqual(batch[0].id, "c0");
});

test("a batch of multibyte kitchen notes stays under the server's byte limit", () => {
    // The server and a proxy in front count the body's UTF-8 bytes: 3 for each of these.
    const outbox = new Outbox(new MemoryStorage(), "k");
    const note = "火".repeat(1000);
    outbox.add(Array.from({ length: 600 }, (_, i) => ({ id: `c${i}`, internal_note: note })));
    const batch = outbox.batch();
    const bytes = new TextEncoder().encode(JSON.stringify(batch)).length;
    assert.ok(batch.length > 250, String(batch.length));
    assert.ok(bytes <= MAX_BATCH_BYTES + batch.length, `${bytes} bytes`);
    assert.ok(bytes < 1024 * 1024, `${bytes} bytes`);
});

test("a full browser storage is reported, and the changes are still pushed", () => {
    const storage = new MemoryStorage();
    const { client } = makeClient({ storage });
    storage.full = true;
    client.capture("o1", { uuid: "o1", lines: { l1: line(1) } });
    assert.equal(client.outbox.size, 1);
    assert.match(client.status.cause, /cannot save unsent changes/);
});

test("change ids are uuid4 hex", () => {
    assert.match(newId(), /^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
});

test("an edit after a quiet spell is pushed as it is captured, before any timer runs", () => {
    const { client, timers, edit } = makeClient();
    const transport = recordingTransport(timers);
    client.useTransport(transport);
    edit("o1", { uuid: "o1", lines: { l1: line(1) } });
    assert.deepEqual(transport.pushes.map((p) => p.ids.length), [1]);
    assert.equal(timers.queue.length, 1, "only the push's own acknowledgement is timed");
});

test("a transport switched in before the push left gets it, the old one does not", async () => {
    const { client, timers } = makeClient();
    const before = recordingTransport(timers);
    const after = recordingTransport(timers);
    client.useTransport(before);
    client.capture("o1", { uuid: "o1", lines: { l1: line(1) } });
    client.useTransport(after);
    await timers.run(0);
    assert.equal(before.pushes.length, 0);
    assert.equal(after.pushes.length, 1);
});

test("flush sends what is pending before Odoo's own sync once the push in flight is answered", async () => {
    const { client, timers, edit } = makeClient();
    const transport = recordingTransport(timers, { delay: 20 });
    client.useTransport(transport);
    edit("o1", { uuid: "o1", lines: { l1: line(1) } });
    await timers.run(0);
    edit("o1", { uuid: "o1", lines: { l1: line(2) } });
    let flushed = false;
    client.flush(2000).then(() => (flushed = true));
    await timers.run(30);
    assert.equal(flushed, false, "waits for the answer to its own push");
    await timers.run(20);
    assert.equal(flushed, true);
    // Not at the end of the window (100): the payment's validation waits for this flush.
    assert.deepEqual(transport.pushes.map((p) => p.at), [0, 20]);
    assert.equal(client.outbox.size, 0);
});

test("flush with nothing pending and nothing in flight sends nothing and waits for nothing", async () => {
    const { client, timers } = makeClient();
    const transport = recordingTransport(timers, { delay: 20 });
    client.useTransport(transport);
    let flushed = false;
    client.flush(2000).then(() => (flushed = true));
    await timers.run(0);
    assert.equal(flushed, true);
    assert.equal(transport.pushes.length, 0);
});

test("flush keeps the pause after a failed push", async () => {
    const { client, timers, transport } = oneEditThrough({ fail: "down" });
    await timers.run(0); // fails: the next attempt waits 1 s
    client.flush(5000);
    await timers.run(500);
    assert.equal(transport.pushes.length, 1, "not during the pause");
    await timers.run(600);
    assert.equal(transport.pushes.length, 2);
});

test("flush gives up after its timeout when the receiver does not answer", async () => {
    const { client, timers } = makeClient();
    client.useTransport(recordingTransport(timers, { delay: 60000 }));
    client.capture("o1", { uuid: "o1", lines: { l1: line(1) } });
    let flushed = false;
    client.flush(2000).then(() => (flushed = true));
    await timers.run(2000);
    assert.equal(flushed, true);
    assert.equal(client.outbox.size, 1);
});

test("an order seen closed that shows as draft again is not reopened", () => {
    const { client } = makeClient();
    client.markSeen("o1", { uuid: "o1", state: "cancel", lines: {} });
    assert.deepEqual(client.capture("o1", { uuid: "o1", state: "draft", lines: {} }), []);
});

test("an order Odoo shows as paid is adopted closed, and later edits do not reopen it", () => {
    const replica = new OrderReplica("o1");
    replica.adopt({ uuid: "o1", state: "paid", lines: { l1: line(1) } });
    replica.receive({
        v: 1, id: "c1", terminal: "A", hlc: formatHlc(9, 0), order: "o1",
        ops: [{ op: "line.set", line: "l1", field: "qty", value: 5 }],
    });
    assert.equal(replica.target().state, "paid");
    assert.equal(replica.target().lines.l1.qty, 1);
});

/** A client on a transport that takes two pushes at once and answers in 300 ms, edited once. */
function editedOnTwoAtOnce() {
    const made = makeClient();
    const transport = recordingTransport(made.timers, { delay: 300, concurrentPushes: 2 });
    made.client.useTransport(transport);
    made.edit("o1", { uuid: "o1", lines: { l1: line(1) } });
    return { ...made, transport };
}

test("with a transport that takes two pushes at once, the next push leaves without the answer", async () => {
    const { client, timers, edit, transport } = editedOnTwoAtOnce();
    await timers.run(30);
    edit("o1", { uuid: "o1", lines: { l1: line(2) } });
    await timers.run(100);
    edit("o1", { uuid: "o1", lines: { l1: line(3) } });
    await timers.run(100);
    assert.deepEqual(
        transport.pushes.map((p) => [p.at, p.ids.length]),
        [[0, 1], [100, 1]],
        "the second push carries only what the first does not; a third waits for room"
    );
    await timers.run(300);
    assert.deepEqual(transport.pushes.map((p) => p.at), [0, 100, 300]);
    await timers.run(300);
    assert.equal(client.outbox.size, 0);
    const ids = transport.pushes.flatMap((p) => p.ids);
    assert.equal(new Set(ids).size, 3, "each change pushed once");
});

test("a push that failed beside one that succeeded is pushed again", async () => {
    const { client, timers, edit } = makeClient();
    const transport = recordingTransport(timers, {
        delay: 10, fail: (index) => index === 0 && "dropped", failDelay: 150, concurrentPushes: 2,
    });
    client.useTransport(transport);
    edit("o1", { uuid: "o1", lines: { l1: line(1) } });
    await timers.run(100);
    edit("o1", { uuid: "o1", lines: { l1: line(2) } });
    await timers.run(2000);
    assert.equal(client.outbox.size, 0);
    assert.deepEqual(transport.pushes.map((p) => p.ids.length), [1, 1, 1]);
    assert.equal(transport.pushes[2].ids[0], transport.pushes[0].ids[0], "the failed one again");
});

test("flush waits for every push in flight", async () => {
    const { client, timers, edit } = editedOnTwoAtOnce();
    await timers.run(100);
    edit("o1", { uuid: "o1", lines: { l1: line(2) } });
    await timers.run(0);
    const flush = { done: false };
    client.flush(5000).then(() => (flush.done = true));
    await timers.run(250);
    assert.equal(flush.done, false, "the first push is not answered yet");
    await timers.run(200);
    assert.equal(flush.done, true);
    assert.equal(client.outbox.size, 0);
});

test("a pushed price that overtakes its line's add is not lost", async () => {
    // Push 1 (the line's add) waits for a busy worker; push 2 (its new price) lands first.
    const { client, timers, edit } = makeClient();
    const other = makeClient().client;
    let seq = 0;
    const transport = recordingTransport(timers, { concurrentPushes: 2 });
    transport.push = function (changes) {
        this.pushes.push({ at: timers.now, ids: changes.map((c) => c.id) });
        const answerIn = this.pushes.length === 1 ? 300 : 10;
        return new Promise((resolve) =>
            timers.setTimeout(() => {
                other.receive(changes.map((change) => ({ seq: ++seq, change })), "server");
                resolve({ acked: changes.map((c) => c.id), rejected: [] });
            }, answerIn)
        );
    };
    client.useTransport(transport);
    edit("o1", { uuid: "o1", lines: { l1: line(1) } });
    await timers.run(100);
    edit("o1", { uuid: "o1", lines: { l1: { ...line(1), price_unit: 1.5 } } });
    await timers.run(20);
    assert.deepEqual(other.target("o1").lines ?? {}, {}, "a price alone shows no line");
    await timers.run(300);
    assert.deepEqual(transport.pushes.map((p) => p.at), [0, 100]);
    assert.equal(client.outbox.size, 0);
    assert.deepEqual(client.rejected, []);
    assert.equal(client.target("o1").lines.l1.price_unit, 1.5);
    assert.deepEqual(other.target("o1").lines, client.target("o1").lines);
});

test("a push that keeps failing beside ones that succeed still backs off", async () => {
    // The oldest change never gets through (a body its receiver refuses, say); the waiter
    // goes on editing, and the pushes beside it succeed.
    const { client, timers, edit } = makeClient();
    let poison = null;
    const transport = recordingTransport(timers, {
        delay: 10,
        failDelay: 2000,
        fail: (_index, changes) => changes.some((c) => c.id === poison) && "413",
        concurrentPushes: 2,
    });
    client.useTransport(transport);
    [{ id: poison }] = edit("o1", { uuid: "o1", lines: { l1: line(1) } });
    for (let qty = 2; qty <= 200; qty++) {
        await timers.run(300);
        edit("o1", { uuid: "o1", lines: { l1: line(qty) } });
    }
    const tries = transport.pushes.filter((p) => p.ids.includes(poison)).map((p) => p.at);
    const gaps = tries.slice(1).map((at, i) => at - tries[i]);
    assert.ok(tries.length <= 6, `tried at ${tries}`);
    assert.ok(gaps.every((gap, i) => i === 0 || gap > gaps[i - 1]), `tried at ${tries}`);
    assert.ok(transport.pushes.length > tries.length, "the edits beside it still went out");
});
