"""Folders and files only their own user can read: possync's data holds every order, its
customers and payments, so another account on the tablet must not read it.

POSIX: a data folder is 0700 and the files in it 0600, whether possync creates them now or
finds them from an earlier version. Windows: a folder inside the user's profile
(``%LOCALAPPDATA%``) is already private to that user; anywhere else (a data folder set by
hand) gets an ACL granting this user alone, through ``icacls``. The app and the agent both
use this module, so both keep their data the same way.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
ICACLS_TIMEOUT_S = 30


class NotPrivate(PermissionError):
    """The folder or file cannot be made private to this user (another user owns it, or
    its ACL could not be set); the message says which and why."""


def private_dir(path: Path) -> Path:
    """``path`` as a folder only this user can enter, created if missing (with any
    missing parents, 0700 too); an existing one of this user's is set to 0700.

    :raises NotPrivate: it belongs to another user, or its ACL could not be set
    """
    _make_dirs(path)
    if sys.platform == "win32":
        if not _inside_profile(path):
            _restrict_to_user(path)
        return path
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise NotPrivate(f"{path} is not a folder")
    _check_owner(path, info)
    if stat.S_IMODE(info.st_mode) != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> None:
    """An existing file of this user's set to 0600 (POSIX; on Windows the folder's ACL
    covers it). Missing files are left missing.

    :raises NotPrivate: it belongs to another user
    """
    if sys.platform == "win32":
        return
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    _check_owner(path, info)
    if stat.S_IMODE(info.st_mode) & ~FILE_MODE:
        os.chmod(path, FILE_MODE)


def create_private_file(path: Path) -> None:
    """Create an empty file readable by this user only, unless it exists (then make it
    so); for files that another program creates with its own mode (SQLite)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        private_file(path)


def _make_dirs(path: Path) -> None:
    # Path.mkdir(parents=True) gives missing parents the default mode; each one is made
    # here with DIR_MODE instead.
    missing = []
    folder = path
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)


def _check_owner(path: Path, info: os.stat_result) -> None:
    if info.st_uid != os.geteuid():
        raise NotPrivate(
            f"{path} belongs to another user (uid {info.st_uid}): possync keeps its data "
            f"only where the user it runs as (uid {os.geteuid()}) alone can read it"
        )


# --- Windows ------------------------------------------------------------------------------


def _inside_profile(path: Path) -> bool:
    """Inside %USERPROFILE% (which holds %LOCALAPPDATA% and %APPDATA%): Windows gives
    a profile's folders to their user, SYSTEM and Administrators only."""
    profile = os.environ.get("USERPROFILE")
    if not profile:
        return False
    folder = os.path.normcase(os.path.abspath(path))
    home = os.path.normcase(os.path.abspath(profile))
    try:
        return os.path.commonpath([folder, home]) == home
    except ValueError:  # on another drive
        return False


def windows_user() -> str:
    """This user as icacls names them: DOMAIN\\name (the computer's name for a local one)."""
    name = os.environ.get("USERNAME") or ""
    domain = os.environ.get("USERDOMAIN")
    return f"{domain}\\{name}" if domain and name else name


def _restrict_to_user(path: Path) -> None:
    """Full control for this user alone, inherited by everything inside; the inherited
    entries (Users, Everyone, …) removed."""
    user = windows_user()
    if not user:
        raise NotPrivate(f"cannot make {path} private: USERNAME is not set")
    command = [
        "icacls",
        str(path),
        "/inheritance:r",
        "/grant:r",
        f"{user}:(OI)(CI)F",
        "/q",
    ]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=ICACLS_TIMEOUT_S,
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NotPrivate(f"cannot make {path} private: icacls: {exc}") from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()
        raise NotPrivate(f"cannot make {path} private: icacls: {detail}")
