// The end-to-end suite's waiter, as an init script: `window.e2e` acts on the POS store
// (`window.posmodel`) the way the POS screens do, through the store's and records' own
// methods, on Odoo 18 (snake_case) and 19 (camelCase). Nothing here touches possync: the
// addon sees these edits exactly as it sees a waiter's taps.
(function () {
    const pos = () => window.posmodel;
    const is19 = () => odoo.loader.modules.has("@point_of_sale/app/services/pos_store");
    const call = (record, name18, name19, ...args) =>
        record[is19() ? name19 : name18](...args);
    const readOrderView = () =>
        odoo.loader.modules.get("@pos_restaurant_sync/pos/order_view").readOrderView;
    const order = (uuid) => {
        const found = pos().models["pos.order"].find((o) => o.uuid === uuid);
        if (!found || found.state !== "draft") {
            throw new Error(`e2e: no open order ${uuid} here`);
        }
        return found;
    };
    const line = (orderUuid, lineUuid) => {
        const found = order(orderUuid).lines.find((l) => l.uuid === lineUuid);
        if (!found) {
            throw new Error(`e2e: no line ${lineUuid} in ${orderUuid} here`);
        }
        return found;
    };
    const noteField = () => (is19() ? "internal_note" : "general_note");

    window.e2e = {
        ready: () => !!(window.posmodel && window.possync && window.possync.terminal()),
        version: () => (is19() ? 19 : 18),
        /** What the run needs to pick from: sellable products, customers, tables, cash. */
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
        /** Every open order with lines, as the addon reads it (docs/protocol.md views). */
        views() {
            const read = readOrderView();
            return pos()
                .models["pos.order"].getAll()
                .filter((o) => o.state === "draft" && o.lines.length)
                .map((o) => read(o));
        },
        hasOrder(orderUuid) {
            return !!pos().models["pos.order"].find((o) => o.uuid === orderUuid && o.lines.length);
        },
        hasLine(orderUuid, lineUuid) {
            const found = pos().models["pos.order"].find((o) => o.uuid === orderUuid);
            return !!found?.lines.find((l) => l.uuid === lineUuid);
        },
        pending: () => window.possync.pendingCount(),
        status: () => window.possync.status(),

        // --- waiter actions: each returns what it did ------------------------------------
        newOrder(tableId) {
            const table = pos().models["restaurant.table"].get(tableId);
            return pos().createNewOrder({ table_id: table }).uuid;
        },
        async addLine(orderUuid, productId, price) {
            const target = order(orderUuid);
            const before = new Set(target.lines.map((l) => l.uuid));
            const product = pos().models["product.product"].get(productId);
            // A given price_unit keeps Odoo from merging it into a line of the same product
            // (a line of another waiter); it is what a waiter's "Price" key does.
            const vals = { product_id: product, qty: 1, price_unit: price };
            if (is19()) {
                vals.product_tmpl_id = product.product_tmpl_id;
            }
            await pos().addLineToOrder(vals, target, {}, false);
            const added = target.lines.find((l) => !before.has(l.uuid));
            return added ? added.uuid : null;
        },
        setQty(orderUuid, lineUuid, qty) {
            call(line(orderUuid, lineUuid), "set_quantity", "setQuantity", qty);
        },
        setDiscount(orderUuid, lineUuid, discount) {
            call(line(orderUuid, lineUuid), "set_discount", "setDiscount", discount);
        },
        setLineNote(orderUuid, lineUuid, text) {
            call(line(orderUuid, lineUuid), "set_customer_note", "setCustomerNote", text);
        },
        setCustomer(orderUuid, partnerId) {
            const partner = pos().models["res.partner"].get(partnerId);
            call(order(orderUuid), "set_partner", "setPartner", partner);
        },
        setOrderNote(orderUuid, text) {
            order(orderUuid).update({ [noteField()]: text });
        },
        transfer(orderUuid, tableId) {
            order(orderUuid).update({ table_id: pos().models["restaurant.table"].get(tableId) });
        },
        /** Odoo's own payment validation, without its screens: cash for the amount due. */
        async pay(orderUuid, methodId) {
            const target = order(orderUuid);
            const method = pos().models["pos.payment.method"].get(methodId);
            call(target, "add_paymentline", "addPaymentline", method);
            target.date_order = luxon.DateTime.now().toFormat("yyyy-MM-dd HH:mm:ss");
            pos().addPendingOrder([target.id]);
            target.state = "paid";
            const view = readOrderView()(target);
            try {
                await pos().syncAllOrders({ orders: [target] });
            } catch (error) {
                // Offline: Odoo keeps it among its pending orders and sends it later.
                console.warn("e2e: payment sync deferred", error?.message);
            }
            // Odoo can still refuse it in its answer (seen: a report it cannot render).
            await new Promise((resolve) => setTimeout(resolve, 1500));
            if (target.state !== "paid") {
                // Odoo refused it and reopened the order: the waiter takes the payment back.
                for (const p of [...target.payment_ids]) {
                    call(target, "remove_paymentline", "removePaymentline", p);
                }
                return null;
            }
            return { view };
        },
    };
})();
