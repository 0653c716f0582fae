// The JS merge rules against the shared vectors (tests/test_protocol_vectors.py runs the same).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
    FutureChange,
    HybridClock,
    InvalidChange,
    checkClock,
    diff,
    formatHlc,
    materialize,
    parseChange,
} from "../../addon/pos_restaurant_sync/static/src/lib/protocol.js";

const dir = fileURLToPath(new URL("../vectors/", import.meta.url));
const load = (name) => JSON.parse(readFileSync(dir + name, "utf8"));
const mergeVectors = readdirSync(dir).filter((f) => /^\d/.test(f)).sort().map(load);
let passed = 0;

for (const vector of mergeVectors) {
    test(`merge vector ${vector.name}`, () => {
        const log = [];
        let views;
        for (const change of [...vector.start, ...vector.deliver]) {
            log.push(parseChange(change));
            views = Object.fromEntries(
                Object.keys(vector.expect).map((uuid) => [uuid, materialize(uuid, log)])
            );
        }
        assert.deepStrictEqual(views, vector.expect);
        passed += 1;
    });
}

for (const { name, change } of load("invalid.json")) {
    test(`invalid change refused: ${name}`, () => {
        assert.throws(() => parseChange(change), InvalidChange);
    });
}

for (const { name, now_ms: nowMs, accepted, change } of load("clock.json")) {
    test(`clock vector: ${name}`, () => {
        parseChange(change);
        if (accepted) {
            assert.equal(checkClock(change, nowMs), change);
        } else {
            assert.throws(() => checkClock(change, nowMs), FutureChange);
            assert.throws(() => checkClock(change, nowMs), /ahead of the receiver/);
        }
    });
}

for (const { name, before, after: wanted } of load("diff.json")) {
    test(`diff turns before into after: ${name}`, () => {
        const start = {
            v: 1, id: "c0", terminal: "A", hlc: formatHlc(1, 0), order: before.uuid,
            ops: diff({ uuid: before.uuid }, before),
        };
        const ops = diff(before, wanted);
        const changes = start.ops.length ? [start] : [];
        if (ops.length) {
            changes.push({ ...start, id: "c1", hlc: formatHlc(2, 0), ops });
        }
        assert.deepStrictEqual(materialize(before.uuid, changes), wanted);
    });
}

test("diff sees equal attribute values in two arrays as unchanged", () => {
    const view = (ids) => ({ uuid: "o1", lines: { l1: { product_id: 10, attribute_value_ids: ids } } });
    assert.deepStrictEqual(diff(view([3, 7]), view([3, 7])), []);
});

test("clock stays monotonic when the wall clock jumps backwards", () => {
    const clock = new HybridClock();
    const first = clock.tick(5000);
    const later = [4000, 3000, 5000].map((now) => clock.tick(now));
    assert.ok(later[0] > first);
    assert.deepStrictEqual([...later].sort(), later);
    assert.equal(later[2], formatHlc(5000, 3));
});

test("clock adopts a far-future reading only up to the drift bound", () => {
    const clock = new HybridClock();
    clock.observe(formatHlc(10_000_000, 0), 1000);
    assert.equal(clock.tick(1000), formatHlc(61000, 1));
});

after(() => {
    console.log(`protocol vectors (JS): ${passed} of ${mergeVectors.length} passed`);
});
