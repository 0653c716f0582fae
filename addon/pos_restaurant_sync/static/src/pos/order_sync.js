/**
 * The POS page as the sync client sees it (the client's `Page`, lib/sync_client.js): what the
 * waiter does becomes changes; what other terminals did is written into the records, also
 * into the order on screen, without losing this terminal's own unsent edits.
 *
 * Each order has three states (lib/replica.js): what the records showed when last captured
 * or written (`seen`), what Odoo's own data showed (`adopted`), and what its changes say
 * (`target`). The methods below follow docs/protocol.md "The page and Odoo's own data" step
 * for step; its rule 1 keeps the waiter's edits apart from everything else: before anything
 * writes into the records, the edits still in them are captured (`captureBeforeWriting`).
 */
import { patch } from "@web/core/utils/patch";
import { toRaw } from "@odoo/owl";
import { effect } from "@web/core/utils/reactive";
import { batched } from "@web/core/utils/timing";
import { _t } from "@web/core/l10n/translation";
import { diff } from "@pos_restaurant_sync/lib/protocol";
import {
    LOAD_METHOD,
    loadKeepingUnloadedLinks,
    currentScreen,
    isSynced,
    leaveOrder,
    selectedOrder,
    setUuidFirst,
    syncPending,
} from "./compat";
import { releaseBulkDeletes } from "@pos_restaurant_sync/overrides/models/related_models";
import { readOpenOrders } from "./open_orders";
import { readOrderView, tableOf, waitsForTip } from "./order_view";
import { missingRecords, relinkLines, writeOps } from "./order_writer";

const ORDER_MODELS = ["pos.order", "pos.order.line", "pos.payment"];

/**
 * The screens on which the page removes closed orders (`dropClosed`). A terminal spends its
 * evening on them: the floor plan, a table's order, the screen saver Odoo shows after five
 * idle minutes and the login screen (both leave for the first page, the floor plan).
 * A table's order screen (`TABLE_SCREEN`) keeps the closed orders of its table: on 18, an
 * order closed elsewhere and removed there while shown was replaced by a new empty order
 * of the table, the waiter left on it (seen twice, under load). They go once the waiter
 * leaves the table.
 */
const DROP_SCREENS = new Set(["FloorScreen", "ProductScreen", "SaverScreen", "LoginScreen"]);
const TABLE_SCREEN = "ProductScreen";

/**
 * Run `callback` once the browser has drawn what is pending: after the next frame, or
 * within a second in a hidden tab, which draws none.
 */
function afterPaint(callback) {
    let done = false;
    const once = () => {
        if (!done) {
            done = true;
            callback();
        }
    };
    requestAnimationFrame(() => setTimeout(once));
    setTimeout(once, 1000);
}

/**
 * An order is shared once the server knows it or it has lines or payments: an empty order
 * opened on a free table and left again never reaches the other terminals.
 */
function isShared(order) {
    return isSynced(order) || order.lines.length > 0 || order.payment_ids.length > 0;
}

/** The id of the table whose order the screen shows (null for an order on no table). */
function tableShown(pos) {
    return selectedOrder(pos)?.table_id?.id ?? pos.selectedTable?.id ?? null;
}

/**
 * The page a SyncClient syncs: built first, handed to the client as its `page`, then
 * started with that client.
 *
 * @implements {import("@pos_restaurant_sync/lib/sync_client").Page}
 */
export class PosOrderSync {
    /**
     * How long changes to an order off screen that keep its table and leave it open wait at
     * least (`mayWait`, `offScreenWait`), to be written with every other order waiting: each
     * burst of writes into open orders sets off Odoo's floor plan render and its offline copy
     * of every open order, whatever it changed (docs/protocol.md "Changes from elsewhere, on
     * a busy floor"). A test lengthens it to catch an order behind.
     */
    static offScreenWaitMs = 1000;

    /**
     * The longest the wait for drawing (`offScreenWait`) may be: after a heal, when every
     * page catches up on a backlog and draws slowest, the orders off screen still agree
     * within seconds.
     */
    static offScreenMaxWaitMs = 3000;

