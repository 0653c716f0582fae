/**
 * With Real-Time Sync on, Odoo's own order sync (leaving a table, transfer, split, merge,
 * payment) waits until possync has pushed the edits made so far: the server then never has
 * two writers of the same order at once, which makes it retry or refuse one of them.
 */
import { patch } from "@web/core/utils/patch";
import { posStoreClass } from "@pos_restaurant_sync/pos/compat";

// Long enough for one push on a slow link; Odoo's sync must not hang on possync.
const FLUSH_TIMEOUT_MS = 2000;

patch(posStoreClass().prototype, {
    async syncAllOrders() {
        const possync = this.env.services.possync;
        if (possync?.enabled) {
            await possync.flush(FLUSH_TIMEOUT_MS);
        }
        return super.syncAllOrders(...arguments);
    },
});
