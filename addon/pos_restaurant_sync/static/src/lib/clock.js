/**
 * The page's corrected clock: the device's clock plus its measured offset to the server's
 * (agent/clock.py is the agent's twin; docs/protocol.md, "Clock").
 *
 * A tablet's own clock may be minutes off. Clock readings and the refusal of changes from
 * the future use `now()`: the device clock plus the offset measured at each exchange — the
 * server's answers carry its `time_ms`, the local agent's welcome carries its corrected
 * time. One exchange gives one sample, offset = remote time − the local midpoint of the
 * request; the sample with the shortest round trip among the last few of the most trusted
 * source sets the offset. A device clock that jumps (it moved unlike the monotonic clock)
 * invalidates every sample until the next exchange.
 */

/** A device clock this far from the server's is reported (the indicator says so). */
export const FAR_OFF_MS = 30000;
const JUMP_MS = 2000;
const MAX_ROUND_TRIP_MS = 5000;
const KEEP_SAMPLES = 8;
/** In order of trust: the agent's time counts only without an answer from the server. */
const SOURCES = ["server", "agent"];

export class CorrectedClock {
    /**
     * @param {object} [options]
     * @param {() => number} [options.device] the device's clock (ms since the epoch)
     * @param {() => number} [options.monotonic] a clock that never jumps (ms)
     */
    constructor({ device = Date.now, monotonic = () => globalThis.performance.now() } = {}) {
        this.device = device;
        this.monotonic = monotonic;
        this.samples = Object.fromEntries(SOURCES.map((source) => [source, []]));
        this.last = [device(), monotonic()];
    }

    /** The device's own clock: what an exchange is timed with (sent, received). */
    local() {
        this.checkJump();
        return this.device();
    }

    /** The corrected time: what clock readings use and what changes are checked against. */
    now() {
        return this.local() + this.offsetMs;
    }

    /** `source` ("server" or "agent") answered at `remoteMs` a request timed locally. */
    observe(source, remoteMs, sentMs, receivedMs) {
        const roundTrip = receivedMs - sentMs;
        if (!Number.isFinite(remoteMs) || !(roundTrip >= 0 && roundTrip <= MAX_ROUND_TRIP_MS)) {
            return; // no time in the answer, a slow exchange, or the clock was set meanwhile
        }
        const samples = this.samples[source];
        samples.push({ offsetMs: Math.round(remoteMs - (sentMs + receivedMs) / 2), roundTrip });
        if (samples.length > KEEP_SAMPLES) {
            samples.shift();
        }
    }

    /**
     * `source` measured the offset itself, against this very device clock: the local agent's
     * status gives its offset to the server, measured after this page's welcome perhaps.
     */
    adopt(source, offsetMs) {
        if (Number.isFinite(offsetMs)) {
            const local = this.local();
            this.observe(source, local + offsetMs, local, local);
        }
    }

    /** Where the offset comes from: "server", "agent", or null (the device clock as is). */
    get source() {
        return SOURCES.find((source) => this.samples[source].length) ?? null;
    }

    get offsetMs() {
        const source = this.source;
        if (!source) {
            return 0;
        }
        // The quickest exchange; of equally quick ones, the latest.
        const best = this.samples[source].reduce((a, b) => (b.roundTrip <= a.roundTrip ? b : a));
        return best.offsetMs;
    }

    get farOff() {
        return Math.abs(this.offsetMs) > FAR_OFF_MS;
    }

    /** The clock part of the sync status. */
    snapshot() {
        return { offsetMs: this.offsetMs, source: this.source, farOff: this.farOff };
    }

    checkJump() {
        const [device, monotonic] = [this.device(), this.monotonic()];
        const [lastDevice, lastMonotonic] = this.last;
        this.last = [device, monotonic];
        const moved = device - lastDevice - (monotonic - lastMonotonic);
        if (Math.abs(moved) > JUMP_MS) {
            SOURCES.forEach((source) => (this.samples[source] = []));
        }
    }
}
