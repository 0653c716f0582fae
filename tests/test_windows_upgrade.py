"""The Windows setup upgrades in place and keeps each user's data and queue.

Windows is not here: the data folders are checked with the platform faked, the Inno Setup
script by its directives. `.github/workflows/windows.yml` does the real upgrade on a
Windows runner (a marker in the data folder, a running agent, the next setup with
/VERYSILENT, then the marker, the queue and `possync --version`).
"""

from __future__ import annotations

import re
import sys
from pathlib import PureWindowsPath

import pytest

from agent import settings as agent_settings
from shell import paths
from tests.test_installer import INSTALLER

ISS = (INSTALLER / "possync.iss").read_text(encoding="utf-8")
# Never change it: setup finds the install to upgrade by it (and so does the workflow).
APP_ID = "{{6F0C5A52-3D7B-4E5B-9C9A-2F6B1C8D4E71}"
PROFILE = PureWindowsPath(r"C:\Users\waiter\AppData")
# Where setup puts the program: per machine, or "for me only".
PROGRAM_FOLDERS = [
    PureWindowsPath(r"C:\Program Files\possync"),
    PROFILE / "Local" / "Programs" / "possync",
]


def section(name: str) -> str:
    start = ISS.index(f"[{name}]\n") + len(name) + 3
    end = ISS.find("\n[", start)
    return ISS[start : end if end != -1 else None]


def directives(name: str) -> dict[str, str]:
    lines = (line.strip() for line in section(name).splitlines())
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith(";"))
    return {key.strip(): value.strip() for key, value in pairs}


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(PROFILE / "Local"))
    monkeypatch.setenv("APPDATA", str(PROFILE / "Roaming"))


def test_the_data_and_the_queue_live_in_the_users_profile_outside_the_program(windows):
    folders = {
        "web storage": paths.web_storage_dir(),
        "queue": paths.agent_data_dir(),
        "logs": paths.log_dir(),
        "settings": paths.config_dir(),
        "agent on its own": agent_settings.default_data_dir(),
    }
    for what, folder in folders.items():
        folder = PureWindowsPath(folder)
        assert folder.is_relative_to(PROFILE / "Local") or folder.is_relative_to(
            PROFILE / "Roaming"
        ), what
        for program in PROGRAM_FOLDERS:
            assert not folder.is_relative_to(program), (what, program)
    assert PureWindowsPath(paths.agent_data_dir()) == PROFILE / "Local" / "possync" / "agent"


def test_setup_upgrades_the_same_install_in_place():
    setup = directives("Setup")
    assert setup["AppId"] == APP_ID
    for keep in ("UsePreviousAppDir", "UsePreviousGroup", "UsePreviousTasks"):
        assert setup[keep] == "yes", keep
    assert setup["DefaultDirName"] == "{autopf}\\{#AppName}"


def test_setup_closes_a_running_possync_first_and_does_not_restart_it():
    setup = directives("Setup")
    assert setup["CloseApplications"] == "force"
    assert {"*.exe", "*.dll", "*.pyd"} <= set(setup["CloseApplicationsFilter"].split(","))
    assert setup["RestartApplications"] == "no"
    # Silent: nobody answers the close guard, and the agent has no window to close.
    prepare = re.search(r"function PrepareToInstall\(.*?\nend;", ISS, re.S)[0]
    assert "WizardSilent()" in prepare and "StopRunningPossync()" in prepare
    stop = re.search(r"procedure StopRunningPossync\(\);.*?\nend;", ISS, re.S)[0]
    assert "Stop-Process" in stop and "-Force" in stop  # the app and its agent


def test_a_silent_upgrade_stops_only_possync_of_this_install():
    """A taskkill by image name stopped every possync.exe on the machine: every signed-in
    user's, and any other install's. Windows never runs here: the script is checked by
    what it says; .github/workflows/windows.yml runs the upgrade for real."""
    stop = re.search(r"procedure StopRunningPossync\(\);.*?\nend;", ISS, re.S)[0]
    assert "taskkill" not in stop.lower() and "/IM" not in stop
    assert "Win32_Process" in stop and "ExecutablePath" in stop
    assert "StartsWith($under" in stop and "ExpandConstant('{app}')" in stop
    # Asked to close first, stopped only after.
    assert stop.index("CloseMainWindow()") < stop.index("Wait-Process") < stop.index("Stop-Process")


def test_setup_replaces_only_the_program_folder_and_never_deletes_data():
    for name in ("InstallDelete", "UninstallDelete"):
        entries = [line for line in section(name).splitlines() if line.startswith("Type:")]
        assert entries, name
        for entry in entries:
            target = re.search(r'Name: "([^"]+)"', entry)[1]
            assert target == "{app}" or target.startswith("{app}\\"), (name, target)
    # No data folder is named anywhere: setup neither makes nor removes one.
    for place in ("{localappdata}", "{userappdata}", "{commonappdata}", "{userdocs}"):
        assert place not in ISS, place
