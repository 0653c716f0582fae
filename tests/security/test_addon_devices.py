"""The device registry refuses identities of the wrong shape (the addon's
lib/device_identity.py, which needs no Odoo). The registry itself — revocation, archived
users, who may read it — is tested by the addon's own tests (tests/test_devices.py) and
on a real Odoo (tests/realodoo/test_security_on_odoo.py)."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
from pathlib import Path

import pytest

LIB = Path(__file__).parents[2] / "addon/pos_restaurant_sync/lib/device_identity.py"


def _load():
    # Loaded from its file: importing the addon's package would import Odoo.
    spec = importlib.util.spec_from_file_location("possync_device_identity", LIB)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


identity = _load()
KEY = base64.b64encode(os.urandom(32)).decode()
CERT = hashlib.sha256(b"certificate").hexdigest()


def test_a_well_formed_identity_is_accepted() -> None:
    assert identity.identity_error("t-3f1a:tablet.1_x", KEY, CERT) is None


@pytest.mark.parametrize(
    "public_key",
    [
        "not base64!!",
        base64.b64encode(os.urandom(31)).decode(),
        base64.b64encode(os.urandom(33)).decode(),
        KEY.rstrip("="),  # one key, one spelling: padding required
        base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode(),
        KEY + "\n",
        "é" * 44,
        None,
        32,
    ],
)
def test_a_forged_public_key_of_the_wrong_shape_is_refused(public_key) -> None:
    assert "public_key" in identity.identity_error("t1", public_key, CERT)


@pytest.mark.parametrize("certificate", [CERT.upper(), CERT[:-1], CERT + "0", "g" * 64, None])
def test_a_certificate_hash_of_the_wrong_shape_is_refused(certificate) -> None:
    assert "certificate_sha256" in identity.identity_error("t1", KEY, certificate)


@pytest.mark.parametrize("terminal", ["", "t 1", "t/1", "t" * 65, "tablet\n", 7, None])
def test_a_terminal_id_of_the_wrong_shape_is_refused(terminal) -> None:
    assert "terminal" in identity.identity_error(terminal, KEY, CERT)
