/**
 * Through the local agent of the desktop app: the WebSocket of docs/protocol.md
 * "Page ↔ local agent" (hello/welcome, push/ack, changes, status, error). The page then never
 * talks to the server for sync itself; the agent names the terminal in its welcome.
 *
 * The WebSocket class is given, so `node --test` can drive it with a fake.
 */
import { Backoff } from "./backoff.js";
import { PROTOCOL_VERSION } from "./protocol.js";
import { CAUSE } from "./causes.js";

/** How long a push waits for its acknowledgement before it counts as failed. */
export const ACK_TIMEOUT_MS = 15000;
// Errors that refuse a whole push for good: retrying the same changes cannot help.
const REFUSALS = new Set(["invalid_change", "too_large", "bad_json"]);

export class AgentTransport {
    kind = "agent";

    /**
     * @param {object} options
     * @param {string} options.url e.g. "ws://127.0.0.1:8766/page"
     * @param {string} options.token the secret the desktop app injected
     * @param {typeof WebSocket} [options.WebSocket]
     * @param {object} [options.timers] setTimeout/clearTimeout, replaceable in tests
     */
    constructor({ url, token, WebSocket = globalThis.WebSocket, timers = globalThis }) {
        this.url = url;
        this.token = token;
        this.WebSocket = WebSocket;
        this.timers = timers;
        this.client = null;
        this.socket = null;
        this.waiting = null; // the push waiting for its ack: {ids, resolve, reject, timer}
        this.reconnects = new Backoff(250, 5000);
        this.reconnectTimer = null;
        this.resetSeen = null; // the agent's `server.reset_at` this page last acted on (or found)
    }

    start(client) {
        this.client = client;
        this.connect();
    }

    stop() {
        this.client = null;
        this.timers.clearTimeout(this.reconnectTimer);
        this.socket?.close();
        this.settle(new Error("switched transport"));
    }

    connect() {
        const url = `${this.url}?token=${encodeURIComponent(this.token)}`;
        const socket = new this.WebSocket(url);
        this.socket = socket;
        socket.onopen = () => {
            this.helloSentAt = this.client.wall.local();
            this.send({ type: "hello", v: PROTOCOL_VERSION, since: this.client.cursor(this.kind) });
        };
        socket.onmessage = (event) => this.handle(JSON.parse(event.data));
        socket.onclose = () => this.closed(socket);
    }

    closed(socket) {
        if (socket !== this.socket || !this.client) {
            return;
        }
        this.socket = null;
        this.settle(new Error(CAUSE.agentUnreachable));
        this.client.linkError(CAUSE.agentUnreachable);
        this.reconnectTimer = this.timers.setTimeout(
            () => this.client && this.connect(),
            this.reconnects.next()
        );
    }

    send(message) {
        this.socket.send(JSON.stringify(message));
    }

    handle(message) {
        const client = this.client;
        if (!client) {
            return;
        }
        if (message.type === "welcome") {
            this.reconnects.reset();
            // The agent's corrected time: the same device clock, so its offset becomes ours.
            client.wall.observe("agent", message.time_ms, this.helloSentAt, client.wall.local());
            client.welcome(message);
            client.linkError(null);
            client.schedulePush();
        } else if (message.type === "changes") {
            client.receive(message.changes, this.kind);
        } else if (message.type === "ack") {
            this.acked(message.ids);
        } else if (message.type === "status") {
            const clock = message.status?.clock;
            if (clock?.source) {
                client.wall.adopt("agent", clock.offset_ms); // the agent's, on our device clock
            }
            // What the server refused for good from the agent's outbox, and whether the app
            // is current for the server, for the indicator.
            client.updateStatus({
                agentRejected: message.status?.rejected ?? null,
                appUpdate: appUpdate(message.status),
                appTooOld: appTooOld(message.status),
            });
            client.linkError(agentProblem(message.status));
            // The agent pulls at the interval while the bus is unavailable: same warning.
            client.fallback(message.status?.server?.fallback_ms || null);
            this.resetIfPruned(message.status);
        } else if (message.type === "error") {
            this.refused(message);
        }
    }

