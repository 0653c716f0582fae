// bench/steps.py's init script: stamps each step of an edit's way through a POS page into
// `window.possyncSteps` ({t, ev, ...}), t in wall-clock ms with sub-ms precision
// (performance.timeOrigin + performance.now(): one clock for every page of the machine).
// It wraps methods of possync's and Odoo's classes once their modules have started; it
// changes nothing they do.
(function () {
    const steps = [];
    window.possyncSteps = steps;
    const now = () => performance.timeOrigin + performance.now();
    const stamp = (ev, extra = {}) => steps.push({ t: now(), ev, ...extra });
    const opsOf = (changes) => changes.flatMap((c) => c.ops.map((op) => op.field || op.op));

    // The waiter's taps, before Odoo's handlers run (capture phase).
    for (const type of ["pointerdown", "click"]) {
        document.addEventListener(
            type,
            (event) => stamp(type, { text: (event.target.innerText || "").slice(0, 20) }),
            true
        );
    }

    function wrap(proto, name, before, after) {
        const original = proto?.[name];
        if (!original || original.possyncStepsWrapped) {
            return;
        }
        const wrapped = function (...args) {
            const started = now();
            before?.call(this, args);
            const result = original.apply(this, args);
            const done = (value) => {
                after?.call(this, args, value, started);
                return value;
            };
            return result instanceof Promise ? result.then(done) : done(result);
        };
        wrapped.possyncStepsWrapped = true;
        proto[name] = wrapped;
    }

    function instrument(modules) {
        const client = modules.get("@pos_restaurant_sync/lib/sync_client").SyncClient.prototype;
        wrap(client, "capture", null, (args, changes) => {
            if (changes.length) {
                const lines = changes.flatMap((c) => c.ops.map((op) => op.line).filter(Boolean));
                stamp("capture", { ops: opsOf(changes), orders: changes.map((c) => c.order), lines });
            }
        });
        wrap(client, "pushBatch", () => stamp("push.start"), () => stamp("push.end"));
        wrap(client, "flush", () => stamp("flush.start"), () => stamp("flush.end"));
        wrap(client, "receive", (args) => {
            const changes = args[0].map((e) => e.change);
            stamp("receive", { ops: opsOf(changes), kind: args[1], orders: changes.map((c) => c.order) });
        });
        for (const path of ["server_transport", "agent_transport"]) {
            const transport = modules.get(`@pos_restaurant_sync/lib/${path}`);
            const proto = (transport.ServerTransport || transport.AgentTransport).prototype;
            wrap(proto, "push", (args) => stamp("send", { n: args[0].length, via: path }),
                () => stamp("acked", { via: path }));
        }
        const sync = modules.get("@pos_restaurant_sync/pos/order_sync").PosOrderSync.prototype;
        wrap(sync, "applyRemote", () => stamp("apply.start"), () => stamp("apply.end"));
        wrap(sync, "catchUp", () => stamp("catchup.start"), () => stamp("catchup.end"));
        wrap(sync, "beforeServerLoad", () => stamp("load.start"));
        wrap(sync, "afterServerLoad", () => stamp("load.end"));
        wrap(sync, "deletedHere", null, (args, deleted) => {
            if (deleted.length) {
                stamp("deleted", { orders: deleted.map(([uuid]) => uuid) });
            }
        });
        wrap(sync, "createFromRemote", (args) => stamp("created", { orders: [args[0].uuid] }));
        for (const name of ["mergeOrders", "transferOrder", "mergeTableOrders"]) {
            wrap(window.posmodel, name, (args) => stamp(`odoo.${name}`));
        }
        wrap(sync, "announceClosed", (args) => stamp("closed", { state: args[1] }));
        const order = modules.get("@point_of_sale/app/models/pos_order")?.PosOrder?.prototype;
        wrap(order, "triggerRecomputeAllPrices", null, (args, value, started) =>
            stamp("recompute", { ms: now() - started })
        );
        const pos = window.posmodel;
        wrap(pos, "syncAllOrders", () => stamp("odoo_sync.start"), () => stamp("odoo_sync.end"));
        wrap(pos.data, "localDeleteCascade", (args) =>
            stamp("odoo.delete", { orders: [args[0]?.uuid] })
        );
        for (const name of ["showScreen", "navigate"]) {
            wrap(pos, name, (args) => stamp("screen", { text: String(args[0]) }));
        }
        // A notification drawn for the waiter ("paid on another terminal"…).
        new MutationObserver((records) => {
            for (const record of records) {
                for (const node of record.addedNodes) {
                    if (node.nodeType === 1 && node.matches(".o_notification, :has(.o_notification)")) {
                        stamp("notice", { text: node.innerText.slice(0, 40) });
                    }
                }
            }
        }).observe(document.body, { childList: true, subtree: true });
    }

    const timer = setInterval(() => {
        const modules = window.odoo?.loader?.modules;
        if (modules?.has("@pos_restaurant_sync/pos/order_sync") && window.posmodel) {
            clearInterval(timer);
            instrument(modules);
            stamp("instrumented");
        }
    }, 20);
})();
