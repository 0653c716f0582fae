/**
 * One open order a table, with possync's view of which orders are open.
 *
 * Odoo's restaurant (18 and 19) keeps one open order a table: after each load of its device
 * sync (`processDynamicRecords`; a page runs one each time a waiter opens a table) it moves
 * the lines of a table's other open orders into the one of highest Odoo id and deletes the
 * others. It picks them from this page's records, taking every order without an Odoo id for
 * one of this page's own. With possync the records also hold
 * - orders this page is about to let go of: paid or cancelled elsewhere, still on screen
 *   for the notice, or loaded again from a read answered before the payment;
 * - other terminals' orders, which the page holds under no Odoo id until Odoo loads them.
 * So the next guests' order on a table just paid went into the paid order, and possync sent
 * its cancel to every terminal.
 *
 * With Real-Time Sync on, the device sync's step is this one:
 * 1. Load the orders read, as Odoo's point_of_sale does.
 * 2. Group by table the open orders that may merge (`mayMerge`: possync holds them open at
 *    that table, they were not paid here, and the server knows them).
 * 3. On each table with several, move the lines of the others into the one of highest id,
 *    show that one if the screen showed another, and delete the others: Odoo cancels them
 *    on the server, and possync sends the moves and cancels, as for a waiter's merge.
 * Every page that holds the same orders merges them the same way; an order another page
 * holds under no id yet waits for Odoo to load it. Two terminals that open one free table at
 * once so end with one order there.
 */
import { loadReadOrders, moveLine, selectOrder } from "./compat";
import { tableOf } from "./order_view";

/**
 * Replace the table merge of `deviceSync` (the POS store's `deviceSync`); `mayMerge(order)`
 * says whether an open order on a table may be merged (step 2).
 */
export function mergeTablesAsPossyncSees(deviceSync, mayMerge) {
    deviceSync.processDynamicRecords = (records) => {
        const loaded = loadReadOrders(deviceSync.models, records);
        if (!records["pos.order"]?.length) {
            return loaded;
        }
        const merges = tablesWithSeveral(deviceSync.models, mayMerge).map((orders) =>
            mergeTableOrders(deviceSync.pos, orders)
        );
        // pos_restaurant's step answers nothing once it loaded orders; 19's caller then
        // leaves the unsent edits of the loaded orders marked unsent.
        return Promise.all(merges).then(() => undefined);
    };
}

/** Step 2: the open orders that may merge, by table, for the tables with several. */
export function tablesWithSeveral(models, mayMerge) {
    const byTable = new Map();
    for (const order of models["pos.order"].getAll()) {
        const table = tableOf(order);
        if (order.state === "draft" && table !== null && mayMerge(order)) {
            byTable.set(table, [...(byTable.get(table) || []), order]);
        }
    }
    return [...byTable.values()].filter((orders) => orders.length > 1);
}

/** Step 3, for the orders of one table. */
function mergeTableOrders(pos, orders) {
    const [kept, ...others] = [...orders].sort((a, b) => b.id - a.id);
    for (const order of others) {
        [...order.lines].forEach((line) => moveLine(line, kept));
    }
    if (others.some((order) => order.uuid === pos.selectedOrderUuid)) {
        selectOrder(pos, kept);
        pos.addPendingOrder([kept.id]);
    }
    return pos.deleteOrders(others);
}
