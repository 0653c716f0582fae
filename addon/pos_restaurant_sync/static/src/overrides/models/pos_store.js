/**
 * With Real-Time Sync on, Odoo's own order sync (leaving a table, transfer, split, merge,
 * payment) waits until possync has pushed the edits made so far: the server then never has
 * two writers of the same order at once, which makes it retry or refuse one of them. With it
 * off, Odoo's sync runs at once, as without possync.
 */
import { patch } from "@web/core/utils/patch";
import { posStoreClass } from "@pos_restaurant_sync/pos/compat";

// Long enough for one push on a slow link; Odoo's sync must not hang on possync.
const FLUSH_TIMEOUT_MS = 2000;

patch(posStoreClass().prototype, {
    // Not `async`: with sync off, the caller gets Odoo's own promise, not one around it.
    syncAllOrders(...args) {
        // The service's `enabled` is pos/enabled.js's answer for this POS, read at start-up.
        const possync = this.env.services.possync;
        if (!possync?.enabled) {
            return super.syncAllOrders(...args);
        }
        return possync.flush(FLUSH_TIMEOUT_MS).then(() => super.syncAllOrders(...args));
    },
});
