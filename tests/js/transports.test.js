// The two ways a page moves changes: straight to the server, or through the local agent.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { SyncClient } from "../../addon/pos_restaurant_sync/static/src/lib/sync_client.js";
import {
    ServerTransport,
} from "../../addon/pos_restaurant_sync/static/src/lib/server_transport.js";
import { AgentTransport } from "../../addon/pos_restaurant_sync/static/src/lib/agent_transport.js";
import { formatHlc } from "../../addon/pos_restaurant_sync/static/src/lib/protocol.js";
import { FakePage, FakeSocket, FakeTimers, MemoryStorage } from "./fakes.js";

const remote = (id, seq) => ({
    seq,
    change: {
        v: 1, id, terminal: "B", hlc: formatHlc(seq, 0), order: "o1",
        ops: [{ op: "order.set", field: "customer_count", value: seq }],
    },
});

/** A client of a page that counts the resets it is told of and can act on remote changes. */
function setup({ applyRemote } = {}) {
    const timers = new FakeTimers();
    const resets = { count: 0 };
    const page = new FakePage({ applyRemote, reset: () => (resets.count += 1) });
    const client = new SyncClient({
        storage: new MemoryStorage(), prefix: "p:", page, now: () => timers.now, timers,
    });
    return { timers, client, resets };
}

/** A fake Odoo server: records calls, answers pull from `log`, push with `pushAnswer`. */
function fakeServer(log = []) {
    const server = { calls: [], log, down: false };
    server.call = async (route, params) => {
        server.calls.push({ route, params });
        if (server.down) {
            throw new Error("Connection lost");
        }
        if (route.endsWith("/pull")) {
            // A cursor past the log is from another database: start over, and say so.
            const reset = params.after > (log.at(-1)?.seq ?? 0);
            const after = reset ? 0 : params.after;
            const changes = log.filter((e) => e.seq > after).slice(0, params.limit);
            return { changes, cursor: changes.at(-1)?.seq ?? after, more: false, reset };
        }
        return { acks: params.changes.map((c) => ({ id: c.id, status: "applied" })), cursor: 1 };
    };
    return server;
}

function fakeBus() {
    return {
        subscribe(callback) {
            this.deliver = callback;
        },
        watch(callback) {
            this.changed = callback;
        },
    };
}

test("Bus mode pulls what was missed at start, then takes changes from the bus", async () => {
    const seen = [];
    const { timers, client } = setup({
        applyRemote: (uuids) => seen.push(client.target(uuids[0]).customer_count),
    });
    const server = fakeServer([remote("c1", 1), remote("c2", 2)]);
    const bus = fakeBus();
    client.useTransport(new ServerTransport({
        call: server.call, configId: 3, mode: "bus", intervalMs: 500, bus, timers,
    }));
    await timers.run(0);
    bus.deliver({ changes: [remote("c3", 3)] });
    await timers.run(10000);
    assert.deepEqual(seen, [2, 3]);
    assert.equal(server.calls.length, 1, "no polling while the bus is up");
    assert.deepEqual(server.calls[0].params, { config_id: 3, after: 0, limit: 500 });
    assert.equal(client.cursor("server"), 3);
});

test("when the bus reconnects the page pulls after the last seq it saw", async () => {
    const { timers, client } = setup();
    const server = fakeServer([remote("c1", 1)]);
    const bus = fakeBus();
    client.useTransport(new ServerTransport({
        call: server.call, configId: 3, mode: "bus", intervalMs: 500, bus, timers,
    }));
    await timers.run(0);
    bus.changed(false);
    await timers.run(0);
    assert.equal(client.status.notice, "live updates unavailable: checking every 0.5 s");
    server.log.push(remote("c2", 2));
    bus.changed(true);
    await timers.run(0);
    assert.equal(client.status.state, "synced");
    assert.equal(client.status.notice, null);
    assert.equal(server.calls.at(-1).params.after, 1);
    assert.equal(client.cursor("server"), 2);
});