    /**
     * @param {object} pos the POS store (the `pos` service)
     * @param {object} options
     * @param {(message: string) => void} options.notify shows a short notice to the waiter
     * @param {(status: object) => void} options.showStatus shows the sync status
     */
    constructor(pos, { notify, showStatus }) {
        this.pos = pos;
        this.models = pos.models;
        this.notify = notify;
        this.showStatus = showStatus;
        /** @type {import("@pos_restaurant_sync/lib/sync_client").SyncClient} from `start` */
        this.client = null;
        /** Orders paid on this terminal: Odoo's payment flow and the server close them. */
        this.paidHere = new Set();
        /** The order records with a watcher (`watchOrder`). */
        this.watchedOrders = new WeakSet();
        /** Uuids of the orders edited since their edits were last read. */
        this.editedOrders = new Set();
        /** Uuids of the orders whose changes from elsewhere wait for the next catch-up. */
        this.behind = new Set();
        this.catchUpTimer = null;
        this.dropTimer = null;
        /** When the page had drawn the last catch-up (ms), and how long that took from its start. */
        this.lastCatchUp = { drawnAt: 0, tookMs: 0 };
        /** Odoo's re-read of every open order, whatever wrote it (set at `start`). */
        this.readAllOpenOrders = null;
    }

    /** Start-up: sync the records through `client`, which reads this page. */
    start(client) {
        this.client = client;
        setUuidFirst(this.models); // before possync creates any record with its uuid
        for (const order of this.orders()) {
            this.adoptIfServerKnown(order);
        }
        // Unsent changes from before a reload: the records may not show them any more.
        for (const change of client.outbox.changes) {
            client.replica(change.order).receive(change);
        }
        this.orders().forEach((order) => this.reconcile(order));
        this.watchRecords();
        this.watchScreen();
        tapServerLoads(this.models, this);
        releaseBulkDeletes(this.models, ORDER_MODELS);
        const delivering = () => this.client.status.state !== "error";
        this.readAllOpenOrders = readOpenOrders(this.pos.deviceSync, delivering);
    }

    /** Changes from elsewhere were lost: Odoo's own re-read of the open orders, a server load. */
    reset() {
        return this.readAllOpenOrders();
    }

    orders() {
        return this.models["pos.order"].getAll();
    }

    /**
     * Through Odoo's uuid index: every change looks orders up, and a busy floor has dozens
     * open. A miss is checked by a search: 18 may drop the index entry of an order its own
     * load replaced.
     */
    orderByUuid(uuid) {
        const orders = this.models["pos.order"];
        const indexed = orders.getBy("uuid", uuid);
        return indexed?.uuid === uuid ? indexed : orders.find((order) => order.uuid === uuid);
    }

    // --- the waiter's edits ------------------------------------------------------------

    /**
     * Rule 1: each edit is captured once, when its order's watcher reports it (and pushed
     * soon). Each order has its own watcher, so an edit reads that order only: a busy floor
     * has dozens of open orders, and reading them all on every edit cost more than the rest
     * of possync's own work on it.
     */
    watchRecords() {
        effect(
            batched((pos) => {
                // Subscribes to which orders there are, not to their fields.
                for (const order of pos.models["pos.order"].getAll().map(toRaw)) {
                    if (!this.watchedOrders.has(order)) {
                        this.watchedOrders.add(order);
                        this.watchOrder(order);
                    }
                }
                this.client.captureEdits(); // an order may be gone: see `deletedHere`
            }),
            [this.pos]
        );
    }

    /**
     * Once `order` is deleted its watcher reads nothing more: Owl keeps an observer, and all
     * it read, until a key it read changes, and many keys of an order never change again
     * (docs/protocol.md "What a page remembers"). Should the order come back, the orders'
     * watcher sees it again.
     */
    watchOrder(order) {
        effect(
            batched((watched) => {
                if (toRaw(this.orderByUuid(order.uuid)) !== order) {
                    this.watchedOrders.delete(order);
                    return;
                }
                readOrderView(watched); // through the effect's proxy: subscribes to its fields
                this.editedOrders.add(watched.uuid);
                this.client.captureEdits();
            }),
            [order]
        );
    }

    /**
     * Rule 1: before anything writes into the records of these orders, the edits still in
     * them are captured, so none is lost under the write and nothing written is taken for
     * an edit of this terminal.
     */
    captureBeforeWriting(uuids) {
        uuids.forEach((uuid) => this.editedOrders.add(uuid));
        this.client.captureEdits();
    }

    /**
     * The page's edits for the sync client: the orders edited since the last read, each as
     * `[uuid, view]`, and the open orders deleted here.
     */
    readEdits() {
        const edits = [];
        for (const uuid of this.editedOrders) {
            const order = this.orderByUuid(uuid);
            const view = order && this.readEdit(order);
            if (view) {
                edits.push([uuid, view]);
            }
        }
        this.editedOrders.clear();
        return [...edits, ...this.deletedHere()];
    }

