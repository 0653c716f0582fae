/**
 * The bridge between Odoo's POS records and the sync client: what the waiter does becomes
 * changes; what other terminals did is written into the records, also into the order on
 * screen, without losing this terminal's own unsent edits.
 *
 * One rule keeps the two apart: before anything writes into the records (a change from
 * elsewhere, or one of Odoo's own server loads), the edits still in them are captured; after
 * it, the records are brought to what the changes say and marked as seen. So nothing this
 * terminal did not do is ever pushed as its own edit.
 */
import { patch } from "@web/core/utils/patch";
import { toRaw } from "@odoo/owl";
import { effect } from "@web/core/utils/reactive";
import { batched } from "@web/core/utils/timing";
import { _t } from "@web/core/l10n/translation";
import { diff } from "@pos_restaurant_sync/lib/protocol";
import { LOAD_METHOD, isSynced, leaveOrder, selectedOrder, setUuidFirst } from "./compat";
import { readOrderView } from "./order_view";
import { missingRecords, relinkLines, writeOps } from "./order_writer";

const ORDER_MODELS = ["pos.order", "pos.order.line", "pos.payment"];

/**
 * An order is shared once the server knows it or it has lines or payments: an empty order
 * opened on a free table and left again never reaches the other terminals.
 */
function isShared(order) {
    return isSynced(order) || order.lines.length > 0 || order.payment_ids.length > 0;
}

export class PosOrderSync {
    /**
     * @param {object} pos the POS store (the `pos` service)
     * @param {import("@pos_restaurant_sync/lib/sync_client").SyncClient} client
     * @param {(message: string) => void} notify shows a short notice to the waiter
     */
    constructor(pos, client, notify) {
        this.pos = pos;
        this.models = pos.models;
        this.client = client;
        this.notify = notify;
        /** Orders paid on this terminal: Odoo's payment flow and the server close them. */
        this.paidHere = new Set();
        /** Uuids of the orders changed since their last capture. */
        this.editedOrders = new Set();
    }

    start() {
        setUuidFirst(this.models); // before possync creates any record with its uuid
        for (const order of this.orders()) {
            this.adoptIfServerKnown(order);
        }
        // Unsent changes from before a reload: the records may not show them any more.
        for (const change of this.client.outbox.changes) {
            this.client.replica(change.order).receive(change);
        }
        this.orders().forEach((order) => this.reconcile(order));
        this.client.collect = () => this.captureEdits();
        this.client.onRemoteChanges = (uuids) => this.applyRemote(uuids);
        // Odoo's own read of open orders, as at start-up; its load is wrapped like any other.
        this.client.onReset = () => this.pos.deviceSync.readDataFromServer();
        this.watchRecords();
        this.wrapServerLoads();
    }

    orders() {
        return this.models["pos.order"].getAll();
    }

    orderByUuid(uuid) {
        return this.models["pos.order"].find((order) => order.uuid === uuid);
    }

    // --- capture ------------------------------------------------------------------------

    /**
     * Any change to a synced field of an order is captured at once (and pushed soon). Each
     * order has its own watcher, so an edit reads that order only: a busy floor has dozens
     * of open orders, and reading them all on every edit cost more than the rest of
     * possync's own work on it.
     */
    watchRecords() {
        const watched = new WeakSet();
        effect(
            batched((pos) => {
                // Subscribes to which orders there are, not to their fields.
                for (const order of pos.models["pos.order"].getAll().map(toRaw)) {
                    if (!watched.has(order)) {
                        watched.add(order);
                        this.watchOrder(order);
                    }
                }
                this.client.edited(); // an order may be gone: see captureEdits
            }),
            [this.pos]
        );
    }

    watchOrder(order) {
        effect(
            batched((watched) => {
                readOrderView(watched); // through the effect's proxy: subscribes to its fields
                this.editedOrders.add(watched.uuid);
                this.client.edited();
            }),
            [order]
        );
    }

    /**
     * Turn what the waiter did since the last capture into changes: the orders edited since
     * (or all orders), and the open orders deleted here.
     */
    captureEdits({ all = false } = {}) {
        const orders = new Map(this.orders().map((order) => [order.uuid, order]));
        for (const uuid of all ? orders.keys() : this.editedOrders) {
            if (orders.has(uuid)) {
                this.capture(orders.get(uuid));
            }
        }
        this.editedOrders.clear();
        for (const replica of this.client.replicas.values()) {
            if (replica.seen?.state !== "draft" || orders.has(replica.uuid)) {
                continue;
            }
            if (!this.paidHere.has(replica.uuid)) {
                // Deleted here while open: merged into another order, or cancelled.
                this.client.capture(replica.uuid, { ...replica.seen, state: "cancel" });
            }
        }
    }

