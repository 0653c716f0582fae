"""Loading the shared protocol test vectors (tests/vectors/, also read by tests/js/)."""

import json
from pathlib import Path

VECTORS_DIR = Path(__file__).parent / "vectors"


def merge_vectors() -> list[dict]:
    """Every merge vector: start changes, changes in delivery order, expected orders."""
    return [json.loads(p.read_text()) for p in sorted(VECTORS_DIR.glob("[0-9]*.json"))]


def invalid_changes() -> list[dict]:
    return json.loads((VECTORS_DIR / "invalid.json").read_text())


def diff_cases() -> list[dict]:
    return json.loads((VECTORS_DIR / "diff.json").read_text())


def clock_cases() -> list[dict]:
    """Changes and a receiver's clock (`now_ms`): `accepted` or refused as from the future."""
    return json.loads((VECTORS_DIR / "clock.json").read_text())


def kitchen_note_cases() -> list[dict]:
    """Odoo 19 kitchen notes: whether the server takes `value`, and what a 19 page draws."""
    return json.loads((VECTORS_DIR / "kitchen_notes.json").read_text())["cases"]