test("without the bus, Bus mode pulls at the POS's interval and warns, then goes live again", async () => {
    const { timers, client } = setup();
    const server = fakeServer([remote("c1", 1)]);
    const bus = fakeBus();
    client.useTransport(new ServerTransport({
        call: server.call, configId: 3, mode: "bus", intervalMs: 300, bus,
        now: () => timers.now, timers,
    }));
    await timers.run(0);
    const pulls = () => server.calls.filter((c) => c.route.endsWith("/pull")).length;
    bus.changed(false); // e.g. a proxy without the websocket route
    await timers.run(1000);
    assert.equal(pulls(), 1 + 4, "at 0, 0.3, 0.6 and 0.9 s after the bus went");
    assert.equal(client.status.state, "degraded", "a warning: changes still come");
    assert.equal(client.status.cause, null);
    assert.equal(client.status.fallbackMs, 300);
    assert.equal(client.status.notice, "live updates unavailable: checking every 0.3 s");
    server.log.push(remote("c2", 2));
    await timers.run(300);
    assert.equal(client.cursor("server"), 2, "a change arrives within the interval");
    bus.changed(true);
    await timers.run(0);
    const live = pulls();
    await timers.run(10000);
    assert.equal(pulls(), live, "no polling once the bus is back");
    assert.equal(client.status.state, "synced");
    assert.equal(client.status.fallbackMs, null);
});

test("without the bus and without the server, the cause is the server and pulls back off", async () => {
    const { timers, client } = setup();
    const server = fakeServer();
    const bus = fakeBus();
    client.useTransport(new ServerTransport({
        call: server.call, configId: 3, mode: "bus", intervalMs: 300, bus,
        now: () => timers.now, timers,
    }));
    await timers.run(0);
    server.down = true;
    bus.changed(false);
    await timers.run(8000);
    const pulls = server.calls.filter((c) => c.route.endsWith("/pull")).length;
    assert.equal(pulls, 1 + 5, "at 0, 0.5, 1.5, 3.5 and 7.5 s, not every 0.3 s");
    assert.equal(client.status.state, "error");
    assert.match(client.status.cause, /cannot receive changes: Connection lost/);
});

test("Interval mode pulls every interval and says when the server is unreachable", async () => {
    const { timers, client } = setup();
    const server = fakeServer();
    client.useTransport(new ServerTransport({
        call: server.call, configId: 3, mode: "interval", intervalMs: 500,
        now: () => timers.now, timers,
    }));
    await timers.run(1600);
    assert.equal(server.calls.length, 4);
    server.down = true;
    await timers.run(500);
    assert.equal(client.status.state, "error");
    assert.match(client.status.cause, /cannot receive changes: Connection lost/);
});

/** A server whose pulls each take `ms` on the fake clock; records when each ran. */
function slowServer(timers, ms) {
    const server = { pulls: [], running: 0, most: 0 };
    server.call = (route, params) => {
        server.running += 1;
        server.most = Math.max(server.most, server.running);
        server.pulls.push(timers.now);
        return new Promise((resolve) => timers.setTimeout(() => {
            server.running -= 1;
            resolve({ changes: [], cursor: params.after, more: false });
        }, ms));
    };
    return server;
}

for (const [pullMs, starts] of [[200, [0, 500, 1000, 1500]], [700, [0, 700, 1400]]]) {
    test(`Interval mode keeps a cadence from each pull's start (${pullMs} ms pulls)`, async () => {
        const { timers, client } = setup();
        const server = slowServer(timers, pullMs);
        client.useTransport(new ServerTransport({
            call: server.call, configId: 3, mode: "interval", intervalMs: 500,
            now: () => timers.now, timers,
        }));
        await timers.run(1600);
        assert.deepEqual(server.pulls, starts);
        assert.equal(server.most, 1, "never two pulls at once");
    });
}

test("in Bus mode, failed pulls are retried after a growing pause", async () => {
    const { timers, client } = setup();
    const server = fakeServer();
    server.down = true;
    client.useTransport(new ServerTransport({
        call: server.call, configId: 3, mode: "bus", intervalMs: 500, bus: fakeBus(),
        now: () => timers.now, timers,
    }));
    await timers.run(8000);
    const pulls = server.calls.filter((c) => c.route.endsWith("/pull"));
    assert.equal(pulls.length, 5, "at 0, 0.5, 1.5, 3.5 and 7.5 s");
    server.down = false;
    await timers.run(5000);
    assert.equal(client.status.state, "synced");
});

/** A Bus-mode transport on `server` whose health check answers as `health.up` says. */
function probedTransport(timers, server, health) {
    health.asked = [];
    const probe = async () => {
        health.asked.push(timers.now);
        return health.up;
    };
    return new ServerTransport({
        call: server.call, configId: 3, mode: "bus", intervalMs: 500, bus: fakeBus(), probe,
        now: () => timers.now, timers,
    });
}

