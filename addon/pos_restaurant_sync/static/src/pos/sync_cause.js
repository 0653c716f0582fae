/**
 * The indicator's causes (lib/causes.js) in the POS user's language. A cause with a
 * detail ("server unreachable: connection refused") is translated up to its detail, and
 * a known detail too; an app too old for the server is worded from its versions (the
 * agent's cause is English); anything else (a message the server or the agent wrote) is
 * shown as it came.
 */
import { _t } from "@web/core/l10n/translation";
import { localization } from "@web/core/l10n/localization";
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
        [CAUSE.cannotReceive]: _t("cannot receive changes: %s"),
        [CAUSE.cannotSave]: _t("cannot save unsent changes in the browser: %s"),
    };
}

// Own keys only: a cause named "constructor" or "__proto__" is text, not the object's.
function has(table, key) {
    return Object.prototype.hasOwnProperty.call(table, key);
}

/** `status.appTooOld` (lib/agent_transport.js) in the POS user's language. */
export function appTooOldText({ version, min }) {
    return String(
        _t(
            "too old for this server (needs ≥ %(min)s): possync %(version)s syncs nothing with it and keeps its changes until you update possync on this tablet",
            { version, min }
        )
    );
}

/** `status.appUpdate` (lib/agent_transport.js) in the POS user's language. */
export function appUpdateText({ version, latest }) {
    return String(
        _t(
            "update available (%(version)s → %(latest)s): this version keeps working; update possync on this tablet when you can",
            { version, latest }
        )
    );
}

/**
 * `status.notice` (lib/causes.js `fallbackNotice`) in the POS user's language, from the
 * interval it polls at: "live updates unavailable: checking every 0.5 s".
 */
export function fallbackText({ fallbackMs }) {
    const seconds = formatSeconds(fallbackMs);
    return String(_t("live updates unavailable: checking every %s s", seconds));
}

/** 500 → "0.5" ("0,5" where the decimal point is a comma): the user's own notation. */
function formatSeconds(ms) {
    const point = localization.decimalPoint || ".";
    return String(ms / 1000).replace(".", point);
}

/** `cause` in the POS user's language; `status`: the sync status it comes from. */
export function causeText(cause, status = {}) {
    if (status.appTooOld && cause === status.appTooOld.cause) {
        return appTooOldText(status.appTooOld);
    }
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
