"""The agent's settings: defaults, then `<data dir>/agent.toml` (or .json), then POSSYNC_*
environment variables, then command-line flags; the later one wins.

Secrets (the Odoo password, the page token) come from the environment only, never from
the file or the command line, where other users of the machine could read them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent import server_tls

SETTINGS_FILES = ("agent.toml", "agent.json")
SECRET_ENV = {
    "password": "POSSYNC_PASSWORD",
    "page_token": "POSSYNC_PAGE_TOKEN",
}
DEVICE_KEY_STORES = ("keyring", "file")
# The port other tablets of the POS reach this agent on; the installers open it in the
# firewall (shell/firewall.py).
DEFAULT_PEER_PORT = 8765


class SettingsError(ValueError):
    """A setting that cannot be used; the message says which and why."""


@dataclass
class Settings:
    """Everything the agent needs to run; see docs/agent.md for each setting."""

    data_dir: Path
    page_port: int = 0
    peer_port: int = DEFAULT_PEER_PORT
    peer_host: str = "0.0.0.0"
    server: str | None = None
    # TLS to the server (agent/server_tls.py): a PEM file of the server's own authority,
    # and the explicit opt-in to plain http:// to another computer.
    server_ca_file: str | None = None
    allow_insecure_http: bool = False
    db: str | None = None
    login: str | None = None
    config_id: int | None = None
    allowed_origins: list[str] = field(default_factory=list)
    peers: list[str] = field(default_factory=list)
    mdns: bool = True
    mdns_interfaces: list[str] = field(default_factory=list)
    backoff_min_s: float = 0.5
    backoff_max_s: float = 10.0
    bus_retry_s: float = 30.0
    peer_pull_s: float = 2.0
    http_timeout_s: float = 10.0
    heartbeat_s: float = 20.0
    safety_pull_s: float = 60.0
    devices_refresh_s: float = 60.0
    device_key_store: str = "keyring"
    password: str | None = field(default=None, repr=False)
    page_token: str | None = field(default=None, repr=False)

    @property
    def server_configured(self) -> bool:
        return bool(self.server and self.db and self.login and self.config_id is not None)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "queue.db"

    def origins(self) -> list[str]:
        """Origins a page may connect from: the configured ones, else the server's own."""
        if self.allowed_origins or not self.server:
            return list(self.allowed_origins)
        parts = urlsplit(self.server)
        return [f"{parts.scheme}://{parts.netloc}"]


def default_data_dir() -> Path:
    """The per-OS data folder: %LOCALAPPDATA%\\possync, ~/Library/…, $XDG_DATA_HOME/possync."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = str(Path.home() / "Library" / "Application Support")
    else:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "possync"


def load(flags: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Settings:
    """Settings from file, environment and flags (flags set to None count as absent)."""
    env = dict(os.environ if env is None else env)
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    data_dir = Path(
        flags.pop("data_dir", None) or env.get("POSSYNC_DATA_DIR") or default_data_dir()
    )
    values: dict[str, Any] = {}
    values.update(_read_file(data_dir))
    values.update(_from_env(env))
    values.update(flags)
    for name, var in SECRET_ENV.items():
        values[name] = env.get(var) or None
    return _build(data_dir, values)


def _read_file(data_dir: Path) -> dict[str, Any]:
    for name in SETTINGS_FILES:
        path = data_dir / name
        if not path.exists():
            continue
        try:
            text = path.read_text(encoding="utf-8")
            values = tomllib.loads(text) if name.endswith(".toml") else json.loads(text)
        except (OSError, ValueError) as exc:
            raise SettingsError(f"cannot read {path}: {exc}") from exc
        if not isinstance(values, dict):
            raise SettingsError(f"{path} must hold a table of settings")
        secrets = sorted(set(values) & set(SECRET_ENV))
        if secrets:
            raise SettingsError(
                f"{path} holds {', '.join(secrets)}: secrets come from the environment only "
                f"({', '.join(SECRET_ENV[s] for s in secrets)})"
            )
        return values
    return {}


def _from_env(env: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        var = f"POSSYNC_{f.name.upper()}"
        if f.name not in SECRET_ENV and f.name != "data_dir" and var in env:
            values[f.name] = env[var]
    return values


def _build(data_dir: Path, values: dict[str, Any]) -> Settings:
    known = {f.name: f for f in dataclasses.fields(Settings)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise SettingsError(f"unknown settings: {', '.join(unknown)}")
    converted = {name: _convert(name, known[name].type, value) for name, value in values.items()}
    settings = Settings(data_dir=data_dir, **converted)
    if settings.server and not settings.server.startswith(("http://", "https://")):
        raise SettingsError(f"server must be an http:// or https:// URL, not {settings.server!r}")
    if settings.device_key_store not in DEVICE_KEY_STORES:
        raise SettingsError(
            f"device_key_store must be one of {', '.join(DEVICE_KEY_STORES)}, "
            f"not {settings.device_key_store!r}"
        )
    if settings.server:
        _check_tls(settings)
    return settings


def _check_tls(settings: Settings) -> None:
    try:
        server_tls.check_server_url(str(settings.server), settings.allow_insecure_http)
        if settings.server_ca_file:
            server_tls.load_ca_file(settings.server_ca_file)
    except ValueError as exc:  # InsecureServer, or an unreadable certificate file
        raise SettingsError(str(exc)) from exc


def _convert(name: str, kind: Any, value: Any) -> Any:
    """Environment values are strings; file values already have their JSON/TOML type."""
    kind = str(kind)
    try:
        if value is None:
            return None
        if kind.startswith("list"):
            items = value.split(",") if isinstance(value, str) else list(value)
            return [str(item).strip() for item in items if str(item).strip()]
        if kind == "bool":
            return _to_bool(value)
        if kind.startswith("int"):
            return int(value)
        if kind == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"bad value for {name}: {value!r}") from exc


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)
