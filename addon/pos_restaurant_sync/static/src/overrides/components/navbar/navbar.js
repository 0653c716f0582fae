/** The navbar shows possync's sync indicator (template in navbar.xml). */
import { patch } from "@web/core/utils/patch";
import { navbarClass } from "@pos_restaurant_sync/pos/compat";
import { SyncIndicator } from "@pos_restaurant_sync/pos/sync_indicator";

const Navbar = navbarClass();

patch(Navbar, {
    components: { ...Navbar.components, SyncIndicator },
});
