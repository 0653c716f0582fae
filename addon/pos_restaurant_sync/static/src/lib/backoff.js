/**
 * Growing pauses between attempts after failures: `first`, then doubling up to `max`.
 * One success starts over. No Odoo imports: `node --test` loads it.
 */
export class Backoff {
    constructor(firstMs, maxMs) {
        this.firstMs = firstMs;
        this.maxMs = maxMs;
        this.failures = 0;
    }

    /** The pause before the next attempt, after one more failure. */
    next() {
        return Math.min(this.maxMs, this.firstMs * 2 ** this.failures++);
    }

    reset() {
        this.failures = 0;
    }
}
