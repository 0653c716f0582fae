// Test doubles for the page's sync modules: the page, storage, timers and a WebSocket.

/**
 * The page a SyncClient syncs (its `Page`), played by the test: `edit(uuid, view)` is the
 * waiter's edit as the page's watcher reports it. Counts the reads of edits and records what
 * the client told it; `applyRemote` and `reset` may be given to act on those calls.
 */
export class FakePage {
    constructor({ applyRemote = () => {}, reset = () => {} } = {}) {
        this.pending = [];
        this.reads = 0;
        this.status = null;
        this.applyRemote = applyRemote;
        this.reset = reset;
    }
    /**
     * The waiter edits an order; the page reports it to `client` at once. Returns the
     * changes the edit made (a push may already carry them).
     */
    edit(client, uuid, view) {
        const before = new Set(client.outbox.changes.map((change) => change.id));
        this.pending.push([uuid, view]);
        client.captureEdits();
        return client.outbox.changes.filter((change) => !before.has(change.id));
    }
    readEdits() {
        this.reads += 1;
        return this.pending.splice(0);
    }
    showStatus(status) {
        this.status = status;
    }
}

/** localStorage in memory; `full = true` makes writes throw like a full quota. */
export class MemoryStorage {
    constructor() {
        this.items = new Map();
        this.full = false;
    }
    getItem(key) {
        return this.items.has(key) ? this.items.get(key) : null;
    }
    setItem(key, value) {
        if (this.full) {
            throw new Error("QuotaExceededError");
        }
        this.items.set(key, String(value));
    }
}

/** setTimeout/clearTimeout on a virtual clock; `run(ms)` advances it and lets promises settle. */
export class FakeTimers {
    constructor() {
        this.now = 0;
        this.queue = [];
        this.nextId = 1;
    }
    setTimeout(fn, ms = 0) {
        const id = this.nextId++;
        this.queue.push({ id, at: this.now + ms, fn });
        return id;
    }
    clearTimeout(id) {
        this.queue = this.queue.filter((t) => t.id !== id);
    }
    async run(ms) {
        const end = this.now + ms;
        await settle();
        for (;;) {
            this.queue.sort((a, b) => a.at - b.at || a.id - b.id);
            const next = this.queue[0];
            if (!next || next.at > end) {
                break;
            }
            this.queue.shift();
            this.now = next.at;
            next.fn();
            await settle();
        }
        this.now = end;
    }
}

async function settle() {
    for (let i = 0; i < 10; i++) {
        await Promise.resolve();
    }
}

/** A WebSocket whose far end the test plays; instances are kept in `FakeSocket.opened`. */
export class FakeSocket {
    static opened = [];
    constructor(url) {
        this.url = url;
        this.sent = [];
        this.readyState = 0;
        FakeSocket.opened.push(this);
    }
    open() {
        this.readyState = 1;
        this.onopen?.();
    }
    send(text) {
        this.sent.push(JSON.parse(text));
    }
    reply(message) {
        this.onmessage?.({ data: JSON.stringify(message) });
    }
    close() {
        this.readyState = 3;
        this.onclose?.();
    }
}
