"""The app's settings: which Odoo, which database, which POS, who logs in.

Stored as JSON in ``config_dir()/settings.json``. The password is never stored here; see
shell.credentials.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

from agent import server_tls
from shell import paths

SECRET_STORES = ("keyring", "file", "ask")


@dataclass(frozen=True)
class ServerTls:
    """How to reach the server: its CA file (empty: the system's authorities only) and
    whether plain http:// to another computer is allowed; ``ca_pem``: an authority not
    saved yet (enrolment checks it against its pin first)."""

    ca_file: str = ""
    allow_insecure_http: bool = False
    ca_pem: str = ""


@dataclass
class Settings:
    server_url: str = ""
    database: str = ""
    login: str = ""
    config_id: int | None = None
    config_name: str = ""
    # 18 and 19 use different POS URLs; read from the server at setup.
    odoo_major: int = 19
    fullscreen: bool = False
    # Receipts straight to the default printer, no dialog (kiosk terminals).
    silent_print: bool = False
    # Where the password lives: the system keyring, a private file (only when the user
    # chose it because no keyring works), or nowhere (typed at each start).
    secret_store: str = "keyring"
    # Set once the POS has loaded: then Odoo 19's service worker can start it offline.
    pos_loaded_once: bool = False
    # TLS (agent/server_tls.py): the PEM file of the server's own certificate authority
    # (a copy in the settings folder, made at setup), and the explicit opt-in to plain
    # http:// to another computer, which puts a permanent red notice on the window.
    server_ca_file: str = ""
    allow_insecure_http: bool = False
    # The Odoo user's language (``fr_FR``), read at each login: the app's language
    # (shell/i18n.py); empty until the first login, then the system's language is used.
    lang: str = ""
    # Kiosk (shell/kiosk.py): full screen without window controls, only the POS, and
    # Settings and Quit behind the manager PIN, kept here only as its scrypt hash.
    kiosk: bool = False
    manager_pin_hash: str = ""
    # The POS's Kiosk Terminals setting on the server, as last read (at each start, for
    # the next one): a kiosk also when the server is unreachable at start.
    server_kiosk: bool = False

    def is_complete(self) -> bool:
        return bool(self.server_url and self.database and self.login and self.config_id)

    def server_origin(self) -> str:
        return origin_of(self.server_url)

    def pos_url(self) -> str:
        base = self.server_url.rstrip("/")
        if self.odoo_major >= 19:
            return f"{base}/pos/ui/{self.config_id}"
        return f"{base}/pos/ui?config_id={self.config_id}"

    def tls(self) -> ServerTls:
        return ServerTls(self.server_ca_file, self.allow_insecure_http)

    def is_insecure(self) -> bool:
        """Plain http:// to another computer (only usable with allow_insecure_http)."""
        return server_tls.is_cleartext_to_network(self.server_url)

    def secret_key(self) -> str:
        """The keyring user name: one password per login, database and server."""
        return f"{self.login}@{self.server_url.rstrip('/')}/{self.database}"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def normalize_server_url(url: str) -> str:
    """What a user types (``odoo.example.com``, ``http://host:8069/web``) to a base URL."""
    url = url.strip()
    if url and "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    # People paste the address of the page they see; the server is its root.
    for suffix in ("/web/login", "/web", "/odoo", "/pos/ui"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return f"{parts.scheme}://{parts.netloc}{path}"


def settings_file() -> Path:
    return paths.config_dir() / "settings.json"


def ca_file() -> Path:
    """Where setup keeps its copy of the server's certificate authority file."""
    return paths.config_dir() / "server-ca.pem"


def keep_ca_file(source: str) -> str:
    """Check that ``source`` holds PEM certificates and keep a copy next to the settings
    (so the setting does not depend on a file in Downloads or on a USB stick); the copy's
    path, or "" for none. Raises ValueError with a message for the user."""
    if not source.strip():
        return ""
    source_path = Path(source.strip()).expanduser()
    if source_path == ca_file():
        return str(source_path)
    server_tls.load_ca_file(source_path)
    return keep_ca_pem(source_path.read_text(encoding="ascii", errors="replace"))


def keep_ca_pem(pem: str) -> str:
    """Keep PEM text (the authority an enrolment brought) as the settings' CA file; its
    path."""
    paths.write_private(ca_file(), pem)
    return str(ca_file())


def load() -> Settings:
    """The saved settings, or defaults when there are none (first run)."""
    try:
        raw = json.loads(settings_file().read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return Settings()
    known = {f.name for f in fields(Settings)}
    return Settings(**{k: v for k, v in raw.items() if k in known})


def save(settings: Settings) -> None:
    if settings.secret_store not in SECRET_STORES:
        raise ValueError(f"secret_store must be one of {SECRET_STORES}")  # i18n: ignore (a bug)
    paths.write_private(settings_file(), json.dumps(asdict(settings), indent=2) + "\n")
