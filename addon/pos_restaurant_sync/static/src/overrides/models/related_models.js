/**
 * A POS record turned into JSON is its model, id and uuid, not a walk through every record it
 * links to.
 *
 * Odoo 19 logs each recompute of an order's prices with its data (`_constructPriceData`,
 * through `logPosMessage`), on every line added or changed, on every terminal, and possync
 * applies each line another terminal added the same way. That log copies its arguments with
 * `JSON.stringify`, which walks from each line to its model and on through all the loaded
 * data until it meets a cycle and throws; Odoo then logs "[object Object]". That walk was a
 * third of the recompute: 32 → 22 ms per recompute of a 30-line order here (bench.odoo,
 * `price_recompute`). With this, the log also says which records it was about.
 *
 * Only with Real-Time Sync on, although it is a speed-up of Odoo's own code: possync changes
 * nothing of a POS whose manager left it off (pos/enabled.js). The gate is asked per record,
 * through the POS its data belongs to, because this patches the class every record of every
 * POS shares. Odoo's Base has no `toJSON`: returning the record itself is what
 * `JSON.stringify` does without one (it walks the record's own properties).
 */
import { patch } from "@web/core/utils/patch";
import { Base } from "@point_of_sale/app/models/related_models";
import { modelName } from "@pos_restaurant_sync/pos/compat";
import { possyncEnabledFor } from "@pos_restaurant_sync/pos/enabled";

patch(Base.prototype, {
    toJSON() {
        if (!possyncEnabledFor(this)) {
            return super.toJSON ? super.toJSON(...arguments) : this;
        }
        return { model: modelName(this), id: this.id, uuid: this.uuid };
    },
});
