// Every cause the library can report has a translatable text in the POS
// (pos/sync_cause.js): a cause with a detail (ending in ": ") as "<cause>%s".
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { register } from "node:module";
import { test } from "node:test";

import {
    CAUSE,
    fallbackNotice,
} from "../../addon/pos_restaurant_sync/static/src/lib/causes.js";

register("./odoo_loader.js", import.meta.url);
const { causeText, fallbackText } = await import("@pos_restaurant_sync/pos/sync_cause");
const { localization } = await import("@web/core/l10n/localization");

const POS_CAUSES = new URL(
    "../../addon/pos_restaurant_sync/static/src/pos/sync_cause.js",
    import.meta.url
);

test("every cause of the sync library is translated in the POS", () => {
    const source = readFileSync(POS_CAUSES, "utf8");
    for (const [name, text] of Object.entries(CAUSE)) {
        const english = text.endsWith(": ") ? `${text}%s` : text;
        assert.ok(
            source.includes(`[CAUSE.${name}]: _t(${JSON.stringify(english)})`),
            `${name}: no _t(${JSON.stringify(english)}) in sync_cause.js`
        );
    }
});

test("attack: a cause named like an object's own property is shown as text", () => {
    for (const cause of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
        assert.equal(causeText(cause), cause);
    }
    assert.equal(causeText(`${CAUSE.serverUnreachableBecause}constructor`),
        "server unreachable: constructor");
});

test("attack: a detail with $& or $' is inserted as it is", () => {
    const detail = "$& $' $` $$ $1";
    assert.equal(causeText(CAUSE.serverUnreachableBecause + detail),
        `server unreachable: ${detail}`);
    assert.equal(causeText(CAUSE.serverUnreachableBecause + CAUSE.noAnswer),
        "server unreachable: no answer", "a known detail is still translated");
});

test("the fallback warning says how often it checks, in the user's notation", () => {
    const source = readFileSync(POS_CAUSES, "utf8");
    const english = fallbackNotice(500).replace("0.5", "%s");
    assert.ok(source.includes(`_t(${JSON.stringify(english)}, seconds)`), english);
    assert.equal(fallbackText({ fallbackMs: 500 }), fallbackNotice(500));
    assert.equal(fallbackText({ fallbackMs: 2000 }), "live updates unavailable: checking every 2 s");
    localization.decimalPoint = ",";
    try {
        assert.equal(fallbackText({ fallbackMs: 300 }), "live updates unavailable: checking every 0,3 s");
    } finally {
        localization.decimalPoint = ".";
    }
});
