// The page's clock: refusing changes from the far future, and stamping with the device clock
// corrected by its offset to the server (docs/protocol.md, "Clock").
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { SyncClient } from "../../addon/pos_restaurant_sync/static/src/lib/sync_client.js";
import { CorrectedClock } from "../../addon/pos_restaurant_sync/static/src/lib/clock.js";
import {
    ServerTransport,
} from "../../addon/pos_restaurant_sync/static/src/lib/server_transport.js";
import { AgentTransport } from "../../addon/pos_restaurant_sync/static/src/lib/agent_transport.js";
import { formatHlc, parseHlc } from "../../addon/pos_restaurant_sync/static/src/lib/protocol.js";
import { FakePage, FakeSocket, FakeTimers, MemoryStorage } from "./fakes.js";

const TRUE_START = 1_764_000_000_000;
const TEN_MINUTES = 600_000;

/** A page whose device clock is `skewMs` off the true time (`timers.now` after TRUE_START). */
function page(skewMs = 0) {
    const timers = new FakeTimers();
    const device = () => TRUE_START + timers.now + skewMs;
    const wall = new CorrectedClock({ device, monotonic: () => timers.now });
    const touched = [];
    const client = new SyncClient({
        storage: new MemoryStorage(),
        prefix: "p:",
        page: new FakePage({ applyRemote: (orders) => touched.push(...orders) }),
        now: device,
        wall,
        timers,
    });
    return { timers, client, touched, trueNow: () => TRUE_START + timers.now };
}

const remote = (id, seq, hlc) => ({
    seq,
    change: {
        v: 1, id, terminal: "B", hlc, order: "o1",
        ops: [{ op: "order.set", field: "customer_count", value: seq }],
    },
});

/** Odoo's answers, each with the server's (true) time. */
function timedServer(trueNow) {
    return async (route, params) => {
        if (route.endsWith("/pull")) {
            const empty = { changes: [], cursor: params.after, more: false, reset: false };
            return { ...empty, time_ms: trueNow() };
        }
        const acks = params.changes.map((c) => ({ id: c.id, status: "applied" }));
        return { acks, cursor: 1, time_ms: trueNow() };
    };
}

function intervalTransport(client, timers, trueNow) {
    const call = timedServer(trueNow);
    return new ServerTransport({
        call, configId: 1, mode: "interval", intervalMs: 500, timers, now: client.now,
    });
}

beforeEach(() => {
    FakeSocket.opened = [];
});

test("the page refuses a change from the far future and says so", () => {
    const { client, touched } = page();
    client.receive([remote("future", 1, "999999999999999-99999")], "server");
    assert.deepEqual(touched, []);
    assert.deepEqual(client.replica("o1").target().customer_count, undefined);
    assert.equal(client.status.refused.count, 1);
    assert.match(client.status.refused.reason, /ahead of this terminal/);
    assert.equal(client.cursor("server"), 1); // dropped, not asked for again
    // Its far-future reading moved nothing: the next stamp is today's.
    const [change] = client.capture("o2", { uuid: "o2", customer_count: 2 });
    assert.ok(parseHlc(change.hlc)[0] < TRUE_START + 1000);
});

test("a change a little ahead, inside 60 s, is taken", () => {
    const { client, trueNow } = page();
    client.receive([remote("soon", 1, formatHlc(trueNow() + 59_000, 0))], "server");
    assert.equal(client.replica("o1").target().customer_count, 1);
    assert.equal(client.status.refused.count, 0);
});

test("a page ten minutes ahead stamps with the server's time once it heard from it", async () => {
    const { timers, client, trueNow } = page(TEN_MINUTES);
    client.useTransport(intervalTransport(client, timers, trueNow));
    await timers.run(0);
    assert.equal(client.wall.offsetMs, -TEN_MINUTES);
    const clock = { offsetMs: -TEN_MINUTES, source: "server", farOff: true };
    assert.deepEqual(client.status.clock, clock);
    await timers.run(1000);
    const [change] = client.capture("o1", { uuid: "o1", customer_count: 2 });
    assert.equal(change.hlc, formatHlc(trueNow(), 0));
});

test("a page ten minutes behind takes changes stamped at the true time", async () => {
    const { timers, client, trueNow } = page(-TEN_MINUTES);
    client.useTransport(intervalTransport(client, timers, trueNow));
    await timers.run(0);
    client.receive([remote("now", 1, formatHlc(trueNow(), 0))], "server");
    assert.equal(client.status.refused.count, 0);
    assert.equal(client.replica("o1").target().customer_count, 1);
});

test("through the agent, the page takes its offset from the welcome's time", () => {
    const { timers, client, trueNow } = page(TEN_MINUTES);
    const url = "ws://127.0.0.1:1/page";
    client.useTransport(new AgentTransport({ url, token: "t", WebSocket: FakeSocket, timers }));
    const socket = FakeSocket.opened[0];
    socket.open();
    timers.now += 4; // the welcome comes back 4 ms later, stamped by the agent half-way
    const welcome = { type: "welcome", v: 1, terminal: "t-agent", hlc: formatHlc(1, 0), seq: 0 };
    socket.reply({ ...welcome, time_ms: trueNow() - 2 });
    assert.equal(client.wall.offsetMs, -TEN_MINUTES);
    assert.equal(client.status.clock.source, "agent");
});

test("through the agent, the page follows the offset its agent measures later", () => {
    const { timers, client } = page(TEN_MINUTES);
    const url = "ws://127.0.0.1:1/page";
    client.useTransport(new AgentTransport({ url, token: "t", WebSocket: FakeSocket, timers }));
    const socket = FakeSocket.opened[0];
    socket.open();
    const welcome = { type: "welcome", v: 1, terminal: "t-agent", hlc: formatHlc(1, 0), seq: 0 };
    socket.reply({ ...welcome, time_ms: client.wall.local() }); // the agent had no server yet
    assert.equal(client.wall.offsetMs, 0);
    const clock = { offset_ms: -TEN_MINUTES, source: "server", far_off: true };
    const server = { configured: true, reachable: true };
    socket.reply({ type: "status", status: { server, clock } });
    assert.equal(client.wall.offsetMs, -TEN_MINUTES);
    assert.equal(client.status.clock.farOff, true);
});

test("a device clock that jumps forgets its offset until the next exchange", () => {
    let device = 0;
    let monotonic = 0;
    const wall = new CorrectedClock({ device: () => device, monotonic: () => monotonic });
    wall.observe("server", TRUE_START, 0, 10); // booted at 1970: a dead CMOS battery
    assert.equal(wall.now(), TRUE_START - 5);
    device = TRUE_START; // NTP sets the clock; keeping the offset would stamp 55 years ahead
    monotonic += 1;
    assert.equal(wall.now(), TRUE_START);
    assert.equal(wall.source, null);
});

test("a slow exchange or an answer without a time leaves the offset alone", () => {
    const wall = new CorrectedClock({ device: () => 0, monotonic: () => 0 });
    wall.observe("server", undefined, 0, 10);
    wall.observe("server", 99_999, 0, 6000);
    wall.observe("agent", 5, undefined, 0);
    assert.equal(wall.source, null);
    assert.equal(wall.offsetMs, 0);
});
