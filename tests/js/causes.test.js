// Every cause the library can report has a translatable text in the POS
// (pos/sync_cause.js): a cause with a detail (ending in ": ") as "<cause>%s".
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { CAUSE } from "../../addon/pos_restaurant_sync/static/src/lib/causes.js";

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
