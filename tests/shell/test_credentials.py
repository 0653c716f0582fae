"""The password: in the keyring, off the calling thread, with a timeout; a file only by
the user's choice."""

from __future__ import annotations

import stat
import time

import keyring
import pytest
from keyring.backends import fail

from shell.credentials import (
    Credentials,
    KeyringUnavailable,
    SecretTooLong,
    keyring_state,
    secret_file,
    utf16_units,
)
from shell.settings import Settings
from tests.shell.keyring_memory import BlockingKeyring, MemoryKeyring

SETTINGS = Settings("https://odoo.example.com", "prod", "anna", 2)


def test_the_password_goes_to_the_keyring_and_nowhere_else(memory_keyring: MemoryKeyring) -> None:
    Credentials().put(SETTINGS, "s3cret")
    assert Credentials().get(SETTINGS) == "s3cret"
    assert ("possync", "anna@https://odoo.example.com/prod") in memory_keyring.store
    assert not secret_file().exists()


def test_no_keyring_backend_is_reported_in_words() -> None:
    keyring.set_keyring(fail.Keyring())
    with pytest.raises(KeyringUnavailable, match="No system keyring"):
        Credentials().put(SETTINGS, "s3cret")
    assert not secret_file().exists(), "never written without the user's consent"
    state = keyring_state()
    assert not state.ok and "No system keyring" in state.detail


def test_a_keyring_that_never_answers_times_out() -> None:
    keyring.set_keyring(BlockingKeyring())
    started = time.monotonic()
    with pytest.raises(KeyringUnavailable, match="did not answer within 0.3 s"):
        Credentials(timeout=0.3).get(SETTINGS)
    assert time.monotonic() - started < 2
    assert not keyring_state(timeout=0.3).ok


def test_file_storage_only_when_chosen_and_private() -> None:
    keyring.set_keyring(fail.Keyring())
    chosen = Settings(**{**vars(SETTINGS), "secret_store": "file"})
    Credentials().put(chosen, "s3cret")
    assert Credentials().get(chosen) == "s3cret"
    assert stat.S_IMODE(secret_file().stat().st_mode) == 0o600


def test_ask_each_time_stores_nothing() -> None:
    asked = Settings(**{**vars(SETTINGS), "secret_store": "ask"})
    Credentials().put(asked, "s3cret")
    assert Credentials().get(asked) is None
    assert not secret_file().exists()


def test_moving_back_to_the_keyring_removes_the_file_copy() -> None:
    in_file = Settings(**{**vars(SETTINGS), "secret_store": "file"})
    Credentials().put(in_file, "old")
    Credentials().put(SETTINGS, "new")
    assert not secret_file().exists()
    assert Credentials().get(SETTINGS) == "new"


def test_windows_credential_manager_limit_is_checked_first(
    memory_keyring: MemoryKeyring,
) -> None:
    with pytest.raises(SecretTooLong, match="at most 1280 characters"):
        Credentials().put(SETTINGS, "x" * 1281)
    assert not memory_keyring.store


def test_the_limit_counts_utf16_code_units_as_windows_does() -> None:
    # 1,280 accented letters are 2,560 UTF-8 bytes but 1,280 UTF-16 units: they fit.
    Credentials().put(SETTINGS, "é" * 1280)
    assert Credentials().get(SETTINGS) == "é" * 1280
    # An emoji is one character, two UTF-16 units (a surrogate pair).
    assert utf16_units("🍕") == 2
    with pytest.raises(SecretTooLong):
        Credentials().put(SETTINGS, "🍕" * 641)
