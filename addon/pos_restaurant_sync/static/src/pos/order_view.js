/**
 * Read a POS order record into a protocol view (docs/protocol.md "A view of an order").
 *
 * Read inside an OWL effect, these reads are also what subscribes possync to every field it
 * syncs: a change to any of them re-runs the effect.
 */
import { MAX_ATTRIBUTE_VALUES, MAX_TEXT_LENGTH } from "@pos_restaurant_sync/lib/protocol";
import { drawableKitchenNotes, fitKitchenNotes } from "@pos_restaurant_sync/lib/kitchen_notes";
import { KITCHEN_NOTES_AS_JSON, LINE_NOTE_FIELDS, ORDER_FIELDS } from "./compat";

// Odoo's order states beyond draft all mean the money was taken.
const CLOSED_STATES = { cancel: "cancel", paid: "paid", done: "paid", invoiced: "paid" };

/** Paid here with its tip to come: Odoo shows it on its table and lists it for the tips. */
export function waitsForTip(order) {
    return order.uiState?.screen_data?.value?.name === "TipScreen";
}

/** The id of the table `order` is on, null for none (as views hold it). */
export function tableOf(order) {
    return order.table_id?.id ?? null;
}

export function readOrderView(order) {
    const view = {
        uuid: order.uuid,
        state: CLOSED_STATES[order.state] || "draft",
        partner_id: order.partner_id?.id ?? null,
        table_id: tableOf(order),
        customer_count: Math.min(1000, Math.max(0, Math.round(order.customer_count || 0))),
        lines: {},
        payments: {},
    };
    for (const [field, odooField] of Object.entries(ORDER_FIELDS)) {
        view[field] = note(field, order[odooField]);
    }
    for (const line of order.lines) {
        view.lines[line.uuid] = readLine(line);
    }
    for (const payment of order.payment_ids) {
        view.payments[payment.uuid] = {
            payment_method_id: payment.payment_method_id?.id ?? null,
            amount: number(payment.amount),
        };
    }
    return view;
}

function readLine(line) {
    const values = {
        product_id: line.product_id?.id ?? null,
        qty: number(line.qty),
        price_unit: number(line.price_unit),
        discount: Math.min(100, Math.max(0, number(line.discount))),
        attribute_value_ids: ids(line.attribute_value_ids),
    };
    for (const [field, odooField] of Object.entries(LINE_NOTE_FIELDS)) {
        values[field] = note(field, line[odooField]);
    }
    return values;
}

/** The ids of records as the protocol's set of ids (docs/protocol.md). */
function ids(records) {
    const result = (records || []).map((r) => r.id).filter((id) => Number.isInteger(id) && id > 0);
    return [...new Set(result)].sort((a, b) => a - b).slice(0, MAX_ATTRIBUTE_VALUES);
}

function number(value) {
    return Number.isFinite(value) ? value : 0;
}

/**
 * A note as a change may carry it: at most MAX_TEXT_LENGTH characters, and on 19 a kitchen
 * note a list of notes the server takes, cut between notes rather than inside its JSON.
 */
function note(field, value) {
    if (field === "internal_note" && KITCHEN_NOTES_AS_JSON) {
        return fitKitchenNotes(drawableKitchenNotes(value), MAX_TEXT_LENGTH);
    }
    return text(value);
}

function text(value) {
    return typeof value === "string" ? value.slice(0, MAX_TEXT_LENGTH) : "";
}
