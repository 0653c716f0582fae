// What a page remembers of closed orders: once closed and settled, an order's replica is
// forgotten; only its uuid and state stay, for a bounded time and number.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
    CLOSED_KEPT_MS,
    MAX_CLOSED_KEPT,
    MAX_REJECTED_KEPT,
    SyncClient,
} from "../../addon/pos_restaurant_sync/static/src/lib/sync_client.js";
import { CorrectedClock } from "../../addon/pos_restaurant_sync/static/src/lib/clock.js";
import { formatHlc } from "../../addon/pos_restaurant_sync/static/src/lib/protocol.js";
import { FakePage, FakeTimers, MemoryStorage } from "./fakes.js";

const line = (qty) => ({ product_id: 5, qty, price_unit: 2, discount: 0 });

/** A client whose transport acknowledges every push at once; `touched` records applyRemote. */
function makeClient() {
    const timers = new FakeTimers();
    const touched = [];
    const page = new FakePage({ applyRemote: (uuids) => touched.push(...uuids) });
    const now = () => timers.now;
    const client = new SyncClient({
        storage: new MemoryStorage(), prefix: "p:", page, now, timers,
        wall: new CorrectedClock({ device: now }),
    });
    client.useTransport({
        kind: "server",
        start() {},
        stop() {},
        push: async (changes) => ({ acked: changes.map((c) => c.id), rejected: [] }),
    });
    return { client, timers, page, touched };
}

let seq = 0;

/** A change of another terminal, as a transport hands it over. */
function remote(order, ops, ms = 1000) {
    seq += 1;
    const change = { v: 1, id: `r${seq}`, terminal: "B", hlc: formatHlc(ms, 0), order, ops };
    return { seq, change };
}

/** Order `uuid` is opened here with one line, then cancelled here (merged into another). */
async function openAndCancelHere({ client, page, timers }, uuid) {
    const open = { uuid, state: "draft", table_id: 3, lines: { [`${uuid}-l`]: line(1) } };
    page.edit(client, uuid, open);
    page.edit(client, uuid, { ...open, state: "cancel" });
    await timers.run(200);
}

/** Order `uuid` is opened and paid on another terminal; the page writes the close. */
function openAndPayElsewhere({ client }, uuid) {
    client.receive([remote(uuid, [{ op: "line.add", line: `${uuid}-l`, values: line(2) }])], "server");
    client.receive([remote(uuid, [{ op: "order.close", state: "paid" }])], "server");
    client.markSeen(uuid, client.target(uuid)); // the page's closeFromElsewhere
}

test("after many orders opened and closed, the client holds only the open ones", async () => {
    const made = makeClient();
    for (let i = 0; i < 50; i += 1) {
        await openAndCancelHere(made, `here${i}`);
        openAndPayElsewhere(made, `there${i}`);
    }
    made.page.edit(made.client, "open1", { uuid: "open1", lines: { x: line(1) } });
    made.client.receive([remote("open2", [{ op: "line.add", line: "y", values: line(1) }])], "server");
    await made.timers.run(200);
    assert.deepEqual([...made.client.replicas.keys()].sort(), ["open1", "open2"]);
    assert.equal(made.client.closed.size, 100);
    assert.equal(made.client.outbox.size, 0);
    assert.equal(made.client.seenOf("here7").state, "cancel");
    assert.equal(made.client.seenOf("there7").state, "paid");
});

test("a closed order with a change still in the outbox is kept until it is acknowledged", async () => {
    const { client, page, timers } = makeClient();
    client.transport.push = () => new Promise(() => {}); // never answered
    page.edit(client, "o1", { uuid: "o1", lines: { l1: line(1) } });
    page.edit(client, "o1", { uuid: "o1", state: "cancel", lines: { l1: line(1) } });
    await timers.run(200);
    client.markSeen("o1", { uuid: "o1", state: "cancel", lines: { l1: line(1) } });
    assert.ok(client.replicas.has("o1"));
    assert.equal(client.closed.size, 0);
});

test("a closed order the records still show open is not forgotten", () => {
    const { client } = makeClient();
    client.markSeen("o1", { uuid: "o1", state: "draft", lines: {} });
    client.receive([remote("o1", [{ op: "order.close", state: "paid" }])], "server");
    assert.ok(client.replicas.has("o1"), "the page has yet to take the order off the floor");
});

test("a late change to a forgotten closed order is dropped: nothing is told, nothing reopens", () => {
    const made = makeClient();
    openAndPayElsewhere(made, "o1");
    made.touched.length = 0;
    const late = remote("o1", [{ op: "line.add", line: "late", values: line(9) }], 500);
    made.client.receive([late], "server");
    assert.deepEqual(made.touched, []);
    assert.equal(made.client.replicas.has("o1"), false);
    assert.equal(made.client.cursor("server"), late.seq);
    assert.equal(made.client.target("o1").state, "paid");
    assert.equal(made.client.target("o1").lines.late, undefined);
});

test("Odoo's stale copy of a forgotten order showing it open brings it back closed", () => {
    const made = makeClient();
    openAndPayElsewhere(made, "o1");
    made.client.adopt("o1", { uuid: "o1", state: "draft", lines: { "o1-l": line(2) } });
    assert.equal(made.client.target("o1").state, "paid");
    assert.equal(made.client.seenOf("o1").state, "paid", "no waiter notice: it was seen closed");
    made.client.markSeen("o1", made.client.target("o1")); // removed from the records again
    assert.equal(made.client.replicas.has("o1"), false);
});

test("forgotten closed orders are remembered for a bounded number and time", () => {
    const made = makeClient();
    for (let i = 0; i < MAX_CLOSED_KEPT + 5; i += 1) {
        openAndPayElsewhere(made, `o${i}`);
    }
    assert.equal(made.client.closed.size, MAX_CLOSED_KEPT);
    assert.equal(made.client.closed.has("o0"), false);
    assert.ok(made.client.closed.has(`o${MAX_CLOSED_KEPT + 4}`));
    made.timers.now += CLOSED_KEPT_MS + 1;
    openAndPayElsewhere(made, "last");
    assert.deepEqual([...made.client.closed.keys()], ["last"]);
});

test("the saved storage holds no closed order once its changes are acknowledged", async () => {
    const made = makeClient();
    for (let i = 0; i < 20; i += 1) {
        await openAndCancelHere(made, `o${i}`);
    }
    const storage = made.client.storage;
    assert.equal(storage.getItem("p:outbox"), "[]");
    assert.deepEqual([...storage.items.keys()].sort(), ["p:hlc", "p:outbox", "p:terminal"]);
});

test("refusals are all counted, and only the latest are kept", async () => {
    const { client, page, timers } = makeClient();
    client.transport.push = async (changes) => ({
        acked: [], rejected: changes.map(({ id }) => ({ id, reason: `no ${id}` })),
    });
    for (let i = 0; i < MAX_REJECTED_KEPT + 10; i += 1) {
        page.edit(client, `o${i}`, { uuid: `o${i}`, lines: { l: line(1) } });
        await timers.run(200);
    }
    assert.equal(client.rejected.length, MAX_REJECTED_KEPT);
    assert.equal(page.status.rejected.count, MAX_REJECTED_KEPT + 10);
    assert.equal(page.status.rejected.reason, `no ${client.rejected.at(-1).id}`);
});
