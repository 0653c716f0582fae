"""A kitchen note Odoo 19 cannot draw blanks its POS screen: the server's check of the
shape (addon lib/kitchen_notes.py), without a database.

The addon's tests/test_security_scope.py pushes notes through a real push on 18 and 19;
these pin every shape the check takes or refuses. tests/vectors/kitchen_notes.json holds the
server and the 19 page (tests/js/kitchen_notes.test.js) to the same cases.
"""

from __future__ import annotations

import json
import re

import pytest

from agent import protocol

from ..addon_lib import load
from ..vectors import kitchen_note_cases

kitchen_notes = load("kitchen_notes")


def note(text: str = "No ice", color: object = 0) -> dict:
    return {"text": text, "colorIndex": color}


@pytest.mark.parametrize(
    "notes",
    [
        [],
        [note()],
        [note("Allergy: nuts", 11), note("")],
        [note("<b>x</b>", kitchen_notes.MAX_COLOR_INDEX)],
    ],
)
def test_kitchen_notes_as_odoo_19_writes_them_are_taken(notes):
    assert kitchen_notes.check_kitchen_notes(json.dumps(notes)) == notes


def test_no_kitchen_note_is_an_empty_text():
    assert kitchen_notes.check_kitchen_notes("") == []


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("No ice please", "not JSON"),
        ('[{"text": "x", "colorIndex": 0}', "not JSON"),
        ("[" * 1000 + "]" * 1000, "not JSON"),  # nested past Python's recursion limit
        ("null", "not NoneType"),
        (json.dumps(note()), "not dict"),
        (json.dumps("No ice"), "not str"),
        (json.dumps(["No ice"]), "note 0 must be an object"),
        (json.dumps([note(), {"text": "x"}]), "note 1 must be an object"),
        (json.dumps([{**note(), "img": "https://evil.example/p.png"}]), "exactly the keys"),
        (json.dumps([note(5)]), '"text"'),
        (json.dumps([note(color="0")]), '"colorIndex"'),
        (json.dumps([note(color=True)]), '"colorIndex"'),
        (json.dumps([note(color=1.5)]), '"colorIndex"'),
        (json.dumps([note(color=-1)]), '"colorIndex"'),
        (json.dumps([note(color=kitchen_notes.MAX_COLOR_INDEX + 1)]), '"colorIndex"'),
        (None, "must be the text"),
    ],
)
def test_malformed_kitchen_notes_are_refused_with_what_is_wrong(value, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        kitchen_notes.check_kitchen_notes(value)


def test_a_kitchen_note_at_the_protocols_length_cap_parses():
    # A change's note is at most MAX_TEXT_LENGTH characters; a full one is still a list.
    text = "x" * (protocol.MAX_TEXT_LENGTH - len(json.dumps([note("")])))
    value = json.dumps([note(text)])
    assert len(value) == protocol.MAX_TEXT_LENGTH
    assert kitchen_notes.check_kitchen_notes(value) == [note(text)]


@pytest.mark.parametrize("case", kitchen_note_cases(), ids=lambda case: case["name"])
def test_the_server_takes_a_kitchen_note_as_the_shared_cases_say(case):
    try:
        kitchen_notes.check_kitchen_notes(case["value"])
    except ValueError:
        taken = False
    else:
        taken = True
    assert taken == case["server_takes"]


@pytest.mark.parametrize("case", kitchen_note_cases(), ids=lambda case: case["name"])
def test_the_server_takes_every_kitchen_note_a_19_page_draws(case):
    kitchen_notes.check_kitchen_notes(case["page_draws"])
