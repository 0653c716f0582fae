// pos/numpad.js without Odoo: a tap on the on-screen numpad skips the barcode scanner's wait.
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyTapsAtOnce } from "../../addon/pos_restaurant_sync/static/src/pos/numpad.js";

/** The part of Odoo's number buffer the patch relies on: each key sets a timer. */
function numberBuffer() {
    return {
        maxTimeBetweenKeys: 150,
        timers: [],
        sendKey(key) {
            this.timers.push([key, this.maxTimeBetweenKeys]);
        },
        onKeyboard(key) {
            this.timers.push([key, this.maxTimeBetweenKeys]);
        },
    };
}

test("a numpad tap is applied without the barcode scanner's wait", () => {
    const buffer = numberBuffer();
    applyTapsAtOnce(buffer);
    buffer.sendKey("5");
    assert.deepEqual(buffer.timers, [["5", 0]]);
});

test("keys from the keyboard keep the scanner's wait, also after a tap", () => {
    const buffer = numberBuffer();
    applyTapsAtOnce(buffer);
    buffer.sendKey("1");
    buffer.onKeyboard("2");
    assert.deepEqual(buffer.timers, [["1", 0], ["2", 150]]);
    assert.equal(buffer.maxTimeBetweenKeys, 150);
});
