/**
 * A tap on the POS's on-screen numpad is applied at once while Real-Time Sync is on.
 *
 * Odoo passes each numpad tap through the same buffer as the keyboard, and on the product
 * and payment screens that buffer holds a key for the barcode scanner's time between keys
 * (150 ms by default) before it applies it, so that a scanner's keystrokes are not taken for
 * typing. A tap on the screen is never a scanner: held, it only delays the line on this
 * screen and, through it, on every other terminal (measured on 18 and 19: 150 of the 230 ms
 * from a tap to possync's capture; docs/benchmarks.md "Where the time goes"). Keys from the
 * keyboard keep Odoo's wait.
 *
 * No imports: the node tests (tests/js/) read it as it is.
 */

/** Make `numberBuffer` (the POS's `number_buffer` service) apply each tap without the wait. */
export function applyTapsAtOnce(numberBuffer) {
    const sendKey = numberBuffer.sendKey;
    numberBuffer.sendKey = function (key) {
        const wait = this.maxTimeBetweenKeys;
        this.maxTimeBetweenKeys = 0; // read once, as the buffer sets its timer for this key
        try {
            return sendKey.call(this, key);
        } finally {
            this.maxTimeBetweenKeys = wait;
        }
    };
}
