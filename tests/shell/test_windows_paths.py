"""The Windows-only code paths, run here with the platform faked: where the files go
(%APPDATA%, %LOCALAPPDATA%), how a data folder outside the profile is made private
(icacls), the password on Windows, the agent's lock (msvcrt), no console windows, the
firewall rule, and printing to the default printer.

`sys.platform`, the environment and the Windows-only modules (msvcrt, the Credential
Manager backend, Qt's print support) are replaced (tests/windows_fake.py); what only
Windows itself can show (the real ACL, Credential Manager, a printer) is listed in
docs/installer.md, "The Windows-only code, tested with the platform faked".
"""

from __future__ import annotations

import os
import stat
import subprocess
import types
from pathlib import Path
from typing import Any

import keyring
import pytest

from agent import private_files, runtime
from agent import settings as agent_settings
from agent.private_files import NotPrivate, private_dir, private_file
from shell import credentials, firewall, lan_checks, paths, printing, supervisor
from shell.credentials import Credentials, KeyringUnavailable, keyring_state
from shell.settings import Settings
from tests.windows_fake import CREATE_NO_WINDOW, FakeIcacls, fake_windows

SETTINGS = Settings("https://odoo.example.com", "prod", "anna", 2, secret_store="file")


@pytest.fixture
def icacls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeIcacls:
    """Windows for Anna on TABLET-3 (tests/windows_fake.py); icacls records its calls."""
    return fake_windows(monkeypatch, tmp_path / "Users" / "anna", "anna", "TABLET-3")


@pytest.fixture
def windows(icacls: FakeIcacls, tmp_path: Path) -> Path:
    """Anna's profile folder (%USERPROFILE%)."""
    return tmp_path / "Users" / "anna"


# --- where the files go -------------------------------------------------------------------


def test_settings_roam_and_data_stays_on_the_tablet(windows: Path) -> None:
    assert paths.config_dir() == windows / "AppData" / "Roaming" / "possync"
    assert paths.data_dir() == windows / "AppData" / "Local" / "possync"
    assert paths.agent_data_dir() == windows / "AppData" / "Local" / "possync" / "agent"
    assert agent_settings.default_data_dir() == windows / "AppData" / "Local" / "possync"
    assert credentials.secret_file() == windows / "AppData" / "Roaming" / "possync" / (
        "password.json"
    )


