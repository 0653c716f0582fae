"""The bundle's third-party notice, and the licence check of the app's dependencies.

    python installer/third_party.py notice BUNDLE   write BUNDLE/THIRD-PARTY-NOTICES
    python installer/third_party.py check           exit 1 if a runtime dependency is GPL-only

Which components a bundle holds is read from the bundle itself: each file under
``_internal`` and each module in the executable's archive is traced to the Python
distribution whose RECORD lists it, to the Python runtime, to PyInstaller (the bootloader
and its run-time modules) or to possync. Their licences and licence texts come from
pip-licenses, reading the metadata of the Python the bundle was built with. possync.spec
runs ``notice`` after each build, on Linux as on Windows.

``check`` is what CI runs (tests/test_third_party.py): possync is LGPL-3.0-or-later, so
none of the packages it needs at run time may be under the GPL alone.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import re
import subprocess
import sys
import sysconfig
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

APP = "possync"
NOTICE_NAME = "THIRD-PARTY-NOTICES"
# possync's own code in the bundle: its packages, its entry script, the addon's scripts.
OWN_TOP_LEVEL = {"agent", "shell", "addon", "possync_main"}
PYTHON = "Python"
PYINSTALLER = "pyinstaller"
# PyInstaller's metadata names only the GPL; its COPYING.txt (quoted in full in the
# notice) adds the exception under which its bootloader is embedded in other programs.
LICENCE_CLARIFIED = {PYINSTALLER: "GPL-2.0-or-later WITH Bootloader-exception"}
# Modules PyInstaller writes into every executable (the bootloader's Python side), and
# the qt.conf its Qt hooks write for QtWebEngineProcess.
PYINSTALLER_MODULE = re.compile(r"^(pyimod\d|pyiboot\d|pyi_rth_|_pyi_rth_utils|pyi_splash)")
PYINSTALLER_FILE = re.compile(r"^PySide6/Qt/libexec/qt\.conf$")
QT_NOTE = """\
PySide6, shiboken6 and the Qt libraries they carry are used under the GNU LGPL version 3
(its text and the GPL version 3 it builds on are in the file LICENSE at the top of
possync's program folder). They are separate shared libraries in _internal/PySide6 and
_internal/shiboken6, so you may replace them with your own build of the same version.
Qt WebEngine contains Chromium and the components Chromium uses, each under its own
licence; Qt lists them at https://doc.qt.io/qt-6/qtwebengine-licensing.html."""


@dataclass
class Component:
    name: str
    version: str
    licence: str
    url: str
    text: str  # the licence text its package ships; "" when it ships none


@dataclass
class BundleContents:
    distributions: set[str]  # canonical names of the Python distributions it holds
    has_python: bool
    has_pyinstaller: bool
    unknown: list[str]  # files traced to nothing above


# ------------------------------------------------------------------------------ licences


def gpl_only(licence: str) -> bool:
    """True when every choice the licence offers is the GPL (or AGPL) with no exception.

    "LGPL-3.0-only OR GPL-3.0-only" offers the LGPL, and "GPL-2.0-or-later WITH
    Bootloader-exception" lets the program it is linked into keep its own licence; a
    licence pip-licenses cannot read ("UNKNOWN") counts as GPL-only until someone looks.
    """
    flat = licence.replace("(", " ").replace(")", " ")
    return all(_gpl_only_choice(c) for c in re.split(r"\s+OR\s+|;\s*", flat) if c.strip())


def _gpl_only_choice(choice: str) -> bool:
    if choice.strip().upper() == "UNKNOWN":
        return True
    return any(_gpl_alone(part) for part in re.split(r"\s+AND\s+", choice))


def _gpl_alone(term: str) -> bool:
    gpl = re.search(r"\bA?GPL|General Public License", term, re.I)
    lesser = re.search(r"\bLGPL|Lesser|Library", term, re.I)
    return bool(gpl) and not lesser and not re.search(r"exception", term, re.I)


def licences(names: Iterable[str]) -> list[Component]:
    """The licence of each installed distribution named, read by pip-licenses."""
    wanted = sorted(set(names))
    if not wanted:
        return []
    out = subprocess.run(
        [
            sys.executable, "-m", "piplicenses", "--from=mixed", "--format=json",
            "--with-urls", "--with-license-file", "--no-license-path", "--with-system",
            "--packages", *wanted,
        ],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = [
        Component(
            name=row["Name"],
            version=row["Version"],
            licence=LICENCE_CLARIFIED.get(canonicalize_name(row["Name"]), row["License"]),
            url="" if row["URL"] == "UNKNOWN" else row["URL"],
            text="" if row["LicenseText"] == "UNKNOWN" else row["LicenseText"],
        )
        for row in json.loads(out)
    ]
    missing = set(wanted) - {canonicalize_name(c.name) for c in found}
    if missing:
        raise LookupError(f"pip-licenses found no metadata for {sorted(missing)}")
    return sorted(found, key=lambda c: c.name.lower())


def runtime_distributions(root: str = APP) -> set[str]:
    """Canonical names of every distribution ``root`` needs at run time on this platform
    (its requirements without extras, and theirs), ``root`` itself not included."""
    seen: set[str] = set()
    todo = [canonicalize_name(root)]
    while todo:
        name = todo.pop()
        for line in importlib.metadata.requires(name) or []:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            dep = canonicalize_name(req.name)
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def gpl_only_runtime() -> list[Component]:
    """The runtime dependencies under the GPL alone (empty is the only good answer)."""
    return [c for c in licences(runtime_distributions()) if gpl_only(c.licence)]


# ------------------------------------------------------------------------------ the bundle


def bundle_contents(bundle: Path) -> BundleContents:
    index = _record_index()
    contents = BundleContents(set(), False, True, [])  # its executable is the bootloader
    internal = bundle / "_internal"
    for path in sorted(internal.rglob("*")):
        if path.is_file() and not path.is_symlink():
            _trace(path.relative_to(internal).as_posix(), index, contents)
    for module in _archive_modules(bundle):
        _trace_module(module, index, contents)
    contents.distributions.discard(canonicalize_name(APP))
    return contents


def _record_index() -> dict[str, str]:
    """Each file an installed distribution lists in its RECORD -> that distribution."""
    index: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        for file in dist.files or []:
            index.setdefault(PurePosixPath(file).as_posix(), name)
    return index


def _trace(rel: str, index: dict[str, str], contents: BundleContents) -> None:
    top = rel.split("/")[0]
    if rel in index:
        contents.distributions.add(index[rel])
    elif m := re.match(r"^(.+)-[^-/]+\.dist-info$", top):
        contents.distributions.add(canonicalize_name(m[1]))  # metadata copied in
    elif top in OWN_TOP_LEVEL or PYINSTALLER_FILE.match(rel):
        pass
    elif top in ("base_library.zip", "python3.dll") or re.match(
        r"^(python3\.\d+|libpython3[^/]*|python3\d*\.dll|lib-dynload|DLLs)$", top
    ):
        contents.has_python = True
    else:
        contents.unknown.append(rel)


def _trace_module(module: str, index: dict[str, str], contents: BundleContents) -> None:
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top.startswith("_sysconfigdata"):
        contents.has_python = True
        return
    if PYINSTALLER_MODULE.match(top) or top in OWN_TOP_LEVEL:
        return
    base = module.replace(".", "/")
    for candidate in (f"{base}.py", f"{base}/__init__.py"):
        if candidate in index:
            contents.distributions.add(index[candidate])
            return
    if not any(rel.startswith(f"{base}/") for rel in index):
        contents.unknown.append(f"(module) {module}")
    # else a namespace package (no file of its own): its modules are traced one by one


def _archive_modules(bundle: Path) -> set[str]:
    from PyInstaller.archive.readers import CArchiveReader

    exe = next(p for p in (bundle / APP, bundle / f"{APP}.exe") if p.is_file())
    archive = CArchiveReader(str(exe))
    scripts = {name for name in archive.toc if not name.endswith(".pyz")}
    return scripts | set(archive.open_embedded_archive("PYZ.pyz").toc)


# ------------------------------------------------------------------------------ the notice


def python_runtime() -> Component:
    text = ""
    for place in (Path(sysconfig.get_path("stdlib")), Path(sys.base_prefix)):
        if (place / "LICENSE.txt").is_file():
            text = (place / "LICENSE.txt").read_text(encoding="utf-8")
            break
    return Component(PYTHON, platform.python_version(), "PSF-2.0", "https://www.python.org", text)


def notice(components: list[Component], unknown: list[str]) -> str:
    width = max(len(c.name) for c in components)
    lines = [
        f"Third-party components in {APP} {importlib.metadata.version(APP)}",
        "",
        f"{APP} itself is under the GNU LGPL version 3 or (at your option) any later",
        "version (the file LICENSE). Its program folder also holds the components below,",
        "each under its own licence; their licence texts follow the list. Generated by",
        "installer/third_party.py from the bundle, with pip-licenses.",
        "",
        QT_NOTE,
        "",
        *(f"{c.name:<{width}}  {c.version:<12}  {c.licence}" for c in components),
    ]
    if unknown:
        lines += ["", "Files whose origin installer/third_party.py could not tell:"]
        lines += [f"  {rel}" for rel in unknown]
    for c in components:
        lines += ["", "=" * 80, f"{c.name} {c.version}", f"Licence: {c.licence}"]
        lines += [f"Home: {c.url}"] if c.url else []
        lines += ["", c.text.strip() or "(its package ships no licence text)"]
    return "\n".join(lines) + "\n"


def write_notice(bundle: Path) -> Path:
    contents = bundle_contents(bundle)
    names = set(contents.distributions)
    if contents.has_pyinstaller:
        names.add(PYINSTALLER)
    components = licences(names)
    if contents.has_python:
        components.insert(0, python_runtime())
    target = bundle / NOTICE_NAME
    target.write_text(notice(components, contents.unknown), encoding="utf-8")
    return target


def main(argv: list[str]) -> int:
    if argv[:1] == ["notice"] and len(argv) == 2:
        print(write_notice(Path(argv[1])))
        return 0
    if argv == ["check"]:
        bad = gpl_only_runtime()
        for c in bad:
            print(f"GPL-only runtime dependency: {c.name} {c.version} ({c.licence})")
        return 1 if bad else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
