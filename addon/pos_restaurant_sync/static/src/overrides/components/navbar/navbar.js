/**
 * The navbar shows possync's sync indicator (template in navbar.xml), only on a POS with
 * Real-Time Sync on (pos/enabled.js): with it off, the navbar is Odoo's own.
 */
import { patch } from "@web/core/utils/patch";
import { navbarClass } from "@pos_restaurant_sync/pos/compat";
import { possyncEnabled } from "@pos_restaurant_sync/pos/enabled";
import { SyncIndicator } from "@pos_restaurant_sync/pos/sync_indicator";

const Navbar = navbarClass();

patch(Navbar, {
    components: { ...Navbar.components, SyncIndicator },
});

patch(Navbar.prototype, {
    /** Whether this POS has Real-Time Sync on: the indicator is rendered only then. */
    get possyncEnabled() {
        return possyncEnabled(this.pos.config);
    },
});
