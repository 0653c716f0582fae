"""This tablet's device identity: an Ed25519 key pair, and the certificate its peer port
serves, made from that same key.

The private key lives in the OS keyring (service ``possync``, name
``device-key:<terminal>``); only when the user chose ``device_key_store = "file"`` does it
live in ``<data dir>/device-<terminal>.key``, created with mode 0600. The public key and
the SHA-256 of the certificate are what the agent registers with the server, and what
the other agents of the POS trust (agent/devices.py).

One key does both jobs: TLS 1.3 accepts Ed25519 certificates (OpenSSL 1.1.1 and later,
which Python's ``ssl`` uses on every platform possync supports), and the two uses cannot
be confused: a TLS 1.3 CertificateVerify signs 64 spaces and a TLS context string before
its data, every peer message signs a ``possync-peer-1`` first line (agent/peer_auth.py).

Python's ``ssl`` loads a key from a file only: the key goes to a temporary file in the
data folder, encrypted with a one-off password that never leaves this process's memory,
and the file is deleted as soon as it is loaded.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import logging
import os
import secrets
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from agent.timeout_call import call_with_timeout

SERVICE = "possync"
STORES = ("keyring", "file")
KEYRING_TIMEOUT_S = 10.0
CERTIFICATE_YEARS = 20

T = TypeVar("T")
log = logging.getLogger(__name__)


class IdentityUnavailable(Exception):
    """The device key cannot be read or stored; the message says why and what to do."""


@dataclass(frozen=True)
class DeviceIdentity:
    terminal: str
    private_key: Ed25519PrivateKey
    certificate: x509.Certificate

    @property
    def public_key(self) -> str:
        """Standard base64 of the raw 32-byte public key, as the server stores it."""
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return base64.b64encode(raw).decode()

    @property
    def certificate_sha256(self) -> str:
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return hashlib.sha256(der).hexdigest()

    def registration(self) -> dict:
        """What `/pos_restaurant_sync/device/register` needs besides the config id."""
        return {
            "terminal": self.terminal,
            "public_key": self.public_key,
            "certificate_sha256": self.certificate_sha256,
        }

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    def server_ssl_context(self, scratch_dir: Path) -> ssl.SSLContext:
        """A TLS 1.3 server context serving the device certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        password = secrets.token_bytes(32)
        pem = self.certificate.public_bytes(serialization.Encoding.PEM)
        pem += self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password),
        )
        handle, name = tempfile.mkstemp(dir=scratch_dir, prefix=".tls-", suffix=".pem")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(pem)
            context.load_cert_chain(name, password=password)
        finally:
            os.unlink(name)
        return context


def load_identity(
    store: str, data_dir: Path, terminal: str, certificate_pem: str | None
) -> DeviceIdentity:
    """This device's identity, made on first use. Raises IdentityUnavailable."""
    keys = key_store(store, data_dir, terminal)
    raw = keys.load()
    if raw is None:
        raw = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        keys.save(raw)
        log.info("made a new device key for %s (%s)", terminal, store)
    try:
        private_key = Ed25519PrivateKey.from_private_bytes(raw)
    except ValueError as exc:
        raise IdentityUnavailable(f"the stored device key is damaged: {exc}") from exc
    certificate = _matching_certificate(certificate_pem, private_key)
    if certificate is None:
        certificate = _new_certificate(terminal, private_key)
    return DeviceIdentity(terminal, private_key, certificate)


def certificate_pem(identity: DeviceIdentity) -> str:
    return identity.certificate.public_bytes(serialization.Encoding.PEM).decode()


def _matching_certificate(pem: str | None, key: Ed25519PrivateKey) -> x509.Certificate | None:
    """The stored certificate, if it is one of this key (a new key needs a new one)."""
    if not pem:
        return None
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return None
    mine = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    theirs = certificate.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return certificate if mine == theirs else None


def _new_certificate(terminal: str, key: Ed25519PrivateKey) -> x509.Certificate:
    """Self-signed: no one checks its name or dates, peers pin its SHA-256 instead."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "possync device"),
            x509.NameAttribute(NameOID.COMMON_NAME, terminal),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365 * CERTIFICATE_YEARS))
        .sign(key, None)
    )


# --- where the private key is kept ------------------------------------------------------


class KeyringKeys:
    """The key in the OS keyring: base64 of its 32 raw bytes (far under any size limit)."""

    def __init__(self, terminal: str, timeout: float = KEYRING_TIMEOUT_S) -> None:
        self.name = f"device-key:{terminal}"
        self.timeout = timeout

    def load(self) -> bytes | None:
        import keyring

        stored = _keyring_call(lambda: keyring.get_password(SERVICE, self.name), self.timeout)
        return base64.b64decode(stored) if stored else None

    def save(self, raw: bytes) -> None:
        import keyring

        text = base64.b64encode(raw).decode()
        _keyring_call(lambda: keyring.set_password(SERVICE, self.name, text), self.timeout)


class FileKeys:
    """The key in a file only its owner may read, for machines without a usable keyring."""

    def __init__(self, data_dir: Path, terminal: str) -> None:
        self.path = data_dir / f"device-{terminal}.key"

    def load(self) -> bytes | None:
        try:
            return base64.b64decode(self.path.read_text(encoding="ascii").strip())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise IdentityUnavailable(f"cannot read {self.path}: {exc}") from exc

    def save(self, raw: bytes) -> None:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as file:
                file.write(base64.b64encode(raw).decode() + "\n")
        except OSError as exc:
            raise IdentityUnavailable(f"cannot write {self.path}: {exc}") from exc


def key_store(store: str, data_dir: Path, terminal: str) -> KeyringKeys | FileKeys:
    if store == "file":
        return FileKeys(data_dir, terminal)
    return KeyringKeys(terminal)


def _keyring_call(fn: Callable[[], T], timeout: float) -> T:
    """Run a keyring call on a daemon thread: a keyring waiting on an unlock dialog nobody
    sees must neither block the agent for ever nor keep it from exiting."""
    import keyring.errors

    advice = 'or set device_key_store = "file" to keep the device key in the data folder'
    try:
        return call_with_timeout(fn, timeout)
    except TimeoutError:
        raise IdentityUnavailable(
            f"the system keyring did not answer in {timeout:g} s ({advice})"
        ) from None
    except keyring.errors.NoKeyringError:
        raise IdentityUnavailable(f"no system keyring on this computer ({advice})") from None
    except Exception as error:
        raise IdentityUnavailable(f"the system keyring failed: {error} ({advice})") from error
