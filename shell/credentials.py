"""The Odoo password (or API key): in the system keyring, never in plain text unasked.

keyring can block forever (gnome-keyring waiting on an unlock dialog nobody sees) or fail
outright on a headless system (``NoKeyringError``), so every call runs on a daemon thread
with a timeout and every failure becomes one ``KeyringUnavailable`` whose message a user
can act on. Writing the password to a file happens only when the user chose it in the
setup screen (``Settings.secret_store == "file"``).

(Named credentials, not secrets, so it never shadows the standard library's ``secrets``.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from agent.timeout_call import call_with_timeout
from shell import paths
from shell.i18n import _
from shell.settings import Settings

SERVICE = "possync"
DEFAULT_TIMEOUT_S = 10.0
# Windows Credential Manager caps a secret at 2,560 bytes of UTF-16: 1,280 code units.
MAX_SECRET_UNITS = 1280

T = TypeVar("T")


class KeyringUnavailable(Exception):
    """The keyring cannot be used; the message says why, in words for the user."""


class SecretTooLong(ValueError):
    """The password is longer than every store on every platform can keep."""


@dataclass
class KeyringState:
    ok: bool
    backend: str
    detail: str

def _keyring_call(fn: Callable[[], T], timeout: float) -> T:
    import keyring.errors

    try:
        return call_with_timeout(fn, timeout)
    except TimeoutError as exc:
        raise KeyringUnavailable(
            _(
                "The system keyring did not answer within {timeout:g} s "
                "(it may be locked and waiting for its password)."
            ).format(timeout=timeout)
        ) from exc
    except keyring.errors.NoKeyringError as exc:
        raise KeyringUnavailable(_("No system keyring is available on this computer.")) from exc
    except keyring.errors.KeyringLocked as exc:
        raise KeyringUnavailable(_("The system keyring is locked.")) from exc
    except Exception as exc:  # dbus and backend errors come in many types
        raise KeyringUnavailable(_("The system keyring failed: {error}").format(error=exc)) from exc


def keyring_state(timeout: float = DEFAULT_TIMEOUT_S) -> KeyringState:
    """Which backend keyring would use, and whether it can answer a read."""
    import keyring

    try:
        backend = call_with_timeout(keyring.get_keyring, timeout)
    except Exception as exc:
        failed = _("The system keyring failed to load: {error}").format(error=exc)
        return KeyringState(False, "none", failed)
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    try:
        _keyring_call(lambda: backend.get_password(SERVICE, "possync-probe"), timeout)
    except KeyringUnavailable as exc:
        return KeyringState(False, name, str(exc))
    return KeyringState(True, name, "")


class Credentials:
    """Reads and stores the password where the settings say it lives."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.timeout = timeout

    def get(self, settings: Settings) -> str | None:
        """The stored password, or None when none is stored (or it is asked each time)."""
        if settings.secret_store == "keyring":
            import keyring

            key = settings.secret_key()
            return _keyring_call(lambda: keyring.get_password(SERVICE, key), self.timeout)
        if settings.secret_store == "file":
            return _read_file().get(settings.secret_key())
        return None

    def put(self, settings: Settings, secret: str) -> None:
        """Store ``secret`` as ``settings.secret_store`` says; raise KeyringUnavailable,
        or SecretTooLong before anything is stored."""
        # Checked for every store, so a set-up that works here also works on Windows.
        if utf16_units(secret) > MAX_SECRET_UNITS:
            raise SecretTooLong(
                _(
                    "The password is too long: at most {n} characters "
                    "(fewer with emoji or other characters outside the basic range)."
                ).format(n=MAX_SECRET_UNITS)
            )
        key = settings.secret_key()
        if settings.secret_store == "keyring":
            import keyring

            _keyring_call(lambda: keyring.set_password(SERVICE, key, secret), self.timeout)
            _forget_in_file(key)
        elif settings.secret_store == "file":
            stored = _read_file()
            stored[key] = secret
            paths.write_private(secret_file(), json.dumps(stored) + "\n")
        else:
            _forget_in_file(key)


def utf16_units(text: str) -> int:
    """Length as Windows counts it: a character outside the BMP (an emoji) counts twice."""
    return len(text.encode("utf-16-le")) // 2


def secret_file() -> Path:
    """Only exists when the user chose to keep the password in a file."""
    return paths.config_dir() / "password.json"


def _read_file() -> dict[str, str]:
    try:
        return json.loads(secret_file().read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _forget_in_file(key: str) -> None:
    stored = _read_file()
    if stored.pop(key, None) is None:
        return
    if stored:
        paths.write_private(secret_file(), json.dumps(stored) + "\n")
    else:
        secret_file().unlink()
