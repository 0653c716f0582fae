"""The desktop icon on Linux, made by the app for its own user at the first start.

A package cannot do this safely: its maintainer scripts run as root, and each user's
desktop folder is the user's to point anywhere (a symlink, or ``XDG_DESKTOP_DIR`` in
``user-dirs.dirs`` naming ``/etc``). So the installed app copies the menu entry there
itself, as the user, once: a marker in the settings folder remembers it, and an icon
the user deleted stays deleted. ``possync-shortcuts desktop on`` brings it back.

The icon is only made inside the user's home, never through a symlink at the icon's
own name (``O_NOFOLLOW | O_EXCL``), never over a file that is already there.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from shell import paths

log = logging.getLogger("possync.desktop")

MENU_ENTRY = Path("/usr/share/applications/possync.desktop")  # installed by the .deb
ICON_NAME = "possync.desktop"
MARKER = "desktop-icon"
# Marks the copy as possync's: `possync-shortcuts desktop off` removes only such files.
SHORTCUT_LINE = "X-Possync-Shortcut=desktop"
# GNOME, KDE and Xfce run only executable launchers from the desktop.
ICON_MODE = 0o755
GIO_TIMEOUT_S = 5


def create_once() -> None:
    """At the app's start: the icon for this user, the first time the installed app runs.

    A run from a source checkout, or on another system, leaves the desktop alone. Never
    raises: an icon is not worth a failed start.
    """
    if not sys.platform.startswith("linux") or not paths.is_frozen():
        return
    try:
        outcome = create(Path.home(), paths.config_dir(), MENU_ENTRY)
    except OSError as exc:
        log.warning("desktop icon: %s", exc)
        return
    log.info("desktop icon: %s", outcome)


def create(home: Path, config: Path, menu_entry: Path) -> str:
    """Put a copy of ``menu_entry`` in the desktop folder of ``home``, once; say what
    happened. ``config`` is the app's settings folder (where the marker goes) and the
    user's ``user-dirs.dirs`` is read from its parent (``$XDG_CONFIG_HOME``)."""
    marker = config / MARKER
    if marker.exists():
        return "made before (or deleted by the user): left alone"
    if not menu_entry.is_file():
        return f"no menu entry at {menu_entry}: not installed from the package"
    folder = desktop_folder(home, config.parent)
    if not folder.is_dir():
        return f"no desktop folder ({folder})"
    inside = _inside_home(folder, home)
    if inside is None:
        return f"the desktop folder {folder} leads out of {home}: no icon"
    text = _icon_text(menu_entry.read_text(encoding="utf-8"))
    icon = inside / ICON_NAME
    if _write_new(inside, text):
        _trust(icon)
        outcome = f"made {icon}"
    else:
        outcome = f"{icon} already exists: left alone"
    paths.write_private(marker, outcome + "\n")
    return outcome


def desktop_folder(home: Path, config_home: Path) -> Path:
    """XDG_DESKTOP_DIR from the user's ``user-dirs.dirs``, else ``~/Desktop``.

    The file holds shell-style lines, ``XDG_DESKTOP_DIR="$HOME/Bureau"``; a value is
    ``$HOME/…`` or an absolute path (as xdg-user-dirs writes them); the last one counts.
    """
    value = None
    try:
        lines = (config_home / "user-dirs.dirs").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []
    for line in lines:
        name, sep, raw = line.strip().partition("=")
        if sep and name == "XDG_DESKTOP_DIR":
            value = raw.strip().strip('"')
    if value == "$HOME":
        return home
    if value and value.startswith("$HOME/"):
        return home / value.removeprefix("$HOME/")
    if value and value.startswith("/"):
        return Path(value)
    return home / "Desktop"


def _inside_home(folder: Path, home: Path) -> Path | None:
    """The folder's real path when it lies inside the home's, else None."""
    real, real_home = folder.resolve(), home.resolve()
    return real if real == real_home or real_home in real.parents else None


def _icon_text(entry: str) -> str:
    lines = [line for line in entry.splitlines() if not line.startswith("X-Possync-Shortcut=")]
    return "\n".join([*lines, SHORTCUT_LINE]) + "\n"


def _write_new(folder: Path, text: str) -> bool:
    """Create ``folder/ICON_NAME`` holding ``text``; False when a file (or a symlink,
    even a dangling one) is already there. The folder itself is opened without following
    a symlink, so it cannot be swapped for one after the check."""
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(ICON_NAME, flags, ICON_MODE, dir_fd=dir_fd)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), ICON_MODE)  # whatever the umask
            out.write(text)
        return True
    finally:
        os.close(dir_fd)


def _trust(icon: Path) -> None:
    """GNOME asks before it runs a launcher from the desktop unless it is marked trusted
    (a gvfs attribute, set through the user's session). Best effort."""
    gio = shutil.which("gio")
    if gio is None:
        return
    try:
        subprocess.run(
            [gio, "set", str(icon), "metadata::trusted", "true"],
            capture_output=True,
            timeout=GIO_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("desktop icon: gio set metadata::trusted: %s", exc)
