/**
 * The indicator's causes (lib/causes.js) in the POS user's language. A cause with a
 * detail ("server unreachable: connection refused") is translated up to its detail, and
 * a known detail too; anything else (a message the server or the agent wrote) is shown
 * as it came.
 */
import { _t } from "@web/core/l10n/translation";
import { CAUSE } from "@pos_restaurant_sync/lib/causes";

function translations() {
    return {
        [CAUSE.agentUnreachable]: _t("local agent unreachable"),
        [CAUSE.agentError]: _t("local agent: %s"),
        [CAUSE.agentNoServer]: _t("the possync app has no Odoo server configured"),
        [CAUSE.serverUnreachable]: _t("server unreachable"),
        [CAUSE.serverUnreachableBecause]: _t("server unreachable: %s"),
        [CAUSE.noAnswer]: _t("no answer"),
        [CAUSE.versionMismatch]: _t("protocol version mismatch: update possync or the addon"),
        [CAUSE.busUnreachable]: _t("live updates (Odoo bus) unreachable"),
        [CAUSE.cannotReceive]: _t("cannot receive changes: %s"),
        [CAUSE.cannotSave]: _t("cannot save unsent changes in the browser: %s"),
    };
}

// Own keys only: a cause named "constructor" or "__proto__" is text, not the object's.
function has(table, key) {
    return Object.prototype.hasOwnProperty.call(table, key);
}

export function causeText(cause) {
    const known = translations();
    if (has(known, cause)) {
        return String(known[cause]);
    }
    const prefix = Object.values(CAUSE).find((c) => c.endsWith(": ") && cause.startsWith(c));
    if (!prefix) {
        return cause;
    }
    const detail = cause.slice(prefix.length);
    const shown = has(known, detail) ? String(known[detail]) : detail;
    // A function: the detail is inserted as it is, "$&" or "$'" in it included.
    return String(known[prefix]).replace("%s", () => shown);
}
