"""Tablet enrolment codes and the string their QR code carries: pure Python, no Odoo.

A code is 8 characters of an alphabet without look-alikes (no 0/O, 1/I/L), shown as
``XXXX-XXXX``: 31**8, about 8.5e11 codes, against at most a few live ones and a
database-wide limit on wrong guesses (models/pos_restaurant_sync_enrolment.py).

The QR code holds one line a 2D scanner types into the tablet's code field:
``possync:enroll?url=<server>&db=<database>&code=XXXX-XXXX&ca=<sha256>``, ``ca`` only
when the server's certificate comes from its own authority. ``ca`` is the SHA-256, in
lowercase hex, of the DER bytes of the authority's certificates in the order of the PEM
(for one certificate: the fingerprint a browser shows for it).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from urllib.parse import urlencode

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 8
PREFIX = "possync:enroll?"
PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def new_code() -> str:
    """A fresh code, ``XXXX-XXXX``, from the system's secure random source."""
    return _formatted("".join(secrets.choice(ALPHABET) for _ in range(LENGTH)))


def normalized(text: object) -> str | None:
    """The code as issued (upper case, ``XXXX-XXXX``) from what was typed, or None when it
    cannot be one (wrong length or characters)."""
    if not isinstance(text, str) or len(text) > 4 * LENGTH:
        return None
    bare = text.upper().replace("-", "").replace(" ", "")
    if len(bare) != LENGTH or any(char not in ALPHABET for char in bare):
        return None
    return _formatted(bare)


def code_hash(code: str) -> str:
    """What the server keeps of a code for good (the code itself goes at first use)."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def authority_sha256(pem: str) -> str:
    """The fingerprint of a PEM bundle of certificates; ValueError when it holds none.
    (Each block is loaded on its own: the cryptography of Odoo's requirements predates
    loading a bundle in one call.)"""
    blocks = PEM_BLOCK.findall(pem)
    if not blocks:
        raise ValueError("no PEM certificate found")
    digest = hashlib.sha256()
    for block in blocks:
        certificate = x509.load_pem_x509_certificate(block.encode("ascii", "replace"))
        digest.update(certificate.public_bytes(Encoding.DER))
    return digest.hexdigest()


def enrolment_string(url: str, db: str, code: str, ca_sha256: str = "") -> str:
    """The line the QR code carries."""
    values = {"url": url, "db": db, "code": code}
    if ca_sha256:
        values["ca"] = ca_sha256
    return PREFIX + urlencode(values)


def _formatted(bare: str) -> str:
    return f"{bare[:4]}-{bare[4:]}"
