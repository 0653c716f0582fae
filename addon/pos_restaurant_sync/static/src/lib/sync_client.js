/**
 * The page's side of the protocol: it turns what the waiter did into changes, keeps them in
 * the outbox until a receiver acknowledges them, pushes at most once per window, and takes
 * in the changes of the other terminals.
 *
 * It knows nothing of Odoo: it is given the page it syncs (a `Page`, below; the POS's is
 * pos/order_sync.js), and a transport (server or local agent, see server_transport.js and
 * agent_transport.js) moves the changes. `node --test` loads it.
 */
import {
    FutureChange,
    HybridClock,
    MAX_OPS_PER_CHANGE,
    PROTOCOL_VERSION,
    checkClock,
    diff,
    parseChange,
} from "./protocol.js";
import { Backoff } from "./backoff.js";
import { fallbackNotice } from "./causes.js";
import { CorrectedClock } from "./clock.js";
import { Outbox } from "./outbox.js";
import { OrderReplica } from "./replica.js";

/** Longest wait between two attempts when pushes keep failing. */
export const MAX_RETRY_MS = 30000;

/**
 * How long, and how many, closed orders a page remembers after forgetting their replicas:
 * as long as the agent and the server keep a closed order's changes (docs/protocol.md
 * "What a page remembers"), so a late change to one is still dropped.
 */
export const CLOSED_KEPT_MS = 24 * 3600 * 1000;
export const MAX_CLOSED_KEPT = 2000;

/** The refusals kept for a look in the console; the status counts them all. */
export const MAX_REJECTED_KEPT = 50;

/**
 * What the sync client needs of the page it syncs, given to its constructor.
 *
 * @typedef {object} Page
 * @property {() => Iterable<[string, object]>} readEdits the orders the waiter edited since
 *   the last read, each as `[uuid, view]` with the view (docs/protocol.md) its records show
 *   now; called once per edit the page reports (`captureEdits`)
 * @property {(uuids: string[]) => void} applyRemote changes from elsewhere touched these
 *   orders: bring their records to what the changes say
 * @property {() => void} reset changes from elsewhere were lost to this terminal: re-read
 *   the open orders
 * @property {(status: object) => void} showStatus the sync status changed
 */

