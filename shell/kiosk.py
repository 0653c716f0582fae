"""Kiosk mode's manager PIN: how it is kept, checked, and slowed down when guessed.

In kiosk mode (`Settings.kiosk`) Settings and Quit open only after the manager PIN. The
PIN is 4 to 8 digits and is kept only as an scrypt hash with a random salt
(`Settings.manager_pin_hash`); a PIN typed is compared with it in constant time. Wrong
PINs are counted in a file next to the settings, so restarting the app does not reset the
count, nor does deleting the file while a PIN is set (it then counts as the free tries
used; setting a PIN writes a zero count): the first `FREE_TRIES` are free, then each
wrong PIN locks the prompt for `FIRST_WAIT_S`, doubling up to `MAX_WAIT_S`; the right
PIN clears the count. The right PIN unlocks one action (Settings or Quit) for
`UNLOCK_S`: a setup screen left open goes back to the POS by then.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from shell import paths
from shell.i18n import N_, _

PIN_FORMAT = re.compile(r"[0-9]{4,8}")
FREE_TRIES = 5
FIRST_WAIT_S = 30
MAX_WAIT_S = 3600
# scrypt's cost: about 50 ms and 16 MB per check, so a copied hash costs a guesser time too.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
PIN_RULE = N_("The manager PIN is 4 to 8 digits.")
UNLOCK_S = 600.0


class PinFormatError(ValueError):
    """A new PIN that is not 4 to 8 digits."""


def is_pin(text: str) -> bool:
    return PIN_FORMAT.fullmatch(text) is not None


def hash_pin(pin: str) -> str:
    """The stored form of a new PIN: ``scrypt$N$r$p$salt$hash`` (base64 parts)."""
    if not is_pin(pin):
        raise PinFormatError(_(PIN_RULE))
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(pin, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    parts = ["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)]
    return "$".join(parts)


def pin_matches(pin: str, stored: str) -> bool:
    """Does ``pin`` match the stored hash? False for anything malformed, either side."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt" or not is_pin(pin):
            return False
        expected = base64.b64decode(digest, validate=True)
        typed = _scrypt(pin, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(typed, expected)


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # A hash claiming a huge cost must not freeze the app: at most the cost hash_pin uses.
    if not (1 < n <= SCRYPT_N and 0 < r <= SCRYPT_R and 0 < p <= SCRYPT_P):
        raise ValueError("scrypt parameters out of range")  # i18n: ignore (caught)
    return hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, dklen=HASH_BYTES)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# ---------------------------------------------------------------------------- attempts


@dataclass
class Attempts:
    """Wrong PINs in a row, and until when (wall clock, seconds) the prompt is locked."""

    failures: int = 0
    locked_until: float = 0.0


def attempts_file() -> Path:
    return paths.config_dir() / "pin-attempts.json"


def load_attempts(pin_set: bool) -> Attempts:
    """The count of wrong PINs. Setting a PIN writes a zero count (`clear_attempts`), so
    while a PIN is set the file is there: a missing or damaged one means someone removed
    it to get the free tries back, and counts as the free tries used."""
    try:
        raw = json.loads(attempts_file().read_text(encoding="utf-8"))
        return Attempts(int(raw["failures"]), float(raw["locked_until"]))
    except FileNotFoundError:
        return Attempts(FREE_TRIES if pin_set else 0)
    except (ValueError, KeyError, TypeError):
        return Attempts(FREE_TRIES)


def save_attempts(attempts: Attempts) -> None:
    paths.write_private(attempts_file(), json.dumps(asdict(attempts)) + "\n")


def clear_attempts() -> None:
    """A new PIN was chosen: the wrong guesses at the old one no longer count, and its
    free tries start."""
    save_attempts(Attempts())


def wait_after(failures: int) -> int:
    """Seconds the prompt stays locked after ``failures`` wrong PINs in a row."""
    if failures < FREE_TRIES:
        return 0
    return min(FIRST_WAIT_S * 2 ** (failures - FREE_TRIES), MAX_WAIT_S)


@dataclass(frozen=True)
class Unlock:
    """What the right PIN was given for, and until when (monotonic seconds)."""

    action: str = ""
    until: float = 0.0

    @classmethod
    def now_for(cls, action: str) -> Unlock:
        return cls(action, time.monotonic() + UNLOCK_S)

    def allows(self, action: str) -> bool:
        return self.action == action and time.monotonic() < self.until


@dataclass
class PinAnswer:
    ok: bool
    wait_s: int = 0  # the prompt is locked this many seconds more
    message: str = ""


class PinGate:
    """Checks typed PINs against the stored hash, with the back-off counted on disk."""

    def __init__(self, stored_hash: Callable[[], str], clock: Callable[[], float] = time.time):
        self._stored_hash = stored_hash
        self._clock = clock
        self._lock = threading.Lock()

    def locked_for(self) -> int:
        """Seconds before the next PIN is checked (0: now)."""
        return self._remaining(load_attempts(bool(self._stored_hash())))

    def try_pin(self, pin: str) -> PinAnswer:
        with self._lock:
            attempts = load_attempts(bool(self._stored_hash()))
            wait = self._remaining(attempts)
            if wait:
                return PinAnswer(False, wait, _locked_message(wait))
            stored = self._stored_hash()
            if stored and pin_matches(pin, stored):
                save_attempts(Attempts())
                return PinAnswer(True)
            attempts.failures += 1
            wait = wait_after(attempts.failures)
            attempts.locked_until = self._clock() + wait
            save_attempts(attempts)
            message = _locked_message(wait) if wait else _("Wrong PIN.")
            return PinAnswer(False, wait, message)

    def _remaining(self, attempts: Attempts) -> int:
        left = attempts.locked_until - self._clock()
        # A clock set back must not stretch the lock beyond its longest.
        return max(0, min(int(left + 0.999), MAX_WAIT_S))


def _locked_message(wait_s: int) -> str:
    return _("Too many wrong PINs. Try again in {seconds} s.").format(seconds=wait_s)
