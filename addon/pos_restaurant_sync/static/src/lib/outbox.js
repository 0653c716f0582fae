/**
 * The changes this terminal made that no receiver has acknowledged yet.
 *
 * Kept in the page's storage (localStorage in the browser) on every change, so a reload, a
 * crash or a closed tab loses nothing: the next page pushes them again, and every receiver
 * de-duplicates by change id. No Odoo imports: `node --test` loads it.
 */
import { CAUSE } from "./causes.js";

// One push carries at most this many changes and about this many bytes of UTF-8 JSON (the
// server, the agent and a proxy in front refuse more than 500 changes or 1 MiB of body).
export const MAX_BATCH_CHANGES = 500;
export const MAX_BATCH_BYTES = 900 * 1024;

const utf8 = new TextEncoder();

export class Outbox {
    /**
     * @param {Storage} storage localStorage, or anything with getItem/setItem
     * @param {string} key where the pending changes are kept
     */
    constructor(storage, key) {
        this.storage = storage;
        this.key = key;
        this.changes = JSON.parse(storage.getItem(key) || "[]");
        this.saveError = null;
    }

    get size() {
        return this.changes.length;
    }

    add(changes) {
        this.changes.push(...changes);
        this.save();
    }

    /** The oldest pending changes that fit in one push, leaving out the ids in `skip`. */
    batch(skip = new Set()) {
        const batch = [];
        let bytes = 0;
        const pending = this.changes.filter((change) => !skip.has(change.id));
        for (const change of pending.slice(0, MAX_BATCH_CHANGES)) {
            bytes += utf8.encode(JSON.stringify(change)).length;
            if (batch.length && bytes > MAX_BATCH_BYTES) {
                break;
            }
            batch.push(change);
        }
        return batch;
    }

    remove(ids) {
        const gone = new Set(ids);
        this.changes = this.changes.filter((change) => !gone.has(change.id));
        this.save();
    }

    save() {
        // A full storage must not break the POS: the changes stay in memory and are still
        // pushed; the sync status shows the cause.
        try {
            this.storage.setItem(this.key, JSON.stringify(this.changes));
            this.saveError = null;
        } catch (error) {
            this.saveError = `${CAUSE.cannotSave}${error.message}`;
        }
    }
}
