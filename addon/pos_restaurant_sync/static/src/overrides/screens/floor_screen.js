/**
 * The floor plan draws in one pass over the open orders, not one pass a table.
 *
 * Odoo draws each table of the floor plan by searching every loaded order for that table,
 * twice (is it occupied: `tableHasOrders`, on 19 through `RestaurantTable.getOrders`; its
 * kitchen changes: `FloorScreen.getChangeCount`, also summed per floor for the floor tabs),
 * each read going through the store's reactive proxies. With 100 open orders on 102 tables
 * that is 2–3.5 s a draw on a tablet-class machine (docs/benchmarks.md "Leaving an order on
 * a busy floor"), paid each time a waiter goes back to the floor plan and each time a change
 * from elsewhere reaches an order while the floor plan shows.
 *
 * With Real-Time Sync on, the floor screen instead:
 * 1. before each of its renders, sorts the loaded orders by table once, keeping what Odoo's
 *    `RestaurantTable.getOrders()` keeps (open, or finalized but on the tip screen), in the
 *    models' order, so each table's list is exactly what Odoo's search returns (and what
 *    19's pos_self_order adds to it: the self-orders placed from that table's QR code);
 * 2. answers those lookups from that index while the render runs, each table's kitchen
 *    change count computed once (Odoo asks for it per table and again per floor tab): the
 *    reads that subscribe the floor plan to the orders (their table, their state, their
 *    lines) happen once per order, so it redraws on the same changes as before;
 * 3. forgets the index once the render ends, so no action (transfer, merge, a tap on a
 *    table) ever reads an index older than the orders.
 *
 * With it off, Odoo's own code runs (pos/enabled.js).
 */
import { onRendered, onWillRender } from "@odoo/owl";
import { patch } from "@web/core/utils/patch";
import {
    floorScreenClass,
    kitchenChangeCount,
    restaurantTableClass,
} from "@pos_restaurant_sync/pos/compat";
import { possyncEnabled } from "@pos_restaurant_sync/pos/enabled";
import { waitsForTip } from "@pos_restaurant_sync/pos/order_view";

/** `ordersByTable` of the loaded orders, and `changeCounts` (table id -> count) as the
 * draw asks for them; only while the floor draws. */
let drawing = null;

function forget() {
    drawing = null;
}

function add(map, key, order) {
    if (!map.has(key)) {
        map.set(key, []);
    }
    map.get(key).push(order);
}

/**
 * Step 1: `orders` is the store's `pos.order` model, read through the screen's proxy.
 * `byTable`: table id -> its orders as pos_restaurant's `getOrders()` lists them. `bySelf`:
 * table id -> the self-orders placed from its QR code that sit on no table or another one,
 * which 19's pos_self_order (installed with pos_restaurant) adds to that list; its patch of
 * `getOrders()` lies under this one, which answers for it while the floor draws.
 */
export function ordersByTable(orders) {
    const byTable = new Map();
    const bySelf = new Map();
    for (const order of orders.getAll()) {
        const tableId = order.table_id?.id;
        const shown = !order.finalized || waitsForTip(order);
        if (shown && tableId) {
            add(byTable, tableId, order);
        }
        const selfId = order.self_ordering_table_id?.id;
        if (shown && selfId && selfId !== tableId) {
            add(bySelf, selfId, order);
        }
    }
    return { byTable, bySelf, changeCounts: new Map() };
}

patch(floorScreenClass().prototype, {
    setup() {
        super.setup(...arguments);
        if (!possyncEnabled(this.pos.config)) {
            return;
        }
        onWillRender(() => {
            drawing = ordersByTable(this.pos.models["pos.order"]);
            // Step 3 also when the render throws and onRendered never comes.
            queueMicrotask(forget);
        });
        onRendered(forget);
    },
    getChangeCount(table) {
        if (!drawing) {
            return super.getChangeCount(table);
        }
        const counts = drawing.changeCounts;
        if (!counts.has(table.id)) {
            const open = (drawing.byTable.get(table.id) || []).filter((o) => !o.finalized);
            counts.set(table.id, kitchenChangeCount(open, this.pos));
        }
        return counts.get(table.id);
    },
});

const RestaurantTable = restaurantTableClass();
if (RestaurantTable.prototype.getOrders) {
    patch(RestaurantTable.prototype, {
        getOrders() {
            if (!drawing) {
                return super.getOrders(...arguments);
            }
            // A new array, as Odoo's search gives: callers may sort or splice it.
            const { byTable, bySelf } = drawing;
            return [...(byTable.get(this.id) || []), ...(bySelf.get(this.id) || [])];
        },
    });
}
