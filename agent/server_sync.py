"""The server's side: push the outbox to the addon; receive the other terminals' changes by
Odoo's bus websocket or by polling, falling back from the bus to polling when the websocket
fails and returning to it when it works again.

`sync_once()` does one full pass and can be called on its own (tests step it); `run()`
loops for ever with backoff (litestream's Sync/monitor split).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from typing import Any

import aiohttp

from agent import app_update
from agent.backoff import Backoff
from agent.core import Agent
from agent.devices import DeviceList, InvalidDeviceList
from agent.incoming import is_seq, valid_changes
from agent.odoo_client import OdooClient
from agent.odoo_rpc import (
    DISABLED,
    MISMATCH,
    AppTooOld,
    BusUnavailable,
    DeviceRevoked,
    OdooCallError,
    OdooError,
    ProtocolMismatch,
    ServerUnreachable,
    SyncDisabled,
)
from agent.protocol import PROTOCOL_VERSION
from agent.settings import Settings
from agent.status import now_iso
from agent.store import SETTLED

PUSH_LIMIT = 500  # the addon's limit per push
PUSH_BYTES = 900_000  # under the addon's 1 MiB, leaving room for the JSON-RPC envelope
PULL_LIMIT = 500
OUTDATED = "OUTDATED_VERSION"
STABLE_BUS_S = 30.0  # a bus that stayed up this long resets the reconnect backoff
DEVICES_AT_MOST_EVERY_S = 5.0  # failed peer checks cannot make us read the list more often
# A lost server is looked for about this often (±25 %), with its health check, so its return
# is noticed within about a second whatever the backoff has grown to (`_probe_loop`).
PROBE_EVERY_S = 1.0
PROBE_TIMEOUT_S = 2.0

log = logging.getLogger(__name__)


class ServerSync:
    def __init__(self, agent: Agent, client: OdooClient, settings: Settings) -> None:
        assert settings.config_id is not None
        self.agent = agent
        self.client = client
        self.settings = settings
        self.config_id = settings.config_id
        key = f"{client.base_url}|{client.db}|{settings.config_id}"
        self.cursor_name = f"server:{key}"
        self.bus_cursor_name = f"bus:{key}"
        self.info: dict | None = None
        self.bus_retry_at = 0.0
        self.registered = False  # this device registered with the server during this run
        self.revoked = False  # the server refused this device's key as revoked: not again
        self._prepare_lock = asyncio.Lock()
        self._answering = asyncio.Event()  # set whenever the server answers
        self._lost = asyncio.Event()  # a call found no server: look for it (`_probe_loop`)
        self._may_probe = True  # False from a probe's wake-up until the server answers a call

    # --- one pass -------------------------------------------------------------------------

    async def sync_once(self) -> None:
        """Log in if needed, push the whole outbox, then pull everything new."""
        await self.prepare()
        while await self.push_pending():
            pass
        await self.pull_new()

    async def prepare(self) -> dict:
        """Read the addon's /info (logging in first), register this device and read the
        POS's devices; cached until an error. An app too old for the server stops here."""
        async with self._prepare_lock:
            if self.info is None:
                info = await self.client.info(self.config_id)
                if info.get("protocol") != PROTOCOL_VERSION:
                    raise ProtocolMismatch(MISMATCH)
                app = app_update.check(info, self.client.app_version)
                self.agent.status.set_app(app)
                if app.too_old:
                    raise AppTooOld(str(app.cause))
                if not info.get("enabled", True):
                    raise SyncDisabled(DISABLED)
                await self._register()
                await self.refresh_devices()
                self.info = info
            return self.info

    async def _register(self) -> None:
        """Register this device's key and certificate (once a run; the server keeps one
        key per terminal, and a new key for a terminal revokes its old one)."""
        identity = self.agent.identity
        if identity is None or self.registered or self.revoked:
            return
        try:
            await self.client.register_device(self.config_id, identity.registration())
            self.registered = True
        except DeviceRevoked as exc:
            self.revoked = True
            log.error("%s", exc)
            self.agent.status.peers_off(str(exc))
        except OdooError as exc:
            log.warning("device not registered (%s): other terminals will not trust it", exc)

    async def refresh_devices(self) -> None:
        """Read the active devices of the POS; keep the cached list if the answer is bad."""
        try:
            devices = DeviceList.parse(await self.client.devices(self.config_id))
        except InvalidDeviceList as exc:
            log.warning("ignoring the server's list of devices: %s", exc)
            return
        except OdooError as exc:
            log.warning("cannot read the list of devices (%s): keeping the cached one", exc)
            return
        await self.agent.set_devices(devices)

    async def push_pending(self) -> int:
        """Push the oldest unsent changes once; return how many the server answered."""
        batch = await self.agent.db.read(lambda s: s.outbox_batch(PUSH_LIMIT, PUSH_BYTES))
        if not batch:
            return 0
        ids = [c["id"] for c in batch]
        # Settled by an answer, not by the bus's echo (Agent.receive); a failed push's
        # changes wait for the answer to the next.
        self.agent.awaiting_answer = frozenset(ids)
        try:
            result = await self.client.push(self.config_id, batch)
        except OdooCallError as exc:
            error = str(exc)
            await self.agent.db.write(lambda s: s.note_failure(ids, error))
            raise
        self.agent.awaiting_answer = frozenset()
        acks = result.get("acks")
        if not isinstance(acks, list):
            raise OdooError("the server's answer to push has no acks")
        acks = [a for a in acks if isinstance(a, dict)]
        await self.agent.db.write(lambda s: s.settle(acks))
        self._answered()
        settled = {a.get("id") for a in acks if a.get("status") in SETTLED}
        answered = set(ids) & settled
        if not answered:
            raise OdooError("the server acknowledged none of the changes it was sent")
        return len(answered)

    async def pull_new(self) -> int:
        """Read every change after our server cursor; return how many were new here."""
        received = 0
        while True:
            after = await self.agent.cursor(self.cursor_name)
            result = await self.client.pull(self.config_id, after, PULL_LIMIT)
            items = result.get("changes") if isinstance(result.get("changes"), list) else []
            cursor = result.get("cursor")
            cursors = {self.cursor_name: cursor} if is_seq(cursor) else {}
            candidates = (item.get("change") for item in items if isinstance(item, dict))
            changes = valid_changes(candidates, "the server")
            received += len(await self.agent.receive(changes, "server", cursors))
            self._answered()
            if result.get("reset") is True:
                self._reset(after, cursor)
            if not result.get("more") or not cursors or cursor <= after:
                return received

    # --- for ever -------------------------------------------------------------------------

    async def run(self) -> None:
        """Push whenever the outbox fills; receive by bus or polling; back off on errors."""
        await asyncio.gather(
            self._push_loop(), self._receive_loop(), self._devices_loop(), self._probe_loop()
        )

    async def _push_loop(self) -> None:
        backoff = self._backoff()
        self.agent.outbox_event.set()  # whatever the last run left behind
        while True:
            await self.agent.outbox_event.wait()
            self.agent.outbox_event.clear()
            try:
                await self.prepare()
                while await self.push_pending():
                    pass
                backoff.reset()
            except OdooCallError as exc:
                self._report(exc)
                await self._pause(backoff.next())
                self.agent.outbox_event.set()

    async def _devices_loop(self) -> None:
        """Read the list of devices every devices_refresh_s, and soon after a peer check
        failed (a device may have been registered or revoked since)."""
        wanted = self.agent.devices_wanted
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wanted.wait(), self.settings.devices_refresh_s)
            wanted.clear()
            with contextlib.suppress(OdooCallError):
                await self.prepare()
                await self.refresh_devices()
            await asyncio.sleep(min(DEVICES_AT_MOST_EVERY_S, self.settings.devices_refresh_s))

    async def _receive_loop(self) -> None:
        backoff = self._backoff()
        loop = asyncio.get_running_loop()
        while True:
            try:
                info = await self.prepare()
                if info.get("mode", "bus") == "bus" and loop.time() >= self.bus_retry_at:
                    if await self._follow_bus(info) >= STABLE_BUS_S:
                        backoff.reset()
                        continue
                    await asyncio.sleep(backoff.next())  # it closed soon: don't hammer
                else:
                    await self._poll(info)
                    backoff.reset()
            except BusUnavailable as exc:
                self._bus_failed(exc)
            except OdooCallError as exc:
                self._report(exc)
                if isinstance(exc, ServerUnreachable):
                    await self._pause(backoff.next())  # or until it is back
                else:
                    await asyncio.sleep(backoff.next())  # it answers, with an error

    async def _follow_bus(self, info: dict) -> float:
        """Receive from the bus until it closes; return how long it was up."""
        version = await self.client.websocket_version()
        ws = await self.client.open_bus(version, self.settings.heartbeat_s)
        loop = asyncio.get_running_loop()
        started = loop.time()
        safety = asyncio.create_task(self._safety_pulls())
        try:
            last = await self.agent.cursor(self.bus_cursor_name)
            subscribe = {"channels": [info.get("channel")], "last": last}
            await ws.send_json({"event_name": "subscribe", "data": subscribe})
            await self.pull_new()  # everything that happened while we were away
            self._using("bus", None)
            reason = await self._read_bus(ws, str(info.get("bus_type")))
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise ServerUnreachable(f"bus websocket lost: {exc}") from exc
        finally:
            safety.cancel()
            await ws.close()
        if reason == OUTDATED:
            raise BusUnavailable("the server refused our bus websocket version")
        return loop.time() - started

    async def _read_bus(self, ws: aiohttp.ClientWebSocketResponse, kind: str) -> str:
        """Handle bus frames until the socket closes; return the server's close reason."""
        while True:
            msg = await ws.receive()
            if msg.type == aiohttp.WSMsgType.TEXT:
                await self._on_bus_frame(msg.data, kind)
            elif msg.type == aiohttp.WSMsgType.CLOSE:
                return str(msg.extra or "")
            elif msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                return ""

    async def _on_bus_frame(self, text: str, kind: str) -> None:
        """Store the changes of one bus frame; move the cursors past what it covered."""
        try:
            notifications = json.loads(text)
        except ValueError:
            return
        if not isinstance(notifications, list):
            return
        ids = [n["id"] for n in notifications if isinstance(n, dict) and is_seq(n.get("id"))]
        items = [item for n in notifications for item in payload_items(n, kind)]
        cursors = {self.bus_cursor_name: max(ids)} if ids else {}
        cursor = await self.agent.cursor(self.cursor_name)
        # The server's cursor moves only over an unbroken run of seqs: a notification
        # may overtake one that committed earlier, and a gap is read by the next pull.
        for seq in sorted(item["seq"] for item in items):
            if seq == cursor + 1:
                cursor = seq
        cursors[self.cursor_name] = cursor
        changes = valid_changes((item.get("change") for item in items), "the server")
        await self.agent.receive(changes, "server", cursors)
        self._answered()

    async def _safety_pulls(self) -> None:
        """An occasional pull while on the bus, for any notification the bus lost."""
        while True:
            await asyncio.sleep(self.settings.safety_pull_s)
            with contextlib.suppress(OdooCallError):
                await self.pull_new()

    async def _poll(self, info: dict) -> None:
        """Pull every interval_ms until it is time to try the bus (or re-read /info)."""
        interval = _interval_s(info)
        loop = asyncio.get_running_loop()
        if info.get("mode") == "interval":
            self._using("interval", None)
            until = loop.time() + self.settings.bus_retry_s
        else:
            until = self.bus_retry_at
        while loop.time() < until:
            await self.pull_new()
            await asyncio.sleep(interval)
        self.info = None  # re-read /info: the server's mode may have changed

    async def _probe_loop(self) -> None:
        """While the server is lost, ask its health check about every PROBE_EVERY_S; once
        it answers, wake the loops that wait out their backoff (`_pause`).

        One wake-up per loss: if the server answers the health check but the call that
        follows still fails, the loops wait out their backoff and nothing is probed until
        a call succeeds (`_answered`), so a server that is up but failing is not hammered.
        A server that does not answer costs one health check a second.
        """
        while True:
            await self._lost.wait()
            await asyncio.sleep(PROBE_EVERY_S * random.uniform(0.75, 1.25))
            if not self._lost.is_set() or not await self.client.healthy(PROBE_TIMEOUT_S):
                continue
            # Asked again after the check: a call that succeeded meanwhile (`_answered`)
            # ended the loss, and this wake-up must not keep the next loss from a probe.
            if self._lost.is_set():
                self._lost.clear()
                self._may_probe = False
                self._answering.set()

    # --- status ---------------------------------------------------------------------------

    def _answered(self) -> None:
        self.agent.status.server_synced()
        self._may_probe = True
        self._lost.clear()
        self._answering.set()

    async def _pause(self, delay: float) -> None:
        """Wait before retrying, but no longer than until the server answers elsewhere or
        its health check answers again (`_probe_loop`)."""
        self._answering.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._answering.wait(), delay)

    def _backoff(self) -> Backoff:
        return Backoff(self.settings.backoff_min_s, self.settings.backoff_max_s)

    def _reset(self, after: int, cursor: object) -> None:
        log.warning("server log pruned after our cursor %s (now %s): pages re-read", after, cursor)
        self.agent.status.set_server(reset_at=now_iso())

    def _using(self, path: str, cause: str | None, fallback_ms: int | None = None) -> None:
        self.agent.status.set_server(
            reachable=True, path=path, cause=cause, fallback_ms=fallback_ms
        )

    def _bus_failed(self, exc: BusUnavailable) -> None:
        """Poll at the POS's interval, as Interval mode does, and try the bus again soon."""
        delay = self.settings.bus_retry_s * random.uniform(0.8, 1.2)
        self.bus_retry_at = asyncio.get_running_loop().time() + delay
        every = int(_interval_s(self.info or {}) * 1000)
        log.warning("bus unavailable, polling instead: %s", exc)
        cause = f"{exc}; polling every {every} ms, trying the bus again soon"
        self._using("interval", cause, fallback_ms=every)

    def _report(self, exc: OdooCallError) -> None:
        self.info = None  # read /info again next time: the server may have changed
        reachable = not isinstance(exc, ServerUnreachable)
        if not reachable and self._may_probe:
            self._lost.set()
        self.agent.status.set_server(
            reachable=reachable, path=None, cause=str(exc), fallback_ms=None
        )


def payload_items(notification: Any, kind: str) -> list[dict]:
    message = notification.get("message") if isinstance(notification, dict) else None
    if not isinstance(message, dict) or message.get("type") != kind:
        return []
    payload = message.get("payload")
    items = payload.get("changes") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return []
    return [i for i in items if isinstance(i, dict) and is_seq(i.get("seq"))]


def _interval_s(info: dict) -> float:
    interval = info.get("interval_ms", 500)
    if not is_seq(interval):
        interval = 500
    return min(max(interval, 100), 60_000) / 1000
