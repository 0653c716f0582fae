/**
 * Odoo 19 sends the selected order to a remote customer display with one RPC each time the
 * order changes, also on terminals that have no such display. With possync every terminal
 * showing the order sees every change, so that became 3 requests per change for 3 terminals.
 *
 * 19 has no setting for the display type: a remote display is paired with this browser by the
 * navbar's customer display QR code, which stores `device_uuid` in localStorage and puts it
 * in the display's URL. Without it the RPC notifies a channel no display listens to, so it
 * is skipped; the local display (same browser, BroadcastChannel) is still fed.
 *
 * Only with Real-Time Sync on (pos/enabled.js): a POS with it off sends as Odoo does.
 */
import { patch } from "@web/core/utils/patch";
import { customerDisplayAdapterClass } from "@pos_restaurant_sync/pos/compat";
import { possyncEnabled } from "@pos_restaurant_sync/pos/enabled";

const Adapter = customerDisplayAdapterClass();

if (Adapter) {
    patch(Adapter.prototype, {
        dispatch(pos) {
            if (!possyncEnabled(pos?.config) || localStorage.getItem("device_uuid")) {
                return super.dispatch(...arguments);
            }
            // A plain copy, as Odoo's own dispatch posts: reactive proxies cannot be cloned.
            this.channel.postMessage(JSON.parse(JSON.stringify(this.data)));
        },
    });
}
