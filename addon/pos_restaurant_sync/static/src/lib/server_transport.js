/**
 * Straight to the Odoo server (a plain browser, no local agent): JSON-RPC `push` and
 * `pull` of docs/protocol.md, changes received from Odoo's bus in Bus mode or pulled every
 * `intervalMs` in Interval mode.
 *
 * Odoo is reached only through the functions it is given, so `node --test` can drive it.
 */
import { Backoff } from "./backoff.js";
import { CAUSE } from "./causes.js";

export const PULL_LIMIT = 500;
/** Failed pulls are retried sooner at first, then this often. */
export const RETRY_MAX_MS = 5000;
const VERSION_MISMATCH = CAUSE.versionMismatch;

export class ServerTransport {
    kind = "server";

    /**
     * @param {object} options
     * @param {(route: string, params: object) => Promise<any>} options.call JSON-RPC to Odoo
     * @param {number} options.configId
     * @param {"bus"|"interval"} options.mode
     * @param {number} options.intervalMs
     * @param {object} [options.bus] in Bus mode: `subscribe(callback)` for the changes
     *   notification and `watch(callback)` called with `true`/`false` as the bus goes up or down
     * @param {() => number} [options.now]
     * @param {object} [options.timers] setTimeout/clearTimeout, replaceable in tests
     */
    constructor({
        call,
        configId,
        mode,
        intervalMs,
        bus = null,
        now = Date.now,
        timers = globalThis,
    }) {
        this.call = call;
        this.configId = configId;
        this.mode = mode;
        this.intervalMs = intervalMs;
        this.bus = bus;
        this.now = now;
        this.timers = timers;
        this.client = null;
        this.timer = null;
        this.pulling = null;
        this.busUp = true;
        this.retries = new Backoff(500, RETRY_MAX_MS);
    }

    start(client) {
        this.client = client;
        if (this.mode === "bus") {
            this.bus.subscribe((payload) => this.received(payload.changes));
            this.bus.watch((up) => this.busChanged(up));
        }
        this.pullLoop();
    }

    stop() {
        this.timers.clearTimeout(this.timer);
        this.client = null;
    }

    /** A call to the addon, timed: its answers carry the server's clock (`time_ms`). */
    async timedCall(route, params) {
        const wall = this.client?.wall;
        const sent = wall?.local();
        const result = await this.call(route, params);
        if (wall && result && typeof result === "object") {
            wall.observe("server", result.time_ms, sent, wall.local());
        }
        return result;
    }

    async push(changes) {
        const result = await this.timedCall("/pos_restaurant_sync/push", {
            config_id: this.configId,
            changes,
        });
        const rejected = result.acks.filter((ack) => ack.status === "rejected");
        if (rejected.some((ack) => /version/.test(ack.reason || ""))) {
            throw new Error(VERSION_MISMATCH);
        }
        return {
            acked: result.acks.filter((ack) => ack.status !== "rejected").map((ack) => ack.id),
            rejected: rejected.map(({ id, reason }) => ({ id, reason })),
        };
    }

    received(entries) {
        this.client?.receive(entries, this.kind);
    }

    /** Pull everything after the cursor, page by page; concurrent calls share one run. */
    pull() {
        this.pulling ||= this.pullAll().finally(() => (this.pulling = null));
        return this.pulling;
    }

    async pullAll() {
        let more = true;
        while (more && this.client) {
            const result = await this.timedCall("/pos_restaurant_sync/pull", {
                config_id: this.configId,
                after: this.client.cursor(this.kind),
                limit: PULL_LIMIT,
            });
            if (result.reset) {
                this.client?.reset(this.kind, result.cursor);
            }
            this.client?.receive(result.changes, this.kind);
            more = result.more && result.changes.length > 0;
        }
    }

    /** Pulling at the interval: in Interval mode, and in Bus mode while the bus is down. */
    get polling() {
        return this.mode === "interval" || !this.busUp;
    }

    /**
     * Pull now, then again while polling: every `intervalMs` from the start of each pull (at
     * once after a pull slower than that). In Bus mode failed pulls are retried after a
     * growing pause, as the server is down too.
     */
    async pullLoop() {
        this.timers.clearTimeout(this.timer);
        const startedAt = this.now();
        const pulled = await this.pullAndReport();
        let wait = this.polling ? Math.max(0, startedAt + this.intervalMs - this.now()) : null;
        if (!pulled && this.mode === "bus") {
            wait = this.retries.next();
        }
        if (wait !== null && this.client) {
            // Another run may have started meanwhile (the bus went up or down): keep one timer.
            this.timers.clearTimeout(this.timer);
            this.timer = this.timers.setTimeout(() => this.pullLoop(), wait);
        }
    }

    /** Pull and show how the link is; true when the pull worked. */
    async pullAndReport() {
        try {
            await this.pull();
            this.retries.reset();
            this.client?.linkError(null);
            return true;
        } catch (error) {
            this.client?.linkError(`${CAUSE.cannotReceive}${error.message || error}`);
            return false;
        }
    }

    /**
     * The bus came back (pull what it missed) or went away: pull at the interval until it is
     * back, as Interval mode does, and say so (a warning, not an error: changes still come).
     */
    busChanged(up) {
        this.busUp = up;
        this.client?.fallback(up ? null : this.intervalMs);
        this.pullLoop();
    }
}
