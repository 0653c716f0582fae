"""The agent's corrected clock (agent/clock.py): the device clock plus its offset to the server."""

from __future__ import annotations

from agent.clock import FAR_OFF_MS, CorrectedClock, describe, describe_status


class FakeClocks:
    """A device clock and a monotonic clock the test moves by hand."""

    def __init__(self, device: int = 1_000_000, monotonic: int = 50) -> None:
        self.device, self.monotonic = device, monotonic

    def advance(self, ms: int) -> None:
        self.device += ms
        self.monotonic += ms

    def clock(self) -> CorrectedClock:
        return CorrectedClock(device=lambda: self.device, monotonic=lambda: self.monotonic)


def exchange(
    clock: CorrectedClock, clocks: FakeClocks, remote_at_mid: object, trip: int, source="server"
) -> None:
    """One request taking `trip` ms, answered by a remote clock reading `remote_at_mid`."""
    sent = clock.local_ms()
    clocks.advance(trip)
    observe = clock.observe_server if source == "server" else clock.observe_peer
    observe(remote_at_mid, sent, clock.local_ms())


def test_without_any_exchange_the_device_clock_is_used_as_it_is():
    clocks = FakeClocks()
    clock = clocks.clock()
    assert clock.now_ms() == clocks.device and clock.snapshot() == {
        "offset_ms": 0, "source": None, "far_off": False
    }


def test_the_server_time_at_the_midpoint_of_a_request_gives_the_offset():
    clocks = FakeClocks()
    clock = clocks.clock()
    # The device is ten minutes ahead: the server answered at device time − 600 s.
    exchange(clock, clocks, clocks.device + 20 - 600_000, trip=40)
    assert clock.offset_ms == -600_000
    assert clock.now_ms() == clocks.device - 600_000
    assert clock.far_off and clock.source == "server"


def test_the_quickest_exchange_of_the_last_few_sets_the_offset():
    clocks = FakeClocks()
    clock = clocks.clock()
    exchange(clock, clocks, clocks.device + 500 + 900, trip=1000)  # slow: 0.9 s wrong
    exchange(clock, clocks, clocks.device + 5 + 3000, trip=10)
    assert clock.offset_ms == 3000


def test_an_answer_without_a_time_or_a_very_slow_one_changes_nothing():
    clocks = FakeClocks()
    clock = clocks.clock()
    exchange(clock, clocks, None, trip=10)
    exchange(clock, clocks, True, trip=10)
    exchange(clock, clocks, clocks.device + 99_999, trip=6000)
    assert clock.source is None and clock.offset_ms == 0


def test_peers_set_the_offset_only_without_a_server_measurement():
    clocks = FakeClocks()
    clock = clocks.clock()
    exchange(clock, clocks, clocks.device + 5 + 45_000, trip=10, source="peer")
    assert (clock.source, clock.offset_ms) == ("peer", 45_000)
    exchange(clock, clocks, clocks.device + 5 - 2_000, trip=10)
    assert (clock.source, clock.offset_ms) == ("server", -2_000)


def test_a_device_clock_that_jumps_forgets_its_offset():
    # A dead CMOS battery: the tablet boots in the past, the agent measures a huge offset,
    # then NTP sets the device clock right. Keeping the offset would stamp years ahead.
    clocks = FakeClocks(device=0)
    clock = clocks.clock()
    exchange(clock, clocks, 1_764_000_000_000, trip=10)
    clocks.device += 1_764_000_000_000  # set by NTP; the monotonic clock did not move
    assert clock.now_ms() == clocks.device
    assert clock.source is None


def test_a_clock_far_off_is_described_for_people():
    assert describe(-612_345) == "612.3 s ahead of"
    assert describe(2_000) == "2.0 s behind"
    assert FAR_OFF_MS == 30_000


def test_the_status_line_says_how_far_off_and_that_it_is_corrected():
    far = {"offset_ms": -600_000, "source": "server", "far_off": True}
    assert describe_status(far) == (
        "600.0 s ahead of the server's: corrected; set this device's date and time"
    )
    near = {"offset_ms": 1_500, "source": "peer", "far_off": False}
    assert describe_status(near) == "1.5 s behind the peer's (corrected)"
    assert "no offset measured" in describe_status({"offset_ms": 0, "source": None})
