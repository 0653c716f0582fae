"""Finding the other agents of this POS configuration on the LAN by mDNS (zeroconf).

Each agent announces `<terminal>._possync._tcp.local.` with TXT `config=<tag>` and
`terminal=<id>`, and browses for the others; agents of other configurations (another
tag) are ignored. The tag names the POS without revealing anything (see `config_tag`).
Discovery only proposes addresses: agent/peers.py trusts an address only once it proved,
by TLS and a signed answer, to be a device on the server's list.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from zeroconf import IPVersion, ServiceStateChange, get_all_addresses
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from agent.peers import MAX_PEERS
from agent.protocol import is_valid_id

SERVICE = "_possync._tcp.local."
RESOLVE_TIMEOUT_MS = 3000

log = logging.getLogger(__name__)


def config_tag(server: str, db: str, config_id: int) -> str:
    """What mDNS announces for a POS: the same on every terminal of that POS (server
    origin, database and config id), different for any other POS, and no secret: it
    only spares agents the work of challenging terminals of other restaurants."""
    parts = urlsplit(server)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    return hashlib.sha256(f"{origin}|{db}|{config_id}".encode()).hexdigest()[:16]


class Discovery:
    def __init__(
        self,
        terminal: str,
        port: int,
        host: str,
        interfaces: list[str],
        on_found: Callable[[str, str], None],
    ) -> None:
        self.terminal = terminal
        self.port = port
        self.host = host
        self.interfaces = interfaces
        self.on_found = on_found  # (terminal, url) of an agent with our tag
        self.tag = ""
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self, tag: str, announce: bool = True) -> None:
        """Announce this agent (unless `announce` is false: `possync doctor` only looks)
        and browse for others with the same configuration tag."""
        self.tag = tag
        kwargs = {"interfaces": self.interfaces} if self.interfaces else {}
        self._zc = AsyncZeroconf(ip_version=IPVersion.V4Only, **kwargs)
        if announce:
            info = AsyncServiceInfo(
                SERVICE,
                f"{self.terminal}.{SERVICE}",
                parsed_addresses=lan_addresses(self.host, self.interfaces),
                port=self.port,
                properties={"config": tag, "terminal": self.terminal},
            )
            await self._zc.async_register_service(info)
        self._browser = AsyncServiceBrowser(self._zc.zeroconf, SERVICE, handlers=[self._changed])

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._browser is not None:
            await self._browser.async_cancel()
        if self._zc is not None:
            await self._zc.async_close()
        self._zc = self._browser = None

    def _changed(
        self, zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        # Called by zeroconf's loop; resolving awaits, so it runs as a task.
        if state_change in (ServiceStateChange.Added, ServiceStateChange.Updated):
            task = asyncio.ensure_future(self._resolve(service_type, name))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _resolve(self, service_type: str, name: str) -> None:
        if self._zc is None:
            return
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(self._zc.zeroconf, RESOLVE_TIMEOUT_MS):
            return
        props = {
            k.decode(errors="replace"): (v or b"").decode(errors="replace")
            for k, v in info.properties.items()
        }
        terminal = announced_peer(props, self.tag, self.terminal)
        if terminal is None:
            return
        for address in info.parsed_addresses(IPVersion.V4Only):
            log.info("found peer %s at %s:%s by mDNS", terminal, address, info.port)
            self.on_found(terminal, f"https://{address}:{info.port}")
            return


def announced_peer(props: dict[str, str], tag: str, own: str) -> str | None:
    """The terminal an mDNS announcement names, if it is another terminal of the POS
    tagged ``tag``. Anyone on the LAN can announce anything: a name that is no terminal id
    (control characters, kilobytes) is dropped before it is logged or shown."""
    terminal = props.get("terminal", "")
    if props.get("config") != tag or terminal == own or not is_valid_id(terminal):
        return None
    return terminal


def lan_addresses(host: str, interfaces: list[str]) -> list[str]:
    """The addresses an agent listening on `host` announces: where the others reach it."""
    if host not in ("", "0.0.0.0"):
        return [host]
    if interfaces:
        return list(interfaces)
    found = [a for a in get_all_addresses() if not a.startswith("127.")]
    return found or ["127.0.0.1"]


async def browse(tag: str, seconds: float, interfaces: list[str], own: str = "") -> dict[str, str]:
    """The agents of the POS tagged `tag` that answer within `seconds`, but `own`:
    terminal → URL. Announces nothing (for `possync doctor`)."""
    found: dict[str, str] = {}

    def keep(terminal: str, url: str) -> None:
        if terminal in found or len(found) < MAX_PEERS:
            found[terminal] = url

    looking = Discovery(own, 0, "", interfaces, keep)
    await looking.start(tag, announce=False)
    try:
        await asyncio.sleep(seconds)
    finally:
        await looking.close()
    return found
