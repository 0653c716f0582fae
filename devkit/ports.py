"""Loopback ports for the servers the development kit starts."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port free right now on 127.0.0.1, for a process that must come back on the same one."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