    /**
     * The agent's pull found the server's log pruned after its cursor: re-read the open
     * orders, once per reset. The agent's seq, this page's cursor, is still valid.
     */
    resetIfPruned(status) {
        const resetAt = status?.server?.reset_at ?? "";
        if (this.resetSeen === null) {
            this.resetSeen = resetAt; // the first status: this page has just loaded its orders
            return;
        }
        if (resetAt && resetAt !== this.resetSeen) {
            this.resetSeen = resetAt;
            this.client.reset(this.kind);
        }
    }

    push(changes) {
        if (!this.socket || this.socket.readyState !== 1) {
            return Promise.reject(new Error(CAUSE.agentUnreachable));
        }
        return new Promise((resolve, reject) => {
            const timer = this.timers.setTimeout(
                () => this.settle(new Error("local agent did not acknowledge")),
                ACK_TIMEOUT_MS
            );
            this.waiting = { ids: new Set(changes.map((c) => c.id)), resolve, reject, timer };
            this.send({ type: "push", changes });
        });
    }

    acked(ids) {
        const waiting = this.waiting;
        if (!waiting) {
            return;
        }
        const all = [...waiting.ids];
        ids.forEach((id) => waiting.ids.delete(id));
        if (!waiting.ids.size) {
            this.settle(null, { acked: all, rejected: [] });
        }
    }

    refused({ error, detail }) {
        const waiting = this.waiting;
        if (waiting && REFUSALS.has(error)) {
            const rejected = [...waiting.ids].map((id) => ({ id, reason: `${error}: ${detail}` }));
            this.settle(null, { acked: [], rejected });
        } else if (error === "version") {
            this.settle(new Error("protocol version mismatch: update possync or the addon"));
        } else {
            this.client.linkError(`${CAUSE.agentError}${error} ${detail || ""}`.trim());
        }
    }

    /** End the waiting push with an error or a result. */
    settle(error, result) {
        const waiting = this.waiting;
        if (!waiting) {
            return;
        }
        this.waiting = null;
        this.timers.clearTimeout(waiting.timer);
        if (error) {
            waiting.reject(error);
        } else {
            waiting.resolve(result);
        }
    }
}

/**
 * What the agent's status (agent/status.py `snapshot`) says is wrong, or null. The agent
 * keeps the terminals in step without the server (peers, outbox), but the waiter is told.
 */
export function agentProblem(status) {
    const server = status?.server;
    if (!server) {
        return null;
    }
    if (!server.configured) {
        return CAUSE.agentNoServer;
    }
    if (status.app?.state === "too_old") {
        return status.app.cause; // nothing reaches the server until the app is updated
    }
    return server.reachable
        ? null
        : `${CAUSE.serverUnreachableBecause}${server.cause || CAUSE.noAnswer}`;
}

/**
 * An update of the possync app the agent's status (agent/app_update.py) says is available,
 * with what to do: `{version, latest, cause}`, or null. Not a failure: sync goes on. The
 * POS words it from the versions, in its user's language (pos/sync_cause.js); `cause` is
 * the agent's English.
 */
export function appUpdate(status) {
    const app = status?.app;
    if (app?.state !== "update_available") {
        return null;
    }
    return { version: app.version, latest: app.latest_version, cause: app.cause };
}

/**
 * The possync app is too old for the server (the agent's status, agent/app_update.py):
 * `{version, min, cause}`, or null. `cause` is the indicator's cause (`agentProblem`), in
 * the agent's English; the POS words it from the versions (pos/sync_cause.js).
 */
export function appTooOld(status) {
    const app = status?.app;
    if (app?.state !== "too_old") {
        return null;
    }
    return { version: app.version, min: app.min_version, cause: app.cause };
}
