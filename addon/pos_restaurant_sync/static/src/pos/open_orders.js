/**
 * Odoo's re-reads of the open orders, one at a time.
 *
 * Each time a terminal sends orders to the server (a payment, a split or merge, a table left
 * on 19), Odoo tells every other terminal of the POS, and each one re-reads every open order
 * of the POS from the server (`readDataFromServer`, server method `read_config_open_orders`);
 * 18 also re-reads them each time a table is opened. It is the heaviest request a POS makes,
 * and they come in bursts: a split sends two orders, so two reads on each other terminal, at
 * once. While they hold the server's workers, every other request waits, possync's among
 * them (docs/benchmarks.md).
 *
 * With Real-Time Sync on, possync brings each change to the orders as it happens, and these
 * reads are a safety net for what possync does not carry:
 *
 * 1. They run one at a time. A read asked for while one runs is the next one, shared by
 *    everyone who asks meanwhile, and starts when the running one ends; so whoever asks
 *    still gets a read that started after they asked.
 * 2. They ask for the orders of this POS written since the page's copy by anything but
 *    possync's own apply. Odoo asks for each order held whose `write_date` is a second past
 *    its copy's; possync asks instead for each whose `possync_outside_write` number is past
 *    its copy's (models/pos_order.py), so an order possync alone changed is not read again by
 *    every page after every Odoo sync. Odoo's condition stays for an order of another POS
 *    (Odoo also reads those of the POSes this one trusts, whose changes possync does not
 *    bring) and while possync is not delivering (its status an error); the orders the page
 *    lacks, deleted ones and, on 19, those whose state differs are asked for as Odoo asks.
 * 3. They are spaced: a read starts `READ_GAP_MS` after the previous one ended at the
 *    earliest, and every ask until it starts shares it. A busy floor's edits (a split, a
 *    transfer, a merge, a payment, each a sync of Odoo's) so cost each other terminal one
 *    read, not one each, and the workers they would hold serve the edits instead.
 * 4. A reset (the server lost changes this page never got) asks Odoo's way for every order,
 *    at once, and so does each read after it until one such read has brought orders. While
 *    possync is not delivering, the reads are Odoo's: at once, and as Odoo asks.
 */

/** The field of `pos.order` that possync's apply leaves as it is. */
const OUTSIDE_WRITE = "possync_outside_write";

/** While possync delivers, a re-read starts at least this long after the previous one ended. */
export const READ_GAP_MS = 2000;

/**
 * `read`, run one at a time: each call resolves once a read started after it has ended.
 * The next read starts once the previous one ended and `gapMs()` after it, the smallest gap
 * of those who asked for it (`gapMs` is asked at each ask); every ask until it starts shares
 * it. `timers` (setTimeout/clearTimeout) and `now` are replaceable in tests, as the sync
 * client's; `now` is monotonic: a device clock set back must not hold the reads.
 */
export function oneReadAtATime(
    read,
    gapMs = () => 0,
    { timers = globalThis, now = () => performance.now() } = {}
) {
    let running = null; // the read under way
    let next = null; // the read asked for and not started: {done, resolve, reject, gap, timer}
    let endedAt = -Infinity;
    const start = () => {
        const { resolve, reject } = next;
        next = null;
        running = Promise.resolve()
            .then(read)
            .finally(() => {
                running = null;
                endedAt = now();
                if (next) {
                    arm();
                }
            });
        running.then(resolve, reject);
    };
    const arm = () => {
        timers.clearTimeout(next.timer);
        const wait = endedAt + next.gap - now();
        if (wait > 0) {
            next.timer = timers.setTimeout(start, wait);
        } else {
            start();
        }
    };
    return () => {
        const gap = gapMs();
        if (next && gap >= next.gap) {
            return next.done;
        }
        if (!next) {
            next = { gap, timer: null };
            next.done = new Promise((resolve, reject) => Object.assign(next, { resolve, reject }));
        }
        next.gap = gap;
        const { done } = next;
        if (!running) {
            arm();
        }
        return done;
    };
}

/**
 * Odoo's orders domain (its list form) with the condition on `write_date` of each order that
 * `copyOf(id)` gives a copy of replaced by one on its outside write number: past the copy's.
 */
export function onOutsideWrites(domain, copyOf) {
    let id = null; // of the last `["id", "=", id]` condition: Odoo puts it before the date
    return domain.map((term) => {
        const field = Array.isArray(term) && term[0];
        if (field === "id" && term[1] === "=") {
            id = term[2];
            return term;
        }
        const copy = field === "write_date" && copyOf(id);
        return copy ? [OUTSIDE_WRITE, ">", copy[OUTSIDE_WRITE] || 0] : term;
    });
}

/** Whether `order` is of the POS `configId` (its own field, else its session's). */
function ofPos(order, configId) {
    return [order?.config_id, order?.session_id?.config_id].some((c) => c?.id === configId);
}

/**
 * Odoo's re-reads of the open orders on this page (`pos.deviceSync`), one at a time, and
 * spaced and on outside writes while `delivering()` (steps 1 to 3 above). Returns
 * `readAll()`, the reset's read (step 4). `timing`: `oneReadAtATime`'s `timers` and `now`.
 */
export function readOpenOrders(deviceSync, delivering, timing = {}) {
    const orders = deviceSync.models["pos.order"];
    const configId = deviceSync.pos.config.id;
    const copyOf = (id) => {
        const order = orders.get(id);
        return ofPos(order, configId) ? order : null;
    };
    let owed = false; // a read Odoo's way, after a reset
    let odoosWay = false; // how the running read asks
    const construct = deviceSync.constructOrdersDomain.bind(deviceSync);
    deviceSync.constructOrdersDomain = (...args) => {
        const asked = construct(...args);
        odoosWay = owed || !delivering();
        if (asked.domain["pos.order"] && !odoosWay) {
            asked.domain["pos.order"] = onOutsideWrites(asked.domain["pos.order"], copyOf);
        }
        return asked;
    };
    const process = deviceSync.processDynamicRecords.bind(deviceSync);
    deviceSync.processDynamicRecords = (...args) => {
        // Owed until a read brings orders: 19 answers a failed read as one that found none.
        owed = owed && !odoosWay;
        return process(...args);
    };
    const gapMs = () => (owed || !delivering() ? 0 : READ_GAP_MS);
    const read = oneReadAtATime(deviceSync.readDataFromServer.bind(deviceSync), gapMs, timing);
    deviceSync.readDataFromServer = read;
    return () => {
        owed = true;
        return read();
    };
}
