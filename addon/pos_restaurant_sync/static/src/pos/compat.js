/**
 * The one place where Odoo 18 and 19 differ for possync: module paths, field and method
 * names, bus event names.
 *
 * A module that statically imports a path missing in one version never starts there (Odoo's
 * loader waits for the dependency forever and logs "unmet dependencies"), so the classes
 * whose path moved between versions are looked up at run time among the started modules.
 * Importing pos_app guarantees they have started: it imports the store and the navbar.
 */
import "@point_of_sale/app/pos_app";
import { toRaw } from "@odoo/owl";
import { getOrderChanges } from "@point_of_sale/app/models/utils/order_change";

const MODULES = odoo.loader.modules;

/** True on Odoo 19, whose POS store moved to app/services. */
export const IS_19 = MODULES.has("@point_of_sale/app/services/pos_store");

const PATHS = IS_19
    ? {
          navbar: "@point_of_sale/app/components/navbar/navbar",
          store: "@point_of_sale/app/services/pos_store",
          floorScreen: "@pos_restaurant/app/screens/floor_screen/floor_screen",
          deviceSync: "@point_of_sale/app/utils/devices_synchronisation",
          data: "@point_of_sale/app/services/data_service",
      }
    : {
          navbar: "@point_of_sale/app/navbar/navbar",
          store: "@point_of_sale/app/store/pos_store",
          floorScreen: "@pos_restaurant/app/floor_screen/floor_screen",
          deviceSync: "@point_of_sale/app/store/devices_synchronisation",
          data: "@point_of_sale/app/models/data_service",
      };

/** The POS navbar component class. */
export function navbarClass() {
    return MODULES.get(PATHS.navbar).Navbar;
}

/** The POS store class (the `pos` service is its instance). */
export function posStoreClass() {
    return MODULES.get(PATHS.store).PosStore;
}

/** pos_restaurant's floor plan screen component class. */
export function floorScreenClass() {
    return MODULES.get(PATHS.floorScreen).FloorScreen;
}

/**
 * The class of Odoo's own device sync (the store's `deviceSync`), its module's default
 * export: Odoo's module loader keeps that under `Symbol.for("default")`.
 */
export function devicesSynchronisationClass() {
    return MODULES.get(PATHS.deviceSync)[Symbol.for("default")];
}

/** The class of the POS's data service (the store's `data`: records, RPCs, IndexedDB). */
export function dataServiceClass() {
    return MODULES.get(PATHS.data).PosData;
}

/**
 * What Odoo's device sync does with the open orders it read, before pos_restaurant's
 * patch of it: load them into the records (`processDynamicRecords` of point_of_sale).
 */
export function loadReadOrders(models, records) {
    return IS_19 ? models.connectNewData(records) : models.loadData(records, [], false);
}

/** The restaurant table record class; only 19's has `getOrders()` (18's: `get orders()`). */
export function restaurantTableClass() {
    return MODULES.get("@pos_restaurant/app/models/restaurant_table").RestaurantTable;
}

/**
 * What Odoo's floor plan shows as a table's kitchen changes, for the given open orders of
 * that table: FloorScreen.getChangeCount's sum, with each version's arguments and result.
 */
export function kitchenChangeCount(orders, pos) {
    let changes = 0;
    let skip = 0;
    for (const order of orders) {
        const counted = IS_19
            ? getOrderChanges(order, pos.config.preparationCategories)
            : getOrderChanges(order, false, pos.orderPreparationCategories);
        changes += counted.nbrOfChanges;
        skip += counted.nbrOfSkipped;
    }
    return IS_19 ? { changes } : { changes, skip };
}

/** 19's customer display adapter class; 18 has none (it sends from the root component). */
export function customerDisplayAdapterClass() {
    const path = "@point_of_sale/app/customer_display/customer_display_adapter";
    return IS_19 ? MODULES.get(path).CustomerDisplayPosAdapter : null;
}

/**
 * Odoo field behind each protocol field (docs/protocol.md). 18 has no order-level customer
 * note, and calls the kitchen note of an order `general_note`.
 */
