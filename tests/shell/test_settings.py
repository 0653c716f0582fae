"""Settings, per-OS folders, resources and the agent's command line, frozen or not."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from shell import paths, settings
from shell.settings import Settings, normalize_server_url


def test_folders_follow_xdg_on_linux(home: Path) -> None:
    assert paths.config_dir() == home / "config" / "possync"
    assert paths.web_storage_dir() == home / "data" / "possync" / "webview"


def test_folders_on_windows_use_appdata(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("APPDATA", r"C:\Users\w\AppData\Roaming")
    monkeypatch.setenv("LOCALAPPDATA", r"C:\Users\w\AppData\Local")
    assert paths.config_dir() == Path(r"C:\Users\w\AppData\Roaming") / "possync"
    assert paths.data_dir() == Path(r"C:\Users\w\AppData\Local") / "possync"


def test_settings_round_trip_and_stay_private() -> None:
    saved = Settings("https://odoo.example.com", "prod", "anna", 3, "Bar", 18, True)
    settings.save(saved)
    assert settings.load() == saved
    mode = settings.settings_file().stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_first_run_has_no_settings() -> None:
    assert not settings.load().is_complete()


def test_unknown_keys_in_the_file_are_ignored() -> None:
    settings.settings_file().parent.mkdir(parents=True)
    settings.settings_file().write_text(json.dumps({"login": "anna", "from_the_future": 1}))
    assert settings.load().login == "anna"


@pytest.mark.parametrize(
    ("major", "url"),
    [(18, "https://o.example/pos/ui?config_id=4"), (19, "https://o.example/pos/ui/4")],
)
def test_pos_url_in_the_form_of_each_odoo_version(major: int, url: str) -> None:
    assert Settings("https://o.example/", "db", "a", 4, odoo_major=major).pos_url() == url


@pytest.mark.parametrize(
    ("typed", "base"),
    [
        ("odoo.example.com", "https://odoo.example.com"),
        ("http://10.0.0.5:8069/", "http://10.0.0.5:8069"),
        ("https://odoo.example.com/web/login", "https://odoo.example.com"),
        ("https://odoo.example.com/odoo", "https://odoo.example.com"),
        (" https://example.com/erp/web ", "https://example.com/erp"),
    ],
)
def test_what_users_type_becomes_the_server_address(typed: str, base: str) -> None:
    assert normalize_server_url(typed) == base


def test_resources_come_from_the_bundle_when_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    assert paths.resource_path("inject.js").is_file()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", "/opt/possync/_internal", raising=False)
    assert paths.resource_path("inject.js") == Path("/opt/possync/_internal/shell/static/inject.js")


def test_a_bundle_starts_the_agent_by_re_entering_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    assert paths.agent_command(["run"]) == [sys.executable, "-m", "agent.cli", "run"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert paths.agent_command(["run"]) == [sys.executable, "--agent", "run"]


def test_the_server_ca_file_is_checked_and_kept_next_to_the_settings(home: Path) -> None:
    import trustme

    chosen = home / "Downloads" / "odoo-ca.pem"
    chosen.parent.mkdir()
    trustme.CA().cert_pem.write_to_path(str(chosen))
    kept = Path(settings.keep_ca_file(str(chosen)))
    assert kept == settings.ca_file() and kept.read_bytes() == chosen.read_bytes()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    chosen.unlink()  # the copy does not depend on the file the user picked
    assert settings.keep_ca_file(str(kept)) == str(kept)
    assert settings.keep_ca_file("  ") == ""
    (home / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="not a PEM certificate"):
        settings.keep_ca_file(str(home / "notes.txt"))
