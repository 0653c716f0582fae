/**
 * The possync sync protocol: changes, the hybrid logical clock and the merge rules.
 *
 * Pure ES module with no Odoo imports: the addon's POS assets load it, and so does the
 * desktop app's injected script and `node --test`. docs/protocol.md is the specification;
 * agent/protocol.py is the Python twin, and tests/vectors/ check both against each other.
 */

export const PROTOCOL_VERSION = 1;

export const ORDER_FIELDS = new Set([
    "partner_id",
    "table_id",
    "customer_count",
    "customer_note",
    "internal_note",
]);
export const LINE_FIELDS = new Set([
    "product_id",
    "qty",
    "price_unit",
    "discount",
    "customer_note",
    "internal_note",
    "attribute_value_ids",
]);
export const PAYMENT_FIELDS = new Set(["payment_method_id", "amount"]);

// A closed order never returns to draft; a payment outranks a cancel (money was taken).
export const STATE_RANK = { draft: 0, cancel: 1, paid: 2 };

const OP_KINDS = new Set([
    "order.set",
    "order.close",
    "line.add",
    "line.set",
    "line.delete",
    "payment.add",
    "payment.set",
    "payment.remove",
]);

export const MAX_OPS_PER_CHANGE = 500;
export const MAX_TEXT_LENGTH = 2000;
export const MAX_ATTRIBUTE_VALUES = 50;
export const MAX_DRIFT_MS = 60000;
const MAX_COUNTER = 99999;

const HLC_RE = /^\d{15}-\d{5}$/;
const ID_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

/** A change that does not follow the protocol; it is refused whole. */
export class InvalidChange extends Error {
    constructor(message) {
        super(message);
        this.name = "InvalidChange";
    }
}

/** A change stamped more than MAX_DRIFT_MS ahead of the receiver's clock. */
export class FutureChange extends InvalidChange {
    constructor(aheadMs, receiver) {
        super(
            `clock ${(aheadMs / 1000).toFixed(1)} s ahead of ${receiver} ` +
                `(at most ${MAX_DRIFT_MS / 1000} s): check the sender's date and time`
        );
        this.name = "FutureChange";
        this.aheadMs = aheadMs;
    }
}

// --- hybrid logical clock ----------------------------------------------------------------

/** A clock reading as a fixed-width string, so string order is time order. */
export function formatHlc(wallMs, counter) {
    return `${String(wallMs).padStart(15, "0")}-${String(counter).padStart(5, "0")}`;
}

export function parseHlc(stamp) {
    if (typeof stamp !== "string" || !HLC_RE.test(stamp)) {
        throw new InvalidChange(`bad clock reading ${JSON.stringify(stamp)}`);
    }
    const [wall, counter] = stamp.split("-");
    return [Number(wall), Number(counter)];
}

/**
 * Hybrid logical clock: wall time plus a counter. Readings never go backwards, even when
 * the wall clock does. Receivers refuse changes stamped more than MAX_DRIFT_MS ahead
 * (`checkClock`); a reading that is not a change (an agent's welcome) is adopted only up to
 * that bound.
 */
export class HybridClock {
    constructor(last = null) {
        [this.wallMs, this.counter] = last ? parseHlc(last) : [0, 0];
    }

    /** A new reading for a local event. */
    tick(nowMs) {
        if (nowMs > this.wallMs) {
            this.wallMs = nowMs;
            this.counter = 0;
        } else {
            this._bump();
        }
        return this.reading();
    }

    /** Move past a reading received from another terminal. */
    observe(stamp, nowMs) {
        let [wall, counter] = parseHlc(stamp);
        if (wall > nowMs + MAX_DRIFT_MS) {
            [wall, counter] = [nowMs + MAX_DRIFT_MS, 0];
        }
        if (wall > this.wallMs || (wall === this.wallMs && counter > this.counter)) {
            [this.wallMs, this.counter] = [wall, counter];
        }
    }

    reading() {
        return formatHlc(this.wallMs, this.counter);
    }

    _bump() {
        if (this.counter >= MAX_COUNTER) {
            this.wallMs += 1;
            this.counter = 0;
        } else {
            this.counter += 1;
        }
    }
}

/**
 * Refuse a (parsed) change stamped more than MAX_DRIFT_MS ahead of `nowMs`, the receiver's
 * corrected clock: a reading from the far future would sort after every later edit, so the
 * change is refused whole (FutureChange), never clamped.
 */
