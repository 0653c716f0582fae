"""A virtualenv per Odoo version, built from the tree's requirements and cached.

Odoo pins greenlet 2 and Playwright needs greenlet 3, so Odoo never shares the test
runner's environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .errors import HarnessError, Log, log_to_stderr
from .files import cache_dir, file_lock, short_hash, tail
from .tree import OdooTree

# Bump when the way a venv is built changes, so stale caches are not reused.
VENV_RECIPE = "2"
# Not in Odoo's requirements.txt: websocket-client drives chromium in Odoo's HttpCase; with
# workers, the gevent process loads gevent's plugins through pkg_resources, which finds
# wheels with normalised names (zope_interface-8.7.dist-info) only from setuptools 77, and
# is gone from setuptools 82.
VENV_EXTRAS = ("websocket-client", "setuptools>=77,<81")
# cbor2 5.4.2 (pinned for Python < 3.12) is an sdist whose setup.py breaks on setuptools 70+.
BUILD_CONSTRAINTS = "setuptools<70\n"


def venv_requirements(text: str) -> str:
    """Odoo's requirements.txt adapted to a pip-only install on this machine."""
    lines = []
    for line in text.replace("\r\n", "\n").splitlines():
        name = line.split(";")[0].strip().lower()
        if name.startswith("python-ldap"):
            continue  # only auth_ldap needs it, and it wants libldap headers to build
        if name.startswith("psycopg2=="):
            line = "psycopg2-binary" + line.strip()[len("psycopg2") :]  # no libpq headers here
        lines.append(line)
    return "\n".join([*lines, *VENV_EXTRAS, ""])


def venv_dir(tree: OdooTree) -> Path:
    # Odoo's requirements pick versions by Python version, so that is part of the key too.
    python = "{}.{}".format(*sys.version_info[:2])
    key = short_hash(tree.requirements(), VENV_RECIPE, python)
    return cache_dir() / f"odoo-venv-{tree.version}-{key}"


def ensure_venv(tree: OdooTree, log: Log = log_to_stderr) -> Path:
    """Return the Python of the cached venv for ``tree``, building it the first time."""
    target = venv_dir(tree)
    python = target / "bin" / "python"
    with file_lock(cache_dir() / "venv.lock"):
        if (target / ".complete").exists():
            return python
        log(f"building {target} (first run only, about a minute)")
        shutil.rmtree(target, ignore_errors=True)
        try:
            _build_venv(tree, target)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        (target / ".complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
    return python


def _build_venv(tree: OdooTree, target: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
    pip = [str(target / "bin" / "python"), "-m", "pip"]
    _run_logged([*pip, "install", "--upgrade", "pip"], target / "pip.log")
    (target / "requirements.txt").write_text(venv_requirements(tree.requirements().decode()))
    (target / "build-constraints.txt").write_text(BUILD_CONSTRAINTS)
    constraints = str(target / "build-constraints.txt")
    install = [*pip, "install", "-r", str(target / "requirements.txt")]
    helptext = subprocess.run([*pip, "install", "--help"], capture_output=True, text=True).stdout
    if "--build-constraint" in helptext:
        _run_logged([*install, "--build-constraint", constraints], target / "pip.log")
    else:
        # Before pip 25.3, PIP_CONSTRAINT was how constraints reached isolated builds.
        env = os.environ | {"PIP_CONSTRAINT": constraints}
        _run_logged(install, target / "pip.log", env)


def _run_logged(cmd: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> None:
    with log_path.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    if result.returncode:
        detail = tail(log_path)
        raise HarnessError(f"{cmd[0]} failed ({result.returncode}); see {log_path}\n{detail}")
