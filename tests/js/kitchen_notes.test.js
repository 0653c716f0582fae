// Kitchen notes on an Odoo 19 page (lib/kitchen_notes.js, pos/order_writer.js,
// pos/order_view.js): a note that reaches the page by a road the server does not guard is
// written into the records only in a shape 19's screens can draw, and a note read for a
// change is one the server takes. tests/vectors/kitchen_notes.json is shared with the
// server's check (tests/security/test_kitchen_notes.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { register } from "node:module";
import { draftOrder, startOdoo } from "./pos_records.js";

register("./odoo_loader.js", import.meta.url);
startOdoo(19);

const { MAX_TEXT_LENGTH } = await import(
    "../../addon/pos_restaurant_sync/static/src/lib/protocol.js"
);
const { drawableKitchenNotes, fitKitchenNotes, parseKitchenNotes } = await import(
    "../../addon/pos_restaurant_sync/static/src/lib/kitchen_notes.js"
);
const { writeOps } = await import("../../addon/pos_restaurant_sync/static/src/pos/order_writer.js");
const { readOrderView } = await import(
    "../../addon/pos_restaurant_sync/static/src/pos/order_view.js"
);

const CASES = JSON.parse(
    readFileSync(new URL("../vectors/kitchen_notes.json", import.meta.url), "utf8")
).cases;

/** What 19's order display does with a kitchen note: it throws on any other shape. */
function drawOn19(note) {
    const notes = JSON.parse(note || "[]");
    assert.ok(Array.isArray(notes), "19 maps over the notes");
    for (const item of notes) {
        assert.deepEqual(Object.keys(item).sort(), ["colorIndex", "text"]);
        assert.equal(typeof item.text, "string");
    }
    return notes;
}

const note = (text, colorIndex = 0) => ({ text, colorIndex });
const orderNote = (value) => ({ op: "order.set", field: "internal_note", value });

for (const { name, value, server_takes: serverTakes, page_draws: drawn } of CASES) {
    test(`a 19 page draws a kitchen note as the shared cases say: ${name}`, () => {
        assert.equal(drawableKitchenNotes(value), drawn);
        drawOn19(drawn);
        if (serverTakes) {
            assert.notEqual(
                parseKitchenNotes(value),
                null,
                "the server takes it: so does the page"
            );
        }
    });
}

test("a plain-text note from the LAN is drawn as a tag on 19, not a crash", () => {
    const { order, models } = draftOrder();
    writeOps(models, order, [orderNote("No ice please")]);
    assert.deepEqual(drawOn19(order.internal_note), [note("No ice please")]);
});

test("a forged note list from the LAN is shown as the text it is; its extra keys reach no record", () => {
    const forged = JSON.stringify([{ ...note("x"), img: "https://evil.example/p.png" }]);
    const { order, models } = draftOrder();
    const add = {
        op: "line.add",
        line: "l1",
        values: { product_id: 1, qty: 1, internal_note: forged },
    };
    writeOps(models, order, [add]);
    assert.deepEqual(drawOn19(order.lines[0].note), [note(forged)]);
});

test("a line's note set from the LAN to broken JSON is drawn as text on 19", () => {
    const { order, models } = draftOrder();
    writeOps(models, order, [{ op: "line.add", line: "l1", values: { product_id: 1, qty: 1 } }]);
    writeOps(models, order, [{ op: "line.set", line: "l1", field: "internal_note", value: "[{" }]);
    assert.deepEqual(drawOn19(order.lines[0].note), [note("[{")]);
});

test("a kitchen note from another 19 terminal is written as it came", () => {
    const notes = JSON.stringify([note("Allergy: nuts", 11), note("Well done")]);
    const { order, models } = draftOrder();
    writeOps(models, order, [orderNote(notes)]);
    assert.equal(order.internal_note, notes);
});

test("a note that is not text is written as no note on 19", () => {
    const { order, models } = draftOrder({ internal_note: "[]" });
    writeOps(models, order, [orderNote(42)]);
    assert.equal(order.internal_note, "");
});

test("a customer note stays plain text on 19", () => {
    const { order, models } = draftOrder();
    writeOps(models, order, [{ op: "order.set", field: "customer_note", value: "Happy birthday" }]);
    assert.equal(order.general_customer_note, "Happy birthday");
});

test("a plain-text kitchen note left in a 19 record is read as tags, so its push is taken", () => {
    const { order } = draftOrder({ internal_note: "No ice\nWell done" });
    const view = readOrderView(order);
    assert.deepEqual(JSON.parse(view.internal_note), [note("No ice"), note("Well done")]);
});

test("a kitchen note list past the length cap is cut between notes, not inside its JSON", () => {
    const notes = Array.from({ length: 80 }, (_, i) => note(`note ${i} `.padEnd(40, "."), i % 12));
    const { order } = draftOrder({ internal_note: JSON.stringify(notes) });
    const cut = readOrderView(order).internal_note;
    assert.ok(cut.length <= MAX_TEXT_LENGTH);
    const kept = parseKitchenNotes(cut);
    assert.ok(kept.length > 0 && kept.length < notes.length);
    assert.deepEqual(kept.slice(0, -1), notes.slice(0, kept.length - 1), "whole notes, in order");
    assert.ok(notes[kept.length - 1].text.startsWith(kept.at(-1).text));
    assert.equal(kept.at(-1).colorIndex, notes[kept.length - 1].colorIndex);
});

test("a line's kitchen note longer than the cap keeps as much of its text as fits", () => {
    const { order } = draftOrder();
    order.lines.push({ uuid: "l1", qty: 1, note: JSON.stringify([note("x".repeat(3000), 3)]) });
    const cut = readOrderView(order).lines.l1.internal_note;
    assert.equal(cut.length, MAX_TEXT_LENGTH, "as much as fits");
    const room = MAX_TEXT_LENGTH - JSON.stringify([note("", 3)]).length;
    assert.deepEqual(parseKitchenNotes(cut), [note("x".repeat(room), 3)]);
});

test("a kitchen note is cut between characters, never inside an emoji", () => {
    const emoji = "🌶"; // two UTF-16 units
    const value = JSON.stringify([note(emoji.repeat(1000))]);
    for (const max of [100, 101]) {
        const [{ text }] = parseKitchenNotes(fitKitchenNotes(value, max));
        assert.equal(text, emoji.repeat(text.length / 2));
        assert.ok(JSON.stringify([note(text + emoji)]).length > max, "as much as fits");
    }
});

test("a kitchen note within the cap is read as it is", () => {
    const notes = JSON.stringify([note("No ice", 2)]);
    assert.equal(fitKitchenNotes(notes), notes);
    const { order } = draftOrder({ internal_note: notes });
    assert.equal(readOrderView(order).internal_note, notes);
});
