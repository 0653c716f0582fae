"""Settings (agent/settings.py): defaults, then the file, then POSSYNC_*, then flags."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from agent import settings as settings_module
from agent.settings import SettingsError, default_data_dir, load


def test_flags_beat_the_environment_which_beats_the_file(tmp_path):
    (tmp_path / "agent.toml").write_text('peer_port = 1111\npage_port = 2222\nlogin = "file"\n')
    env = {"POSSYNC_PEER_PORT": "3333", "POSSYNC_LOGIN": "env"}
    got = load({"data_dir": tmp_path, "peer_port": 4444}, env)
    assert (got.peer_port, got.page_port, got.login) == (4444, 2222, "env")


def test_a_json_settings_file_works_too(tmp_path):
    (tmp_path / "agent.json").write_text(json.dumps({"peers": ["http://a:8765"], "mdns": False}))
    got = load({"data_dir": tmp_path}, {})
    assert got.peers == ["http://a:8765"] and got.mdns is False


def test_lists_and_booleans_come_from_the_environment_as_text(tmp_path):
    env = {"POSSYNC_PEERS": "http://a:8765, http://b:8765", "POSSYNC_MDNS": "off"}
    got = load({"data_dir": tmp_path}, env)
    assert got.peers == ["http://a:8765", "http://b:8765"] and got.mdns is False


def test_secrets_come_from_the_environment_only(tmp_path):
    env = {"POSSYNC_PASSWORD": "pw", "POSSYNC_PAGE_TOKEN": "tok"}
    got = load({"data_dir": tmp_path}, env)
    assert (got.password, got.page_token) == ("pw", "tok")
    assert "pw" not in repr(got) and "tok" not in repr(got)


def test_the_device_key_stays_in_the_keyring_unless_a_file_was_chosen(tmp_path):
    assert load({"data_dir": tmp_path}, {}).device_key_store == "keyring"
    chosen = load({"data_dir": tmp_path}, {"POSSYNC_DEVICE_KEY_STORE": "file"})
    assert chosen.device_key_store == "file"
    with pytest.raises(SettingsError, match="device_key_store"):
        load({"data_dir": tmp_path}, {"POSSYNC_DEVICE_KEY_STORE": "clipboard"})


def test_a_secret_in_the_settings_file_is_refused_with_the_variable_to_use(tmp_path):
    (tmp_path / "agent.toml").write_text('password = "hunter2"\n')
    with pytest.raises(SettingsError, match="POSSYNC_PASSWORD"):
        load({"data_dir": tmp_path}, {})


def test_unknown_settings_and_bad_values_are_named(tmp_path):
    (tmp_path / "agent.toml").write_text("colour = 'blue'\n")
    with pytest.raises(SettingsError, match="colour"):
        load({"data_dir": tmp_path}, {})
    with pytest.raises(SettingsError, match="peer_port"):
        load({"data_dir": tmp_path / "x"}, {"POSSYNC_PEER_PORT": "eighty"})
    with pytest.raises(SettingsError, match="server must be"):
        load({"data_dir": tmp_path / "x", "server": "odoo.local"}, {})


def test_a_page_may_connect_from_the_servers_origin_by_default(tmp_path):
    got = load({"data_dir": tmp_path, "server": "https://pos.example.com:8443/odoo"}, {})
    assert got.origins() == ["https://pos.example.com:8443"]
    got = load({"data_dir": tmp_path, "allowed_origins": ["http://other"]}, {})
    assert got.origins() == ["http://other"]


def test_the_server_counts_as_configured_only_when_complete(tmp_path):
    partial = load({"data_dir": tmp_path, "server": "https://odoo"}, {})
    assert not partial.server_configured
    full = load(
        {"data_dir": tmp_path, "server": "https://o", "db": "d", "login": "l", "config_id": 1}, {}
    )
    assert full.server_configured


def test_the_data_folder_follows_each_systems_convention(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", "/xdg")
    assert default_data_dir() == Path("/xdg/possync")
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", r"C:\Users\w\AppData\Local")
    assert default_data_dir() == Path(r"C:\Users\w\AppData\Local") / "possync"


def test_the_data_folder_comes_from_the_flag_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.setattr(settings_module, "default_data_dir", lambda: Path("/default"))
    assert load({}, {}).data_dir == Path("/default")
    assert load({}, {"POSSYNC_DATA_DIR": str(tmp_path)}).data_dir == tmp_path
    assert load({"data_dir": tmp_path / "f"}, {"POSSYNC_DATA_DIR": "/e"}).data_dir == tmp_path / "f"
