"""possync's version: pyproject.toml's `version`, read once, for every part that shows it.

An installed possync (pip, or the PyInstaller bundle, which carries the package's metadata:
installer/possync.spec) reads it from the package metadata; a source checkout that was
never installed reads pyproject.toml itself.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "possync"
UNKNOWN = "0+unknown"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


@cache
def version() -> str:
    """The version string, e.g. ``0.1.0``; ``0+unknown`` when neither source has it."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return _from_pyproject(PYPROJECT)


def _from_pyproject(path: Path) -> str:
    try:
        return str(tomllib.loads(path.read_text(encoding="utf-8"))["project"]["version"])
    except (OSError, KeyError, ValueError):
        return UNKNOWN


def describe(program: str) -> str:
    """What ``--version`` prints: ``possync 0.1.0``."""
    return f"{program} {version()}"


if __name__ == "__main__":
    print(version())