export const ORDER_FIELDS = IS_19
    ? { internal_note: "internal_note", customer_note: "general_customer_note" }
    : { internal_note: "general_note" };
export const LINE_NOTE_FIELDS = { customer_note: "customer_note", internal_note: "note" };

/**
 * 19 keeps the kitchen notes of an order and of a line (the protocol's `internal_note`) as the
 * text of a JSON list its screens parse (lib/kitchen_notes.js); 18 keeps plain text.
 */
export const KITCHEN_NOTES_AS_JSON = IS_19;

/** Bus service events when its websocket goes up or down. */
export const BUS_EVENTS = IS_19
    ? { up: ["BUS:CONNECT", "BUS:RECONNECT"], down: ["BUS:DISCONNECT", "BUS:RECONNECTING"] }
    : { up: ["connect", "reconnect"], down: ["disconnect", "reconnecting"] };

/** The models container method every server load goes through. */
export const LOAD_METHOD = IS_19 ? "_loadData" : "loadData";

/**
 * Models 18 loads once, at start, and never fetches a missing record of (its data service's
 * `pohibitedAutoLoadedModels`, less those whose records come with the orders): the user,
 * the session, the POS. An order's link to another of their records (the waiter who opened
 * it on another terminal, with a login of their own) stays unlinked for good.
 */
const LOADED_ONCE = new Set(["res.users", "pos.session", "pos.config"]);

/**
 * The many2one fields of `model` that 18's load may file as missing for good: to a model the
 * POS does not load (an order's sales journal, its invoice), or to a model loaded once.
 */
function linksMaybeNeverLoaded(models, model) {
    return Object.entries(models[model].modelFields).filter(
        ([, field]) =>
            field.type === "many2one" &&
            (!(field.relation in models) || LOADED_ONCE.has(field.relation))
    );
}

/**
 * Those of `fields` in `vals` that 18's load of `data` would file as missing for good: to a
 * model the POS does not load (18 files those of updated records only), or to a record of a
 * model loaded once that neither the page nor `data` has (a rescue session comes with its
 * orders), while the record's link holds nothing already.
 */
function linksNeverLoaded(models, data, fields, vals, record) {
    return fields
        .filter(([name, field]) => {
            if (!(name in vals)) {
                return false;
            }
            if (!(field.relation in models)) {
                return Boolean(record);
            }
            return (
                Boolean(vals[name]) &&
                !models[field.relation].get(vals[name]) &&
                !(data[field.relation] || []).some(({ id }) => id === vals[name]) &&
                !(record && toRaw(record)[name])
            );
        })
        .map(([name]) => name);
}

/**
 * 18's load of `data` through `load`, with the links its load would file as missing for
 * good (`linksNeverLoaded`) written straight into the records' raw values instead, where
 * 18 keeps them (its payment screen reads an order's invoice there). 18 files each such
 * link until the linked record is loaded, which never happens, and the page would keep
 * every order, with its lines, that the server ever sent it (again).
 */
export function loadKeepingUnloadedLinks(models, data, modelNames, load) {
    if (IS_19) {
        return load(data);
    }
    const loaded = { ...data };
    const links = [];
    for (const model of modelNames.filter((name) => Array.isArray(data[name]))) {
        const fields = linksMaybeNeverLoaded(models, model);
        loaded[model] = data[model].map((vals) => {
            const held = vals.uuid && models[model].getBy("uuid", vals.uuid);
            const names = vals.uuid ? linksNeverLoaded(models, data, fields, vals, held) : [];
            if (!names.length) {
                return vals;
            }
            links.push([model, vals.uuid, Object.fromEntries(names.map((n) => [n, vals[n]]))]);
            return Object.fromEntries(
                Object.entries(vals).filter(([name]) => !names.includes(name))
            );
        });
    }
    try {
        return load(loaded);
    } finally {
        for (const [model, uuid, values] of links) {
            const record = models[model].getBy("uuid", uuid);
            Object.assign((record && toRaw(record).raw) || {}, values);
        }
    }
}

export function selectedOrder(pos) {
    return IS_19 ? pos.getOrder() : pos.get_order();
}