    /** Record what the waiter did to `order` since it was last seen. */
    capture(order) {
        const seen = this.client.replicas.get(order.uuid)?.seen;
        if (seen ? seen.state !== "draft" : !isShared(order)) {
            return; // closed elsewhere and on its way out, or not shared yet
        }
        const view = readOrderView(order);
        if (view.state === "paid") {
            // The server closes it once Odoo booked the payment: a push now would race
            // Odoo's own sync of this order on the server.
            this.paidHere.add(order.uuid);
        } else {
            this.paidHere.delete(order.uuid); // back to draft: its payment did not go through
            this.client.capture(order.uuid, view);
        }
    }

    // --- changes from elsewhere ---------------------------------------------------------

    async applyRemote(uuids) {
        const targets = uuids.map((uuid) => this.client.target(uuid));
        await this.loadMissing(targets);
        for (const uuid of uuids) {
            const order = this.orderByUuid(uuid);
            if (order) {
                this.capture(order);
                this.reconcile(order);
            } else {
                this.createFromRemote(this.client.target(uuid));
            }
        }
    }

    /** Customers, products… another terminal used and this one has not loaded yet. */
    async loadMissing(views) {
        const missing = missingRecords(this.models, views);
        await Promise.all(
            Object.entries(missing).map(([model, ids]) => this.pos.data.read(model, [...ids]))
        );
    }

    /** Bring the records of `order` to what its changes say; close it if they closed it. */
    reconcile(order) {
        const replica = this.client.replicas.get(order.uuid);
        if (!replica) {
            return;
        }
        const live = readOrderView(order);
        const target = replica.target();
        if (live.state !== "draft") {
            this.client.markSeen(order.uuid, live); // closed here already: nothing to write
        } else if (target.state !== "draft") {
            this.closeFromElsewhere(order, target.state);
        } else {
            relinkLines(order);
            writeOps(this.models, order, diff(live, target));
            this.client.markSeen(order.uuid, readOrderView(order));
        }
    }

    /** A new order from another terminal, e.g. for a table: it appears on the floor plan. */
    createFromRemote(target) {
        const empty = !Object.keys(target.lines).length && !Object.keys(target.payments).length;
        if (target.state !== "draft" || (empty && !target.table_id)) {
            return;
        }
        const order = this.pos.createNewOrder({ uuid: target.uuid });
        this.reconcile(order);
    }

    /**
     * Paid or cancelled on another terminal: say so, and drop it here without telling the
     * server (which knows already).
     */
    closeFromElsewhere(order, state) {
        const uuid = order.uuid;
        if (this.client.replicas.get(uuid).seen?.state === "draft") {
            this.announceClosed(order, state); // once, even if Odoo's own load brings it back
        }
        this.client.markSeen(uuid, { ...readOrderView(order), state });
        // After the screen let go of it, so nothing renders a deleted order. The record is
        // looked up again: Odoo's own sync may have replaced or deleted it meanwhile (18).
        setTimeout(() => {
            const current = this.orderByUuid(uuid);
            if (current) {
                this.pos.data.localDeleteCascade(current);
            }
        });
    }

    /** Tell the waiter, and leave the order if it is on screen. */
    announceClosed(order, state) {
        const name = order.table_id ? _t("Table %s", order.table_id.table_number) : order.name;
        this.notify(
            state === "paid"
                ? _t("%s was paid on another terminal.", name)
                : _t("%s was merged or cancelled on another terminal.", name)
        );
        if (selectedOrder(this.pos)?.uuid === order.uuid) {
            leaveOrder(this.pos);
        }
    }

    // --- Odoo's own server loads --------------------------------------------------------

    /**
     * Odoo's own loads (its device sync, the answer of each order sync) overwrite records
     * with the server's copy. Around each: capture first, and afterwards take in what only
     * the server knew, then restore what the changes say.
     */
    wrapServerLoads() {
        const sync = this;
        patch(this.models, {
            [LOAD_METHOD](data, ...rest) {
                // Odoo loads `undefined` as nothing (18's merge does): so must we, or the
                // merge stops half-way and leaves its records broken.
                const touchesOrders =
                    typeof data === "object" && data !== null && ORDER_MODELS.some((m) => m in data);
                if (touchesOrders) {
                    sync.captureEdits({ all: true });
                }
                try {
                    return super[LOAD_METHOD](data, ...rest);
                } finally {
                    // Also when Odoo's load fails half-way: the records must not stay so.
                    if (touchesOrders) {
                        sync.afterServerLoad();
                    }
                }
            },
        });
    }

    afterServerLoad() {
        for (const order of this.orders()) {
            const state = readOrderView(order).state;
            const seen = this.client.replicas.get(order.uuid)?.seen;
            if (state !== "draft" && seen?.state === "draft" && !this.paidHere.has(order.uuid)) {
                this.announceClosed(order, state); // Odoo's own sync told before possync
            }
            this.adoptIfServerKnown(order);
            this.reconcile(order);
        }
    }

    adoptIfServerKnown(order) {
        if (isSynced(order)) {
            this.client.adopt(order.uuid, readOrderView(order));
        }
    }
}