/** A random uuid4 as 32 hex digits; works on plain-HTTP pages, unlike crypto.randomUUID. */
export function newId() {
    const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class SyncClient {
    /**
     * @param {object} options
     * @param {Storage} options.storage where the outbox, clock, cursors and terminal id live
     * @param {string} options.prefix storage key prefix, one per database and config
     * @param {Page} options.page how to read the page's edits and tell it what happened
     * @param {number} [options.windowMs] at most one push per window
     * @param {() => number} [options.now] the device clock, for pauses and the status
     * @param {CorrectedClock} [options.wall] the device clock corrected by its offset to the
     *   server: what clock readings use and changes are checked against (transports measure it)
     * @param {object} [options.timers] setTimeout/clearTimeout, replaceable in tests
     */
    constructor({
        storage,
        prefix,
        page,
        windowMs = 100,
        now = Date.now,
        wall = new CorrectedClock({ device: now }),
        timers = globalThis,
    }) {
        this.storage = storage;
        this.prefix = prefix;
        this.page = page;
        this.windowMs = windowMs;
        this.now = now;
        this.wall = wall;
        this.timers = timers;
        this.terminal = this.load("terminal") || `t-${newId()}`;
        this.save("terminal", this.terminal);
        this.clock = new HybridClock(this.load("hlc"));
        /** Changes from elsewhere dropped as stamped too far ahead: how many, the last reason. */
        this.refused = { count: 0, reason: null };
        this.outbox = new Outbox(storage, `${prefix}outbox`);
        /** The orders this page syncs: the open ones, and closed ones not settled yet. */
        /** @type {Map<string, OrderReplica>} */
        this.replicas = new Map();
        /** Closed orders whose replicas were forgotten: uuid -> {state, at} (wall clock). */
        /** @type {Map<string, {state: string, at: number}>} */
        this.closed = new Map();
        /** The latest changes refused for good, `{id, reason}`; `rejectedCount` counts all. */
        this.rejected = [];
        this.rejectedCount = 0;
        this.transport = null;
        this.pushTimer = null;
        /** The pushes in flight: at most the transport's `concurrentPushes` (else one). */
        this.inflight = new Set();
        /** Ids of the changes a push in flight carries: the next push leaves them out. */
        this.sending = new Set();
        this.lastPushAt = -Infinity;
        this.retryAt = 0;
        this.retries = new Backoff(1000, MAX_RETRY_MS);
        this.status = {};
        this.updateStatus({ lastSyncAt: null, error: null, linkError: null, busy: false });
        this.fallback(null);
    }

    // --- storage ------------------------------------------------------------------------

    load(name) {
        return this.storage.getItem(this.prefix + name);
    }

    save(name, value) {
        try {
            this.storage.setItem(this.prefix + name, value);
        } catch {
            // The outbox reports a full storage; losing a cursor or clock only costs a re-read.
        }
    }

    /** The highest seq received from a transport kind ("server" or "agent"). */
    cursor(kind) {
        return Number(this.load(`cursor:${kind}`) || 0);
    }

    // --- local edits --------------------------------------------------------------------

    /** The replica of an order; a forgotten closed order comes back closed and seen closed. */
    replica(uuid) {
        if (!this.replicas.has(uuid)) {
            const replica = new OrderReplica(uuid);
            const closed = this.closed.get(uuid);
            if (closed) {
                this.closed.delete(uuid);
                replica.adopted.state = closed.state;
                replica.seen = { uuid, state: closed.state };
            }
            this.replicas.set(uuid, replica);
        }
        return this.replicas.get(uuid);
    }

    /** What the records showed of an order when last captured or written (closed if forgotten). */
    seenOf(uuid) {
        const closed = this.closed.get(uuid);
        return closed ? { uuid, state: closed.state } : this.replicas.get(uuid)?.seen;
    }

    /**
     * Forget an order once it is closed and settled: its changes and the records seen it
     * closed, and none of its changes waits in the outbox. Only its uuid and state stay
     * (`closed`), for `CLOSED_KEPT_MS` and at most `MAX_CLOSED_KEPT` orders.
     */
    forgetIfSettled(uuid) {
        const replica = this.replicas.get(uuid);
        if (!replica || !replica.seen || replica.seen.state === "draft") {
            return;
        }
        const { state } = replica.target();
        if (state === "draft" || this.outbox.changes.some((change) => change.order === uuid)) {
            return;
        }
        this.replicas.delete(uuid);
        this.rememberClosed(uuid, state);
    }

    /** Keep a forgotten order's uuid and state; drop the oldest beyond the limits. */
    rememberClosed(uuid, state) {
        const now = this.wall.now();
        this.closed.set(uuid, { state, at: now });
        for (const [old, { at }] of this.closed) {
            if (this.closed.size <= MAX_CLOSED_KEPT && at > now - CLOSED_KEPT_MS) {
                break;
            }
            this.closed.delete(old);
        }
    }

    /**
     * Record what the waiter did to an order: the difference between its `seen` state and
     * `view` becomes one or more changes in the log and the outbox, and `view` is seen.
     * Returns the new changes; the caller schedules their push (`captureEdits`).
     */
    capture(uuid, view) {
        const replica = this.replica(uuid);
        // A closed order never reopens (docs/protocol.md, merge rule 6): no close back to draft.
        const reopen = (op) => op.op === "order.close" && op.state === "draft";
        const ops = diff(replica.seen || { uuid }, view).filter((op) => !reopen(op));
        replica.seen = view;
        const changes = [];
        for (let i = 0; i < ops.length; i += MAX_OPS_PER_CHANGE) {
            changes.push(this.newChange(uuid, ops.slice(i, i + MAX_OPS_PER_CHANGE)));
        }
        for (const change of changes) {
            replica.receive(change);
        }
        if (changes.length) {
            this.outbox.add(changes);
            this.save("hlc", this.clock.reading());
            this.updateStatus({});
        }
        return changes;
    }

    /**
     * The page reports edits: read them once and record them. They go into the saved outbox
     * now, not when the push starts, so a page closed during a pause between failed pushes
     * loses none of them. Then one push carries every order's edits, now if the last push is
     * a window old, else when the window ends.
     */
    captureEdits() {
        for (const [uuid, view] of this.page.readEdits()) {
            this.capture(uuid, view);
        }
        this.schedulePush();
    }

    newChange(order, ops) {
        return parseChange({
            v: PROTOCOL_VERSION,
            id: newId(),
            terminal: this.terminal,
            hlc: this.clock.tick(this.wall.now()),
            order,
            ops,
        });
    }

    /**
     * Take what Odoo's own data shows of an order into its `adopted` state; an order the page
     * never looked at is seen as Odoo shows it (nothing in it is an edit of this terminal).
     */
    adopt(uuid, view) {
        const replica = this.replica(uuid);
        replica.adopt(view);
        replica.seen ||= view;
    }

    /** The POS records now show `view` for this order, its `seen` state: no edit in it. */
    markSeen(uuid, view) {
        this.replica(uuid).seen = view;
        this.forgetIfSettled(uuid);
    }

    /** The order as its changes say, on top of its adopted state: what its records should show. */
    target(uuid) {
        return this.replica(uuid).target();
    }

    // --- changes from elsewhere ---------------------------------------------------------

    /**
     * Take in `[{seq, change}]` from a transport of the given kind. Invalid changes are
     * skipped (the sender keeps them); so are changes stamped more than 60 s ahead of the
     * corrected clock, which the status counts. Duplicates count once.
     */
    receive(entries, kind) {
        const touched = new Set();
        let cursor = this.cursor(kind);
        const now = this.wall.now();
        for (const { seq, change } of entries) {
            cursor = Math.max(cursor, seq);
            try {
                checkClock(parseChange(change), now, "this terminal");
            } catch (error) {
                console.warn("possync: skipped an invalid change", error.message, change);
                if (error instanceof FutureChange) {
                    this.refused = { count: this.refused.count + 1, reason: error.message };
                }
                continue;
            }
            this.clock.observe(change.hlc, now);
            if (this.closed.has(change.order)) {
                continue; // closed and forgotten here: a close is final (merge rule 6)
            }
            if (this.replica(change.order).receive(change)) {
                touched.add(change.order);
            }
        }
        this.save(`cursor:${kind}`, String(cursor));
        this.save("hlc", this.clock.reading());
        this.updateStatus({ lastSyncAt: this.now() });
        if (touched.size) {
            this.page.applyRemote([...touched]);
        }
    }

    /**
     * The server no longer has every change after this terminal's cursor (its log was pruned,
     * or it is another database): the open orders are re-read from Odoo, and receiving goes
     * on from the server's `cursor`, also when that is lower. Through the agent there is no
     * new cursor: the agent's own seq stays valid.
     */
    reset(kind, cursor) {
        if (cursor !== undefined) {
            this.save(`cursor:${kind}`, String(cursor));
        }
        this.page.reset();
    }

    /** The local agent said hello: it names this terminal and its clock leads ours. */
    welcome({ terminal, hlc }) {
        this.terminal = terminal;
        this.clock.observe(hlc, this.wall.now());
    }

    // --- transport ----------------------------------------------------------------------

    /** Move changes through `transport` from now on (the previous one is stopped). */
    useTransport(transport) {
        this.transport?.stop();
        this.transport = transport;
        this.cancelPush();
        this.retries.reset();
        this.retryAt = 0;
        this.updateStatus({ error: null });
        this.fallback(null); // the new transport says whether it has live updates
        transport.start(this);
        this.schedulePush();
    }

    /** A transport's view of its link: `null` when it works, else the cause. */
    linkError(cause) {
        const back = cause === null && Boolean(this.status.linkError);
        this.updateStatus({ linkError: cause });
        if (back) {
            this.linkBack();
        }
    }

    /**
     * The link works again after a failure (a pull answered, the agent said welcome): what
     * waits goes now, not at the end of the pause after failed pushes (up to MAX_RETRY_MS).
     * The pause keeps its growth, so a push that fails again waits longer; only the link
     * coming back, once per failure, ends a pause early.
     */
    linkBack() {
        if (this.retryAt > this.now()) {
            this.retryAt = 0;
            this.cancelPush();
            this.schedulePush();
        }
    }

    /**
     * Live updates are unavailable and changes are pulled every `ms` instead (`null`: live
     * again). Sync still works, only slower: the indicator warns, and says why.
     */
    fallback(ms) {
        this.updateStatus({ fallbackMs: ms, notice: ms ? fallbackNotice(ms) : null });
    }

    /**
     * Push now if the last push is a window old, else when the window ends. Not later in the
     * task (a microtask or a zero timeout): the page's own rendering of an edit is queued
     * ahead, 50 to 90 ms on a floor of 100 open orders on Odoo 18. A push does not wait for the answer to the one in flight
     * when the transport takes two at once (the server: its answer waits for the Odoo order
     * too, while the change is already stored and broadcast), so a later change may land
     * first: replicas merge changes in any order, and the server checks a line's changes
     * that overtake its add when the add lands (docs/protocol.md, "What the server accepts").
     */
    schedulePush() {
        if (this.pushTimer || !this.canPush() || !this.hasUnsent()) {
            return;
        }
        const wait = this.wait();
        if (wait > 0) {
            this.pushTimer = this.timers.setTimeout(() => this.push(), wait);
        } else {
            this.push();
        }
    }

    cancelPush() {
        this.timers.clearTimeout(this.pushTimer);
        this.pushTimer = null;
    }

    /** Milliseconds until the next push may start. */
    wait() {
        const now = this.now();
        return Math.max(0, this.lastPushAt + this.windowMs - now, this.retryAt - now);
    }

    /** A transport is in use and has room for one more push in flight. */
    canPush() {
        const room = this.transport?.concurrentPushes || 1;
        return Boolean(this.transport) && this.inflight.size < room;
    }

    /** Pending changes that no push in flight carries. */
    hasUnsent() {
        return this.outbox.size > 0 && this.outbox.changes.some((c) => !this.sending.has(c.id));
    }

    /**
     * Push the pending changes no push in flight carries, now if the transport has room;
     * resolves when the pushes in flight are answered (or failed).
     */
    push() {
        this.cancelPush();
        if (!this.canPush() || !this.hasUnsent()) {
            return this.settled();
        }
        const batch = this.outbox.batch(this.sending);
        batch.forEach((change) => this.sending.add(change.id));
        const pushing = this.pushBatch(batch).finally(() => {
            this.inflight.delete(pushing);
            batch.forEach((change) => this.sending.delete(change.id));
            this.updateStatus({ busy: this.inflight.size > 0 });
            this.schedulePush();
        });
        this.inflight.add(pushing);
        return pushing;
    }

    /** Resolves once every push now in flight is answered (or failed). */
    settled() {
        return Promise.all(this.inflight).then(() => undefined);
    }

    async pushBatch(batch) {
        this.lastPushAt = this.now();
        this.updateStatus({ busy: true });
        try {
            this.acknowledged(await this.transport.push(batch));
        } catch (error) {
            this.failed(error);
        }
    }

    /**
     * Have every edit made so far reach the receiver before Odoo's own sync of the same
     * orders starts: two writers of one order at once make the server retry or refuse one.
     * Waits for the push in flight, then pushes what is left at once: the window keeps edits
     * from costing a request each, and Odoo's own request follows anyway (the payment's
     * validation waits here). Gives up after `timeoutMs` (Odoo's sync must not hang on us);
     * a pause after failed pushes is kept.
     */
    async flush(timeoutMs) {
        const done = (async () => {
            await this.settled();
            if (this.outbox.size) {
                const pause = Math.max(0, this.retryAt - this.now());
                await new Promise((resolve) => this.timers.setTimeout(resolve, pause));
                this.push();
                await this.settled();
            }
        })();
        await Promise.race([done, new Promise((r) => this.timers.setTimeout(r, timeoutMs))]);
    }

    /**
     * A push was answered. Only an answer for the oldest pending change (or for the last
     * ones) ends the pause after failures: a push beside it that succeeds says nothing of the
     * one that keeps failing.
     */
    acknowledged({ acked, rejected }) {
        for (const { id, reason } of rejected) {
            console.warn("possync: a change was refused for good", id, reason);
        }
        this.rejected = [...this.rejected, ...rejected].slice(-MAX_REJECTED_KEPT);
        this.rejectedCount += rejected.length;
        const oldest = this.outbox.changes[0]?.id;
        const done = new Set([...acked, ...rejected.map((r) => r.id)]);
        const orders = new Set(
            this.outbox.changes.filter((c) => done.has(c.id)).map((c) => c.order)
        );
        this.outbox.remove([...done]);
        orders.forEach((uuid) => this.forgetIfSettled(uuid));
        if (this.outbox.size && !done.has(oldest)) {
            this.updateStatus({ lastSyncAt: this.now() });
            return;
        }
        this.retries.reset();
        this.retryAt = 0;
        this.updateStatus({ error: null, lastSyncAt: this.now() });
    }

    failed(error) {
        this.retryAt = this.now() + this.retries.next();
        this.updateStatus({ error: error.message || String(error) });
    }

    // --- status -------------------------------------------------------------------------

    /** Changes not yet acknowledged: every edit the page reported is among them. */
    pendingCount() {
        return this.outbox.size;
    }

    updateStatus(patch) {
        const status = {
            ...this.status,
            ...patch,
            pending: this.outbox.size,
            clock: this.wall.snapshot(),
            refused: this.refused,
            rejected: { count: this.rejectedCount, reason: this.rejected.at(-1)?.reason ?? null },
        };
        const error = status.error || status.linkError || this.outbox.saveError;
        status.state = stateOf(status, error);
        status.cause = error || null;
        this.status = status;
        this.page.showStatus(status);
    }
}

/**
 * What the indicator shows: red, spinning, a pending count, a warning while sync works
 * without live updates, or a green check.
 */
function stateOf(status, error) {
    if (error) {
        return "error";
    }
    if (status.busy) {
        return "syncing";
    }
    if (status.pending) {
        return "pending";
    }
    return status.notice ? "degraded" : "synced";
}
