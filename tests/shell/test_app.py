"""The app's local API, called as the setup screen calls it, without a window."""

from __future__ import annotations

from shell import settings as settings_mod
from shell.app import App
from shell.settings import Settings
from tests.shell.keyring_memory import MemoryKeyring

SAVE = {
    "server_url": "https://odoo.example.com",
    "database": "prod",
    "login": "anna",
    "config_id": 2,
    "secret_store": "keyring",
}


def test_a_password_too_long_for_windows_is_refused_in_words_and_nothing_is_stored(
    memory_keyring: MemoryKeyring,
) -> None:
    app = App(Settings())
    answer = app._api()["save"]({**SAVE, "password": "x" * 1281})
    assert answer["ok"] is False
    assert answer["error"]["code"] == "password_too_long"
    assert "at most 1280 characters" in answer["error"]["message"]
    assert answer["error"]["hint"]
    assert not memory_keyring.store
    assert not settings_mod.settings_file().exists()
    assert app.supervisor is None, "no agent started with half-saved settings"
