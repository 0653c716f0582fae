"""This app's version against what its server supports (agent/app_update.py), and the
addon's check of the version an app announces (addon/…/lib/app_version.py): both read
the same rule of docs/protocol.md, "Versioning", and order versions alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.version import Version

from agent import app_update, version
from agent import cli as agent_cli
from agent.status import ServerState, Status
from shell import status as shell_status
from tests.addon_lib import load

VERSIONS = json.loads((Path(__file__).parents[1] / "vectors" / "app_versions.json").read_text())
addon = load("app_version")


def info(low: object = "0.2.0", high: object = "0.4.0") -> dict:
    return {"app_min_version": low, "app_latest_version": high}


@pytest.mark.parametrize(
    ("own", "state"),
    [("0.1.9", "too_old"), ("0.2.0", "update_available"), ("0.3.5rc1", "update_available"),
     ("0.4.0", "current"), ("0.5.0", "current"), ("0.4.0.post1", "current")],
)  # fmt: skip
def test_the_app_is_too_old_has_an_update_or_is_current(own, state):
    assert app_update.check(info(), own).state == state


def test_too_old_says_the_minimum_and_what_to_do_on_each_system():
    linux = app_update.check(info(), "0.1.0", platform="linux")
    assert linux.cause.startswith("too old for this server (needs ≥ 0.2.0): possync 0.1.0")
    assert linux.cause.endswith("sudo apt update && sudo apt upgrade")
    windows = app_update.check(info(), "0.1.0", platform="win32")
    assert "run the new possync setup" in windows.cause


def test_an_update_available_says_from_and_to():
    app = app_update.check(info(), "0.3.0", platform="linux")
    assert app.cause.startswith("update available (0.3.0 → 0.4.0): this version keeps working")


@pytest.mark.parametrize(
    "answer",
    [{}, info(None), info("0.2.0", 4), info("latest"), info("0.2.0", "9" * 65), info([1])],
)
def test_a_server_that_names_no_usable_versions_checks_nothing(answer):
    app = app_update.check(answer, "0.1.0")
    assert (app.state, app.cause) == ("unknown", None)


def test_an_app_that_does_not_know_its_version_checks_and_announces_nothing(monkeypatch):
    monkeypatch.setattr(app_update, "version", lambda: version.UNKNOWN)
    assert app_update.check(info()).state == "unknown"
    assert app_update.announced() is None


def test_the_announced_version_is_this_apps_public_version(monkeypatch):
    monkeypatch.setattr(app_update, "version", lambda: "0.2.0+g1234")
    assert app_update.announced() == "0.2.0"


# --- the addon's side --------------------------------------------------------------------


@pytest.mark.parametrize(("lower", "higher"), VERSIONS["ordered"])
def test_the_addon_orders_versions_as_pep_440_does(lower, higher):
    assert Version(lower) < Version(higher)
    assert addon.sort_key(lower) < addon.sort_key(higher)


@pytest.mark.parametrize(("one", "same"), VERSIONS["equal"])
def test_the_addon_sees_equal_versions_as_pep_440_does(one, same):
    assert Version(one) == Version(same)
    assert addon.sort_key(one) == addon.sort_key(same)


@pytest.mark.parametrize("text", VERSIONS["refused"])
def test_attack_the_addon_refuses_an_announced_version_that_is_not_one(text):
    with pytest.raises(addon.AppVersionRefused) as refused:
        addon.check_announced(text)
    assert refused.value.code == "bad_request"


def test_the_addon_refuses_an_app_older_than_its_minimum(monkeypatch):
    monkeypatch.setattr(addon, "APP_MIN_VERSION", "0.3.0")
    with pytest.raises(addon.AppVersionRefused, match=r"needs ≥ 0.3.0") as refused:
        addon.check_announced("0.3.0rc1")
    assert refused.value.code == "app_too_old"
    addon.check_announced("0.3.0")
    addon.check_announced(None)  # a POS page in a browser


def test_the_addon_knows_this_app_as_its_newest_and_its_minimum_is_not_newer():
    # The addon and the app are released together: the newest app the addon knows is the
    # one in pyproject.toml. Raise APP_LATEST_VERSION with the app's version.
    assert version.version() == addon.APP_LATEST_VERSION
    assert addon.sort_key(addon.APP_MIN_VERSION) <= addon.sort_key(addon.APP_LATEST_VERSION)


def test_the_agent_checks_what_the_addon_announces():
    assert app_update.check(addon.named(), version.version()).state == "current"


def test_an_administrator_raises_the_versions_never_lowers_them(monkeypatch):
    monkeypatch.setattr(addon, "APP_MIN_VERSION", "0.2.0")
    monkeypatch.setattr(addon, "APP_LATEST_VERSION", "0.3.0")
    assert addon.named() == {"app_min_version": "0.2.0", "app_latest_version": "0.3.0"}
    assert addon.named("0.2.5", "0.4.0") == {
        "app_min_version": "0.2.5", "app_latest_version": "0.4.0"
    }  # fmt: skip
    assert addon.named("0.1.0", "0.2.0") == {
        "app_min_version": "0.2.0", "app_latest_version": "0.3.0"
    }  # fmt: skip
    # The newest is never below the minimum; what is not a version is ignored.
    assert addon.named("0.5.0", "junk") == {
        "app_min_version": "0.5.0", "app_latest_version": "0.5.0"
    }  # fmt: skip
    assert addon.named(False, ["0.9"]) == addon.named()


def test_both_status_commands_print_the_apps_cause():
    status = Status("t-1", ServerState(configured=True))
    status.set_app(app_update.check(info(), "0.3.0"))
    snapshot = status.snapshot(0, {"count": 0, "last": None}, {"source": None})
    cause = snapshot["app"]["cause"]
    assert f"app       {cause}" in agent_cli.describe(snapshot).splitlines()
    assert f"app:          {cause}" in shell_status.describe(snapshot)
