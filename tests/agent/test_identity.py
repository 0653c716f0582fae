"""This tablet's device key and certificate (agent/identity.py)."""

from __future__ import annotations

import base64
import hashlib
import stat
import sys

import keyring
import pytest
from cryptography.hazmat.primitives import serialization

from agent.identity import (
    SERVICE,
    IdentityUnavailable,
    certificate_pem,
    load_identity,
)
from tests.shell.keyring_memory import MemoryKeyring


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_the_key_lives_in_the_keyring_and_nowhere_on_disk(tmp_path, memory_keyring):
    first = load_identity("keyring", tmp_path, "t-one", None)
    stored = memory_keyring.store[(SERVICE, "device-key:t-one")]
    assert list(tmp_path.iterdir()) == []
    again = load_identity("keyring", tmp_path, "t-one", certificate_pem(first))
    assert again.public_key == first.public_key
    assert again.certificate_sha256 == first.certificate_sha256  # the registered one stays
    assert len(base64.b64decode(stored)) == 32  # the raw private key, in the keyring only


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_a_key_file_only_when_chosen_and_only_its_owner_reads_it(tmp_path):
    first = load_identity("file", tmp_path, "t-one", None)
    path = tmp_path / "device-t-one.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_identity("file", tmp_path, "t-one", None).public_key == first.public_key


def test_no_keyring_says_what_to_do(tmp_path):
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        with pytest.raises(IdentityUnavailable, match='device_key_store = "file"'):
            load_identity("keyring", tmp_path, "t-one", None)
    finally:
        keyring.set_keyring(previous)


def test_the_certificate_is_made_from_the_device_key(tmp_path):
    identity = load_identity("file", tmp_path, "t-one", None)
    certificate = identity.certificate
    raw = certificate.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert base64.b64encode(raw).decode() == identity.public_key
    der = certificate.public_bytes(serialization.Encoding.DER)
    assert identity.certificate_sha256 == hashlib.sha256(der).hexdigest()
    # A certificate of another key is not reused: a new one is made for this key.
    (tmp_path / "other").mkdir()
    other = load_identity("file", tmp_path / "other", "t-two", None)
    reloaded = load_identity("file", tmp_path, "t-one", certificate_pem(other))
    assert reloaded.certificate_sha256 != other.certificate_sha256
    assert reloaded.public_key == identity.public_key


def test_the_tls_context_leaves_no_key_file_behind(tmp_path):
    identity = load_identity("file", tmp_path, "t-one", None)
    before = set(tmp_path.iterdir())
    identity.server_ssl_context(tmp_path)
    assert set(tmp_path.iterdir()) == before


def test_the_registration_is_what_the_server_expects(tmp_path):
    identity = load_identity("file", tmp_path, "t-one", None)
    registration = identity.registration()
    assert set(registration) == {"terminal", "public_key", "certificate_sha256"}
    assert len(base64.b64decode(registration["public_key"], validate=True)) == 32
    assert len(bytes.fromhex(registration["certificate_sha256"])) == 32
