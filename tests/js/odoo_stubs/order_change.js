// Odoo's count of an order's changes the kitchen has not seen: a fake order carries it.
export function getOrderChanges(order) {
    return { nbrOfChanges: order.kitchenChanges, nbrOfSkipped: 0 };
}
