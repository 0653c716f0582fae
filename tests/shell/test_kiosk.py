"""Kiosk mode (shell/kiosk.py): the PIN's format and stored form, `possync --kiosk`, and the
kiosk session under a bare X server. The attacks on a kiosk: tests/security/test_kiosk.py."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from shell import kiosk
from shell.settings import Settings
from tests.security.test_kiosk import KIOSK_FORM
from tests.shell.test_window import run_scenario

PIN = "482913"
XVFB = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24"]


def test_a_new_pin_must_be_4_to_8_digits() -> None:
    for bad in ("", "123", "123456789", "12a4", "１２３４", "1234\n", " 1234"):
        with pytest.raises(kiosk.PinFormatError):
            kiosk.hash_pin(bad)
    assert kiosk.pin_matches("1234", kiosk.hash_pin("1234"))
    assert kiosk.pin_matches("12345678", kiosk.hash_pin("12345678"))


def test_the_pin_is_kept_only_as_a_salted_scrypt_hash() -> None:
    first, second = kiosk.hash_pin(PIN), kiosk.hash_pin(PIN)
    assert first != second, "a random salt: equal PINs do not give equal hashes"
    assert PIN not in first and first.startswith("scrypt$")
    assert kiosk.pin_matches(PIN, first) and kiosk.pin_matches(PIN, second)


@pytest.mark.skipif(not shutil.which("xvfb-run"), reason="needs xvfb-run (Debian's xvfb)")
def test_kiosk_session_under_xvfb_covers_the_screen_and_quit_needs_the_pin(
    home: Path, tmp_path: Path
) -> None:
    # As the kiosk session (installer/linux/possync-kiosk.desktop) runs it: a bare X
    # server, no window manager to make the window full screen or take its frame away.
    shots = tmp_path / "shots"
    results = run_scenario("kiosk", home, "--shots", str(shots), under=XVFB)
    window = next(r for r in results if r["check"] == "the window is full screen without a frame")
    assert "'geometry': (0, 0, 1280, 800)" in window["detail"], window
    assert (shots / "kiosk-pos.png").stat().st_size and (shots / "kiosk-pin.png").stat().st_size


def test_possync_kiosk_runs_the_app_as_a_kiosk_without_saving_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The kiosk session's command line (installer/linux/possync-kiosk.desktop).
    from shell import cli

    started: dict[str, bool] = {}

    class StartedApp:
        def __init__(self, settings: Settings, open_setup: bool, kiosk_mode: bool) -> None:
            started.update(kiosk_mode=kiosk_mode, saved_kiosk=settings.kiosk)

        def run(self) -> int:
            return 0

    monkeypatch.setattr("shell.app.App", StartedApp)
    monkeypatch.setattr("shell.window.prepare_qt_env", lambda: None)
    assert cli.main(["--kiosk"]) == 0
    assert started == {"kiosk_mode": True, "saved_kiosk": False}
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "--kiosk" in capsys.readouterr().out


def test_saving_a_new_pin_clears_the_count_of_wrong_ones(home: Path) -> None:
    # The way back for a manager who forgot the PIN (docs/deploy.md): a new PIN is chosen
    # on the setup screen, and the old lock must not keep it out.
    from shell.app import App

    for _ in range(kiosk.FREE_TRIES):
        kiosk.PinGate(lambda: kiosk.hash_pin(PIN)).try_pin("0000")
    app = App(Settings())
    app.apply_settings = lambda new, secret: None  # no agent, no window here
    assert app.api.handlers()["save"]({**KIOSK_FORM, "manager_pin": "9876"})["ok"]
    assert kiosk.PinGate(lambda: kiosk.hash_pin("9876")).locked_for() == 0


def _app_asking(monkeypatch: pytest.MonkeyPatch, answers: list[object]) -> tuple[Any, list]:
    """An app whose probe gives ``answers`` in turn (an exception is raised), and the list
    its waits between tries go to (no real sleep)."""
    from shell import app as app_mod
    from shell import odoo_probe
    from shell import settings as settings_mod

    asked: list[float] = []

    async def pos_kiosk(*_args: object) -> bool | None:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    monkeypatch.setattr(odoo_probe, "pos_kiosk", pos_kiosk)
    monkeypatch.setattr(app_mod.time, "sleep", asked.append)
    configured = Settings("https://odoo.lan", "prod", "anna", 2, "Bar")
    settings_mod.save(configured)
    app = app_mod.App(configured)
    app.secret = "pw"
    return app, asked


def _slow(message: str = "slow") -> Exception:
    from shell import odoo_probe

    return odoo_probe.ProbeError("timeout", message, transient=True)


def test_the_pos_kiosk_setting_on_the_server_makes_the_next_start_a_kiosk(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shell import odoo_probe
    from shell import settings as settings_mod
    from shell.app import App

    answers: list[object] = [True]
    app, _waits = _app_asking(monkeypatch, answers)
    assert not app.kiosk
    app._read_server_kiosk()
    assert app.server_kiosk_read.is_set() and not app.kiosk, "this run keeps its window"
    assert settings_mod.load().server_kiosk is True
    assert App(settings_mod.load()).kiosk, "the next start is a kiosk"

    # Unreachable, or an addon that does not say: the last answer stands.
    for answer in (odoo_probe.ProbeError("unreachable", "down"), None):
        answers.append(answer)
        again = App(settings_mod.load())
        again.secret = "pw"
        again._read_server_kiosk()
        assert settings_mod.load().server_kiosk is True
    # Turned off on the server: the next start is not a kiosk (unless the tablet says so).
    answers.append(False)
    later = App(settings_mod.load())
    later.secret = "pw"
    later._read_server_kiosk()
    assert not App(settings_mod.load()).kiosk


def test_a_kiosk_read_that_fails_for_a_while_is_tried_again_and_kept(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A login slow under load fails twice, then the server answers: the setting is kept.
    from shell import settings as settings_mod

    app, waits = _app_asking(monkeypatch, [_slow(), _slow(), True])
    app._read_server_kiosk()
    assert waits == [1.0, 2.0], "a short, growing wait before each new try"
    assert app.server_kiosk_read.is_set()
    assert settings_mod.load().server_kiosk is True


def test_a_kiosk_read_refused_by_the_server_is_not_tried_again(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A wrong password stays wrong: asking again would only count more failed logins.
    from shell import odoo_probe
    from shell import settings as settings_mod

    refused = odoo_probe.ProbeError("bad_credentials", "Odoo refused the login 'anna'.")
    answers: list[object] = [refused, True]
    app, waits = _app_asking(monkeypatch, answers)
    app._read_server_kiosk()
    assert waits == [] and answers == [True], "one try"
    assert app.server_kiosk_read.is_set()
    assert settings_mod.load().server_kiosk is False


def test_a_kiosk_read_that_always_fails_gives_up_and_says_it_is_done(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shell import app as app_mod
    from shell import settings as settings_mod

    tries = len(app_mod.KIOSK_READ_RETRY_S) + 1
    answers: list[object] = [_slow(f"try {n}") for n in range(tries)] + [True]
    app, waits = _app_asking(monkeypatch, answers)
    app._read_server_kiosk()
    assert waits == list(app_mod.KIOSK_READ_RETRY_S) and answers == [True]
    assert app.server_kiosk_read.is_set(), "whoever waits for the read is not left waiting"
    assert settings_mod.load().server_kiosk is False


@pytest.mark.parametrize("on", [True, False])
def test_the_app_reads_the_pos_kiosk_setting_from_the_addon(on: bool) -> None:
    from devkit.standin_odoo import API_KEY, PASSWORD, Options, running
    from shell import odoo_probe
    from shell.settings import ServerTls

    with running(Options(kiosk=on)) as server:
        args = (server.url, ServerTls(), "restaurant", "waiter")
        assert odoo_probe.run(odoo_probe.pos_kiosk(*args, PASSWORD, 2)) is on
        # An API key reads no addon route: the server's answer is unknown, not "off".
        assert odoo_probe.run(odoo_probe.pos_kiosk(*args, API_KEY, 2)) is None