test("in Bus mode, a server back is pulled from once its health check answers", async () => {
    const { timers, client } = setup();
    const server = fakeServer();
    const health = { up: false };
    server.down = true;
    client.useTransport(probedTransport(timers, server, health));
    await timers.run(60000); // pulls pause up to 5 s; the health check is asked every ~1 s
    assert.ok(health.asked.length >= 40, "about one health check a second while it is down");
    server.down = false;
    health.up = true;
    const pulled = server.calls.length;
    await timers.run(1300);
    assert.equal(server.calls.length, pulled + 1, "pulled within about a second");
    assert.equal(client.status.state, "synced");
});

test("in Bus mode, a server up but failing its pulls is probed once per loss", async () => {
    const { timers, client } = setup();
    const server = fakeServer();
    const health = { up: true };
    server.down = true; // pulls fail, the health check answers
    client.useTransport(probedTransport(timers, server, health));
    await timers.run(20000);
    assert.equal(health.asked.length, 1, "one early pull, then the pauses alone");
    const pulls = server.calls.filter((c) => c.route.endsWith("/pull")).length;
    assert.ok(pulls <= 8, `${pulls} pulls in 20 s: the pause grows to 5 s`);
});

test("in Bus mode, a health check answered after the link came and went again doubles no probing", async () => {
    const { timers, client } = setup();
    const server = fakeServer();
    const health = { up: false };
    server.down = true;
    const transport = probedTransport(timers, server, health);
    const probe = transport.probe;
    let release = null;
    transport.probe = () => new Promise((resolve) => (release = resolve)); // a slow answer
    client.useTransport(transport);
    await timers.run(1300); // the first health check is under way
    assert.ok(release, "a health check was asked");
    server.down = false;
    await transport.pullLoop(); // the link works meanwhile...
    server.down = true;
    await transport.pullLoop(); // ...and is lost again: a round of its own
    transport.probe = probe;
    release(false); // the old health check answers at last
    await timers.run(10000);
    const asked = health.asked.length;
    assert.ok(asked <= 14, `${asked} health checks in 10 s: one a second, not two`);
});

test("a reset from the server re-reads the orders once and takes the server's cursor", async () => {
    const { timers, client, resets } = setup();
    client.save("cursor:server", "900"); // a cursor from another database
    const server = fakeServer([remote("c1", 1), remote("c2", 2)]);
    client.useTransport(new ServerTransport({
        call: server.call, configId: 3, mode: "interval", intervalMs: 500,
        now: () => timers.now, timers,
    }));
    await timers.run(1200);
    assert.equal(resets.count, 1);
    assert.equal(client.target("o1").customer_count, 2);
    assert.deepEqual(server.calls.map((c) => c.params.after), [900, 2, 2]);
    assert.equal(client.cursor("server"), 2);
});

test("a push sends exactly the protocol's params and reads its acks", async () => {
    const { timers, client } = setup();
    const server = fakeServer();
    const transport = new ServerTransport({
        call: server.call, configId: 3, mode: "interval", intervalMs: 500, timers,
    });
    const result = await transport.push([{ id: "x" }]);
    assert.deepEqual(server.calls[0], {
        route: "/pos_restaurant_sync/push", params: { config_id: 3, changes: [{ id: "x" }] },
    });
    assert.deepEqual(result, { acked: ["x"], rejected: [] });
    assert.equal(client.outbox.size, 0);
});

beforeEach(() => {
    FakeSocket.opened = [];
});

function agentSetup() {
    const { timers, client, resets } = setup();
    const transport = new AgentTransport({
        url: "ws://127.0.0.1:8766/page", token: "s3cret&", WebSocket: FakeSocket, timers,
    });
    client.useTransport(transport);
    const socket = FakeSocket.opened[0];
    socket.open();
    return { timers, client, resets, transport, socket };
}

test("the page says hello with its cursor and takes its terminal id from the welcome", () => {
    const { client, socket } = agentSetup();
    assert.equal(socket.url, "ws://127.0.0.1:8766/page?token=s3cret%26");
    assert.deepEqual(socket.sent, [{ type: "hello", v: 1, since: 0 }]);
    socket.reply({ type: "welcome", v: 1, terminal: "t-agent", hlc: formatHlc(9000, 0), seq: 4 });
    socket.reply({ type: "changes", changes: [remote("c1", 4)] });
    assert.equal(client.terminal, "t-agent");
    assert.equal(client.cursor("agent"), 4);
    assert.ok(client.clock.tick(0) > formatHlc(9000, 0));
});

