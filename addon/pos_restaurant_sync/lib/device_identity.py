"""The shape of a tablet's identity in the device registry: pure Python, no Odoo.

A device is known by its terminal id, the standard base64 of its raw 32-byte Ed25519
public key (with padding, so one key has one spelling) and the SHA-256, in lowercase hex,
of the DER TLS certificate its peer port serves.
"""

from __future__ import annotations

import base64
import binascii
import re

TERMINAL = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
PUBLIC_KEY_BYTES = 32  # a raw Ed25519 public key


def identity_error(terminal: object, public_key: object, certificate_sha256: object) -> str | None:
    """What is wrong with a device's identity, or None."""
    if not isinstance(terminal, str) or not TERMINAL.fullmatch(terminal):
        return "terminal must be 1-64 characters of A-Z a-z 0-9 _ . : -"
    if not is_public_key(public_key):
        return (
            f"public_key must be the standard base64 of a raw {PUBLIC_KEY_BYTES}-byte "
            "Ed25519 public key"
        )
    if not isinstance(certificate_sha256, str) or not SHA256_HEX.fullmatch(certificate_sha256):
        return "certificate_sha256 must be 64 lowercase hexadecimal digits"
    return None


def is_public_key(value: object) -> bool:
    """Standard base64, with its padding, of exactly 32 bytes."""
    if not isinstance(value, str) or not value.isascii():
        return False
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) == PUBLIC_KEY_BYTES and base64.b64encode(raw).decode() == value
