"""The devices this agent trusts: the server's list of active devices of this POS.

The list comes from `/pos_restaurant_sync/devices` and is kept in the store (meta
``devices``), so the agents of a POS keep trusting each other while the server is away.
A peer request or answer is accepted only when signed with the key of a device on it, and
a peer's TLS certificate only when its SHA-256 is the one registered for that device.

A device may carry a fixed LAN address (`lan_address`, ``host`` or ``host:port``) that a
POS manager set on the server for a Wi-Fi where mDNS does not reach; agent/peers.py uses
it in place of mDNS for that terminal. An address the agent cannot use is dropped with a
warning, and the device is kept: trust never depends on the address.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

TERMINAL_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_DEVICES = 1000  # far above any restaurant; an answer beyond it is refused
# `host`, `host:port`, `[v6]` or `[v6]:port`: letters, digits and . - : [ ] only, so the
# address can never carry a path, credentials or a second URL.
LAN_ADDRESS_RE = re.compile(r"(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")

log = logging.getLogger(__name__)


class InvalidDeviceList(ValueError):
    """The server's answer is not a list of devices."""


@dataclass(frozen=True)
class Device:
    terminal: str
    public_key: str  # standard base64 of the raw 32-byte Ed25519 key
    certificate_sha256: str  # lowercase hex SHA-256 of the DER certificate
    lan_address: str = ""  # `host[:port]` a manager fixed on the server; "" for none

    @classmethod
    def parse(cls, item: Any) -> Device:
        if not isinstance(item, dict):
            raise InvalidDeviceList("a device must be an object")
        terminal = item.get("terminal")
        public_key = item.get("public_key")
        certificate = item.get("certificate_sha256")
        if not isinstance(terminal, str) or not TERMINAL_RE.match(terminal):
            raise InvalidDeviceList(f"bad terminal {terminal!r:.80}")
        if not isinstance(certificate, str) or not SHA256_RE.match(certificate):
            raise InvalidDeviceList(f"bad certificate_sha256 for {terminal}")
        key = public_key if isinstance(public_key, str) else ""
        device = cls(terminal, key, certificate, _lan_address(terminal, item.get("lan_address")))
        device.key  # noqa: B018 - a key that does not load is refused here, not at first use
        return device

    @cached_property
    def key(self) -> Ed25519PublicKey:
        try:
            raw = base64.b64decode(self.public_key, validate=True)
            return Ed25519PublicKey.from_public_bytes(raw)
        except (ValueError, binascii.Error) as exc:
            raise InvalidDeviceList(f"bad public_key for {self.terminal}") from exc

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            self.key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def _lan_address(terminal: str, value: Any) -> str:
    """The fixed address of a device as the server sent it, or "" if it cannot be used."""
    if value in (None, False, ""):
        return ""
    if isinstance(value, str) and LAN_ADDRESS_RE.fullmatch(value) and _port_ok(value):
        return value
    log.warning("ignoring the fixed address of %s: %r", terminal, str(value)[:80])
    return ""


def _port_ok(address: str) -> bool:
    port = address.rpartition("]")[2] if address.startswith("[") else address
    if ":" not in port:
        return True
    return 1 <= int(port.rpartition(":")[2]) <= 65535


def fixed_url(address: str, default_port: int) -> str:
    """`https://host:port` for a device's fixed address (the peer port speaks TLS only);
    an address without a port is at `default_port`, this agent's own peer port."""
    host_part = address.rpartition("]")[2] if address.startswith("[") else address
    if ":" not in host_part:
        address = f"{address}:{default_port}"
    return f"https://{address}"


@dataclass
class DeviceList:
    devices: list[Device] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_terminal = {d.terminal: d for d in self.devices}
        self._by_certificate = {d.certificate_sha256: d for d in self.devices}

    @classmethod
    def parse(cls, answer: Any) -> DeviceList:
        """The answer of `/pos_restaurant_sync/devices`; raises InvalidDeviceList."""
        items = answer.get("devices") if isinstance(answer, dict) else None
        if not isinstance(items, list) or len(items) > MAX_DEVICES:
            raise InvalidDeviceList("devices must be a list")
        return cls([Device.parse(item) for item in items])

    @classmethod
    def from_json(cls, text: str | None) -> DeviceList:
        """The cached list; an unreadable cache counts as none (the server sends it again)."""
        if not text:
            return cls()
        try:
            return cls.parse(json.loads(text))
        except (ValueError, InvalidDeviceList):
            return cls()

    def to_json(self) -> str:
        return json.dumps({"devices": [asdict(d) for d in self.devices]}, separators=(",", ":"))

    def get(self, terminal: str | None) -> Device | None:
        return self._by_terminal.get(terminal or "")

    def with_certificate(self, sha256: str) -> Device | None:
        return self._by_certificate.get(sha256)

    def fixed_addresses(self) -> dict[str, str]:
        """The fixed LAN address of each device that has one, by terminal."""
        return {d.terminal: d.lan_address for d in self.devices if d.lan_address}

    def __len__(self) -> int:
        return len(self.devices)
