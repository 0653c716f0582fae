"""The content key of a change: what makes a change sent again "the same change".

The server keeps, with each change id, a SHA-256 of the change as canonical JSON, so the
same id with another content is refused instead of answered as a duplicate. Canonical:
keys sorted, no spaces, text as UTF-8, and an integral number written without ".0" (JSON
has one number type: the page's 3 and the agent's 3.0 are one value).
"""

from __future__ import annotations

import hashlib
import json


def payload_hash(raw) -> str:
    """SHA-256 (hex) of ``raw``, a change as received, in canonical JSON."""
    text = json.dumps(
        canonical(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()


def canonical(value):
    """``value`` with every integral float made an int, at any depth."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value
