/**
 * Straight to the Odoo server (a plain browser, no local agent): JSON-RPC `push` and
 * `pull` of docs/protocol.md, changes received from Odoo's bus in Bus mode or pulled every
 * `intervalMs` in Interval mode, and in Bus mode while the bus is down.
 *
 * Odoo is reached only through the functions it is given, so `node --test` can drive it.
 */
import { Backoff } from "./backoff.js";
import { CAUSE } from "./causes.js";

export const PULL_LIMIT = 500;
/** Failed pulls are retried sooner at first, then this often. */
export const RETRY_MAX_MS = 5000;
/** While pulls fail in Bus mode, Odoo's health check is asked about this often (±25 %). */
export const PROBE_MS = 1000;
const VERSION_MISMATCH = CAUSE.versionMismatch;

export class ServerTransport {
    kind = "server";
    /** Odoo answers a push once the Odoo order is written too; the next need not wait. */
    concurrentPushes = 2;

    /**
     * @param {object} options
     * @param {(route: string, params: object) => Promise<any>} options.call JSON-RPC to Odoo
     * @param {number} options.configId
     * @param {"bus"|"interval"} options.mode
     * @param {number} options.intervalMs
     * @param {object} [options.bus] in Bus mode: `subscribe(callback)` for the changes
     *   notification and `watch(callback)` called with `true`/`false` as the bus goes up or down
     * @param {() => Promise<boolean>} [options.probe] whether Odoo's health check answers
     *   (`/web/health`): while pulls fail in Bus mode, its first `true` pulls at once
     * @param {() => number} [options.now]
     * @param {object} [options.timers] setTimeout/clearTimeout, replaceable in tests
     */
    constructor({
        call,
        configId,
        mode,
        intervalMs,
        bus = null,
        probe = null,
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
        this.probe = probe;
        this.probeTimer = null;
        this.probeRound = 0; // a pull that works ends the round: its health check is moot
        this.mayProbe = true; // false from a probe's early pull until a pull works
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
        this.timers.clearTimeout(this.probeTimer);
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
            this.lookForServer();
        }
        if (wait !== null && this.client) {
            // Another run may have started meanwhile (the bus went up or down): keep one timer.
            this.timers.clearTimeout(this.timer);
            this.timer = this.timers.setTimeout(() => this.pullLoop(), wait);
        }
    }

    /**
     * A pull failed in Bus mode: ask Odoo's health check about every PROBE_MS, and pull at
     * once when it answers, not at the end of the pause. Once per loss: if that pull fails
     * too, the pauses alone decide until a pull works (a server that answers the check but
     * fails the pull is not pulled every second). A server that does not answer costs one
     * health check a second.
     */
    lookForServer() {
        if (!this.probe || !this.mayProbe || this.probeTimer) {
            return;
        }
        const round = this.probeRound;
        const ask = async () => {
            const back = await this.probe().catch(() => false);
            if (round !== this.probeRound) {
                return; // a pull worked meanwhile; a later loss has its own round
            }
            this.probeTimer = null;
            if (!this.client || !this.mayProbe) {
                return;
            }
            if (back) {
                this.mayProbe = false;
                this.pullLoop();
            } else {
                this.lookForServer();
            }
        };
        this.probeTimer = this.timers.setTimeout(ask, PROBE_MS * (0.75 + Math.random() / 2));
    }

    /** Pull and show how the link is; true when the pull worked. */
    async pullAndReport() {
        try {
            await this.pull();
            this.mayProbe = true;
            this.timers.clearTimeout(this.probeTimer);
            this.probeTimer = null;
            this.probeRound += 1;
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