    /** The view of `order` to capture, or null when it holds no edit of this terminal (rule 4). */
    readEdit(order) {
        const seen = this.client.seenOf(order.uuid);
        if (seen ? seen.state !== "draft" : !isShared(order)) {
            return null; // closed elsewhere and on its way out, or not shared yet
        }
        const view = readOrderView(order);
        if (view.state === "paid") {
            // The server closes it once Odoo booked the payment: a push now would race
            // Odoo's own sync of this order on the server.
            this.paidHere.add(order.uuid);
            return null;
        }
        this.paidHere.delete(order.uuid); // back to draft: its payment did not go through
        return view;
    }

    /** The open orders deleted here (merged into another, or cancelled), as cancelled. */
    deletedHere() {
        const deleted = [];
        for (const { uuid, seen } of this.client.replicas.values()) {
            if (seen?.state === "draft" && !this.paidHere.has(uuid) && !this.orderByUuid(uuid)) {
                deleted.push([uuid, { ...seen, state: "cancel" }]);
            }
        }
        return deleted;
    }

    // --- changes from elsewhere ---------------------------------------------------------

    /**
     * Changes from elsewhere touched these orders: bring their records to the target now,
     * or, when every one of them may wait (`mayWait`), with the next catch-up. Orders
     * behind from earlier changes keep waiting: the order on screen never waits for them.
     */
    applyRemote(uuids) {
        uuids.forEach((uuid) => this.behind.add(uuid));
        if (uuids.every((uuid) => this.mayWait(uuid))) {
            this.catchUpTimer ??= setTimeout(() => this.catchUp(), this.offScreenWait());
            return Promise.resolve();
        }
        return this.catchUp(uuids);
    }

    /**
     * An order may wait when it is here, off screen, and its changes keep its table and
     * leave it open: the floor plan already shows it where it is.
     */
    mayWait(uuid) {
        const order = uuid !== this.pos.selectedOrderUuid && this.orderByUuid(uuid);
        if (!order) {
            return false;
        }
        const target = this.client.target(uuid);
        return target.state === "draft" && target.table_id === tableOf(order);
    }

    /**
     * How long changes that may wait wait: a second, or until twice what the last catch-up
     * took the page to draw has passed since it was drawn (Odoo draws a floor plan of 100 open
     * tables in seconds), at most `offScreenMaxWaitMs`. Drawing changes to orders off screen
     * so takes at most a third of the page's time unless a catch-up takes over 1.5 s to
     * draw, and changes after a quiet spell wait only the second.
     */
    offScreenWait(now = Date.now()) {
        const { drawnAt, tookMs } = this.lastCatchUp;
        const forDrawing = Math.min(drawnAt + 2 * tookMs - now, PosOrderSync.offScreenMaxWaitMs);
        return Math.max(PosOrderSync.offScreenWaitMs, forDrawing);
    }

    /**
     * The order on screen is never behind: opening a table catches it up first. Leaving an
     * order (the receipt's "New Order", a table) lets go of the closed orders Odoo kept.
     */
    watchScreen() {
        effect(
            batched((pos) => {
                if (this.behind.has(pos.selectedOrderUuid)) {
                    this.catchUp([pos.selectedOrderUuid]);
                }
                this.dropClosedSoon();
            }),
            [this.pos]
        );
    }

    /**
     * Bring these orders (every order behind, by default) to their targets, in one burst of
     * writes. The orders still behind after it keep the timer that was set for them.
     */
    async catchUp(uuids = [...this.behind]) {
        uuids.forEach((uuid) => this.behind.delete(uuid));
        if (!this.behind.size) {
            clearTimeout(this.catchUpTimer);
            this.catchUpTimer = null;
        }
        const targets = uuids.map((uuid) => this.client.target(uuid));
        await this.loadMissing(targets);
        const started = Date.now();
        this.captureBeforeWriting(uuids);
        for (const uuid of uuids) {
            const order = this.orderByUuid(uuid);
            if (order) {
                this.reconcile(order);
            } else {
                this.createFromRemote(this.client.target(uuid));
            }
        }
        afterPaint(() => {
            const drawnAt = Date.now();
            this.lastCatchUp = { drawnAt, tookMs: drawnAt - started };
        });
    }

    /** Customers, products… another terminal used and this one has not loaded yet. */
    async loadMissing(views) {
        const missing = missingRecords(this.models, views);
        await Promise.all(
            Object.entries(missing).map(([model, ids]) => this.pos.data.read(model, [...ids]))
        );
    }

