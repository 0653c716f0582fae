// Odoo's POS records as the page's order reader and writer (pos/order_view.js,
// pos/order_writer.js) use them, and the started modules that tell pos/compat.js which Odoo
// runs. A test file registers odoo_loader.js and calls `startOdoo` before it imports them.

const STORE_PATHS = {
    18: "@point_of_sale/app/store/pos_store",
    19: "@point_of_sale/app/services/pos_store",
};

/** Odoo `major`'s started modules, as pos/compat.js looks them up. */
export function startOdoo(major) {
    globalThis.odoo = {
        loader: { modules: new Map([[STORE_PATHS[major], { PosStore: class {} }]]) },
    };
}

/** A POS record: `update` writes its values, as the records' own method does. */
export class PosRecord {
    constructor(values) {
        Object.assign(this, values);
    }
    update(values) {
        Object.assign(this, values);
    }
    recomputeOrderData() {} // 18's totals; nothing to recompute here
}

/** A draft order with no line, and the models a write into it needs (one product, id 1). */
export function draftOrder(values = {}) {
    const order = new PosRecord({ uuid: "o1", state: "draft", lines: [], payment_ids: [] });
    order.update(values);
    const models = {
        "product.product": { get: (id) => (id === 1 ? product : undefined) },
        "pos.order.line": {
            find: () => undefined,
            create(vals) {
                const line = new PosRecord(vals);
                vals.order_id.lines.push(line);
                return line;
            },
        },
    };
    const product = { id: 1, taxes_id: [], product_tmpl_id: { taxes_id: [] } };
    return { order, models };
}