/** The name of the screen the POS shows, e.g. "FloorScreen". */
export function currentScreen(pos) {
    return IS_19 ? pos.router.state.current : pos.mainScreen.component?.name;
}

/**
 * Whether Odoo still has to send `order` to the server, or is sending it. 19 adds an order's
 * id to `syncingOrders` and removes its uuid, so the id of an order synced before stays
 * there for good; 19 itself asks for the uuid, which is there while a new order is sent.
 */
export function syncPending(pos, order) {
    const queued = Object.values(pos.pendingOrder || {}).some((ids) => ids.has(order.id));
    return queued || Boolean(pos.syncingOrders?.has(IS_19 ? order.uuid : order.id));
}

/** Leave the order on screen for the floor plan (ticket screen without a floor plan). */
export function leaveOrder(pos) {
    const screen = pos.config.module_pos_restaurant ? "FloorScreen" : "TicketScreen";
    return IS_19 ? pos.navigate(screen) : pos.showScreen(screen);
}

/**
 * The values Odoo 18 keeps of a record in its model's store of each record's last values
 * from the server (or from its creation), by id; 19 keeps them on the record itself.
 */
export function keptValues(record) {
    return IS_19 ? undefined : toRaw(record).baseData?.[record.id];
}

/**
 * Forget a deleted record's kept `values`, which 18 leaves behind when the record goes: they
 * name the records it linked to (a line its order), which the page then keeps for good.
 * Unless a record of the same id took their place since (Odoo replacing a record it loads).
 */
export function forgetKeptValues(record, id, values) {
    const store = toRaw(record).baseData;
    if (values && store?.[id] === values) {
        delete store[id];
    }
}

/**
 * Forget the first ids of these deleted records: 18 indexes a record created on this page
 * under the id it gets here ("pos.order_3") and keeps that entry once the server's id
 * replaces it, so the record would stay in the page for good once deleted.
 */
export function forgetFirstIds(records) {
    if (IS_19) {
        return;
    }
    const byModel = new Map();
    for (const record of records.map(toRaw)) {
        byModel.set(record.model, (byModel.get(record.model) || new Set()).add(record));
    }
    for (const [model, gone] of byModel) {
        const byId = toRaw(model.indexedRecords[model.modelName].id);
        for (const key of Object.keys(byId)) {
            if (gone.has(toRaw(byId[key]))) {
                delete byId[key];
            }
        }
    }
}

/** Recompute what 18 stores on the order after a line changes (19 computes on read). */
export function refreshTotals(order) {
    if (!IS_19) {
        order.recomputeOrderData();
    }
}

/** Name a line after its product and attribute values again, as Odoo does at creation. */
export function refreshProductName(line) {
    if (IS_19) {
        line.setFullProductName();
    } else {
        line.set_full_product_name();
    }
}

/** The taxes a new line of this product gets. */
export function productTaxes(product) {
    return (IS_19 ? product.product_tmpl_id.taxes_id : product.taxes_id) || [];
}

/**
 * Odoo 18 links a new record to the records it points to before it sets the uuid it was
 * given, so their lists index it under no key: two such records take one slot, a deletion
 * later shifts the others past it, and the next deletion there fails half-way on the hole
 * ("reading 'uuid'"), which breaks the floor plan. 18 visits the fields in their order, and
 * only a record created with a uuid (possync's) has to wait for it: visit `uuid` first.
 * 19 sets the key before it links anything.
 */
export function setUuidFirst(models) {
    if (IS_19) {
        return;
    }
    for (const model of Object.values(models)) {
        const fields = model?.modelFields;
        if (fields && "uuid" in fields) {
            const others = { ...fields };
            Object.keys(fields).forEach((name) => delete fields[name]);
            Object.assign(fields, { uuid: others.uuid }, others);
        }
    }
}

/** The name of a record's model, e.g. "pos.order.line". */
export function modelName(record) {
    return IS_19 ? record.model.name : record.model.modelName;
}

/** Whether a record exists on the server yet (it has an integer id). */
export function isSynced(record) {
    return typeof record.id === "number";
}