    /** Rule 3: bring the records of `order` to its target; close it if its changes did. */
    reconcile(order) {
        const replica = this.client.replicas.get(order.uuid);
        if (!replica) {
            return;
        }
        const live = readOrderView(order);
        const target = replica.target();
        if (live.state !== "draft") {
            this.seeClosed(order.uuid, live); // closed here already: nothing to write
        } else if (target.state !== "draft") {
            this.closeFromElsewhere(order, target.state);
        } else {
            relinkLines(order);
            writeOps(this.models, order, diff(live, target));
            this.client.markSeen(order.uuid, readOrderView(order));
        }
    }

    /**
     * The order is seen closed: its paid-here mark has done its job, and the client forgets
     * it once nothing of it is pending (docs/protocol.md "What a page remembers").
     */
    seeClosed(uuid, view) {
        if (this.paidHere.delete(uuid)) {
            this.dropClosedSoon(); // it waited for this close
        }
        this.client.markSeen(uuid, view);
    }

    /** A new order from another terminal, e.g. for a table: it appears on the floor plan. */
    createFromRemote(target) {
        if (target.state !== "draft") {
            this.seeClosed(target.uuid, target); // closed before it got here
            return;
        }
        const empty = !Object.keys(target.lines).length && !Object.keys(target.payments).length;
        if (empty && !target.table_id) {
            return;
        }
        const order = this.pos.createNewOrder({ uuid: target.uuid });
        // Odoo 18 puts a new order on the table open on this screen. This one's table is its
        // target's, none until the change that sets it arrives: on this screen's table it
        // would show as a second order there, and Odoo would send it for that table.
        order.update({ table_id: false });
        this.reconcile(order);
    }

    /**
     * Paid or cancelled on another terminal: say so, and drop it here without telling the
     * server (which knows already).
     */
    closeFromElsewhere(order, state) {
        const uuid = order.uuid;
        if (this.client.replicas.get(uuid).seen?.state === "draft") {
            this.tellClosed(order, state); // once, even if Odoo's own load brings it back
        }
        this.seeClosed(uuid, { ...readOrderView(order), state });
        this.leaveAfterNotice(order, () => {
            // Closed as the screen lets go of it, so the floor plan Odoo draws next shows its
            // table free; removed after that drawing (19 opens a new order for a screen
            // whose order is gone), outside the load or write under way.
            this.orderByUuid(uuid)?.update({ state });
            setTimeout(() => this.deleteRecord(uuid));
        });
    }

    /**
     * The closed `order`'s notice is drawn before the screen leaves it, if it shows it: the
     * waiter reads why first. Then `after()`, at once when the order is not on screen.
     */
    leaveAfterNotice(order, after = () => {}) {
        if (selectedOrder(this.pos)?.uuid !== order.uuid) {
            after();
            return;
        }
        const uuid = order.uuid;
        const table = tableOf(order);
        afterPaint(() => {
            this.leaveClosed(uuid, table);
            after();
        });
    }

    /**
     * Remove a closed order from the records, once the screen no longer shows it, as Odoo
     * removes one it deleted. The record is looked up again: Odoo's own sync may have
     * replaced or deleted it meanwhile (18).
     */
    deleteRecord(uuid) {
        const current = this.orderByUuid(uuid);
        if (current) {
            this.pos.data.localDeleteCascade(current);
        }
    }

    /**
     * Odoo keeps in the records the orders paid here, and those its own sync loads closed
     * from the server, for the page's life; each holds its lines' computed prices and
     * observers (about 190 KiB a line on 19). On the screens that show no other order
     * (`DROP_SCREENS`), a closed order that Odoo has sent is removed, as a reload would (the
     * order on screen stays, and on a table's order screen the orders of its table): the
     * Orders screen reads closed orders from the server when the waiter opens it. Other
     * screens may show or read one (the Orders screen, the payment and receipt screens, a
     * split).
     * An order being refunded stays: the refund's lines, or the lines picked for one, are
     * its lines.
     */
    dropClosed() {
        const screen = currentScreen(this.pos);
        if (!DROP_SCREENS.has(screen)) {
            return;
        }
        const done = this.orders().filter((order) => this.mayDrop(order));
        if (!done.length) {
            return;
        }
        const keep = new Set([selectedOrder(this.pos)?.uuid, ...this.paidHere]);
        for (const order of this.orders()) {
            for (const line of order.state === "draft" ? order.lines : []) {
                keep.add(line.refunded_orderline_id?.order_id?.uuid);
            }
        }
        const table = screen === TABLE_SCREEN ? tableShown(this.pos) : undefined;
        for (const order of done) {
            if (!keep.has(order.uuid) && tableOf(order) !== table) {
                this.pos.data.localDeleteCascade(order); // as deleteRecord, without a lookup
            }
        }
    }