export function checkClock(change, nowMs, receiver = "the receiver") {
    const [wall] = parseHlc(change.hlc);
    if (wall > nowMs + MAX_DRIFT_MS) {
        throw new FutureChange(wall - nowMs, receiver);
    }
    return change;
}

// --- validation ----------------------------------------------------------------------------

const CHANGE_KEYS = new Set(["v", "id", "terminal", "hlc", "order", "ops"]);

/** Check a change received from anywhere; return it or throw InvalidChange. */
export function parseChange(obj) {
    if (!isObject(obj)) {
        throw new InvalidChange("a change is a JSON object");
    }
    if (obj.v !== PROTOCOL_VERSION) {
        throw new InvalidChange(`unsupported protocol version ${JSON.stringify(obj.v)}`);
    }
    for (const key of ["id", "terminal", "order"]) {
        checkId(obj[key], key);
    }
    parseHlc(obj.hlc);
    const ops = obj.ops;
    if (!Array.isArray(ops) || ops.length < 1 || ops.length > MAX_OPS_PER_CHANGE) {
        throw new InvalidChange(`ops must be a list of 1 to ${MAX_OPS_PER_CHANGE} operations`);
    }
    ops.forEach(checkOp);
    const extra = Object.keys(obj).filter((k) => !CHANGE_KEYS.has(k));
    if (extra.length) {
        throw new InvalidChange(`unknown keys ${JSON.stringify(extra.sort())}`);
    }
    return obj;
}

