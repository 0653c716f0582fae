"""Is a fixed address's host on the restaurant's LAN? The agent's side of the check.

The server checks what a POS manager types (addon lib/lan_address.py): an IPv4 address
must be in a private, loopback or link-local range, but a host name is taken as it is,
since the server cannot know what it resolves to on the restaurant's network. Here, where
the name is resolved, every address it resolves to must pass the same ranges before the
agent knocks there: a name pointing at a public IPv4 address is refused, as a typed one
would be. The TLS pin and the signed hello still decide who answers (agent/peers.py).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

# Private, loopback (tests, one-machine demos) and link-local IPv4: the addon's ranges.
PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
LAN_V4 = tuple(ipaddress.IPv4Network(n) for n in (*PRIVATE, "127.0.0.0/8", "169.254.0.0/16"))


def on_the_lan(address: str) -> bool:
    """An IPv4 address of a LAN range, or an IPv6 address of one machine."""
    ip = ipaddress.ip_address(address.partition("%")[0])
    if ip.version == 6:
        return not (ip.is_multicast or ip.is_unspecified)
    return any(ip in network for network in LAN_V4)


async def resolve(host: str) -> set[str]:
    """The addresses ``host`` resolves to here."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return {str(info[4][0]) for info in infos}


async def host_on_the_lan(host: str) -> bool:
    """Does ``host`` (an address, or a name resolved here) lie on the LAN? False when a
    name does not resolve or any of its addresses is outside."""
    try:
        return on_the_lan(host)
    except ValueError:
        pass  # a name
    try:
        addresses = await resolve(host)
    except OSError:
        return False
    return bool(addresses) and all(on_the_lan(a) for a in addresses)