    /**
     * Closed, seen closed here (seen open, its removal would read as a cancel: `deletedHere`),
     * sent by Odoo, with no lines picked for a refund, and not waiting for its tip (Odoo
     * shows such an order on its table and lists it for the tips to settle).
     */
    mayDrop(order) {
        const closed = order.state !== "draft" && this.client.seenOf(order.uuid)?.state !== "draft";
        const refunding = Object.keys(order.uiState?.lineToRefund || {}).length > 0;
        const kept = refunding || waitsForTip(order);
        return closed && !kept && isSynced(order) && !syncPending(this.pos, order);
    }

    /** One drop of closed orders once the current task ends, however many ask for it. */
    dropClosedSoon() {
        this.dropTimer ??= setTimeout(() => {
            this.dropTimer = null;
            this.dropClosed();
        });
    }

    /** Tell the waiter the order was closed on another terminal. */
    tellClosed(order, state) {
        const name = order.table_id ? _t("Table %s", order.table_id.table_number) : order.name;
        this.notify(
            state === "paid"
                ? _t("%s was paid on another terminal.", name)
                : _t("%s was merged or cancelled on another terminal.", name)
        );
    }

    /**
     * Leave for the floor plan the closed order `uuid` that was on screen, or what Odoo's
     * order screen put in its place as it drew: once Odoo's own load shows an order closed
     * (before possync's close, or in the frame after it), ProductScreen's `onWillRender`
     * replaces it with a new empty one (18: on the order's table `table`, 19: a direct sale,
     * on none) before this runs. 19 reuses a direct sale it has instead, one with lines too:
     * the waiter stays on that, as without possync (left for the floor plan, it would go
     * onto the next table opened).
     */
    leaveClosed(uuid, table) {
        const shown = selectedOrder(this.pos);
        const replacement =
            shown &&
            currentScreen(this.pos) === TABLE_SCREEN &&
            !isShared(shown) &&
            [table, null].includes(tableOf(shown));
        if (shown?.uuid === uuid || replacement) {
            leaveOrder(this.pos);
        }
    }

    // --- Odoo's own server loads --------------------------------------------------------

    /** Before Odoo's own load writes into the records: rule 1, for every order. */
    beforeServerLoad() {
        this.captureBeforeWriting(this.orders().map((order) => order.uuid));
    }

    /** After it, also when it failed half-way: the records must not stay as Odoo left them. */
    afterServerLoad() {
        for (const order of this.orders()) {
            this.tellIfClosedByOdoo(order);
            this.adoptIfServerKnown(order);
            this.reconcile(order);
        }
        this.dropClosedSoon();
    }

    /** Odoo's own sync said before possync that an order open here was closed elsewhere. */
    tellIfClosedByOdoo(order) {
        const state = readOrderView(order).state;
        const seen = this.client.seenOf(order.uuid);
        if (state !== "draft" && seen?.state === "draft" && !this.paidHere.has(order.uuid)) {
            this.tellClosed(order, state);
            this.leaveAfterNotice(order);
        }
    }

    /** Rule 2: Odoo's own data of an order the server knows (it has an Odoo id) is adopted. */
    adoptIfServerKnown(order) {
        if (isSynced(order)) {
            this.client.adopt(order.uuid, readOrderView(order));
        }
    }
}

/**
 * Odoo's own loads (its device sync, the answer of each order sync, a reset's re-read) all go
 * through one method of the records' container, which overwrites records with the server's
 * copy; possync's steps go around each load that touches orders. Odoo builds that container
 * inside a function (18: a plain object whose `loadData` is its own property; 19: a class
 * local to that function), so no prototype reachable at import has the method: this patch is
 * applied to the container when sync starts.
 */
function tapServerLoads(models, sync) {
    patch(models, {
        [LOAD_METHOD](data, ...rest) {
            // Odoo loads `undefined` as nothing (18's merge does): so must we, or the merge
            // stops half-way and leaves its records broken.
            const touchesOrders =
                typeof data === "object" && data !== null && ORDER_MODELS.some((m) => m in data);
            if (touchesOrders) {
                sync.beforeServerLoad();
            }
            try {
                const load = (loaded) => super[LOAD_METHOD](loaded, ...rest);
                return touchesOrders
                    ? loadKeepingUnloadedLinks(models, data, ORDER_MODELS, load)
                    : load(data);
            } finally {
                if (touchesOrders) {
                    sync.afterServerLoad();
                }
            }
        },
    });
}
