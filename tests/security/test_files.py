"""Attacks on the installer and on the files possync keeps (issue #13, items 8 and 9).

- A local user points their desktop folder (a symlink, or XDG_DESKTOP_DIR) at /etc and
  waits for root to write there: the package's maintainer scripts must never enter a home.
  The desktop icon is made by the app, as its user, and never through a symlink.
- Another account on the tablet reads the orders: the data folders are 0700, the
  database, its WAL and shared memory, the logs and the lock 0600, and a folder an
  earlier version left open is locked down at start. On Windows a data folder outside
  the user's profile gets an ACL for the user alone (tested with the platform faked).

The maintainer scripts run from the source tree in a throwaway root laid out as the .deb
installs it (DPKG_ROOT, as dpkg --root --force-script-chrootless runs them);
tests/test_installer.py does the same with the built .deb.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from agent.store import DatabaseUnreadable, Store
from devkit.changes import change
from devkit.page_client import TOKEN, PageClient
from devkit.processes import AgentProcess
from shell import desktop_entry, logs, paths
from shell.supervisor import AgentSupervisor, child_env
from tests.windows_fake import FakeIcacls, fake_windows

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "installer" / "linux"
MAINTAINER_SCRIPTS = LINUX / "debian"

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX modes and maintainer scripts")
needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="a home owned by another user needs root to make (CI runs as root)",
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def snapshot(top: Path) -> dict[str, tuple]:
    """Every entry under ``top``: its kind, mode, owner, target or content."""
    found: dict[str, tuple] = {}
    for path in sorted(top.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            what: object = os.readlink(path)
        elif path.is_file():
            what = path.read_bytes()
        else:
            what = None
        found[path.relative_to(top).as_posix()] = (stat.S_IFMT(info.st_mode),
                                                   stat.S_IMODE(info.st_mode),
                                                   info.st_uid, what)  # fmt: skip
    return found


# ------------------------------------------------------------------------ the package


def _package_root(base: Path) -> Path:
    """A system as the .deb leaves it: the helper, the menu entry, two users whose
    desktop folders lead to /etc (a symlink; XDG_DESKTOP_DIR), and a file in /etc
    root cares about."""
    root = base / "root"
    for folder in ("etc/xdg/autostart", "opt/possync/bin", "opt/possync/share",
                   "usr/share/applications", "home/waiter/.config/autostart",
                   "home/cook/.config", "home/cook/Desktop"):  # fmt: skip
        (root / folder).mkdir(parents=True)
    (root / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\n"
        "waiter:x:1000:1000:Waiter:/home/waiter:/bin/bash\n"
        "cook:x:1001:1001:Cook:/home/cook:/bin/bash\n"
    )
    (root / "etc/ld.so.preload").write_text("")
    helper = root / "opt/possync/bin/possync-shortcuts"
    shutil.copy(LINUX / "possync-shortcuts", helper)
    helper.chmod(0o755)
    shutil.copy(LINUX / "possync.desktop", root / "usr/share/applications/possync.desktop")
    shutil.copy(LINUX / "possync-autostart.desktop", root / "opt/possync/share/")
    # waiter: the desktop folder is /etc; ~/.config/autostart/possync.desktop is a link
    # to the file the loader reads, holding the line the helper looks for.
    (root / "home/waiter/Desktop").symlink_to(root / "etc")
    (root / "home/waiter/.config/autostart/possync.desktop").symlink_to(root / "etc/ld.so.preload")
    # cook: XDG_DESKTOP_DIR names the system-wide autostart folder.
    (root / "home/cook/.config/user-dirs.dirs").write_text('XDG_DESKTOP_DIR="/etc/xdg/autostart"\n')
    return root


def _run_maintainer_scripts(root: Path, check: Callable[[], None]) -> None:
    """What dpkg runs on a first installation, then a removal and a purge; ``check``
    after each script (a removal must not hide what the installation did)."""
    steps = [("postinst", "configure", ""), ("prerm", "remove"), ("postrm", "remove"),
             ("postrm", "purge")]  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "DPKG_ROOT": str(root), "HOME": "/root"}
    for script, *args in steps:
        path = MAINTAINER_SCRIPTS / script
        if not path.exists():
            continue  # the package has no such script
        proc = subprocess.run(["sh", str(path), *args], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"{script} {args}: {proc.stderr}"
        check()


@posix_only
def test_postinst_follows_no_symlink(tmp_path: Path) -> None:
    root = _package_root(tmp_path)
    # cook's desktop holds a link where a writer would put its temporary file.
    (root / "home/cook/Desktop/possync.desktop.possync-new").symlink_to(root / "etc/ld.so.preload")
    etc_before = snapshot(root / "etc")

    def nothing_in_etc() -> None:
        # Nothing written to /etc through waiter's Desktop link, cook's XDG_DESKTOP_DIR or
        # cook's temporary-file link; nothing deleted through waiter's autostart link.
        assert snapshot(root / "etc") == etc_before

    _run_maintainer_scripts(root, nothing_in_etc)
    nothing_in_etc()


@posix_only
def test_postinst_writes_nothing_in_user_homes(tmp_path: Path) -> None:
    root = _package_root(tmp_path)
    # cook has an ordinary desktop, and icons or autostart entries from possync itself.
    (root / "home/cook/.config/user-dirs.dirs").unlink()
    (root / "home/cook/Desktop/possync.desktop").write_text("X-Possync-Shortcut=desktop\n")
    (root / "home/cook/.config/autostart").mkdir()
    (root / "home/cook/.config/autostart/possync.desktop").write_text(
        "X-Possync-Shortcut=autostart\n"
    )
    (root / "home/waiter/Desktop").unlink()
    (root / "home/waiter/Desktop").mkdir()
    homes_before = snapshot(root / "home")

    def homes_untouched() -> None:
        assert snapshot(root / "home") == homes_before

    _run_maintainer_scripts(root, homes_untouched)
    homes_untouched()


@posix_only
@needs_root
def test_removal_takes_only_the_system_wide_autostart_entry(tmp_path: Path) -> None:
    """The one file outside /opt possync writes as root: /etc/xdg/autostart, on request."""
    root = _package_root(tmp_path)
    helper = root / "opt/possync/bin/possync-shortcuts"
    env = {"PATH": "/usr/bin:/bin", "DPKG_ROOT": str(root), "HOME": "/root"}
    subprocess.run([str(helper), "autostart", "on", "--all-users"], env=env, check=True)
    entry = root / "etc/xdg/autostart/possync.desktop"
    assert mode(entry) == 0o644 and "X-Possync-Shortcut=autostart" in entry.read_text()
    homes_before = snapshot(root / "home")
    _run_maintainer_scripts(root, lambda: None)
    assert not (root / "etc/xdg/autostart/possync.desktop").exists()
    assert snapshot(root / "home") == homes_before


@posix_only
def test_shortcuts_helper_has_no_desktop_for_every_user(tmp_path: Path) -> None:
    root = _package_root(tmp_path)
    env = {"PATH": "/usr/bin:/bin", "DPKG_ROOT": str(root), "HOME": "/root"}
    helper = root / "opt/possync/bin/possync-shortcuts"
    proc = subprocess.run([str(helper), "desktop", "on", "--all-users"], env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 2 and "usage" in proc.stderr
    assert not list(root.rglob("home/**/possync.desktop.possync-new"))


@posix_only
@needs_root
def test_shortcuts_helper_under_sudo_refuses_the_users_home(tmp_path: Path) -> None:
    """`sudo possync-shortcuts desktop on` with HOME kept: root would write where the
    user's links lead. It refuses, and says to run it as the user."""
    root = _package_root(tmp_path)
    home = root / "home/cook"
    for path in (home, *home.rglob("*")):
        os.lchown(path, 1001, 1001)
    before = snapshot(home)
    env = {"PATH": "/usr/bin:/bin", "DPKG_ROOT": str(root), "HOME": str(home)}
    helper = root / "opt/possync/bin/possync-shortcuts"
    for action in (["desktop", "on"], ["autostart", "on"], ["desktop", "off"]):
        proc = subprocess.run([str(helper), *action], env=env, capture_output=True, text=True)
        assert proc.returncode == 1 and "not your own home" in proc.stderr, action
    assert snapshot(home) == before
    assert not (root / "etc/xdg/autostart/possync.desktop").exists()