test("a change leaves the outbox only once the agent acknowledges it", async () => {
    const { timers, client, socket } = agentSetup();
    socket.reply({ type: "welcome", v: 1, terminal: "t-agent", hlc: formatHlc(1, 0), seq: 0 });
    const [change] = client.page.edit(client, "o1", { uuid: "o1", customer_count: 2 });
    await timers.run(0);
    const push = socket.sent.at(-1);
    assert.deepEqual(push, { type: "push", changes: [change] });
    assert.equal(change.terminal, "t-agent");
    assert.equal(client.outbox.size, 1);
    socket.reply({ type: "ack", ids: [change.id] });
    await timers.run(0);
    assert.equal(client.outbox.size, 0);
});

test("an agent that goes away turns the status red and is reconnected", async () => {
    const { timers, client, socket } = agentSetup();
    client.page.edit(client, "o1", { uuid: "o1", customer_count: 2 });
    socket.close();
    await timers.run(0);
    assert.equal(client.status.cause, "local agent unreachable");
    assert.equal(client.outbox.size, 1);
    await timers.run(300);
    const again = FakeSocket.opened[1];
    again.open();
    again.reply({ type: "welcome", v: 1, terminal: "t-agent", hlc: formatHlc(1, 0), seq: 0 });
    await timers.run(2000);
    const [hello, push] = again.sent;
    assert.equal(hello.type, "hello");
    again.reply({ type: "ack", ids: push.changes.map((c) => c.id) });
    await timers.run(0);
    assert.equal(client.status.state, "synced");
});

test("an agent back after a while gets what waits with its welcome, not after the pause", async () => {
    const { timers, client, socket } = agentSetup();
    socket.reply({ type: "welcome", v: 1, terminal: "t-agent", hlc: formatHlc(1, 0), seq: 0 });
    socket.close(); // the agent was killed; its restart takes a while
    await timers.run(300);
    const again = FakeSocket.opened[1]; // connecting, not open yet
    for (let qty = 1; qty <= 4; qty++) {
        client.page.edit(client, "o1", { uuid: "o1", customer_count: qty });
        await timers.run(5000); // every push fails at once: the pause grows to 16 s
    }
    assert.equal(client.status.state, "error");
    again.open();
    again.reply({ type: "welcome", v: 1, terminal: "t-agent", hlc: formatHlc(1, 0), seq: 0 });
    await timers.run(0);
    const push = again.sent.at(-1);
    assert.equal(push.type, "push", "pushed with the welcome");
    again.reply({ type: "ack", ids: push.changes.map((c) => c.id) });
    await timers.run(0);
    assert.equal(client.outbox.size, 0);
});

test("a push the agent refuses as invalid is dropped, not retried forever", async () => {
    const { timers, client, socket } = agentSetup();
    socket.reply({ type: "welcome", v: 1, terminal: "t-agent", hlc: formatHlc(1, 0), seq: 0 });
    client.page.edit(client, "o1", { uuid: "o1", customer_count: 2 });
    await timers.run(0);
    socket.reply({ type: "error", error: "invalid_change", detail: "unknown field" });
    await timers.run(0);
    assert.equal(client.outbox.size, 0);
    assert.equal(client.rejected.length, 1);
});

test("switching from the server to the agent at runtime re-sends what was unsent", async () => {
    const { timers, client } = setup();
    const server = fakeServer();
    server.down = true;
    client.useTransport(new ServerTransport({
        call: server.call, configId: 3, mode: "interval", intervalMs: 500, timers,
    }));
    client.page.edit(client, "o1", { uuid: "o1", customer_count: 2 });
    await timers.run(0);
    assert.equal(client.outbox.size, 1);
    client.useTransport(new AgentTransport({
        url: "ws://127.0.0.1:1/page", token: "t", WebSocket: FakeSocket, timers,
    }));
    const socket = FakeSocket.opened[0];
    socket.open();
    socket.reply({ type: "welcome", v: 1, terminal: "t-agent", hlc: formatHlc(1, 0), seq: 0 });
    await timers.run(100); // one push per window, also across a switch
    const push = socket.sent.find((m) => m.type === "push");
    socket.reply({ type: "ack", ids: push.changes.map((c) => c.id) });
    await timers.run(5000);
    assert.equal(client.outbox.size, 0);
    const pulls = server.calls.filter((c) => c.route.endsWith("/pull"));
    assert.equal(pulls.length, 1, "the server is left alone");
});

test("the agent's status turns the indicator red while the server is away, with its cause", () => {
    const { client, socket } = agentSetup();
    socket.reply({ type: "welcome", v: 1, terminal: "t-agent", hlc: formatHlc(1, 0), seq: 0 });
    const server = { configured: true, reachable: false, cause: "connection refused" };
    socket.reply({ type: "status", status: { terminal: "t-agent", pending: 2, server } });
    assert.equal(client.status.cause, "server unreachable: connection refused");
    socket.reply({ type: "status", status: { server: { ...server, reachable: true } } });
    assert.equal(client.status.state, "synced");
});

