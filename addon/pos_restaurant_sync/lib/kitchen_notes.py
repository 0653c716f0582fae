"""Kitchen notes as Odoo 19 keeps them: a JSON list of tags in one text field. Pure Python.

Odoo 19's POS stores an order's kitchen notes (``pos.order.internal_note``) and a line's
(``pos.order.line.note``) as the text of a JSON list, ``[{"text": "No ice", "colorIndex":
0}]``: its note button writes that, and its order display and order lines ``JSON.parse`` the
text and draw each item as a coloured tag. A value of any other shape (plain text, a JSON
object, a list of strings) makes that rendering throw, and the POS screen of every terminal
that shows the order goes blank, whether sync is on or not. No note is ``""``; Odoo's
own button writes ``"[]"`` for a line whose notes were all cleared.

Odoo 18 keeps plain text in the same places (``general_note``, ``note``): this check is
for 19 only (``compat.KITCHEN_NOTES_AS_JSON``). The text as a whole is at most
``protocol.MAX_TEXT_LENGTH`` characters, like every note of a change.
"""

from __future__ import annotations

import json

NOTE_KEYS = frozenset({"text", "colorIndex"})
# Odoo's colour list has 12 colours (0-11); a larger number only draws an uncoloured tag.
MAX_COLOR_INDEX = 99
SHAPE = '[{"text": "…", "colorIndex": 0}, …]'


def check_kitchen_notes(value: object) -> list[dict]:
    """The notes ``value`` holds (``[]`` for ``""``); raises ValueError with what is wrong
    when it is not a list of notes Odoo 19's POS can draw."""
    if value == "":
        return []
    if not isinstance(value, str):
        raise ValueError(f"must be the text of a JSON list {SHAPE}")
    try:
        notes = json.loads(value)
    except (ValueError, RecursionError):
        raise ValueError(f"is not JSON: Odoo 19 keeps a JSON list {SHAPE}") from None
    if not isinstance(notes, list):
        raise ValueError(f"must be a JSON list {SHAPE}, not {type(notes).__name__}")
    for index, note in enumerate(notes):
        if problem := _note_problem(note):
            raise ValueError(f"note {index} {problem}")
    return notes


def _note_problem(note: object) -> str | None:
    if not isinstance(note, dict) or set(note) != NOTE_KEYS:
        return 'must be an object with exactly the keys "text" and "colorIndex"'
    if not isinstance(note["text"], str):
        return 'must have a text "text"'
    color = note["colorIndex"]
    if isinstance(color, bool) or not isinstance(color, int) or not 0 <= color <= MAX_COLOR_INDEX:
        return f'must have an integer "colorIndex" from 0 to {MAX_COLOR_INDEX}'
    return None
