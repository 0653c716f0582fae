/**
 * With Real-Time Sync on, a page does not merge the open orders of a table when Odoo's own
 * device sync loads orders: possync keeps every order as its changes make it.
 *
 * pos_restaurant (18 and 19) checks, after each load of its device sync, that each table has
 * one open order, and moves the lines of the others into the table's order the server knows
 * (the one of highest id), deleting them. Without possync a second order on a table can only
 * be this page's own, made before it learnt of the other waiter's: the merge is how Odoo
 * heals that. With possync every page holds the orders as the other terminals make them, and
 * a second open order on a table is one of these:
 * - a paid or cancelled order this page is about to let go of (closed elsewhere and still on
 *   screen for its notice, or loaded again from a read answered before the payment), next to
 *   the order the next guests opened: the merge moved their lines into the paid order, lost
 *   with it, and sent the new order's cancel to every terminal;
 * - another terminal's new order, which this page holds under no server id: the merge took it
 *   for this page's own and cancelled it, on every page that loaded orders at that moment,
 *   each choosing by its own records.
 * Each order so stays whole, on every terminal alike; the waiters see the table taken and
 * find its orders on the Orders screen.
 *
 * Only with Real-Time Sync on (pos/enabled.js): off, the page runs as Odoo alone would.
 */
import { patch } from "@web/core/utils/patch";
import { devicesSynchronisationClass, loadReadOrders } from "@pos_restaurant_sync/pos/compat";
import { possyncEnabled } from "@pos_restaurant_sync/pos/enabled";

patch(devicesSynchronisationClass().prototype, {
    processDynamicRecords(dynamicRecords) {
        if (!possyncEnabled(this.pos.config)) {
            return super.processDynamicRecords(...arguments);
        }
        const loaded = loadReadOrders(this.models, dynamicRecords);
        // pos_restaurant's patch answers nothing once it loaded orders, and 19's caller then
        // leaves the unsent edits of the loaded orders marked unsent: so does this one.
        return dynamicRecords["pos.order"]?.length ? undefined : loaded;
    },
});