test("an agent polling because the bus is unavailable gives the page the same warning", () => {
    const { client, socket } = agentSetup();
    socket.reply({ type: "welcome", v: 1, terminal: "t-agent", hlc: formatHlc(1, 0), seq: 0 });
    const cause = "bus websocket refused (HTTP 400); polling every 500 ms, trying the bus again soon";
    const server = { configured: true, reachable: true, path: "interval", cause, fallback_ms: 500 };
    socket.reply({ type: "status", status: { terminal: "t-agent", pending: 0, server } });
    assert.equal(client.status.state, "degraded");
    assert.equal(client.status.notice, "live updates unavailable: checking every 0.5 s");
    const live = { ...server, path: "bus", cause: null, fallback_ms: null };
    socket.reply({ type: "status", status: { terminal: "t-agent", pending: 0, server: live } });
    assert.equal(client.status.state, "synced");
});

test("an app too old for the server turns the indicator red with what to do", () => {
    const { client, socket } = agentSetup();
    socket.reply({ type: "welcome", v: 1, terminal: "t-agent", hlc: formatHlc(1, 0), seq: 0 });
    const cause = "too old for this server (needs ≥ 0.3.0): possync 0.2.0 syncs nothing with " +
        "it and keeps its changes until then; update possync on this tablet: sudo apt update && sudo apt upgrade";
    const server = { configured: true, reachable: true, cause };
    const app = { version: "0.2.0", state: "too_old", min_version: "0.3.0", cause };
    socket.reply({ type: "status", status: { terminal: "t-agent", pending: 1, server, app } });
    assert.equal(client.status.state, "error");
    assert.equal(client.status.cause, cause);
    assert.equal(client.status.appUpdate, null);
    // The versions, for the POS to word the cause in its user's language.
    assert.deepEqual(client.status.appTooOld, { version: "0.2.0", min: "0.3.0", cause });
});

test("an update of the app is shown with what to do, and sync stays green", () => {
    const { client, socket } = agentSetup();
    socket.reply({ type: "welcome", v: 1, terminal: "t-agent", hlc: formatHlc(1, 0), seq: 0 });
    const cause = "update available (0.2.0 → 0.3.0): this version keeps working; " +
        "run the new possync setup on this tablet (it keeps the data and unsent orders)";
    const app = { version: "0.2.0", state: "update_available", latest_version: "0.3.0", cause };
    const server = { configured: true, reachable: true, cause: null };
    socket.reply({ type: "status", status: { terminal: "t-agent", pending: 0, server, app } });
    assert.equal(client.status.state, "synced");
    assert.deepEqual(client.status.appUpdate, { version: "0.2.0", latest: "0.3.0", cause });
    const current = { ...app, state: "current", cause: null };
    socket.reply({ type: "status", status: { terminal: "t-agent", server, app: current } });
    assert.equal(client.status.appUpdate, null);
    assert.equal(client.status.appTooOld, null);
});

test("a reset seen by the agent re-reads the orders once, keeping the agent's cursor", () => {
    const { client, resets, socket } = agentSetup();
    socket.reply({ type: "welcome", v: 1, terminal: "t-agent", hlc: formatHlc(1, 0), seq: 7 });
    socket.reply({ type: "changes", changes: [remote("c1", 7)] });
    const server = { configured: true, reachable: true, reset_at: null };
    const status = (reset_at) => ({ terminal: "t-agent", pending: 0, server: { ...server, reset_at } });
    socket.reply({ type: "status", status: status(null) });
    assert.equal(resets.count, 0);
    socket.reply({ type: "status", status: status("2026-11-26T21:00:00.000+00:00") });
    socket.reply({ type: "status", status: status("2026-11-26T21:00:00.000+00:00") });
    assert.equal(resets.count, 1);
    socket.reply({ type: "status", status: status("2026-11-26T22:00:00.000+00:00") });
    assert.equal(resets.count, 2);
    assert.equal(client.cursor("agent"), 7);
});

test("a reset the agent saw before this page loaded does not make it re-read", () => {
    const { client, resets, socket } = agentSetup();
    socket.reply({ type: "welcome", v: 1, terminal: "t-agent", hlc: formatHlc(1, 0), seq: 0 });
    const server = { configured: true, reachable: true, reset_at: "2026-11-26T21:00:00.000+00:00" };
    socket.reply({ type: "status", status: { terminal: "t-agent", pending: 0, server } });
    assert.equal(resets.count, 0);
});
