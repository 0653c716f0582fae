"""The app's local API, called as the setup screen calls it, without a window."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shell import printing
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
    answer = app.api.handlers()["save"]({**SAVE, "password": "x" * 1281})
    assert answer["ok"] is False
    assert answer["error"]["code"] == "password_too_long"
    assert "at most 1280 characters" in answer["error"]["message"]
    assert answer["error"]["hint"]
    assert not memory_keyring.store
    assert not settings_mod.settings_file().exists()
    assert app.supervisor is None, "no agent started with half-saved settings"


def test_printing_asks_unless_the_settings_say_print_silently(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(printing, "ask", lambda _parent: "dialog")
    monkeypatch.setattr(printing, "default_printer", lambda _parent: "default")
    app = App(Settings())
    assert app._choose_printer(None) == "dialog"
    # Read at each print: the setup screen can switch it while the app runs.
    app.settings = replace(app.settings, silent_print=True)
    assert app._choose_printer(None) == "default"
