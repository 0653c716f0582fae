/**
 * Write protocol operations (docs/protocol.md) into the POS records of an order: what
 * another terminal did appears here as if done on this screen.
 *
 * Writes go through the records' own `update`/`create`/`delete`, never through the UI
 * setters, which would re-derive other fields (prices from a pricelist, a fiscal position
 * from a customer) and so make edits the other terminal never made.
 */
import { drawableKitchenNotes } from "@pos_restaurant_sync/lib/kitchen_notes";
import {
    KITCHEN_NOTES_AS_JSON,
    LINE_NOTE_FIELDS,
    ORDER_FIELDS,
    productTaxes,
    refreshProductName,
    refreshTotals,
} from "./compat";

const RELATIONS = {
    partner_id: "res.partner",
    table_id: "restaurant.table",
    product_id: "product.product",
    payment_method_id: "pos.payment.method",
    attribute_value_ids: "product.template.attribute.value",
};

/** The records of `models` each id of the views refers to and this terminal lacks. */
export function missingRecords(models, views) {
    const missing = {};
    const need = (field, ids) => {
        const model = RELATIONS[field];
        for (const id of [ids].flat()) {
            if (Number.isInteger(id) && !models[model].get(id)) {
                (missing[model] ||= new Set()).add(id);
            }
        }
    };
    for (const view of views) {
        need("partner_id", view.partner_id);
        need("table_id", view.table_id);
        for (const line of Object.values(view.lines)) {
            need("product_id", line.product_id);
            need("attribute_value_ids", line.attribute_value_ids);
        }
        Object.values(view.payments).forEach((p) => need("payment_method_id", p.payment_method_id));
    }
    return missing;
}

/**
 * Link back the lines `order` lists but that do not point to it. Odoo 19's own load leaves a
 * line the server does not know yet so, and its customer display then fails on it.
 */
export function relinkLines(order) {
    for (const line of order.lines) {
        if (line.order_id?.uuid !== order.uuid) {
            line.update({ order_id: order });
        }
    }
}

/** Apply `ops` (from protocol diff) to `order`; `order.close` is the caller's business. */
export function writeOps(models, order, ops) {
    for (const op of ops) {
        const [part, action] = op.op.split(".");
        if (part === "order" && action === "set") {
            const field = ORDER_FIELDS[op.field] || op.field;
            order.update({ [field]: value(models, op.field, op.value) });
        } else if (part === "line") {
            writeLine(models, order, action, op);
        } else if (part === "payment") {
            writePayment(models, order, action, op);
        }
    }
    refreshTotals(order);
}

function writeLine(models, order, action, op) {
    const line = order.lines.find((l) => l.uuid === op.line);
    const orphan = !line && models["pos.order.line"].find((l) => l.uuid === op.line);
    if (action === "add" && orphan) {
        // Odoo 19's own load unlinks a line the server does not know yet; link it back.
        orphan.update({ order_id: order, ...lineValues(models, op.values) });
    } else if (action === "add" && !line) {
        const product = models["product.product"].get(op.values.product_id);
        if (!product) {
            console.warn("possync: product not available here, line skipped", op);
            return;
        }
        models["pos.order.line"].create({
            uuid: op.line,
            order_id: order,
            product_id: product,
            // A manual price is never re-derived from a pricelist on this terminal.
            price_type: "manual",
            tax_ids: productTaxes(product).map((tax) => ["link", tax]),
            ...lineValues(models, op.values),
        });
    } else if (line && (action === "add" || action === "set")) {
        const values = action === "add" ? op.values : { [op.field]: op.value };
        line.update(lineValues(models, values));
        if ("attribute_value_ids" in values) {
            refreshProductName(line); // Odoo names a line after its attributes once, at creation
        }
    } else if (line) {
        line.delete();
    }
}

function lineValues(models, values) {
    const result = {};
    for (const [field, val] of Object.entries(values)) {
        result[LINE_NOTE_FIELDS[field] || field] = value(models, field, val);
    }
    return result;
}

function writePayment(models, order, action, op) {
    const payment = order.payment_ids.find((p) => p.uuid === op.payment);
    const values = action === "set" ? { [op.field]: op.value } : op.values;
    const vals = {};
    for (const [field, val] of Object.entries(values || {})) {
        vals[field] = value(models, field, val);
    }
    if (action === "add" && !payment) {
        models["pos.payment"].create({ uuid: op.payment, pos_order_id: order, ...vals });
    } else if (action === "remove") {
        payment?.delete();
    } else {
        payment?.update(vals);
    }
}

/**
 * The record an id field refers to (false for none), the records of a set of ids (as
 * commands both versions' create and update take; ids this terminal lacks are left out),
 * on 19 a kitchen note its screens can draw (a change from the LAN or stored before the
 * server checked notes may hold any text), or the plain value.
 */
function value(models, field, val) {
    if (field === "internal_note" && KITCHEN_NOTES_AS_JSON) {
        return drawableKitchenNotes(val);
    }
    const model = RELATIONS[field];
    if (!model) {
        return val;
    }
    if (Array.isArray(val)) {
        return [["clear"], ["link", ...val.map((id) => models[model].get(id)).filter(Boolean)]];
    }
    return (val !== null && models[model].get(val)) || false;
}