function isObject(value) {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkId(value, what) {
    if (typeof value !== "string" || !ID_RE.test(value)) {
        throw new InvalidChange(`${what} must be 1-64 characters of [A-Za-z0-9_.:-]`);
    }
}

function checkOp(op) {
    if (!isObject(op) || !OP_KINDS.has(op.op)) {
        throw new InvalidChange(`unknown operation ${JSON.stringify(op).slice(0, 80)}`);
    }
    const kind = op.op;
    if (kind === "order.set") {
        checkField(op, ORDER_FIELDS);
    } else if (kind === "order.close") {
        if (op.state !== "paid" && op.state !== "cancel") {
            throw new InvalidChange("order.close needs state 'paid' or 'cancel'");
        }
    } else {
        const [part, action] = kind.split(".");
        checkId(op[part], part);
        const fields = part === "line" ? LINE_FIELDS : PAYMENT_FIELDS;
        if (action === "add") {
            if (!isObject(op.values)) {
                throw new InvalidChange(`${kind} needs values`);
            }
            for (const [field, value] of Object.entries(op.values)) {
                checkValue(field, value, fields);
            }
        } else if (action === "set") {
            checkField(op, fields);
        }
    }
}

function checkField(op, allowed) {
    if (!("value" in op)) {
        throw new InvalidChange(`${op.op} needs a value`);
    }
    checkValue(op.field, op.value, allowed);
}

function checkValue(field, value, allowed) {
    if (!allowed.has(field)) {
        throw new InvalidChange(`unknown field ${JSON.stringify(field)}`);
    }
    let ok;
    if (field.endsWith("_id")) {
        ok = value === null || Number.isInteger(value);
    } else if (field.endsWith("note")) {
        ok = typeof value === "string" && value.length <= MAX_TEXT_LENGTH;
    } else if (field === "attribute_value_ids") {
        ok = isIdSet(value);
    } else if (field === "customer_count") {
        ok = Number.isInteger(value) && value >= 0 && value <= 1000;
    } else if (field === "discount") {
        ok = isNumber(value) && value >= 0 && value <= 100;
    } else {
        ok = isNumber(value);
    }
    if (!ok) {
        throw new InvalidChange(
            `bad value for ${field}: ${String(JSON.stringify(value)).slice(0, 40)}`
        );
    }
}

function isNumber(value) {
    return typeof value === "number" && Number.isFinite(value);
}

// Strictly increasing, so one set has one spelling: a change is relayed as it was made,
// never rewritten, and equal sets must compare equal in every replica.
function isIdSet(value) {
    return (
        Array.isArray(value) &&
        value.length <= MAX_ATTRIBUTE_VALUES &&
        value.every((v, i) => Number.isInteger(v) && v > 0 && (i === 0 || value[i - 1] < v))
    );
}

// --- merge ---------------------------------------------------------------------------------

/** The total order every replica folds operations in: (hlc, terminal, change id, index). */
export function compareOpKeys(a, b) {
    for (let i = 0; i < 3; i++) {
        if (a[i] !== b[i]) {
            return a[i] < b[i] ? -1 : 1;
        }
    }
    return a[3] - b[3];
}

/**
 * The order that a set of changes describes, whatever their delivery order. Duplicates
 * (same change id) count once; operations are folded in op-key order.
 */
export function materialize(order, changes) {
    const unique = new Map();
    for (const change of changes) {
        if (change.order === order) {
            unique.set(change.id, change);
        }
    }
    const ops = [];
    for (const change of unique.values()) {
        change.ops.forEach((op, i) => {
            ops.push([[change.hlc, change.terminal, change.id, i], op]);
        });
    }
    ops.sort((a, b) => compareOpKeys(a[0], b[0]));
    const state = emptyState(order);
    for (const [, op] of ops) {
        fold(state, op);
    }
    return view(state);
}

function emptyState(order) {
    const items = () => ({ values: new Map(), added: new Set(), deleted: new Set() });
    return { order: { uuid: order, state: "draft" }, line: items(), payment: items() };
}

function fold(state, op) {
    const order = state.order;
    const kind = op.op;
    if (kind === "order.close") {
        if (STATE_RANK[op.state] > STATE_RANK[order.state]) {
            order.state = op.state;
        }
    } else if (order.state !== "draft") {
        return; // edits that come after the close are ignored
    } else if (kind === "order.set") {
        order[op.field] = op.value;
    } else {
        const [part, action] = kind.split(".");
        foldItem(state[part], op[part], action, op);
    }
}

function foldItem(items, key, action, op) {
    if (items.deleted.has(key)) {
        return; // a deletion is final: a line or payment id is never reused
    }
    if (action === "delete" || action === "remove") {
        items.deleted.add(key);
        items.values.delete(key);
        return;
    }
    if (!items.values.has(key)) {
        items.values.set(key, {});
    }
    const values = items.values.get(key);
    if (action === "add") {
        items.added.add(key);
        Object.assign(values, op.values);
    } else {
        values[op.field] = op.value;
    }
}

function view(state) {
    const result = { ...state.order };
    for (const [part, name] of [
        ["line", "lines"],
        ["payment", "payments"],
    ]) {
        const items = state[part];
        const keys = [...items.values.keys()].filter((k) => items.added.has(k)).sort();
        result[name] = Object.fromEntries(keys.map((k) => [k, { ...items.values.get(k) }]));
    }
    return result;
}

// --- diff ----------------------------------------------------------------------------------

/**
 * The operations that turn order view `before` into `after` (same order uuid). Pages use
 * it to turn what a waiter did into a change.
 */
export function diff(before, after) {
    const ops = [];
    for (const field of [...ORDER_FIELDS].sort()) {
        if (field in after && !sameValue(after[field], before[field])) {
            ops.push({ op: "order.set", field, value: after[field] });
        }
    }
    ops.push(...diffItems("line", before.lines || {}, after.lines || {}));
    ops.push(...diffItems("payment", before.payments || {}, after.payments || {}));
    if ((after.state || "draft") !== (before.state || "draft")) {
        ops.push({ op: "order.close", state: after.state });
    }
    return ops;
}

function diffItems(part, before, after) {
    const removal = part === "line" ? "line.delete" : "payment.remove";
    const ops = [];
    for (const [key, values] of Object.entries(after)) {
        if (!(key in before)) {
            ops.push({ op: `${part}.add`, [part]: key, values: { ...values } });
            continue;
        }
        for (const field of Object.keys(values).sort()) {
            if (!sameValue(values[field], before[key][field])) {
                ops.push({ op: `${part}.set`, [part]: key, field, value: values[field] });
            }
        }
    }
    for (const key of Object.keys(before)) {
        if (!(key in after)) {
            ops.push({ op: removal, [part]: key });
        }
    }
    return ops;
}

function sameValue(a, b) {
    if (Array.isArray(a) && Array.isArray(b)) {
        return a.length === b.length && a.every((v, i) => v === b[i]);
    }
    return a === b;
}
