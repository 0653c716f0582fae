"""Attacks on a kiosk tablet (shell/kiosk.py, shell/app.py): what a waiter or a passer-by
can try at the screen — guess the manager PIN, close the window, open Settings, reach
Odoo's back office — and what a copy of the settings file would give away."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from devkit.standin_odoo import PASSWORD as STANDIN_PASSWORD
from devkit.standin_odoo import Options, running
from shell import diagnostics, enrolment, kiosk, odoo_probe, printing
from shell import settings as settings_mod
from shell.app import App
from shell.browser import OUTSIDE_THE_POS, NavigationPolicy
from shell.settings import Settings
from shell.window import CloseGuard, Pending
from tests.shell.conftest import gui_env
from tests.shell.test_window import assert_scenario_checked

PIN = "482913"
CONFIGURED = Settings("https://odoo.lan", "prod", "anna", 2, "Bar", kiosk=True)
# The setup screen's form for a kiosk, as it posts it to `save`.
KIOSK_FORM = {
    "server_url": "https://odoo.lan",
    "database": "prod",
    "login": "anna",
    "config_id": 2,
    "password": "pw",
    "kiosk": True,
}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeWindow:
    """What the app asks of its window, recorded."""

    loads: list[str] = field(default_factory=list)
    destroyed: int = 0

    def load(self, url: str) -> None:
        self.loads.append(url)

    def destroy(self) -> None:
        self.destroyed += 1


@pytest.fixture
def kiosk_app(home: Path, memory_keyring: object) -> Iterator[App]:
    settings = Settings(**{**vars(CONFIGURED), "manager_pin_hash": kiosk.hash_pin(PIN)})
    settings_mod.save(settings)
    kiosk.clear_attempts()  # as saving a new PIN on the setup screen does
    app = App(settings)
    app.local.start()
    app.window = FakeWindow()  # type: ignore[assignment]
    app.guard = CloseGuard(lambda: Pending(0, 0), lambda *_: True, app.window.destroy)
    yield app
    app.local.stop()


# ---------------------------------------------------------------------------- the PIN


def test_a_wrong_pin_does_not_match() -> None:
    stored = kiosk.hash_pin(PIN)
    for wrong in ("482914", "48291", "4829130", "", "x" * 10_000):
        assert not kiosk.pin_matches(wrong, stored)


def test_a_forged_or_damaged_hash_matches_nothing_and_cannot_stall_the_app() -> None:
    good = kiosk.hash_pin(PIN)
    _, n, r, p, salt, digest = good.split("$")
    for forged in (
        "",
        "plain$1234",
        PIN,
        good.replace("scrypt", "md5"),
        f"scrypt$1048576$8$1${salt}${digest}",  # a cost far above ours
        f"scrypt${n}$64$1${salt}${digest}",
        f"scrypt${n}$8$1$!!${digest}",
    ):
        assert not kiosk.pin_matches(PIN, forged), forged


def test_brute_force_backs_off_after_five_wrong_pins_doubling(home: Path) -> None:
    kiosk.clear_attempts()  # a PIN just set
    clock = Clock()
    gate = kiosk.PinGate(lambda: kiosk.hash_pin(PIN), clock)
    for _ in range(kiosk.FREE_TRIES - 1):
        assert gate.try_pin("0000") == kiosk.PinAnswer(False, 0, "Wrong PIN.")
    fifth = gate.try_pin("0000")
    assert not fifth.ok and fifth.wait_s == 30
    # While locked even the right PIN is not checked.
    locked = kiosk.PinAnswer(False, 30, "Too many wrong PINs. Try again in 30 s.")
    assert gate.try_pin(PIN) == locked
    clock.now += 30
    assert gate.try_pin("0000").wait_s == 60
    clock.now += 60
    assert gate.try_pin("0000").wait_s == 120
    clock.now += 120
    assert gate.try_pin(PIN).ok, "the right PIN once the lock has passed"
    assert gate.try_pin("0000").wait_s == 0, "and it clears the count"


def test_the_back_off_is_capped_and_survives_a_clock_set_back(home: Path) -> None:
    kiosk.clear_attempts()  # a PIN just set
    clock = Clock()
    gate = kiosk.PinGate(lambda: kiosk.hash_pin(PIN), clock)
    for _ in range(20):
        answer = gate.try_pin("0000")
        clock.now += answer.wait_s
    assert answer.wait_s == kiosk.MAX_WAIT_S
    clock.now -= 10 * kiosk.MAX_WAIT_S
    assert gate.locked_for() == kiosk.MAX_WAIT_S


def test_brute_force_count_survives_a_restart_of_the_app(home: Path) -> None:
    kiosk.clear_attempts()  # a PIN just set
    clock = Clock()
    stored = kiosk.hash_pin(PIN)
    for _ in range(kiosk.FREE_TRIES):
        kiosk.PinGate(lambda: stored, clock).try_pin("1111")  # a new gate: a new app
    restarted = kiosk.PinGate(lambda: stored, clock)
    assert restarted.locked_for() == 30
    assert not restarted.try_pin(PIN).ok
    # A damaged count file does not give the free tries back.
    kiosk.attempts_file().write_text("{not json", encoding="utf-8")
    clock.now += 30
    assert kiosk.PinGate(lambda: stored, clock).try_pin("1111").wait_s >= 30


def test_deleting_the_attempts_file_does_not_reset_the_back_off(home: Path) -> None:
    """Someone with the tablet's files (the file dialog a kiosk no longer opens, another
    account) deletes the count to get the free tries back."""
    clock = Clock()
    stored = kiosk.hash_pin(PIN)
    kiosk.clear_attempts()
    gate = kiosk.PinGate(lambda: stored, clock)
    for _ in range(kiosk.FREE_TRIES):
        gate.try_pin("1111")
    clock.now += kiosk.FIRST_WAIT_S
    kiosk.attempts_file().unlink()
    answer = gate.try_pin("1111")
    assert not answer.ok and answer.wait_s > 0, "the free tries are not given back"
    assert gate.try_pin(PIN) == kiosk.PinAnswer(False, answer.wait_s, answer.message)
    # With no PIN set there is nothing to guess: the setup screen asks for a first one.
    kiosk.attempts_file().unlink()
    assert kiosk.PinGate(lambda: "").locked_for() == 0


def test_settings_and_quit_are_reachable_only_after_the_pin(kiosk_app: App) -> None:
    window = kiosk_app.window
    kiosk_app.show_setup()  # the menu's Settings…, the offline page's Settings button
    assert "/pin.html?then=settings" in window.loads[-1]
    answer = kiosk_app.api.handlers()["unlock"]({"pin": "000000", "then": "settings"})
    assert answer == {"ok": False, "wait_s": 0, "message": "Wrong PIN."}
    assert all("/setup.html" not in url for url in window.loads)
    answer = kiosk_app.api.handlers()["unlock"]({"pin": PIN, "then": "settings"})
    assert answer["ok"] and "/setup.html" in window.loads[-1]
    assert kiosk_app.pin_needed("quit"), "the PIN given for Settings does not also quit"

    assert kiosk_app._on_closing() is False  # the menu's Quit, Alt+F4: refused…
    assert window.destroyed == 0
    assert kiosk_app.api.handlers()["unlock"]({"pin": PIN, "then": "reboot"})["ok"] is False
    assert kiosk_app.api.handlers()["unlock"]({"pin": PIN, "then": "quit"})["ok"]
    assert window.destroyed == 1, "the right PIN closes the window"


def test_close_event_is_refused_without_the_pin(kiosk_app: App) -> None:
    assert kiosk_app._on_closing() is False
    deadline = time.monotonic() + 5
    while not kiosk_app.window.loads and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "/pin.html?then=quit" in kiosk_app.window.loads[-1], "…and the PIN asked for"
    kiosk_app.guard.force()  # a shutdown signal still closes
    assert kiosk_app._on_closing() is True


def test_the_pin_is_not_stored_or_logged_in_clear(
    kiosk_app: App, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = kiosk_app.api.handlers()
    api["unlock"]({"pin": "771199", "then": "settings"})
    api["unlock"]({"pin": PIN, "then": "settings"})
    body = {**KIOSK_FORM, "manager_pin": "55443322"}
    kiosk_app.apply_settings = lambda new, secret: settings_mod.save(new)  # no agent here
    assert api["save"](body)["ok"]
    saved = settings_mod.settings_file().read_text(encoding="utf-8")
    assert "55443322" not in saved
    assert kiosk.pin_matches("55443322", json.loads(saved)["manager_pin_hash"])
    everything = "\n".join(p.read_text(errors="replace") for p in home.rglob("*") if p.is_file())
    for pin in ("771199", PIN, "55443322"):
        assert pin not in caplog.text and pin not in everything
    state = api["setup_state"]({})
    assert state["settings"]["manager_pin_set"] is True
    assert "manager_pin_hash" not in state["settings"], "not even the hash reaches a page"


def test_settings_cannot_be_saved_on_a_locked_kiosk(kiosk_app: App) -> None:
    body = {**KIOSK_FORM, "server_url": "https://evil.test"}
    answer = kiosk_app.api.handlers()["save"](body)
    assert answer["ok"] is False and answer["error"]["code"] == "kiosk_locked"
    assert settings_mod.load().server_url == "https://odoo.lan"


def test_a_kiosk_cannot_be_saved_without_a_pin_nor_with_a_malformed_one(
    home: Path, memory_keyring: object
) -> None:
    app = App(Settings())
    for pin in ("", "12", "abcd", "123456789"):
        answer = app.api.handlers()["save"]({**KIOSK_FORM, "manager_pin": pin})
        assert answer["ok"] is False and answer["error"]["code"] == "manager_pin", pin
    assert not settings_mod.settings_file().exists()


def test_navigation_to_the_back_office_is_refused_in_kiosk() -> None:
    server, local = "https://odoo.lan", "http://127.0.0.1:4444"
    paths = {server: ("/pos", "/web/login"), local: ("/offline.html", "/pin.html")}
    policy = NavigationPolicy(lambda: [server, local], lambda: paths)
    for url in ("/pos/ui/2", "/pos/ui?config_id=2", "/web/login?redirect=/pos/ui/2"):
        assert policy.allows(server + url), url
    assert policy.allows(local + "/pin.html?then=quit#token=x")
    for url in (
        "/odoo",
        "/odoo/action-point_of_sale.action_client_pos_menu",
        "/web",
        "/web#action=1",
        "/web/database/manager",
        "/web/loginx",
        "/posx",
        "/",
        "/report/pdf/x",
        "/web/content/1?download=true",
        "/my/invoices",
    ):
        assert policy.refusal(server + url) == OUTSIDE_THE_POS, url
    assert policy.refusal(local + "/setup.html#token=x") == OUTSIDE_THE_POS
    assert NavigationPolicy(lambda: [server]).allows(server + "/odoo"), "no limits off kiosk"


def test_kiosk_window_has_no_frame_and_guards_quit_settings_and_the_back_office(
    home: Path,
) -> None:
    assert_scenario_checked(
        "kiosk",
        home,
        {
            "the window is full screen without a frame",
            "closing is refused and the PIN asked for",
            "a wrong PIN is refused on the page",
            "the back office is refused",
            "a new window is refused",
            "the right PIN opens the settings",
            "the right PIN quits",
            "keyboard escapes change nothing",
            "history cannot bring the setup screen back",
        },
    )


def test_a_setup_screen_left_open_locks_again(
    kiosk_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = kiosk_app.api.handlers()
    assert api["unlock"]({"pin": PIN, "then": "settings"})["ok"]
    assert not kiosk_app.pin_needed("settings")
    later = time.monotonic() + kiosk.UNLOCK_S + 1
    monkeypatch.setattr(kiosk.time, "monotonic", lambda: later)
    assert kiosk_app.pin_needed("settings")
    body = {**KIOSK_FORM, "server_url": "https://evil.test"}
    assert api["save"](body)["error"]["code"] == "kiosk_locked"


# Every setup-screen call that reads or changes the set-up.
GATED_CALLS = ("databases", "login", "test", "save", "choose_ca_file", "enrol")


@pytest.fixture
def nothing_reaches_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any probe, enrolment, connection test or file dialog fails the test."""

    def reached(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a locked kiosk's setup call went through")

    monkeypatch.setattr(odoo_probe, "OdooProbe", reached)
    monkeypatch.setattr(odoo_probe, "run", reached)
    monkeypatch.setattr(enrolment, "run", reached)
    monkeypatch.setattr(diagnostics, "check_connection", reached)


@pytest.mark.parametrize("call", GATED_CALLS)
def test_a_setup_screen_left_open_refuses_every_call(
    kiosk_app: App, monkeypatch: pytest.MonkeyPatch, nothing_reaches_out: None, call: str
) -> None:
    api = kiosk_app.api.handlers()
    assert api["unlock"]({"pin": PIN, "then": "settings"})["ok"]
    later = time.monotonic() + kiosk.UNLOCK_S + 1
    monkeypatch.setattr(kiosk.time, "monotonic", lambda: later)
    before = settings_mod.settings_file().read_bytes()
    answer = api[call]({**KIOSK_FORM, "code": "ABCD-EFGH", "server_url": "https://evil.test"})
    assert answer["ok"] is False and answer["error"]["code"] == "kiosk_locked"
    assert settings_mod.settings_file().read_bytes() == before


def test_enrol_on_a_locked_kiosk_changes_nothing(
    kiosk_app: App, nothing_reaches_out: None
) -> None:
    before = settings_mod.settings_file().read_bytes()
    answer = kiosk_app.api.handlers()["enrol"]({"code": "ABCD-EFGH"})
    assert answer["ok"] is False and answer["error"]["code"] == "kiosk_locked"
    assert settings_mod.settings_file().read_bytes() == before


def test_a_setup_screen_left_open_goes_back_to_the_pos_when_the_unlock_expires(
    kiosk_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kiosk_app.watch, "check", lambda: False)
    assert kiosk_app.api.handlers()["unlock"]({"pin": PIN, "then": "settings"})["ok"]
    shown = len(kiosk_app.window.loads)
    kiosk_app._unlock_expired(kiosk.Unlock.now_for("settings"))  # an older unlock's timer
    assert len(kiosk_app.window.loads) == shown, "a later unlock is not cut short"
    kiosk_app._unlock_expired(kiosk_app.unlocked)
    assert "/offline.html" in kiosk_app.window.loads[-1]
    assert kiosk_app.pin_needed("settings")


def test_the_enrol_answer_carries_no_pin_hash(
    kiosk_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hash is an offline guess away from a 4 to 8 digit PIN: no page gets it."""
    api = kiosk_app.api.handlers()
    assert api["unlock"]({"pin": PIN, "then": "settings"})["ok"]
    monkeypatch.setattr(enrolment, "parse", lambda *_args: None)
    monkeypatch.setattr(enrolment, "run", lambda *_args: None)
    monkeypatch.setattr(enrolment, "settings_for", lambda _got, current, _insecure: current)
    answer = api["enrol"]({"code": "ABCD-EFGH"})
    assert answer["ok"] and answer["settings"]["manager_pin_set"] is True
    assert "manager_pin_hash" not in answer["settings"]
    assert kiosk_app.settings.manager_pin_hash not in json.dumps(answer)


@pytest.mark.parametrize("manager", [False, True])
def test_a_waiter_cannot_set_the_first_pin_of_a_kiosk(
    home: Path, memory_keyring: object, manager: bool
) -> None:
    """The server turned kiosk on (or ``--kiosk``, or the settings were lost): the tablet
    has no PIN yet, and whoever touches it first would set one."""
    with running(Options(pos_manager=manager)) as server:
        app = App(Settings(server_url=server.url, server_kiosk=True))
        app.apply_settings = lambda new, secret: settings_mod.save(new)  # no agent here
        form = {
            **KIOSK_FORM,
            "server_url": server.url,
            "database": "restaurant",
            "login": "waiter",
            "password": STANDIN_PASSWORD,
            "manager_pin": "2468",
        }
        answer = app.api.handlers()["save"](form)
    if manager:
        assert answer["ok"], answer
        assert kiosk.pin_matches("2468", settings_mod.load().manager_pin_hash)
        return
    assert answer["ok"] is False and answer["error"]["code"] == "pin_needs_manager"
    assert not settings_mod.settings_file().exists()
    assert not memory_keyring.store  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- dialogs


@dataclass
class FakeStatusBar:
    shown: list[str] = field(default_factory=list)

    def showMessage(self, text: str, _ms: int) -> None:  # noqa: N802 (Qt's name)
        self.shown.append(text)


@dataclass
class FakeQtWindow:
    bar: FakeStatusBar = field(default_factory=FakeStatusBar)

    def statusBar(self) -> FakeStatusBar:  # noqa: N802 (Qt's name)
        return self.bar


def test_a_receipt_print_on_a_kiosk_never_opens_a_dialog(
    kiosk_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The print dialog's "print to file" opens a file dialog (Linux) or Explorer
    (Windows "Print to PDF"): from there a waiter could delete the settings."""

    def no_dialog(_parent: object) -> None:
        raise AssertionError("a print dialog was opened on a kiosk")

    monkeypatch.setattr(printing, "ask", no_dialog)
    parent = FakeQtWindow()
    monkeypatch.setattr(printing, "default_printer", lambda _parent: "default")
    kiosk_app.settings = replace(kiosk_app.settings, silent_print=False)
    assert kiosk_app._choose_printer(parent) == "default", "silent, whatever the setting"
    monkeypatch.setattr(printing, "default_printer", lambda _parent: None)
    assert kiosk_app._choose_printer(parent) is None, "no default printer: nothing printed"
    assert parent.bar.shown and "no default printer" in parent.bar.shown[-1]


FILE_CHOOSER = """
import sys
from qtpy.QtCore import QPoint, Qt, QTimer
from qtpy.QtTest import QTest
from qtpy.QtWebEngineCore import QWebEnginePage
from qtpy.QtWebEngineWidgets import QWebEngineView
from qtpy.QtWidgets import QApplication, QFileDialog

from shell.browser import refuse_file_choosers

app = QApplication(sys.argv)
class Page(QWebEnginePage):
    pass
refuse_file_choosers(Page)
view = QWebEngineView()
view.setPage(Page(view))
view.resize(400, 300)
view.show()
view.setHtml('<input type=file style="position:fixed;inset:0;width:100%;height:100%">')
def dialogs():
    print("DIALOGS", sum(isinstance(w, QFileDialog) for w in app.topLevelWidgets()))
    app.quit()
def click():
    QTest.mouseClick(view.focusProxy(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, QPoint(100, 100))
    QTimer.singleShot(1500, dialogs)
view.loadFinished.connect(lambda _ok: QTimer.singleShot(500, click))
QTimer.singleShot(30_000, app.quit)
app.exec()
"""


def test_a_file_input_on_a_kiosk_opens_no_file_dialog(home: Path) -> None:
    """An ``<input type=file>`` would open the system's file dialog: the tablet's files."""
    done = subprocess.run(
        [sys.executable, "-c", FILE_CHOOSER],
        env=gui_env(home),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert "refused a file chooser" in done.stderr, done.stderr[-2000:]
    assert "DIALOGS 0" in done.stdout, done.stderr[-2000:]
