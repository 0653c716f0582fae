"""What ``bench.odoo`` measures inside a page, beyond what ``PosPage`` does.

Edits and arrivals go through ``devkit.pos_page`` (``window.posPage``): an edit on A stamps
its start (``Date.now()``), and B and C, watching the order, keep the first time they held
each state of it; all pages run on one machine, so the wall clock is shared.

``PRICE_RECOMPUTE`` times Odoo 19's own recompute of an order's prices with possync's short
JSON of a record (overrides/models/related_models.js) and without it: the only place the
bench touches possync itself.
"""

from __future__ import annotations

# Odoo 19's recompute of the current order's prices (once per line added or changed) with
# possync's short JSON of a record and without it, alternately; null on 18, which computes
# prices on read.
PRICE_RECOMPUTE = r"""(rounds) => {
    const order = window.posmodel.getOrder?.();
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
}"""
