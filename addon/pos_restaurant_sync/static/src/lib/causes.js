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
    busUnreachable: "live updates (Odoo bus) unreachable",
    cannotReceive: "cannot receive changes: ",
    cannotSave: "cannot save unsent changes in the browser: ",
});
