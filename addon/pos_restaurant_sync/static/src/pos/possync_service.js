/**
 * The `possync` service of the POS: starts once the POS store has loaded its data, gives the
 * sync client the page it syncs (order_sync.js) and a transport, and exposes
 * `window.possync` for the desktop app.
 *
 * Transport: straight to the server (JSON-RPC push/pull, Odoo's bus or polling) until the
 * desktop app injects its local agent — `window.possyncAgent = {url, token}` and a
 * `possync:agent` event, possibly after this service started — then through the agent only.
 */
import { reactive } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { ConnectionLostError, rpc } from "@web/core/network/rpc";
import { SyncClient } from "@pos_restaurant_sync/lib/sync_client";
import { ServerTransport } from "@pos_restaurant_sync/lib/server_transport";
import { AgentTransport } from "@pos_restaurant_sync/lib/agent_transport";
import { CAUSE } from "@pos_restaurant_sync/lib/causes";
import { BUS_EVENTS } from "./compat";
import { possyncEnabled } from "./enabled";
import { applyTapsAtOnce } from "./numpad";
import { PosOrderSync } from "./order_sync";

const DEFAULT_INTERVAL_MS = 500;
// The bus reconnects on its own; only a longer outage is shown as a problem.
const BUS_GRACE_MS = 4000;
// What the server's /pos_restaurant_sync/info calls `channel` (with the config id) and `bus_type`.
const BUS_CHANNEL_PREFIX = "possync:";
const BUS_TYPE = "POSSYNC_CHANGES";

/** The sync settings the manager chose for this POS (fields the addon adds to pos.config). */
function possyncSettings(config) {
    return {
        enabled: possyncEnabled(config),
        mode: config.possync_mode === "interval" ? "interval" : "bus",
        intervalMs: config.possync_interval_ms || DEFAULT_INTERVAL_MS,
    };
}

export const possyncService = {
    dependencies: ["pos", "bus_service", "notification", "number_buffer"],
    start(env, { pos, bus_service, notification, number_buffer }) {
        const settings = possyncSettings(pos.config);
        const state = reactive({
            enabled: settings.enabled,
            mode: settings.mode,
            status: {},
            /** Resolves once what was edited so far is pushed, or after `timeoutMs`. */
            flush: async () => {},
        });
        window.possync = publicApi(state, null);
        if (!settings.enabled) {
            return state;
        }
        applyTapsAtOnce(number_buffer);
        const orders = new PosOrderSync(pos, {
            notify: (message) => notification.add(message, { type: "warning" }),
            showStatus: (status) => (state.status = status),
        });
        const client = new SyncClient({
            storage: window.localStorage,
            // Per config and database (the token is both), not per session: unsent changes
            // outlive the session they were made in.
            prefix: `possync:${odoo.access_token}:`,
            page: orders,
        });
        state.flush = (timeoutMs) => client.flush(timeoutMs);
        orders.start(client);
        const serverTransport = () =>
            new ServerTransport({
                call: callServer,
                configId: pos.config.id,
                mode: settings.mode,
                intervalMs: settings.intervalMs,
                bus: settings.mode === "bus" ? odooBus(pos, bus_service) : null,
                probe: serverHealth,
            });
        const useAgent = (agent) => {
            state.transport = "agent";
            client.useTransport(new AgentTransport(agent));
        };
        if (window.possyncAgent) {
            useAgent(window.possyncAgent);
        } else {
            state.transport = "server";
            client.useTransport(serverTransport());
        }
        window.addEventListener("possync:agent", (event) => useAgent(event.detail));
        window.possync = publicApi(state, client);
        return state;
    },
};

/** JSON-RPC to the addon's routes, with errors a waiter can read. */
async function callServer(route, params) {
    try {
        return await rpc(route, params, { silent: true });
    } catch (error) {
        const unreachable = error instanceof ConnectionLostError;
        throw new Error(
            unreachable ? CAUSE.serverUnreachable : error.data?.message || error.message
        );
    }
}

const HEALTH_TIMEOUT_MS = 2000;

/** Whether Odoo's health check answers (no login, no database work): a cheap look for a
 * server that pulls could not reach. */
async function serverHealth() {
    // A network that swallows the request must not stop the checks: they end in 2 s.
    const response = await fetch("/web/health", {
        cache: "no-store",
        signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS),
    });
    return response.ok;
}

/**
 * Odoo's bus in the shape ServerTransport wants: the changes notification, up and down.
 *
 * The page asks for `possync:<config id>`; the server subscribes it to the POS's own
 * channel only if its user may use that POS (models/ir_websocket.py). The bus worker keeps
 * the channel across reconnections.
 */
function odooBus(pos, bus) {
    return {
        subscribe(callback) {
            bus.subscribe(BUS_TYPE, callback);
            bus.addChannel(`${BUS_CHANNEL_PREFIX}${pos.config.id}`);
        },
        watch(callback) {
            let timer = null;
            const up = () => {
                clearTimeout(timer);
                timer = null;
                callback(true);
            };
            const down = () => {
                timer ||= setTimeout(() => callback(false), BUS_GRACE_MS);
            };
            BUS_EVENTS.up.forEach((name) => bus.addEventListener(name, up));
            BUS_EVENTS.down.forEach((name) => bus.addEventListener(name, down));
            if (bus.workerState !== "CONNECTED") {
                down();
            }
        },
    };
}

/** `window.possync`: what the desktop app (close guard) and support staff can read. */
function publicApi(state, client) {
    return {
        /** Changes made here and not yet acknowledged (0 when sync is off). */
        pendingCount: () => (client ? client.pendingCount() : 0),
        /** `{state, cause, pending, lastSyncAt, …}` plus the transport and mode in use. */
        status: () => ({
            ...state.status,
            enabled: state.enabled,
            mode: state.mode,
            transport: state.transport,
        }),
        /** This terminal's id in the protocol. */
        terminal: () => client?.terminal ?? null,
        /** Resolves once what was edited so far is pushed (gives up after `timeoutMs`). */
        flush: (timeoutMs = 5000) => state.flush(timeoutMs),
    };
}

registry.category("services").add("possync", possyncService);
