/**
 * Whether a POS has Real-Time Sync on. Every change possync makes to Odoo's own POS code
 * (the patches under static/src/overrides/, the taps of pos/order_sync.js) asks this when it
 * runs, not when its module is imported: the modules load with the POS bundle for every POS
 * of the database, and a POS with the setting off must run as Odoo alone would.
 *
 * No imports: the node tests (tests/js/) read it as it is.
 */

/** True only for a loaded `pos.config` record whose manager switched Real-Time Sync on. */
export function possyncEnabled(config) {
    return config?.possync_enabled === true;
}

/**
 * The same for the POS whose data holds `record` (any loaded POS record): its records'
 * container holds that POS's one `pos.config`.
 */
export function possyncEnabledFor(record) {
    return possyncEnabled(record?.models?.["pos.config"]?.getFirst?.());
}
