"""Where possync keeps its files, and how it finds its own resources and the agent.

Everything here works both from a source checkout and from a PyInstaller bundle
(``sys.frozen``), so the installer does not need a second code path. The data and settings
folders are private to the user (agent.private_files): 0700 with 0600 files on Linux, the
user's own profile (or an ACL for them alone) on Windows.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from agent.private_files import FILE_MODE, private_dir

APP_NAME = "possync"


def is_frozen() -> bool:
    """True inside a PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False))


def config_dir() -> Path:
    """Settings: %APPDATA%\\possync on Windows, $XDG_CONFIG_HOME/possync elsewhere."""
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / APP_NAME
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / APP_NAME


def data_dir() -> Path:
    """Web storage, the agent's database and logs.

    %LOCALAPPDATA%\\possync on Windows (not roaming: IndexedDB and SQLite belong to
    this tablet), $XDG_DATA_HOME/possync elsewhere.
    """
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
        return Path(base) / APP_NAME
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / APP_NAME


def web_storage_dir() -> Path:
    """Qt WebEngine's persistent profile: Odoo's IndexedDB, local storage and cookies."""
    return data_dir() / "webview"


def agent_data_dir() -> Path:
    return data_dir() / "agent"


def log_dir() -> Path:
    return data_dir() / "logs"


def runtime_file() -> Path:
    """Written while the app runs: how `possync status` reaches the agent."""
    return data_dir() / "running.json"


def resource_path(*parts: str) -> Path:
    """A file of shell/static, from a checkout or from a bundle.

    The installer collects shell/static as ``shell/static`` inside the bundle.
    """
    return _shell_dir().joinpath("static", *parts)


def locale_dir() -> Path:
    """The app's gettext catalogs (shell.i18n): ``shell/locale`` in a checkout and in a
    bundle (there compiled to ``.mo`` by the installer)."""
    return _shell_dir() / "locale"


def _shell_dir() -> Path:
    if is_frozen():
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "shell"
    return Path(__file__).resolve().parent


def agent_command(args: list[str]) -> list[str]:
    """The command line that starts the agent with ``args``.

    From source, the agent is its own module. A bundle has no Python to run modules with,
    so the bundle's executable re-enters itself: ``possync --agent ARGS`` (see shell.cli).
    """
    if is_frozen():
        return [sys.executable, "--agent", *args]
    return [sys.executable, "-m", "agent.cli", *args]


def make_folders_private() -> None:
    """The data and settings folders, created or locked down for this user only.

    Run at start, before Qt's web profile, the logs and the agent write there: a folder
    an earlier version left readable by everyone (0755) is closed before it gets more.

    :raises agent.private_files.NotPrivate: a folder belongs to another user
    """
    private_dir(data_dir())
    private_dir(config_dir())


def write_private(path: Path, text: str) -> None:
    """Write a file only the current user can read, atomically, in a private folder."""
    private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        if hasattr(os, "fchmod"):  # a .tmp left over keeps its mode through O_TRUNC
            os.fchmod(handle.fileno(), FILE_MODE)
        handle.write(text)
    os.replace(tmp, path)
