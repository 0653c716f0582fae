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
 * reads are a safety net: one at a time is enough. A read asked for while one runs is the
 * next one, shared by everyone who asks meanwhile, and starts when the running one ends; so
 * whoever asks still gets a read that started after they asked.
 */

/** `read`, run one at a time: each call resolves once a read started after it has ended. */
export function oneReadAtATime(read) {
    let running = null;
    let next = null;
    const start = () => {
        running = Promise.resolve()
            .then(read)
            .finally(() => {
                running = null;
            });
        return running;
    };
    return () => {
        if (!running) {
            return start();
        }
        next ??= running
            .catch(() => {})
            .then(() => {
                next = null;
                return start();
            });
        return next;
    };
}

/** Odoo's re-reads of the open orders on this page (`pos.deviceSync`), one at a time. */
export function readOpenOrdersOneAtATime(deviceSync) {
    deviceSync.readDataFromServer = oneReadAtATime(deviceSync.readDataFromServer.bind(deviceSync));
}
