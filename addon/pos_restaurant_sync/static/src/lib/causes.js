/**
 * Why the indicator is red: the causes this library reports, in English. The POS shows
 * them in the user's language (pos/sync_cause.js translates each one); a cause that ends
 * in ": " is followed by a detail from elsewhere (a browser error, the agent's own words),
 * shown as it came.
 */
export const CAUSE = Object.freeze({
    agentUnreachable: "local agent unreachable",
    agentError: "local agent: ",
    agentNoServer: "the possync app has no Odoo server configured",
    serverUnreachable: "server unreachable",
    serverUnreachableBecause: "server unreachable: ",
    noAnswer: "no answer",
    versionMismatch: "protocol version mismatch: update possync or the addon",
    cannotReceive: "cannot receive changes: ",
    cannotSave: "cannot save unsent changes in the browser: ",
});

/**
 * Live updates are unavailable (Odoo's bus, e.g. behind a proxy without the websocket
 * route) and changes are pulled every `ms` instead: sync works, more slowly. The POS words
 * it from the interval (pos/sync_cause.js `fallbackText`).
 */
export function fallbackNotice(ms) {
    return `live updates unavailable: checking every ${ms / 1000} s`;
}
