"""A tablet's fixed LAN address, as a POS manager types it: pure Python, no Odoo.

Where the Wi-Fi keeps its clients apart or blocks mDNS, the other tablets reach a tablet
at the address set on its device record. The address is ``host`` or ``host:port``
(``[v6]:port`` for IPv6 with a port); the agent adds the peer port when none is given.

Allowed hosts: an IPv4 address of a private range (10/8, 172.16/12, 192.168/16), of
loopback (127/8: tests and one-machine demos) or link-local (169.254/16); any IPv6
unicast address without a zone (IPv6 LANs use global addresses too); a host name
(letters, digits, hyphens, dots). A public IPv4 address is refused: a restaurant's tablets
share a LAN, and such an address is most likely the server's. Whatever the address, the
other tablets send nothing to it before it serves the certificate registered for that
tablet (agent/peers.py), so a wrong address costs a connection attempt, never data; a
host name is resolved by the agents, which apply the same ranges (agent/lan_range.py).
"""

from __future__ import annotations

import ipaddress
import re

# The IPv4 ranges a restaurant's tablets can have: private, loopback, link-local.
# (Python's `is_private` also takes documentation and benchmark ranges: not used.)
IPV4_LAN = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16")
)

MAX_LENGTH = 261  # a 253-character host name, a colon and a 5-digit port, with room
LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def normalized_lan_address(value: object) -> str:
    """The address as stored and sent to the tablets (IPv6 in brackets, no spaces
    around); raises ValueError with what is wrong."""
    if not isinstance(value, str):
        raise ValueError("the address must be text")
    text = value.strip()
    if len(text) > MAX_LENGTH:
        raise ValueError(f"an address has at most {MAX_LENGTH} characters")
    if not text.isascii() or any(c.isspace() for c in text):
        raise ValueError("an address is a host or host:port, with no spaces")
    if "/" in text or "@" in text:
        raise ValueError("give a host or host:port, not a URL (e.g. 192.168.1.21:8766)")
    host, port = _split(text)
    if port is not None and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError("the port must be a number from 1 to 65535")
    host = _checked_host(host)
    return host if port is None else f"{host}:{int(port)}"


def _split(text: str) -> tuple[str, str | None]:
    """(host, port or None) of `host`, `host:port`, `[v6]`, `[v6]:port` or a bare v6."""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError("an IPv6 address in brackets is [address] or [address]:port")
        return host, rest[1:] if rest else None
    if text.count(":") > 1:
        return text, None  # a bare IPv6 address
    host, colon, port = text.partition(":")
    return host, port if colon else None


def _checked_host(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return _checked_name(host)
    if address.version == 6:
        if address.is_multicast or address.is_unspecified or address.scope_id:
            raise ValueError("an IPv6 address of one machine, without a %zone, is needed")
        return f"[{address.compressed}]"
    if not any(address in network for network in IPV4_LAN):
        raise ValueError(
            "an IPv4 address of the restaurant's network is needed "
            "(10.x.x.x, 172.16-31.x.x or 192.168.x.x)"
        )
    return address.compressed


def _checked_name(host: str) -> str:
    labels = host.rstrip(".").split(".")
    if not host or len(host) > 253 or not all(LABEL.fullmatch(label) for label in labels):
        raise ValueError(
            "a host name is letters, digits and hyphens between dots (e.g. tablet-2.local)"
        )
    if labels[-1].isdigit():
        raise ValueError("this is not an IPv4 address (four numbers from 0 to 255)")
    return host.lower()
