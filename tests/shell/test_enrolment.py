"""Enrolment from the tablet's side, against the stand-in Odoo: the code field (typed or
scanned), `possync enroll`, the settings it writes, and the clear refusals."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from devkit.standin_odoo import PASSWORD, StandInServer
from shell import cli, enrolment
from shell import settings as settings_mod
from shell.credentials import Credentials
from shell.odoo_probe import ProbeError
from tests.addon_lib import load

CODE = "ABCD-EFGH"


def issue(server: StandInServer, code: str = CODE, state: str = "valid") -> str:
    server.standin.enrolment_codes[code] = state
    return code


def scanned(server: StandInServer, code: str = CODE, **extra: str) -> str:
    """The line the QR code in Odoo's form holds (made by the addon's own function)."""
    addon = load("enrolment_code")
    return addon.enrolment_string(server.url, "restaurant", code, extra.get("ca", ""))


def test_a_scanned_line_and_a_typed_code_give_the_same_request() -> None:
    line = "possync:enroll?url=https%3A%2F%2Fodoo.example.com&db=main&code=ABCD-EFGH&ca=" + "a" * 64
    request = enrolment.parse(line)
    assert request == enrolment.EnrolmentRequest(
        "https://odoo.example.com", "ABCD-EFGH", "main", "a" * 64
    )
    typed = enrolment.parse(" abcd-efgh ", "odoo.example.com/web")
    assert (typed.server_url, typed.code) == ("https://odoo.example.com", "abcd-efgh")


@pytest.mark.parametrize(
    ("text", "url", "says"),
    [
        ("", "https://odoo.example.com", "Type the enrolment code"),
        ("ABCD-EFGH", "", "server's address"),
        ("possync:enroll?code=ABCD-EFGH", "", "server's address"),
        ("possync:enroll?url=https://x&code=ABCD-EFGH&ca=nothex", "", "SHA-256"),
        ("x" * 3000, "https://odoo.example.com", "too much"),
    ],
)
def test_incomplete_input_is_explained(text: str, url: str, says: str) -> None:
    with pytest.raises(ProbeError) as refused:
        enrolment.parse(text, url)
    assert refused.value.code == "enrol_input" and says in refused.value.message


def test_possync_enroll_writes_the_settings_and_asks_for_the_login_once(
    home: Path, standin_server: StandInServer, capsys: pytest.CaptureFixture[str]
) -> None:
    settings_mod.save(settings_mod.Settings(fullscreen=True, silent_print=True))
    issue(standin_server)
    assert cli.main(["enroll", scanned(standin_server)]) == 0
    saved = settings_mod.load()
    assert (saved.server_url, saved.database, saved.config_id) == (
        standin_server.url,
        "restaurant",
        2,
    )
    assert (saved.config_name, saved.odoo_major, saved.login) == ("Restaurant", 19, "")
    assert saved.fullscreen and saved.silent_print  # this tablet's own choices stay
    assert not saved.is_complete()  # the login is still to be typed, once
    assert "log in once" in capsys.readouterr().out


def test_possync_enroll_with_a_login_reads_the_password_from_a_file_and_keeps_it(
    home: Path, standin_server: StandInServer
) -> None:
    issue(standin_server)
    password_file = home / "password.txt"
    password_file.write_text(PASSWORD + "\n")
    argv = ["enroll", standin_server.url, CODE, "--login", "waiter",
            "--password-file", str(password_file)]  # fmt: skip
    assert cli.main(argv) == 0
    saved = settings_mod.load()
    assert saved.is_complete() and saved.login == "waiter"
    assert Credentials().get(saved) == PASSWORD


def test_possync_enroll_reads_the_password_from_stdin(
    home: Path, standin_server: StandInServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    issue(standin_server)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["enroll", scanned(standin_server), "--login", "waiter"]) == 0
    assert Credentials().get(settings_mod.load()) == PASSWORD


def test_a_wrong_password_keeps_the_enrolment_and_says_what_to_do(
    home: Path,
    standin_server: StandInServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    issue(standin_server)
    monkeypatch.setattr("sys.stdin", io.StringIO("wrong\n"))
    assert cli.main(["enroll", scanned(standin_server), "--login", "waiter"]) == 1
    out = capsys.readouterr().out
    assert "The login was not saved" in out and "Start possync and log in there" in out
    saved = settings_mod.load()
    assert saved.config_id == 2 and not saved.login  # the used code is not wasted


@pytest.mark.parametrize(
    ("state", "error"),
    [("wrong", "enrol_code_wrong"), ("used", "enrol_code_used"),
     ("expired", "enrol_code_expired")],
)  # fmt: skip
def test_a_wrong_used_or_expired_code_is_refused_clearly_and_nothing_is_saved(
    home: Path,
    standin_server: StandInServer,
    state: str,
    error: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if state != "wrong":
        issue(standin_server, state=state)
    with pytest.raises(ProbeError) as refused:
        enrolment.run(enrolment.parse(scanned(standin_server)))
    assert refused.value.code == error and refused.value.hint
    assert cli.main(["enroll", scanned(standin_server)]) == 1
    assert capsys.readouterr().out.startswith("Not enrolled: this enrolment code is")
    assert not settings_mod.settings_file().exists()


def test_a_server_without_the_enrolment_route_says_so(home: Path) -> None:
    from devkit.standin_odoo import Options, running

    with running(Options(addon="missing")) as server, pytest.raises(ProbeError) as refused:
        enrolment.run(enrolment.parse(CODE, server.url))
    assert refused.value.code == "enrol_missing"


def test_the_setup_page_api_enrols_and_saves_at_once(
    home: Path, standin_server: StandInServer
) -> None:
    from shell.setup_api import SetupApi

    class FakeApp:
        settings = settings_mod.Settings()

    issue(standin_server)
    api = SetupApi(FakeApp())  # type: ignore[arg-type]
    answer = api.enrol({"code": scanned(standin_server)})
    assert answer["ok"] and answer["settings"]["config_id"] == 2
    assert settings_mod.load().database == "restaurant"
    again = api.enrol({"code": scanned(standin_server)})
    assert again == {"ok": False, "error": {
        "code": "enrol_code_used", "message": "this enrolment code is used",
        "hint": "Each code enrols one tablet: create a new one in Odoo."}}  # fmt: skip


def test_the_setup_page_enrols_from_a_scanned_line_then_asks_only_the_login(
    home: Path,
) -> None:
    from tests.shell.test_window import assert_scenario_checked

    assert_scenario_checked(
        "enrol",
        home,
        {
            "the code enrolled this terminal",
            "the server, database and POS are saved before the login",
            "the POS runs in the app",
            "settings complete, the password in the keyring",
        },
    )
