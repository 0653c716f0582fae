/**
 * POS records, with Real-Time Sync on:
 * - a record turned into JSON is its model, id and uuid, not a walk through every record it
 *   links to;
 * - a deleted record lets go of what it observed, so the page does not keep it.
 *
 * JSON. Odoo 19 logs each recompute of an order's prices with its data
 * (`_constructPriceData`, through `logPosMessage`), on every line added or changed, on every
 * terminal, and possync applies each line another terminal added the same way. That log
 * copies its arguments with `JSON.stringify`, which walks from each line to its model and on
 * through all the loaded data until it meets a cycle and throws; Odoo then logs "[object
 * Object]". That walk was a third of the recompute: 32 → 22 ms per recompute of a 30-line
 * order here (bench.odoo, `price_recompute`). With this, the log also says which records it
 * was about. Odoo's Base has no `toJSON`: returning the record itself is what
 * `JSON.stringify` does without one (it walks the record's own properties).
 *
 * Deletion. Owl's reactivity keeps each observer subscribed to every key it read until one
 * of those keys changes. Odoo 19's records compute their getters lazily through such
 * observers (`lazyComputed`), and many read keys that never change on records that live as
 * long as the page (the config's currency, a product's taxes): those subscriptions keep the
 * observer, and through it the deleted record and its lines, for good — about half a
 * megabyte for each order of four lines paid on another terminal, the page's heap growing
 * all evening (docs/benchmarks.md "A page's memory"). Once a record is deleted, possync signals a change of every key it has
 * or inherits, through Owl's own delete trap: each observer that read one forgets all its
 * subscriptions, as after any change, and the record is left as it was. Observers of live
 * records that read the deleted one are notified too, as its deletion concerns them (and
 * possync's own watcher of a deleted order reads it no more: pos/order_sync.js). Odoo 18 has
 * no such observers but keeps the deleted record's last values, which name its order, and a
 * record created here under its first id in its id index (pos/compat.js `forgetKeptValues`,
 * `forgetFirstIds`). All this happens once the task that deleted it ends, so Odoo's own
 * deletion runs as it always does.
 *
 * Only with Real-Time Sync on, although both change Odoo's own behaviour: possync changes
 * nothing of a POS whose manager left it off (pos/enabled.js). The gate is asked per record,
 * through the POS its data belongs to, because this patches the class every record of every
 * POS shares.
 */
import { reactive, toRaw } from "@odoo/owl";
import { patch } from "@web/core/utils/patch";
import { Base } from "@point_of_sale/app/models/related_models";
import {
    forgetFirstIds,
    forgetKeptValues,
    keptValues,
    modelName,
} from "@pos_restaurant_sync/pos/compat";
import { possyncEnabledFor } from "@pos_restaurant_sync/pos/enabled";

/** `[record, id, kept values]` deleted in the current task: released once Odoo's deletion
 * is over. */
const deleted = [];

/** Every key of `target` and of its prototypes, which an observer may have read. */
function readableKeys(target) {
    const keys = new Set();
    for (let object = target; object && object !== Object.prototype; ) {
        Reflect.ownKeys(object).forEach((key) => keys.add(key));
        object = Object.getPrototypeOf(object);
    }
    return keys;
}

/**
 * Owl's delete trap notifies the key's observers whether or not anything was deleted; an
 * own property is put back as it was, unless an observer wrote it anew meanwhile.
 */
export function releaseObservers(record) {
    const target = toRaw(record);
    const observed = reactive(target);
    for (const key of readableKeys(target)) {
        const own = Object.getOwnPropertyDescriptor(target, key);
        Reflect.deleteProperty(observed, key);
        if (own && !Object.prototype.hasOwnProperty.call(target, key)) {
            Object.defineProperty(target, key, own);
        }
    }
}

function releaseDeleted() {
    const released = deleted.splice(0);
    for (const [record, id, values] of released) {
        releaseObservers(record);
        forgetKeptValues(record, id, values);
    }
    forgetFirstIds(released.map(([record]) => record));
}

patch(Base.prototype, {
    toJSON() {
        if (!possyncEnabledFor(this)) {
            return super.toJSON ? super.toJSON(...arguments) : this;
        }
        return { model: modelName(this), id: this.id, uuid: this.uuid };
    },
    delete() {
        return releasedOnceDeleted([this], () => super.delete(...arguments));
    },
});

/**
 * Run `deleteThem`, Odoo's deletion of `records`, and release those of a POS with sync on
 * once the task ends.
 */
function releasedOnceDeleted(records, deleteThem) {
    const kept = records.map((record) => [record, record.id, keptValues(record)]);
    const result = deleteThem();
    for (const entry of kept.filter(([record]) => possyncEnabledFor(record))) {
        if (!deleted.length) {
            queueMicrotask(releaseDeleted);
        }
        deleted.push(entry);
    }
    return result;
}

/**
 * The records the models `names` of `models` delete in bulk are released too: `deleteMany`
 * deletes without the records' own `delete`, and Odoo's loads use it (18 and 19 for the
 * records the server no longer has, 18 for an order it merges into its table's). Called
 * when sync starts: Odoo builds the models' container inside a function, so it is patched,
 * not a class.
 */
export function releaseBulkDeletes(models, names) {
    for (const name of names) {
        patch(models[name], {
            deleteMany(records, ...rest) {
                const list = [...records]; // read once: any iterable, as Odoo's takes
                return releasedOnceDeleted(list, () => super.deleteMany(list, ...rest));
            },
        });
    }
}