# ------------------------------------------------------------------------ the desktop icon


@pytest.fixture
def user(tmp_path: Path) -> dict[str, Path]:
    """A home with a desktop folder, the app's settings folder, the installed menu entry."""
    home = tmp_path / "home"
    (home / "Desktop").mkdir(parents=True)
    menu = tmp_path / "usr/share/applications/possync.desktop"
    menu.parent.mkdir(parents=True)
    shutil.copy(LINUX / "possync.desktop", menu)
    return {"home": home, "config": home / ".config/possync", "menu": menu}


@pytest.fixture
def gio_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `gio` on PATH that records its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "gio-calls"
    gio = bin_dir / "gio"
    gio.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    gio.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return calls


@posix_only
def test_desktop_icon_is_created_by_the_app_for_its_user(
    user: dict[str, Path], gio_calls: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The installed app at its start: a bundle on Linux, the user's own home and config.
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("HOME", str(user["home"]))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(user["home"] / ".config"))
    monkeypatch.setattr(desktop_entry, "MENU_ENTRY", user["menu"])

    desktop_entry.create_once()

    icon = user["home"] / "Desktop/possync.desktop"
    assert icon.is_file() and not icon.is_symlink()
    assert icon.stat().st_uid == os.geteuid()
    assert mode(icon) == 0o755  # desktops run only executable launchers
    text = icon.read_text()
    assert "Exec=/opt/possync/possync" in text and "X-Possync-Shortcut=desktop" in text
    assert gio_calls.read_text().split() == ["set", str(icon), "metadata::trusted", "true"]
    marker = user["config"] / desktop_entry.MARKER
    assert mode(marker) == 0o600 and mode(user["config"]) == 0o700

    # Deleted by the user: not made again at the next start.
    icon.unlink()
    desktop_entry.create_once()
    assert not icon.exists()


