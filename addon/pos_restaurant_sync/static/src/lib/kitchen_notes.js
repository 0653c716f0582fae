/**
 * Kitchen notes as Odoo 19 keeps them: the text of a JSON list of tags,
 * `[{"text":"No ice","colorIndex":0}]`, in an order's `internal_note` and a line's `note`.
 * 19's order display and order lines `JSON.parse` that text and draw each item as a tag; a
 * value of any other shape throws there and blanks the POS screen. Odoo 18 keeps plain text.
 *
 * Pure ES module with no Odoo imports. The server refuses a pushed note of another shape
 * (the addon's lib/kitchen_notes.py; tests/vectors/kitchen_notes.json holds both to the same
 * cases). Changes reach a 19 page by roads the server does not guard (the LAN between agents,
 * a log stored before the server checked notes), so on 19 the page itself writes into the
 * records only what `drawableKitchenNotes` gives, and reads out only what fits a change
 * (`fitKitchenNotes`).
 */
import { MAX_TEXT_LENGTH } from "./protocol.js";

// Odoo's colour list has 12 colours (0-11); a larger number only draws an uncoloured tag.
export const MAX_COLOR_INDEX = 99;

/** The notes `value` holds (`[]` for ""), or null when Odoo 19 could not draw them. */
export function parseKitchenNotes(value) {
    if (value === "") {
        return [];
    }
    if (typeof value !== "string") {
        return null;
    }
    let notes;
    try {
        notes = JSON.parse(value);
    } catch {
        return null; // plain text, or JSON nested past the engine's limit
    }
    return Array.isArray(notes) && notes.every(isNote) ? notes : null;
}

function isNote(note) {
    const keys = note !== null && typeof note === "object" ? Object.keys(note).sort() : [];
    return (
        keys.join() === "colorIndex,text" &&
        typeof note.text === "string" &&
        Number.isInteger(note.colorIndex) &&
        note.colorIndex >= 0 &&
        note.colorIndex <= MAX_COLOR_INDEX
    );
}

/**
 * `value` as a kitchen note Odoo 19 can draw: "" for no note; a list of notes as
 * `JSON.stringify` writes it (like Odoo's note button); anything else (plain text, a forged
 * or broken list) shown as written, one uncoloured tag per non-blank line, as the note
 * button turns typed text into tags. Nothing is guessed and nothing is dropped: the
 * kitchen reads what was sent, and the note button edits it as text.
 */
export function drawableKitchenNotes(value) {
    if (typeof value !== "string" || value === "") {
        return "";
    }
    const notes = parseKitchenNotes(value) || textAsNotes(value);
    return JSON.stringify(notes);
}

function textAsNotes(text) {
    return text
        .split("\n")
        .filter((line) => line.trim())
        .map((line) => ({ text: line, colorIndex: 0 }));
}

/**
 * A drawable note (`drawableKitchenNotes`) cut to at most `max` characters at note
 * boundaries: the notes that fit are kept whole, and the first one that does not is kept
 * as far as it fits. The cut is still a list the server takes, so the change that carries
 * it (and the waiter's other edits in it) is not refused.
 */
export function fitKitchenNotes(value, max = MAX_TEXT_LENGTH) {
    if (value.length <= max) {
        return value;
    }
    const kept = [];
    for (const note of parseKitchenNotes(value) || []) {
        const text = longestFitting(note.text, (t) => [...kept, { ...note, text: t }], max);
        if (text === null) {
            break;
        }
        kept.push({ ...note, text });
        if (text.length < note.text.length) {
            break;
        }
    }
    return JSON.stringify(kept);
}

/**
 * The longest start of `text` (whole characters, never half a surrogate pair) whose list
 * `build(start)` stringifies to at most `max` characters; null when not even "" fits.
 */
function longestFitting(text, build, max) {
    const fits = (t) => JSON.stringify(build(t)).length <= max;
    const chars = [...text];
    if (fits(text)) {
        return text;
    }
    if (!fits("")) {
        return null;
    }
    let [low, high] = [0, chars.length - 1]; // chars[0:low] fits, chars[0:high+1] does not
    while (low < high) {
        const mid = Math.ceil((low + high) / 2);
        if (fits(chars.slice(0, mid).join(""))) {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    return chars.slice(0, low).join("");
}
