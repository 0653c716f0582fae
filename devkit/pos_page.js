// The POS page's helpers, as an init script (devkit/pos_page.py drives them): `window.posPage`
// reads the POS store (`window.posmodel`) and acts on it the way the POS screens do, through
// the store's and records' own methods, on Odoo 18 (snake_case) and 19 (camelCase). Nothing
// here touches possync, except reading its status: the addon sees these edits exactly as it
// sees a waiter's taps. An action that does not apply here (no such open order or line)
// throws an error starting with "posPage:".
(function () {
    const pos = () => window.posmodel;
    const is19 = () => odoo.loader.modules.has("@point_of_sale/app/services/pos_store");
    const call = (record, name18, name19, ...args) =>
        record[is19() ? name19 : name18](...args);
    // Undefined on plain Odoo (no addon), where only the store's own actions are used.
    const readOrderView = () =>
        odoo.loader.modules.get("@pos_restaurant_sync/pos/order_view")?.readOrderView;
    const find = (uuid) =>
        pos().models["pos.order"].find((o) => o.uuid === uuid && o.state === "draft");
    const order = (uuid) => {
        const found = find(uuid);
        if (!found) {
            throw new Error(`posPage: no open order ${uuid} here`);
        }
        return found;
    };
    const line = (orderUuid, lineUuid) => {
        const found = order(orderUuid).lines.find((l) => l.uuid === lineUuid);
        if (!found) {
            throw new Error(`posPage: no line ${lineUuid} in ${orderUuid} here`);
        }
        return found;
    };
    const openOrdersOn = (table) =>
        pos()
            .models["pos.order"].getAll()
            .filter((o) => o.state === "draft" && (o.table_id?.table_number ?? null) === table);
    const noteField = () => (is19() ? "internal_note" : "general_note");
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    const rpcErrors = () => odoo.loader.modules.get("@web/core/network/rpc");
    const splitScreen = () =>
        odoo.loader.modules.get(
            is19()
                ? "@pos_restaurant/app/screens/split_bill_screen/split_bill_screen"
                : "@pos_restaurant/app/split_bill_screen/split_bill_screen"
        ).SplitBillScreen;
    const RETRIES = 15; // a waiter's retries, 1 s apart, when the network drops a request

    /**
     * Odoo's answer to a validated order, through the POS's own sync as the payment screen
     * runs it (`throw: true`): "accepted", "refused" (Odoo raised: the screen puts the order
     * back to draft) or, if the connection stays lost, "deferred" (Odoo's offline mode keeps
     * it among its pending orders and sends it later). Any other error is thrown.
     */
    async function paymentAnswer(target) {
        const { ConnectionLostError, RPCError } = rpcErrors();
        for (let attempt = 0; attempt < RETRIES; attempt++) {
            try {
                const synced = await pos().syncAllOrders({
                    orders: [target],
                    throw: true,
                    force: true, // 19 skips an order its failed sync left not dirty
                });
                const mine = (synced || []).find((o) => o.uuid === target.uuid);
                if (mine) {
                    return mine.state === "draft" ? "refused" : "accepted";
                }
                // Nothing sent: Odoo's own sync of this order is under way; ask again.
            } catch (error) {
                if (error instanceof RPCError) {
                    return "refused";
                }
                if (!(error instanceof ConnectionLostError)) {
                    throw error;
                }
            }
            await sleep(1000);
        }
        return "deferred";
    }

    // Order state that every edit changes: its customer, table, lines (uuid, product,
    // quantity, discount, price, notes) and payment lines; "closed" once it is paid or
    // cancelled, or gone after it was seen. A line's discount is undefined until set on 19
    // and 0 once synced: both count as 0.
    const num = (value) => Number(value) || 0;
    const lineState = (l) => [
        l.uuid,
        l.product_id?.id,
        num(l.qty),
        num(l.discount),
        num(l.price_unit),
        l.customer_note || "",
        l.note || "",
    ];
    const paymentState = (p) => [p.uuid, num(p.amount)];
    // Read without Owl's reactive proxies: the arrival sampler signs the watched order every
    // few ms, and through the proxies a 40-line order cost the watching page a third of its
    // CPU, which the measured sync then lacked.
    let toRaw = null; // Owl's, once its module is loaded
    const raw = (value) => (toRaw ??= odoo.loader.modules.get("@odoo/owl").toRaw)(value);
    const signature = (proxy) => {
        const o = proxy && raw(proxy);
        if (!o) {
            return "";
        }
        if (o.state !== "draft") {
            return CLOSED;
        }
        const lines = raw(o.lines).map((l) => lineState(raw(l))).sort();
        const payments = raw(o.payment_ids || []).map((p) => paymentState(raw(p))).sort();
        return JSON.stringify([o.partner_id?.id ?? null, o.table_id?.id ?? null, lines, payments]);
    };
    const CLOSED = "closed";
    const NOTICE = "notice"; // a new notification shown to the waiter
    const notices = () => [...document.querySelectorAll(".o_notification")];
    const anyOrder = (uuid) => pos()?.models?.["pos.order"]?.find((o) => o.uuid === uuid);
    // The arrival sampler looks the order up by its uuid index and reads it as it is, not
    // through the store's reactive proxies: a search of every open order through them every
    // few ms cost a busy page (100 open orders) a tenth of its CPU, which the measured sync
    // then lacked. The index can lose an order: when Odoo's load replaces a record by one
    // with the same uuid, removing the old one drops the uuid's entry of the new one. Then
    // the raw records are searched.
    const rawOrder = (uuid) => {
        const model = pos()?.models?.["pos.order"];
        if (!model) {
            return undefined;
        }
        const records = raw(model);
        const indexed = records.getBy("uuid", uuid);
        return indexed?.uuid === uuid ? indexed : records.getAll().find((o) => o.uuid === uuid);
    };
    const watcher = { seen: {}, timer: null };
    const findKey = (selector, text) =>
        [...document.querySelectorAll(`.numpad ${selector}`)].find(
            (button) => text === null || button.textContent.trim() === text
        );
    /** A key of the numpad, once the screen shows it (at most 2 s). */
    const numpadKey = async (selector, text) => {
        const until = Date.now() + 2000;
        while (!findKey(selector, text) && Date.now() < until) {
            await sleep(10);
        }
        const found = findKey(selector, text);
        if (!found) {
            throw new Error(`posPage: no numpad key ${selector} ${text ?? ""} here`);
        }
        return found;
    };

    const api = {
        /** The store is loaded (and, when `synced`, possync's page script knows its terminal). */
        ready: (synced = true) =>
            !!(window.posmodel && (!synced || (window.possync && window.possync.terminal?.()))),
        /** What a waiter can pick from: sellable products, customers, tables, cash. */
        catalog() {
            const models = pos().models;
            const products = models["product.product"]
                .getAll()
                .filter((p) => p.available_in_pos && !p.isCombo?.() && p.lst_price > 0)
                .filter((p) => !(p.attribute_line_ids || []).length)
                .map((p) => ({ id: p.id, price: p.lst_price }));
            const partners = models["res.partner"].getAll().map((p) => p.id);
            const tables = models["restaurant.table"].getAll().map((t) => t.id);
            // Only the config's own methods: Odoo refuses a payment with any other.
            const methods = pos().config.payment_method_ids;
            const cash = methods.find((m) => m.is_cash_count) || methods[0];
            return { products, partners, tables, cash: cash?.id ?? null };
        },
        /**
         * A value of a no-variant attribute of a product this POS loaded (the demo burgers'
         * sides, a desk's options): `{id, name, product_id, product}`, or null.
         */
        attributeValue() {
            const model = is19() ? "product.template" : "product.product";
            for (const product of pos().models[model].getAll()) {
                for (const attribute of product.attribute_line_ids || []) {
                    const [value] = attribute.product_template_value_ids;
                    if (value && attribute.attribute_id.create_variant === "no_variant") {
                        const variant = is19() ? product.product_variant_ids[0] : product;
                        return {
                            id: value.id,
                            name: value.name,
                            product_id: variant.id,
                            product: variant.name,
                        };
                    }
                }
            }
            return null;
        },
        /** The order on screen, or null. */
        current() {
            const shown = call(pos(), "get_order", "getOrder");
            return shown ? shown.uuid : null;
        },
        /** Every open order with lines, as the addon reads it (docs/protocol.md views). */
        views() {
            const read = readOrderView();
            return pos()
                .models["pos.order"].getAll()
                .filter((o) => o.state === "draft" && o.lines.length)
                .map((o) => read(o));
        },
        /** Uuids of the open orders on table number `table` (null: of no table). */
        ordersOn(table) {
            return openOrdersOn(table).map((o) => o.uuid);
        },
        /** Product names of the open orders on table number `table` (null: of no table). */
        productsOn(table) {
            return openOrdersOn(table).flatMap((o) => o.lines.map((l) => l.full_product_name));
        },
        hasOrder: (orderUuid) => !!anyOrder(orderUuid)?.lines.length,
        pending: () => window.possync.pendingCount(),
        status: () => window.possync.status(),
        terminal: () => window.possync.terminal(),

        // --- arrival: when this page first held a state of an order ----------------------
        /**
         * Sample the order every 2 ms; keep the first time each state was seen, and when a
         * new notification first showed (`NOTICE`).
         */
        watch(orderUuid) {
            clearInterval(watcher.timer);
            watcher.seen = {};
            const shown = new Set(notices());
            const keep = (sig) => {
                if (sig && !(sig in watcher.seen)) {
                    watcher.seen[sig] = Date.now();
                }
            };
            // A tick that fails (a record half-written by a load) is counted, and the next
            // one samples again.
            watcher.errors = 0;
            const tick = () => {
                try {
                    const found = rawOrder(orderUuid);
                    keep(found || !Object.keys(watcher.seen).length ? signature(found) : CLOSED);
                    if (notices().some((notice) => !shown.has(notice))) {
                        keep(NOTICE);
                    }
                } catch (error) {
                    watcher.errors += 1;
                    watcher.lastError = String(error);
                }
            };
            watcher.timer = setInterval(tick, 2);
            tick();
        },
        /** Ticks of the sampler that failed since `watch`, and the last error. */
        samplerErrors: () => [watcher.errors, watcher.lastError ?? null],
        /** Wall-clock ms when the watched order first had the state `sig`, or null. */
        seenAt: (sig) => watcher.seen[sig] ?? null,
        /** Show the open order `uuid` as a tap on its table does. */
        async openOrder(uuid) {
            const target = order(uuid);
            await pos().setTableFromUi(target.table_id, uuid);
        },
        /** Open `uuid` as the Orders screen does: its table, naming the order. */
        async openFromOrders(uuid) {
            await pos().setTable(order(uuid).table_id, uuid);
        },
        /** Every state the sampler saw since `watch`, with when it first did. */
        seenStates: () => ({ ...watcher.seen }),
        /** When the last waiter action here started, and the state it left the order in. */
        edited: (orderUuid) => ({ at: api.editedAt, sig: signature(anyOrder(orderUuid)) }),
        /** The state of the order as the arrival sampler reads it now. */
        sampled: (orderUuid) => signature(rawOrder(orderUuid)),
        /** Every record of the order (Odoo's loads may leave two): `[{id, sig}]`. */
        copies: (orderUuid) =>
            pos()
                .models["pos.order"].getAll()
                .filter((o) => o.uuid === orderUuid)
                .map((o) => ({ id: o.id, sig: signature(o) })),

        // --- waiter actions: each returns what it did ------------------------------------
        editedAt: null, // the latency's start, stamped in the same call as the edit
        newOrder(tableId) {
            api.editedAt = Date.now();
            const table = pos().models["restaurant.table"].get(tableId);
            return pos().createNewOrder({ table_id: table }).uuid;
        },
        /**
         * A line as the product screen adds it. A given `price` keeps Odoo from merging it
         * into a line of the same product (a line of another waiter); it is what a waiter's
         * "Price" key does. `valueIds`: attribute values, as the product configurator sets.
         */
        async addLine(orderUuid, productId, price = null, valueIds = []) {
            api.editedAt = Date.now();
            const target = order(orderUuid);
            const before = new Set(target.lines.map((l) => l.uuid));
            const product = pos().models["product.product"].get(productId);
            const vals = { product_id: product };
            if (price !== null) {
                Object.assign(vals, { qty: 1, price_unit: price });
            }
            if (valueIds.length) {
                const model = pos().models["product.template.attribute.value"];
                vals.attribute_value_ids = [["link", ...model.readMany(valueIds)]];
            }
            if (is19()) {
                vals.product_tmpl_id = product.product_tmpl_id;
            }
            await pos().addLineToOrder(vals, target, {}, false);
            const added = target.lines.find((l) => !before.has(l.uuid));
            return added ? added.uuid : null;
        },
        setQty(orderUuid, lineUuid, qty) {
            api.editedAt = Date.now();
            call(line(orderUuid, lineUuid), "set_quantity", "setQuantity", qty);
        },
        /**
         * Select the line on screen (as a tap on it does), tap the numpad's mode key (its
         * CSS class) and then each of `keys`: Odoo's own numpad path. The edit starts with
         * the last tap; Odoo's number buffer applies the keys a moment later, which this
         * waits for (at most 2 s).
         */
        async numpad(orderUuid, lineUuid, modeClass, keys) {
            const target = order(orderUuid);
            call(target, "select_orderline", "selectOrderline", line(orderUuid, lineUuid));
            const before = signature(target);
            (await numpadKey(`.${modeClass}`, null)).click();
            for (const [index, key] of [...keys].entries()) {
                const button = await numpadKey("button", key);
                if (index === keys.length - 1) {
                    api.editedAt = Date.now();
                }
                button.click();
            }
            const until = Date.now() + 2000;
            while (signature(target) === before && Date.now() < until) {
                await sleep(1);
            }
        },
        setDiscount(orderUuid, lineUuid, discount) {
            api.editedAt = Date.now();
            call(line(orderUuid, lineUuid), "set_discount", "setDiscount", discount);
        },
        setLineNote(orderUuid, lineUuid, text) {
            api.editedAt = Date.now();
            call(line(orderUuid, lineUuid), "set_customer_note", "setCustomerNote", text);
        },
        setPartner(orderUuid, partnerId) {
            api.editedAt = Date.now();
            const partner = pos().models["res.partner"].get(partnerId);
            call(order(orderUuid), "set_partner", "setPartner", partner);
        },
        /** The order's kitchen note, as its Note button writes it; returns what is stored. */
        setOrderNote(orderUuid, text) {
            api.editedAt = Date.now();
            const target = order(orderUuid);
            if (is19()) {
                // 19 keeps a JSON list of colored tags there; its screens parse it.
                target.setInternalNote(JSON.stringify([{ text, colorIndex: 0 }]));
            } else {
                target.update({ general_note: text });
            }
            return target[noteField()];
        },
        transfer(orderUuid, tableId) {
            api.editedAt = Date.now();
            order(orderUuid).update({ table_id: pos().models["restaurant.table"].get(tableId) });
        },
        /** A payment line for the amount due, as a tap on a payment method adds it. */
        addPayment(orderUuid, methodId) {
            api.editedAt = Date.now();
            const method = pos().models["pos.payment.method"].get(methodId);
            call(order(orderUuid), "add_paymentline", "addPaymentline", method);
        },
        /**
         * Odoo's own payment validation, without its screens: cash for the amount due (unless
         * the order has payment lines already), no invoice (Odoo renders its PDF while validating,
         * and wkhtmltopdf may be missing).
         */
        async pay(orderUuid, methodId) {
            api.editedAt = Date.now();
            const target = order(orderUuid);
            const method = pos().models["pos.payment.method"].get(methodId);
            call(target, "set_to_invoice", "setToInvoice", false);
            if (!target.payment_ids.length) {
                call(target, "add_paymentline", "addPaymentline", method);
            }
            target.date_order = luxon.DateTime.now().toFormat("yyyy-MM-dd HH:mm:ss");
            pos().addPendingOrder([target.id]);
            target.state = "paid";
            const view = readOrderView()?.(target) ?? null;
            let answer;
            try {
                answer = await paymentAnswer(target);
            } catch (error) {
                // The POS's own flow failed after sending (seen on 18): Odoo decides.
                answer = `error: ${error?.message}`;
            }
            if (answer !== "accepted" && answer !== "deferred") {
                target.state = "draft";
                // The waiter takes the payment back.
                for (const p of [...target.payment_ids]) {
                    call(target, "remove_paymentline", "removePaymentline", p);
                }
            }
            return { view, answer };
        },
        /**
         * The split bill screen's own split of the order: `quantities` (line uuid -> qty)
         * go to a new order. Returns the new order as it is right after it.
         */
        async split(orderUuid, quantities) {
            api.editedAt = Date.now();
            const target = order(orderUuid);
            const screen = Object.assign(Object.create(splitScreen().prototype), {
                pos: pos(),
                qtyTracker: { ...quantities },
                priceTracker: {},
                isTransferred: false,
            });
            const before = new Set(pos().models["pos.order"].getAll().map((o) => o.uuid));
            call(pos(), "set_order", "setOrder", target); // the screen splits the open order
            try {
                await screen.createSplittedOrder();
            } catch (error) {
                // Its closing sync or screen change may fail; the split itself is local.
                console.warn("posPage: split", error?.message);
            }
            const made = pos().models["pos.order"].find((o) => !before.has(o.uuid));
            const read = readOrderView();
            return made ? { uuid: made.uuid, made: read(made) } : null;
        },
        /**
         * A transfer onto the occupied table of order `destUuid` (Odoo merges the orders).
         * Returns the merged order, once this one is gone.
         */
        async merge(orderUuid, destUuid) {
            api.editedAt = Date.now();
            order(orderUuid);
            const table = order(destUuid).table_id;
            try {
                await pos().transferOrder(orderUuid, table);
            } catch (error) {
                console.warn("posPage: merge", error?.message);
            }
            // Odoo leaves the emptied order open if its cancel did not reach the server.
            for (let attempt = 0; find(orderUuid) && attempt < RETRIES; attempt++) {
                await sleep(1000);
                try {
                    await pos().deleteOrders([find(orderUuid)]);
                } catch (error) {
                    console.warn("posPage: merge, delete", error?.message);
                }
            }
            const dest = find(destUuid);
            return find(orderUuid) || !dest ? null : { dest: readOrderView()(dest) };
        },
        /**
         * Each table of the floor plan on screen as Odoo's own code answers outside a draw:
         * `{id: {occupied, changes}}` (the store's `tableHasOrders`, the floor screen's
         * `getChangeCount`), to compare with what the floor plan drew.
         */
        floorAsComputed() {
            const screen = component(odoo.__WOWL_DEBUG__.root, "FloorScreen");
            if (!screen) {
                throw new Error("posPage: no floor plan on screen");
            }
            const out = {};
            for (const table of pos().models["restaurant.table"].getAll()) {
                out[table.id] = {
                    occupied: Boolean(pos().tableHasOrders(table)),
                    changes: screen.getChangeCount(table).changes || 0,
                };
            }
            return out;
        },
    };
    /** The first component named `name` under `root` in Owl's tree. */
    function component(root, name) {
        if (root.constructor.name === name) {
            return root;
        }
        for (const child of Object.values(root.__owl__.children)) {
            const found = component(child.component, name);
            if (found) {
                return found;
            }
        }
        return null;
    }
    window.posPage = api;
})();
