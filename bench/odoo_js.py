"""The page side of ``bench.odoo``: an init script that edits and watches the POS store.

``window.__possyncBench`` acts on the POS store (``window.posmodel``) with the store's and
records' own methods, on Odoo 18 (snake_case) and 19 (camelCase), so possync sees these
edits exactly as it sees a waiter's taps. It never touches possync itself, except in
``priceRecompute``, which times Odoo 19's own recompute of an order's prices with possync's
short JSON of a record (overrides/models/related_models.js) and without it.

Clock: ``Date.now()`` in every page; all pages run on one machine, so the wall clock is
shared. A receiving page samples the watched order every 2 ms and keeps, per state
(a signature of its lines), the first time it saw it; an edit's latency is that time on
the receiver minus the time just before the edit on the sender.
"""

from __future__ import annotations

# Line state that every edit of the benchmark changes: uuid, product, quantity, discount.
BENCH_JS = r"""
(() => {
    const is19 = () => odoo.loader.modules.has("@point_of_sale/app/services/pos_store");
    const pos = () => window.posmodel;
    const findOrder = (uuid) => pos()?.models?.["pos.order"]?.find((o) => o.uuid === uuid);
    // A line's discount is undefined until set on 19 and 0 once synced: both count as 0.
    const num = (value) => Number(value) || 0;
    const lineState = (l) => [l.uuid, l.product_id?.id, num(l.qty), num(l.discount)];
    const signature = (order) => (order ? JSON.stringify(order.lines.map(lineState).sort()) : "");
    const bench = {
        seen: {},
        timer: null,
        lastLine: null,
        ready: () => !!(window.posmodel && window.possync && window.possync.terminal?.()),
        visibility: () => document.visibilityState,
        version: () => (is19() ? 19 : 18),
        current() {
            const order = is19() ? pos().getOrder() : pos().get_order();
            return order ? order.uuid : null;
        },
        hasOrder: (uuid) => !!findOrder(uuid)?.lines.length,
        products() {
            return pos()
                .models["product.product"].getAll()
                .filter((p) => p.available_in_pos && !p.isCombo?.() && p.lst_price > 0)
                .filter((p) => !(p.attribute_line_ids || []).length)
                .map((p) => ({ id: p.id, price: p.lst_price }));
        },
        /** Sample the order every 2 ms; keep the first time each state was seen. */
        watch(uuid) {
            clearInterval(bench.timer);
            bench.seen = {};
            const tick = () => {
                const sig = signature(findOrder(uuid));
                if (sig && !(sig in bench.seen)) {
                    bench.seen[sig] = Date.now();
                }
            };
            tick();
            bench.timer = setInterval(tick, 2);
        },
        seenAt: (sig) => bench.seen[sig] ?? null,
        /** One edit of the current order; returns when it started and the state it made. */
        async edit(kind, product, value) {
            const order = is19() ? pos().getOrder() : pos().get_order();
            const t0 = Date.now();
            if (kind === "add") {
                bench.lastLine = await bench.addLine(order, product);
            } else {
                const line = order.lines.find((l) => l.uuid === bench.lastLine);
                const names = {
                    qty: ["set_quantity", "setQuantity"],
                    discount: ["set_discount", "setDiscount"],
                }[kind];
                line[is19() ? names[1] : names[0]](value);
            }
            return { t0, sig: signature(order), uuid: order.uuid };
        },
        async addLine(order, product) {
            const before = new Set(order.lines.map((l) => l.uuid));
            const record = pos().models["product.product"].get(product.id);
            // A given price keeps Odoo from merging it into an existing line of that product.
            const vals = { product_id: record, qty: 1, price_unit: product.price };
            if (is19()) {
                vals.product_tmpl_id = record.product_tmpl_id;
            }
            await pos().addLineToOrder(vals, order, {}, false);
            return order.lines.find((l) => !before.has(l.uuid))?.uuid ?? null;
        },
        /**
         * Odoo 19's recompute of the current order's prices (once per line added or changed)
         * with possync's short JSON of a record and without it, alternately; null on 18,
         * which computes prices on read.
         */
        priceRecompute(rounds) {
            const order = pos().getOrder?.();
            if (!order?.triggerRecomputeAllPrices || !order.lines.length) {
                return null;
            }
            let holder = order.lines[0];
            while (holder && !Object.hasOwn(holder, "toJSON")) {
                holder = Object.getPrototypeOf(holder);
            }
            const toJSON = holder.toJSON;
            const time = () => {
                const start = performance.now();
                for (let i = 0; i < 10; i++) {
                    order.triggerRecomputeAllPrices();
                }
                return (performance.now() - start) / 10;
            };
            const result = { lines: order.lines.length, with_ms: [], without_ms: [] };
            for (let r = 0; r < rounds; r++) {
                result.with_ms.push(time());
                delete holder.toJSON;
                try {
                    result.without_ms.push(time());
                } finally {
                    holder.toJSON = toJSON;
                }
            }
            return result;
        },
    };
    window.__possyncBench = bench;
})();
"""