def test_without_the_appdata_variables_the_profile_folders_are_used(
    windows: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("APPDATA")
    monkeypatch.delenv("LOCALAPPDATA")
    monkeypatch.setattr(Path, "home", staticmethod(lambda: windows))
    assert paths.config_dir() == windows / "AppData" / "Roaming" / "possync"
    assert paths.data_dir() == windows / "AppData" / "Local" / "possync"
    assert agent_settings.default_data_dir() == windows / "AppData" / "Local" / "possync"


# --- private folders: the profile, or an ACL for this user alone --------------------------


def test_a_folder_inside_the_profile_needs_no_acl(windows: Path, icacls: FakeIcacls) -> None:
    folder = private_dir(windows / "AppData" / "Local" / "possync" / "agent")
    assert folder.is_dir() and icacls.calls == []


def test_a_folder_outside_the_profile_gets_an_acl_for_this_user_alone(
    windows: Path, icacls: FakeIcacls, tmp_path: Path
) -> None:
    folder = tmp_path / "D" / "possync-data"
    private_dir(folder)
    [command], [options] = icacls.calls, icacls.options
    assert command == [
        "icacls", str(folder), "/inheritance:r", "/grant:r", "TABLET-3\\anna:(OI)(CI)F", "/q",
    ]  # fmt: skip
    assert options["creationflags"] == CREATE_NO_WINDOW  # no console flashes up
    assert options["timeout"] == private_files.ICACLS_TIMEOUT_S


def test_a_local_user_without_a_domain_is_named_alone(
    windows: Path, icacls: FakeIcacls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("USERDOMAIN")
    private_dir(tmp_path / "data")
    assert icacls.calls[0][4] == "anna:(OI)(CI)F"


@pytest.mark.parametrize(
    ("returncode", "error", "message"),
    [
        (5, None, "icacls: Access is denied."),
        (0, FileNotFoundError("icacls"), "icacls: icacls"),
        (0, subprocess.TimeoutExpired("icacls", 30), "timed out"),
    ],
)
def test_an_acl_that_cannot_be_set_refuses_the_folder(
    windows: Path,
    icacls: FakeIcacls,
    tmp_path: Path,
    returncode: int,
    error: Exception | None,
    message: str,
) -> None:
    icacls.returncode, icacls.output, icacls.error = returncode, "Access is denied.", error
    with pytest.raises(NotPrivate, match=message):
        private_dir(tmp_path / "data")


def test_without_a_user_name_no_acl_is_guessed(
    windows: Path, icacls: FakeIcacls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("USERNAME")
    with pytest.raises(NotPrivate, match="USERNAME is not set"):
        private_dir(tmp_path / "data")
    assert icacls.calls == []


def test_a_folder_on_another_drive_is_outside_the_profile(
    windows: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def other_drive(paths: list[str]) -> str:
        raise ValueError("Paths don't have the same drive")

    monkeypatch.setattr(private_files.os.path, "commonpath", other_drive)
    assert private_files._inside_profile(windows / "AppData") is False


def test_files_keep_the_folders_acl_and_no_mode_is_set(windows: Path, tmp_path: Path) -> None:
    file = tmp_path / "queue.sqlite3"
    file.write_text("")
    file.chmod(0o644)
    private_file(file)  # on Windows the folder's ACL covers it: chmod would do nothing
    assert stat.S_IMODE(file.stat().st_mode) == 0o644


# --- the password --------------------------------------------------------------------------


def test_the_password_file_is_written_without_fchmod(
    windows: Path, icacls: FakeIcacls, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "fchmod")  # Windows has none
    Credentials().put(SETTINGS, "s3cret")
    assert Credentials().get(SETTINGS) == "s3cret"
    assert credentials.secret_file().parent == windows / "AppData" / "Roaming" / "possync"
    assert icacls.calls == []  # inside the profile: private already


class WinVaultKeyring(keyring.backend.KeyringBackend):
    """Stands in for keyring.backends.Windows.WinVaultKeyring: Credential Manager's
    answer to a secret over its cap is an error of pywin32's own type."""

    priority = 5  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise OSError(1783, "CredWrite", "The stub received bad data.")

    def delete_password(self, service: str, username: str) -> None:
        return None


WinVaultKeyring.__module__ = "keyring.backends.Windows"


def test_credential_manager_is_named_by_doctor_and_its_errors_are_told_in_words(
    windows: Path,
) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(WinVaultKeyring())
    try:
        state = keyring_state(timeout=2)
        keyring_settings = Settings(**{**vars(SETTINGS), "secret_store": "keyring"})
        with pytest.raises(KeyringUnavailable, match="The stub received bad data"):
            Credentials(timeout=2).put(keyring_settings, "s3cret")
    finally:
        keyring.set_keyring(previous)
    assert state.ok and state.backend == "keyring.backends.Windows.WinVaultKeyring"
    assert not credentials.secret_file().exists()  # no silent fallback to a file


# --- the agent's lock, child processes, the firewall ---------------------------------------


def test_the_agents_lock_uses_msvcrt_and_a_second_agent_is_refused(
    windows: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    held: set[int] = set()

    def locking(fd: int, mode: int, size: int) -> None:
        assert mode == msvcrt.LK_NBLCK  # never waits for the other agent
        file = os.fstat(fd).st_ino
        if file in held:
            raise OSError(36, "Resource deadlock avoided")
        held.add(file)

    msvcrt = types.SimpleNamespace(locking=locking, LK_NBLCK=2)
    monkeypatch.setitem(__import__("sys").modules, "msvcrt", msvcrt)
    folder = windows / "AppData" / "Local" / "possync" / "agent"
    first = runtime.lock(folder)
    try:
        with pytest.raises(runtime.AlreadyRunning):
            runtime.lock(folder)
    finally:
        first.close()


def test_child_processes_open_no_console_window(windows: Path) -> None:
    assert supervisor._creation_flags() == CREATE_NO_WINDOW


def test_doctor_on_windows_looks_for_the_installers_firewall_rule(
    windows: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[list[str]] = []

    def netsh(command: list[str], **options: Any) -> subprocess.CompletedProcess:
        ran.append(command)
        return subprocess.CompletedProcess(command, 1, b"No rules match", b"")

    monkeypatch.setattr(lan_checks.subprocess, "run", netsh)
    assert lan_checks.windows_rule_present() is False
    assert ran == [["netsh", "advfirewall", "firewall", "show", "rule",
                    f"name={firewall.RULE_NAME}"]]  # fmt: skip
    assert lan_checks.Lan().platform == "win32"  # doctor's default is the real platform
    assert "netsh advfirewall firewall add rule" in firewall.open_port_hint(8765)


# --- printing ------------------------------------------------------------------------------


class FakePrinterInfo:
    default: FakePrinterInfo | None = None

    def __init__(self, name: str = "") -> None:
        self.name = name

    def isNull(self) -> bool:  # noqa: N802 - Qt's name
        return not self.name

    @classmethod
    def defaultPrinter(cls) -> FakePrinterInfo:  # noqa: N802 - Qt's name
        return cls.default or cls()


class FakePrinter:
    class PrinterMode:
        HighResolution = "high"

    def __init__(self, info: Any = None, mode: Any = None) -> None:
        self.info, self.mode = info, mode


@pytest.fixture
def qt_print(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    module = types.SimpleNamespace(QPrinter=FakePrinter, QPrinterInfo=FakePrinterInfo)
    monkeypatch.setitem(__import__("sys").modules, "qtpy.QtPrintSupport", module)
    FakePrinterInfo.default = None
    return module


def test_a_kiosk_prints_to_the_windows_default_printer_without_a_dialog(
    windows: Path, qt_print: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    FakePrinterInfo.default = FakePrinterInfo("EPSON TM-T20III Receipt")
    monkeypatch.setattr(printing, "ask", lambda parent: pytest.fail("no dialog in a kiosk"))
    printer = printing.default_printer(None)
    assert printer.info.name == "EPSON TM-T20III Receipt" and printer.mode == "high"


def test_without_a_windows_default_printer_nothing_is_chosen_and_no_dialog_shown(
    windows: Path, qt_print: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The app decides what follows (shell/app.py _choose_printer): the dialog off a
    # kiosk, a notice and no print on one.
    monkeypatch.setattr(printing, "ask", lambda parent: pytest.fail("no dialog here"))
    assert printing.default_printer("window") is None
