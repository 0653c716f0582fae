"""The agent's corrected clock: the device's clock plus its measured offset to the server's.

A tablet's own clock may be minutes off (set by hand, a dead CMOS battery). Clock readings
and the refusal of changes from the future (`protocol.check_clock`) use `now_ms()`: the
device clock plus the offset to the server, measured at each exchange (the addon's answers
carry the server's `time_ms`), or to the peers while no server measurement is held.

One exchange gives one sample: offset = remote time − the local midpoint of the request,
wrong by at most half the round trip. The offset in use is the one of the sample with the
shortest round trip among the last few of its source (NTP's minimum-delay filter).

A device clock that jumps (NTP sets it at last, someone fixes it by hand, a suspend)
invalidates every sample: `now_ms()` notices that the device clock moved unlike the
monotonic clock and forgets the samples until the next exchange. Nothing is saved across
restarts, for the same reason: a dead CMOS battery resets the clock at each boot.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

FAR_OFF_MS = 30_000  # a device clock this far from the server's is reported
JUMP_MS = 2_000  # the device clock moved this much unlike the monotonic one: it was set
MAX_ROUND_TRIP_MS = 5_000  # a slower exchange says too little about the offset
KEEP_SAMPLES = 8
SOURCES = ("server", "peer")  # in order of trust: a peer's time counts only without the server

log = logging.getLogger(__name__)


def device_ms() -> int:
    return time.time_ns() // 1_000_000


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def describe(offset_ms: int) -> str:
    """How far the device clock is from the reference: "612.3 s ahead of", "2.0 s behind"."""
    side = "ahead of" if offset_ms < 0 else "behind"
    return f"{abs(offset_ms) / 1000:.1f} s {side}"


def describe_status(clock: dict) -> str:
    """The status's `clock` part for a person (`possync status`, `possync-agent status`)."""
    source = clock.get("source")
    if not source:
        return "device clock as is (no offset measured yet)"
    offset = f"{describe(clock.get('offset_ms', 0))} the {source}'s"
    if clock.get("far_off"):
        return f"{offset}: corrected; set this device's date and time"
    return f"{offset} (corrected)"


@dataclass(frozen=True)
class Sample:
    offset_ms: int  # the remote clock minus ours
    round_trip_ms: int


class CorrectedClock:
    """Our best estimate of the server's time, from the device and monotonic clocks."""

    def __init__(
        self,
        device: Callable[[], int] = device_ms,
        monotonic: Callable[[], int] = monotonic_ms,
    ) -> None:
        self._device = device
        self._monotonic = monotonic
        self._samples = {source: deque(maxlen=KEEP_SAMPLES) for source in SOURCES}
        self._last = (device(), monotonic())

    def local_ms(self) -> int:
        """The device's own clock: what an exchange is timed with (sent, received)."""
        self._check_jump()
        return self._device()

    def now_ms(self) -> int:
        """The corrected time: what clock readings use and what changes are checked against."""
        return self.local_ms() + self.offset_ms

    def observe_server(self, server_ms: object, sent_ms: int, received_ms: int) -> None:
        """The server answered at `server_ms` (its `time_ms`) a request timed locally."""
        self._observe("server", server_ms, sent_ms, received_ms)

    def observe_peer(self, peer_ms: object, sent_ms: int, received_ms: int) -> None:
        """A peer answered at `peer_ms` (its corrected time) a request timed locally."""
        self._observe("peer", peer_ms, sent_ms, received_ms)

    @property
    def source(self) -> str | None:
        """Where the offset comes from: "server", "peer", or None (the device clock as is)."""
        return next((source for source in SOURCES if self._samples[source]), None)

    @property
    def offset_ms(self) -> int:
        source = self.source
        if source is None:
            return 0
        # The quickest exchange; of equally quick ones, the latest.
        return min(reversed(self._samples[source]), key=lambda s: s.round_trip_ms).offset_ms

    @property
    def far_off(self) -> bool:
        return abs(self.offset_ms) > FAR_OFF_MS

    def snapshot(self) -> dict:
        """The clock part of the agent's status."""
        return {"offset_ms": self.offset_ms, "source": self.source, "far_off": self.far_off}

    def _observe(self, source: str, remote_ms: object, sent_ms: int, received_ms: int) -> None:
        if isinstance(remote_ms, bool) or not isinstance(remote_ms, int | float):
            return  # an older server, or a peer that sent no time
        round_trip = received_ms - sent_ms
        if not 0 <= round_trip <= MAX_ROUND_TRIP_MS:
            return  # slow, or the device clock was set meanwhile
        offset = round(remote_ms - (sent_ms + received_ms) / 2)
        far_before = self.far_off
        self._samples[source].append(Sample(offset, round_trip))
        if self.far_off and not far_before:
            log.warning(
                "this device's clock is %s the %s's: possync corrects it; "
                "set the date and time (NTP)",
                describe(self.offset_ms),
                source,
            )

    def _check_jump(self) -> None:
        device, monotonic = self._device(), self._monotonic()
        last_device, last_monotonic = self._last
        self._last = (device, monotonic)
        moved = (device - last_device) - (monotonic - last_monotonic)
        if abs(moved) > JUMP_MS and any(self._samples.values()):
            log.warning("the device clock moved by %.1f s: offset measured anew", moved / 1000)
            for samples in self._samples.values():
                samples.clear()
