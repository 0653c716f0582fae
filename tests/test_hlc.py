"""The hybrid logical clock (docs/protocol.md, "Clock")."""

from agent.protocol import MAX_DRIFT_MS, HybridClock, format_hlc, parse_hlc


def test_readings_follow_the_wall_clock():
    clock = HybridClock()
    assert clock.tick(1000) == format_hlc(1000, 0)
    assert clock.tick(1005) == format_hlc(1005, 0)


def test_readings_stay_monotonic_when_the_wall_clock_jumps_backwards():
    clock = HybridClock()
    first = clock.tick(5000)
    later = [clock.tick(now) for now in (4000, 3000, 5000)]
    assert later == sorted(later) and later[0] > first
    assert parse_hlc(later[-1]) == (5000, 3)


def test_observing_a_later_reading_moves_the_clock_past_it():
    clock = HybridClock()
    clock.tick(1000)
    clock.observe(format_hlc(2000, 7), now_ms=1000)
    assert clock.tick(1000) == format_hlc(2000, 8)


def test_a_reading_far_in_the_future_is_adopted_only_up_to_the_drift_bound():
    clock = HybridClock()
    clock.observe(format_hlc(10_000_000, 0), now_ms=1000)
    assert parse_hlc(clock.tick(1000))[0] == 1000 + MAX_DRIFT_MS


def test_counter_overflow_carries_into_the_wall_time():
    clock = HybridClock(format_hlc(1000, 99_999))
    assert clock.tick(900) == format_hlc(1001, 0)


def test_a_clock_restarts_from_its_saved_reading():
    clock = HybridClock(format_hlc(9000, 4))
    assert clock.tick(100) == format_hlc(9000, 5)
