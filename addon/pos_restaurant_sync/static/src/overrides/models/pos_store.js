/**
 * With Real-Time Sync on:
 * - Odoo's own order sync (leaving a table, transfer, split, merge, payment) waits until
 *   possync has pushed the edits made so far: the server then never has two writers of the
 *   same order at once, which makes it retry or refuse one of them. With it off, Odoo's
 *   sync runs at once, as without possync.
 * - On 18, a table opened for one of its orders (the Orders screen names the order) shows that
 *   order: 18's `setTable` shows the table's first open order whatever was asked, and 19 the
 *   one asked. Without possync a table has one open order; with possync two terminals that
 *   opened one free table at once keep one each (docs/protocol.md), and a waiter must reach
 *   both.
 */
import { patch } from "@web/core/utils/patch";
import { IS_19, posStoreClass } from "@pos_restaurant_sync/pos/compat";

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

if (!IS_19) {
    patch(posStoreClass().prototype, {
        async setTable(table, orderUuid = null) {
            const result = await super.setTable(...arguments);
            const asked = orderUuid && this.env.services.possync?.enabled && table;
            const order = asked && table.orders.find((o) => o.uuid === orderUuid && !o.finalized);
            if (order && this.get_order() !== order) {
                this.set_order(order);
            }
            return result;
        },
    });
}