@posix_only
def test_desktop_icon_follows_the_users_own_desktop_folder(user: dict[str, Path]) -> None:
    home = user["home"]
    (home / "Bureau").mkdir()
    (home / ".config").mkdir()
    (home / ".config/user-dirs.dirs").write_text('XDG_DESKTOP_DIR="$HOME/Bureau"\n')
    outcome = desktop_entry.create(home, user["config"], user["menu"])
    assert outcome.startswith("made") and (home / "Bureau/possync.desktop").is_file()
    assert not (home / "Desktop/possync.desktop").exists()


@posix_only
def test_desktop_icon_through_a_link_that_stays_in_the_home(user: dict[str, Path]) -> None:
    home = user["home"]
    (home / "Desktop").rmdir()
    (home / "Documents/Desk").mkdir(parents=True)
    (home / "Desktop").symlink_to(home / "Documents/Desk")
    assert desktop_entry.create(home, user["config"], user["menu"]).startswith("made")
    assert (home / "Documents/Desk/possync.desktop").is_file()


@posix_only
def test_desktop_icon_is_never_written_through_a_symlink(
    user: dict[str, Path], tmp_path: Path
) -> None:
    home, config, menu = user["home"], user["config"], user["menu"]
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "ld.so.preload").write_text("")
    before = snapshot(etc)

    # The desktop folder is a link out of the home.
    (home / "Desktop").rmdir()
    (home / "Desktop").symlink_to(etc)
    assert "leads out of" in desktop_entry.create(home, config, menu)
    # XDG_DESKTOP_DIR names a folder outside the home.
    (home / "Desktop").unlink()
    (home / ".config").mkdir()
    (home / ".config/user-dirs.dirs").write_text(f'XDG_DESKTOP_DIR="{etc}"\n')
    assert "leads out of" in desktop_entry.create(home, config, menu)
    assert snapshot(etc) == before
    assert not (config / desktop_entry.MARKER).exists()  # asked again at the next start

    # The icon's own name is a link (even a dangling one): left alone, never followed.
    (home / ".config/user-dirs.dirs").unlink()
    (home / "Desktop").mkdir()
    (home / "Desktop/possync.desktop").symlink_to(etc / "new-file")
    assert "already exists" in desktop_entry.create(home, config, menu)
    assert not (etc / "new-file").exists() and snapshot(etc) == before
    assert (home / "Desktop/possync.desktop").is_symlink()


