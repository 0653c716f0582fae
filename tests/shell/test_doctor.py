"""`possync doctor`: a pass/fail line for each thing a terminal needs, and what to do."""

from __future__ import annotations

import keyring
from keyring.backends import fail

from devkit.standin_odoo import PASSWORD, Faults, Options, StandInServer, running
from shell import doctor, lan_checks, settings
from shell.credentials import Credentials
from shell.settings import Settings


def configure(url: str, store: str = "keyring") -> Settings:
    configured = Settings(url, "restaurant", "waiter", 2, "Restaurant", secret_store=store)
    settings.save(configured)
    Credentials().put(configured, PASSWORD)
    return configured


def outcomes(configured: Settings) -> dict[str, str]:
    return {result.name: result.outcome for result in doctor.run(configured)}


def test_a_healthy_terminal_passes_everything(standin_server: StandInServer) -> None:
    code, lines = doctor.command(configure(standin_server.url))
    assert code == 0, lines
    names = [line.split()[1] for line in lines[:-1]]
    local = ["Server", "Clock", "Login", "Addon", "Websocket", "Keyring", "Disk"]
    assert names == [*local, *lan_checks.NAMES]
    assert all(line.startswith("PASS") for line in lines[: len(local)])
    # The LAN checks look at the running agent: possync is not running here.
    assert all(line.startswith("SKIP") and "not running" in line for line in lines[len(local) : -1])
    assert lines[-1] == "All checks passed."


def test_a_clock_off_by_minutes_fails_with_what_to_do() -> None:
    with running(Options(clock_offset_s=-300)) as server:
        code, lines = doctor.command(configure(server.url))
    assert code == 1
    clock = next(line for line in lines if " Clock " in line)
    assert clock.startswith("FAIL") and "s ahead of the server's" in clock
    assert "possync corrects its own stamps" in clock
    assert "NTP" in lines[lines.index(clock) + 1]


def test_a_clock_a_few_seconds_off_passes_and_says_possync_corrects_it() -> None:
    with running(Options(clock_offset_s=10)) as server:
        code, lines = doctor.command(configure(server.url))
    clock = next(line for line in lines if " Clock " in line)
    assert clock.startswith("PASS") and "behind the server's" in clock
    assert "possync corrects" in clock and code == 0


def test_an_unreachable_server_fails_and_skips_what_depends_on_it() -> None:
    result = outcomes(configure("http://127.0.0.1:9"))
    assert result["Server"] == "FAIL"
    assert {result[name] for name in ("Clock", "Login", "Addon", "Websocket")} == {"SKIP"}
    assert result["Disk"] == "PASS"


def test_a_missing_addon_and_a_blocked_websocket_each_fail() -> None:
    blocked = Faults(websocket=False, websocket_status=502)
    with running(Options(addon="missing", faults=blocked)) as server:
        result = outcomes(configure(server.url))
    assert (result["Login"], result["Addon"], result["Websocket"]) == ("PASS", "FAIL", "FAIL")


def test_no_keyring_fails_and_says_where_the_password_is(standin_server: StandInServer) -> None:
    keyring.set_keyring(fail.Keyring())
    configured = configure(standin_server.url, store="file")
    lines = [line for r in doctor.run(configured) for line in r.lines()]
    keyring_line = next(line for line in lines if " Keyring " in line)
    assert keyring_line.startswith("FAIL") and "private file, as chosen" in keyring_line
    assert any("Login" in line and line.startswith("PASS") for line in lines)


def test_not_set_up_yet_says_how_to_start() -> None:
    code, lines = doctor.command(Settings())
    assert code == 1 and lines[0].startswith("FAIL  Settings")
    assert "setup screen" in lines[1]
