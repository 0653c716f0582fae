/**
 * On Odoo 18 with Real-Time Sync on, the page copies its orders into the browser's database
 * (IndexedDB) at most once every `INDEXED_DB_EVERY_MS`, as Odoo 19 does, not after every
 * change to any of them.
 *
 * 18's data service watches every order, line and payment at once and, after any change to
 * one of them, serializes them all and writes them all (`syncDataWithIndexedDB`). On a floor
 * of 100 open orders that took a page 100 to 200 ms for each change, more than half of its
 * time when other terminals edit: with possync every change made anywhere is a change on
 * every page. The copy still holds every order, at most that much later, and at once when
 * the page is closed or hidden; the edits themselves are in possync's outbox from the
 * moment they are made.
 *
 * Only with Real-Time Sync on (pos/enabled.js): off, the page runs as Odoo alone would.
 */
import { patch } from "@web/core/utils/patch";
import { IS_19, dataServiceClass } from "@pos_restaurant_sync/pos/compat";
import { possyncEnabled } from "@pos_restaurant_sync/pos/enabled";

/** Odoo 19's wait before it copies the orders (its data service's debounce). */
export const INDEXED_DB_EVERY_MS = 300;

/** The copy waiting for its turn, and its timer: one data service per page. */
let waiting = null;
let timer = null;

/** Make the waiting copy now. */
function copyNow() {
    clearTimeout(timer);
    const copy = waiting;
    waiting = timer = null;
    copy?.();
}

if (!IS_19) {
    // A page closed or hidden (a tablet put to sleep) copies what waits: an order paid
    // offline just before is then in the copy Odoo sends it from when back online.
    globalThis.addEventListener?.("pagehide", copyNow);
    globalThis.document?.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "hidden") {
            copyNow();
        }
    });
    patch(dataServiceClass().prototype, {
        /**
         * `records` is the watched records' proxy: copying reads them through it, which
         * watches them again, so the changes until the copy ask for no other one.
         */
        syncDataWithIndexedDB(records) {
            if (!possyncEnabled(this.models["pos.config"]?.getFirst())) {
                return super.syncDataWithIndexedDB(...arguments);
            }
            waiting = () => super.syncDataWithIndexedDB(records);
            timer ??= setTimeout(copyNow, INDEXED_DB_EVERY_MS);
        },
    });
}