@posix_only
def test_desktop_icon_only_from_the_installed_app(
    user: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run from a source checkout (or on Windows) leaves the desktop alone."""
    monkeypatch.setenv("HOME", str(user["home"]))
    monkeypatch.setattr(desktop_entry, "MENU_ENTRY", user["menu"])
    monkeypatch.setattr(sys, "frozen", False, raising=False)
    desktop_entry.create_once()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "platform", "win32")
    desktop_entry.create_once()
    assert list((user["home"] / "Desktop").iterdir()) == []


# ------------------------------------------------------------------------ the data files


@pytest.fixture
def app_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app's data and settings folders under tmp_path (XDG_*_HOME)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path


def _private_everywhere(data: Path) -> None:
    """The agent's files: folders 0700, database, WAL, shared memory, lock, logs 0600."""
    agent = data / "agent"
    assert mode(data) == 0o700 and mode(agent) == 0o700 and mode(data / "logs") == 0o700
    for name in ("queue.db", "queue.db-wal", "queue.db-shm", "agent.lock", "runtime.json"):
        assert mode(agent / name) == 0o600, name
    for name in ("agent.log", "possync.log"):
        assert mode(data / "logs" / name) == 0o600, name


@posix_only
async def test_other_users_cannot_read_the_queue(app_folders: Path) -> None:
    # What the app does: folders first, its own log, then the agent under supervision.
    paths.make_folders_private()
    handler = logs.rotating_file(paths.log_dir() / "possync.log")
    handler.handle(logging.makeLogRecord({"msg": "started"}))
    handler.close()
    agent_args = ["run", "--data-dir", str(paths.agent_data_dir()), "--peer-port", "0",
                  "--peer-host", "127.0.0.1", "--no-mdns"]  # fmt: skip
    supervisor = AgentSupervisor(
        lambda port: paths.agent_command([*agent_args, "--page-port", str(port)]),
        child_env({"POSSYNC_PAGE_TOKEN": TOKEN}),
        paths.log_dir() / "agent.log",
    )
    supervisor.start()
    try:
        listening = await asyncio.to_thread(supervisor.wait_listening, 30)
        assert listening is not None
        async with aiohttp.ClientSession() as session:
            page = await PageClient.connect(session, listening.page_port)
            await page.push([change(order="o-private")])  # acknowledged = in the WAL
            await page.close()
        assert b"o-private" in (paths.agent_data_dir() / "queue.db-wal").read_bytes()
        _private_everywhere(paths.data_dir())
        assert mode(paths.config_dir()) == 0o700
    finally:
        await asyncio.to_thread(supervisor.stop)
    assert mode(paths.agent_data_dir() / "queue.db") == 0o600


@posix_only
async def test_existing_world_readable_data_is_locked_down_at_start(app_folders: Path) -> None:
    # An earlier version's files: folders 0755, files 0644, a WAL still in use.
    data = paths.data_dir()
    agent = paths.agent_data_dir()
    agent.mkdir(parents=True)
    (data / "logs").mkdir()
    old = sqlite3.connect(agent / "queue.db")
    old.execute("PRAGMA journal_mode=WAL")
    old.execute("CREATE TABLE t (x)")
    old.execute("INSERT INTO t VALUES ('an order')")
    old.commit()
    for name in ("agent.log", "possync.log", "possync.log.1"):
        (data / "logs" / name).write_text("an old line\n")
    (agent / "agent.lock").touch()
    paths.config_dir().mkdir(parents=True)
    for path in (data, agent, data / "logs", paths.config_dir()):
        path.chmod(0o755)
    for path in (*agent.iterdir(), *(data / "logs").iterdir()):
        path.chmod(0o644)
    assert mode(agent / "queue.db-wal") == 0o644 and mode(agent / "queue.db-shm") == 0o644

    try:
        # The app's start, then the agent's.
        paths.make_folders_private()
        logs.rotating_file(paths.log_dir() / "possync.log").close()
        logs.rotating_file(paths.log_dir() / "agent.log").close()
        process = await AgentProcess(agent).start()
        try:
            _private_everywhere(data)
            assert mode(data / "logs/possync.log.1") == 0o600
            assert mode(paths.config_dir()) == 0o700
        finally:
            await process.stop()
    finally:
        old.close()


@posix_only
@needs_root
def test_a_data_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    """A folder someone else made for us (e.g. a shared POSSYNC_DATA_DIR) is not used:
    its owner could read every order."""
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o777)
    os.chown(folder, 1001, 1001)
    with pytest.raises(DatabaseUnreadable, match="belongs to another user"):
        Store.open(folder / "queue.db")
    assert not (folder / "queue.db").exists()


# ------------------------------------------------------------------------ Windows (faked)


@pytest.fixture
def windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeIcacls:
    """The platform faked as Windows for one user, Ana, on the tablet TABLET1."""
    return fake_windows(monkeypatch, tmp_path / "Users/ana")


def test_windows_data_dir_is_restricted_to_the_user(
    windows: FakeIcacls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.settings import default_data_dir

    profile = tmp_path / "Users/ana"
    # The default folders are in the user's profile (never ProgramData): already theirs.
    assert paths.data_dir() == profile / "AppData/Local/possync"
    assert default_data_dir() == profile / "AppData/Local/possync"
    paths.make_folders_private()
    Store.open(paths.agent_data_dir() / "queue.db").close()
    assert paths.agent_data_dir().is_dir() and windows.calls == []

    # A data folder set elsewhere (a shared drive, a folder all users can read): an ACL
    # for Ana alone, inherited by everything in it, the inherited entries removed.
    shared = tmp_path / "Shared/possync"
    Store.open(shared / "queue.db").close()
    assert windows.calls == [
        ["icacls", str(shared), "/inheritance:r", "/grant:r", "TABLET1\\ana:(OI)(CI)F", "/q"]
    ]
    # The app's own folders too, when the profile's local folder is redirected.
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "Redirected"))
    paths.make_folders_private()
    assert windows.calls[-1][:2] == ["icacls", str(tmp_path / "Redirected/possync")]


def test_windows_data_dir_that_cannot_be_restricted_is_refused(
    windows: FakeIcacls, tmp_path: Path
) -> None:
    windows.returncode, windows.output = 5, "Access is denied."
    with pytest.raises(DatabaseUnreadable, match="icacls: Access is denied"):
        Store.open(tmp_path / "Shared/possync/queue.db")
    assert not (tmp_path / "Shared/possync/queue.db").exists()
