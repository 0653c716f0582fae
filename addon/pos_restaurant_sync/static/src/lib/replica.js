/**
 * What one page knows of one order: its log of changes and the three states of
 * docs/protocol.md "The page and Odoo's own data":
 *
 * - `seen`: what the POS records showed when the page last captured or wrote them; an edit
 *   is what the records show beyond it.
 * - `adopted`: what Odoo's own data showed of the order, for what no change covers.
 * - `target()`: the order as its changes say, on top of the adopted state: what the records
 *   are brought to.
 *
 * No Odoo imports: `node --test` loads it.
 */
import { STATE_RANK, diff, formatHlc, materialize } from "./protocol.js";

// The adopted state sorts before every real change, so any change, even one that arrives
// late, wins over it.
const ADOPTED_HLC = formatHlc(0, 0);
const ITEMS = { lines: "line.delete", payments: "payment.remove" };

export class OrderReplica {
    constructor(uuid) {
        this.uuid = uuid;
        /** @type {Map<string, object>} change id -> change */
        this.log = new Map();
        /** The order as Odoo's own data showed it, for what no change in the log covers. */
        this.adopted = { uuid };
        /** The POS records' view when last captured or written; null before the first look. */
        this.seen = null;
    }

    /** Add a change to the log; false when it was already there. */
    receive(change) {
        if (this.log.has(change.id)) {
            return false;
        }
        this.log.set(change.id, change);
        return true;
    }

    /** The order as its changes say, on top of the adopted state. */
    target() {
        const adopted = {
            v: 1,
            id: "adopted",
            terminal: "",
            hlc: ADOPTED_HLC,
            order: this.uuid,
            ops: diff({ uuid: this.uuid }, this.adopted),
        };
        return materialize(this.uuid, [adopted, ...this.log.values()]);
    }

    /**
     * Take into the adopted state what Odoo's own data shows and the log does not cover:
     * the fields it never set, the lines and payments it never added nor deleted, and a
     * close.
     */
    adopt(view) {
        const known = this.target();
        for (const [key, value] of Object.entries(view)) {
            if (key in ITEMS) {
                this.adoptItems(key, value, known[key]);
            } else if (key === "state") {
                // Closed in Odoo: nothing that comes later reopens it.
                if (STATE_RANK[value] > STATE_RANK[known.state]) {
                    this.adopted.state = value;
                }
            } else if (!(key in known)) {
                this.adopted[key] = value;
            }
        }
    }

    adoptItems(key, items, known) {
        const deleted = this.deleted(ITEMS[key]);
        const adopted = (this.adopted[key] ||= {});
        for (const [uuid, values] of Object.entries(items)) {
            if (!(uuid in known) && !deleted.has(uuid)) {
                adopted[uuid] = values;
            }
        }
    }

    /** The line or payment uuids the log deleted (`line.delete` or `payment.remove`). */
    deleted(kind) {
        const part = kind.split(".")[0];
        const uuids = new Set();
        for (const change of this.log.values()) {
            for (const op of change.ops) {
                if (op.op === kind) {
                    uuids.add(op[part]);
                }
            }
        }
        return uuids;
    }
}
