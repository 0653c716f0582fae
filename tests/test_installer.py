"""The installers: installer/build.sh builds the bundle and the .deb once per session; the
tests check what they hold, install the .deb into a throwaway root (dpkg --root, with the
maintainer scripts run as they would be), run the installed `possync --self-test`, and
remove it again. The Windows script cannot be built here; its references are checked.

About 2-3 minutes on the project's 2-core machine, most of it PyInstaller and dpkg-shlibdeps.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.settings import DEFAULT_PEER_PORT
from shell import firewall
from tests.test_third_party import third_party

ROOT = Path(__file__).resolve().parent.parent
INSTALLER = ROOT / "installer"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
TARGET_TAR_GZ_MB = 150
MB = 1024 * 1024

needs_debian_tools = pytest.mark.skipif(
    not sys.platform.startswith("linux")
    or not all(shutil.which(tool) for tool in ("dpkg-deb", "dpkg-shlibdeps", "dpkg")),
    reason="building the .deb needs Linux with dpkg-dev (./run test installs it)",
)


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One build per session: the JSON last line of installer/build.sh."""
    out = tmp_path_factory.mktemp("installer-build")
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "POSSYNC_BUILD_DIR": str(out),
        # xz -1: 30 s instead of 3 min here, 15 MB larger; the content is the same.
        "POSSYNC_DEB_XZ_LEVEL": "1",
        # No signing key here: the apt repository unsigned, as asked for explicitly.
        "POSSYNC_APT_UNSIGNED": "1",
    }
    proc = subprocess.run(
        ["bash", str(INSTALLER / "build.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"build.sh failed:\n{proc.stderr[-4000:]}"
    lines = proc.stdout.strip().splitlines()
    assert lines, f"build.sh printed nothing on stdout:\n{proc.stderr[-2000:]}"
    return json.loads(lines[-1])


needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="dpkg --root sets file owners: run as root (as CI does)",
)


def _make_root(base: Path) -> Path:
    """An empty system for dpkg --root: a dpkg database, two users, one with a desktop."""
    root = base / "root"
    for folder in (
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
        "etc/xdg/autostart",
        "home/waiter/Desktop",
        "home/cook",
    ):
        (root / folder).mkdir(parents=True)
    for name in ("status", "available"):
        (root / "var/lib/dpkg" / name).touch()
    (root / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\n"
        "waiter:x:1000:1000:Waiter:/home/waiter:/bin/bash\n"
        "cook:x:1001:1001:Cook:/home/cook:/bin/bash\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    return root


def _dpkg(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Chrootless: the maintainer scripts run with DPKG_ROOT=root, as on a real system
    # they run with DPKG_ROOT unset; the root has no shell or libc of its own.
    return subprocess.run(
        [
            "dpkg",
            f"--root={root}",
            "--force-script-chrootless",
            "--force-depends",
            "--force-not-root",
            "--log=/dev/null",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _files(root: Path) -> set[str]:
    """Everything in the root except dpkg's own database."""
    found = set()
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if not rel.startswith("var/lib/dpkg"):
            found.add(rel)
    return found


@pytest.fixture(scope="module")
def installed(build: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = _make_root(tmp_path_factory.mktemp("installed"))
    proc = _dpkg(root, "-i", build["deb"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yield root


def _self_test(cmd: list[str], tmp_path: Path, platform: str) -> subprocess.CompletedProcess:
    """Run the installed app's self-test; it must pass."""
    proc = subprocess.run(
        cmd,
        env=_self_test_env(tmp_path / "home", platform),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "self-test passed" in proc.stdout
    return proc


def _self_test_env(home: Path, platform: str) -> dict[str, str]:
    """A clean environment: nothing from the venv or the checkout can leak in."""
    home.mkdir(parents=True, exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "QT_QPA_PLATFORM": platform}
    for name in ("LANG", "LC_ALL", "TMPDIR"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


# ------------------------------------------------------------------------------ the build


@pytest.mark.slow
@needs_debian_tools
def test_build_prints_paths_and_sizes_as_json(build: dict) -> None:
    for key in ("bundle", "bundle_tar_gz", "deb"):
        assert Path(build[key]).exists(), key
    tarball = Path(build["bundle_tar_gz"])
    deb = Path(build["deb"])
    assert build["bundle_tar_gz_mb"] == round(tarball.stat().st_size / MB, 1)
    assert build["deb_mb"] == round(deb.stat().st_size / MB, 1)
    assert deb.name == f"possync_{VERSION}_{_arch()}.deb"
    # The apt repository holds it (tests/test_apt_repo.py has apt-get read one).
    apt = Path(build["apt"])
    assert (apt / "pool/main/p/possync" / deb.name).is_file()
    packages = (apt / f"dists/stable/main/binary-{_arch()}/Packages").read_text()
    assert f"Version: {VERSION}\n" in packages and (apt / "dists/stable/Release").is_file()
    assert build["trimmed"] is True
    # The target (untrimmed: about 226 MB; see docs/benchmarks.md).
    assert build["bundle_tar_gz_mb"] <= TARGET_TAR_GZ_MB
    assert 0 < build["bundle_mb"] < 500


@pytest.mark.slow
@needs_debian_tools
def test_bundle_holds_the_app_the_agent_and_their_resources(build: dict) -> None:
    internal = Path(build["bundle"]) / "_internal"
    # shell.paths.resource_path and the addon's JS at the checkout's relative place.
    assert (internal / "shell/static/selftest.html").is_file()
    assert (internal / "shell/static/inject.js").is_file()
    assert (internal / "shell/static/pin.html").is_file()  # a kiosk's manager PIN prompt
    assert (internal / "addon/pos_restaurant_sync/static/src/lib/protocol.js").is_file()
    # pywebview reads its scripts from disk.
    assert (internal / "webview/js/api.js").is_file()
    # Receipts print (shell/printing.py): the binding, the CUPS back end, the window icon.
    assert next(internal.glob("PySide6/QtPrintSupport.*"), None)
    assert (internal / "PySide6/Qt/plugins/printsupport/libcupsprintersupport.so").is_file()
    assert (internal / "shell/static/possync.png").is_file()
    # The app's translations, compiled (shell.i18n reads .mo files in a bundle).
    for lang in ("fr", "es"):
        assert (internal / f"shell/locale/{lang}/LC_MESSAGES/possync.mo").is_file()
    # keyring finds its backends through its metadata's entry points (field notes).
    entry_points = next(internal.glob("keyring-*.dist-info")) / "entry_points.txt"
    assert "keyring.backends" in entry_points.read_text()
    modules = _pyz_modules(Path(build["bundle"]) / "possync")
    for module in (
        "agent.cli",
        "agent.app",
        "agent.discovery",
        "shell.cli",
        "shell.selftest",
        "shell.kiosk",
        "webview.platforms.qt",
        "keyring.backends.SecretService",
        "secretstorage",
        "zeroconf.asyncio",
    ):
        assert module in modules, module
    # zeroconf's compiled modules import each other from C.
    assert list((internal / "zeroconf/_services").glob("browser.*.so"))


@pytest.mark.slow
@needs_debian_tools
def test_bundle_knows_its_version(build: dict, tmp_path: Path) -> None:
    """The package metadata is bundled, so the frozen app reports pyproject's version."""
    bundle = Path(build["bundle"]) / "possync"
    env = _self_test_env(tmp_path / "home", "offscreen")
    for args, program in (([], "possync"), (["--agent"], "possync-agent")):
        proc = subprocess.run(
            [str(bundle), *args, "--version"], env=env, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == f"{program} {VERSION}"


@pytest.mark.slow
@needs_debian_tools
def test_bundle_is_trimmed(build: dict) -> None:
    bundle = Path(build["bundle"])
    qt = bundle / "_internal/PySide6/Qt"
    libs = {p.name for p in (qt / "lib").iterdir()}
    assert "libQt6WebEngineCore.so.6" in libs
    for unused in (
        "Quick3D",
        "Multimedia",
        "Pdf",
        "Charts",
        "Designer",
        "TextToSpeech",
        "QuickControls2",
        "Sensors",
        "SerialPort",
        "VirtualKeyboard",
    ):
        assert not [name for name in libs if f"libQt6{unused}" in name], unused
    assert not (qt / "qml").exists()
    assert not list((qt / "translations").glob("*.qm"))
    locales = {p.stem for p in (qt / "translations/qtwebengine_locales").glob("*.pak")}
    assert "en-US" in locales and len(locales) < 15
    assert not (qt / "resources/qtwebengine_devtools_resources.pak").exists()
    platforms = {p.name for p in (qt / "plugins/platforms").iterdir()}
    assert {"libqxcb.so", "libqoffscreen.so", "libqwayland.so"} <= platforms
    assert not list((qt / "plugins/platformthemes").glob("*gtk*"))
    # The distribution's libraries come from the .deb's Depends, not the bundle.
    top = {p.name for p in (bundle / "_internal").iterdir()}
    assert not {"libX11.so.6", "libnss3.so", "libgtk-3.so.0", "libstdc++.so.6"} & top
    assert [p for p in bundle.rglob("*") if p.is_symlink() and not p.exists()] == []


@pytest.mark.slow
@needs_debian_tools
def test_bundle_and_deb_hold_no_pyqt(build: dict) -> None:
    """PyQt is GPL-only: the bundle carries the LGPL binding, PySide6, alone."""
    bundle = Path(build["bundle"])
    assert [p for p in bundle.rglob("*") if "pyqt" in p.name.lower()] == []
    assert [m for m in _pyz_modules(bundle / "possync") if m.lower().startswith("pyqt")] == []
    assert next((bundle / "_internal").glob("PySide6/QtWebEngineCore.*"), None)
    listing = subprocess.run(
        ["dpkg-deb", "-c", build["deb"]], capture_output=True, text=True, check=True
    ).stdout
    assert "pyqt" not in listing.lower()


@pytest.mark.slow
@needs_debian_tools
def test_third_party_notice_lists_every_bundled_component(build: dict, tmp_path: Path) -> None:
    bundle = Path(build["bundle"])
    notice = (bundle / "THIRD-PARTY-NOTICES").read_text(encoding="utf-8")
    assert (bundle / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
    # The list before the licence texts: one "name  version  licence" line each.
    table = notice.split("=" * 80)[0]
    rows = {
        line.split()[0].lower(): line.split(None, 2)[2]
        for line in table.splitlines()
        if re.match(r"^\S+\s{2,}\S+\s{2,}\S", line)
    }
    for component in (
        "python",
        "pyinstaller",
        "pyside6_essentials",
        "pyside6_webengine",
        "shiboken6",
        "qtpy",
        "pywebview",
        "aiohttp",
        "sqlite-utils",
        "keyring",
        "zeroconf",
        "cryptography",
    ):
        assert component in rows, component
    assert rows["pyside6_essentials"].startswith("LGPL-3.0")
    assert {name: lic for name, lic in rows.items() if third_party.gpl_only(lic)} == {}
    # Every file and module of the bundle was traced to a component.
    assert "could not tell" not in table
    # The .deb ships the same notice where Debian keeps a package's documents.
    subprocess.run(["dpkg-deb", "-x", build["deb"], str(tmp_path)], check=True)
    shipped = tmp_path / "usr/share/doc/possync/THIRD-PARTY-NOTICES"
    assert shipped.read_text(encoding="utf-8") == notice


@pytest.mark.slow
@needs_debian_tools
def test_deb_metadata(build: dict) -> None:
    fields = {
        name: _deb_field(build["deb"], name)
        for name in ("Package", "Version", "Architecture", "Depends", "Installed-Size")
    }
    assert fields["Package"] == "possync"
    assert fields["Version"] == VERSION
    assert fields["Architecture"] == _arch()
    depends = {re.split(r"[ (]", alt.strip())[0] for alt in re.split(r"[,|]", fields["Depends"])}
    # Computed by dpkg-shlibdeps from the bundle's ELF files.
    assert {"libc6", "libnss3", "libxcb-cursor0", "libgl1", "libssl3", "libsqlite3-0"} <= depends
    assert int(fields["Installed-Size"]) > 100_000


@pytest.mark.slow
@needs_debian_tools
def test_deb_layout_and_desktop_entries(build: dict, tmp_path: Path) -> None:
    listing = subprocess.run(
        ["dpkg-deb", "-c", build["deb"]], capture_output=True, text=True, check=True
    ).stdout
    entries = {line.split()[5].removeprefix("."): line for line in listing.splitlines()}
    for path in (
        "/opt/possync/possync",
        "/opt/possync/bin/possync-shortcuts",
        "/opt/possync/share/possync-autostart.desktop",
        "/usr/share/applications/possync.desktop",
        "/usr/share/xsessions/possync-kiosk.desktop",
        "/usr/share/icons/hicolor/scalable/apps/possync.svg",
        "/usr/share/icons/hicolor/256x256/apps/possync.png",
        "/usr/share/doc/possync/copyright",
        "/usr/share/doc/possync/THIRD-PARTY-NOTICES",
        "/opt/possync/THIRD-PARTY-NOTICES",
        "/opt/possync/LICENSE",
    ):
        assert path in entries, path
    assert "/usr/bin/possync -> /opt/possync/possync" in listing
    assert entries["/opt/possync/possync"].startswith("-rwxr-xr-x root/root")
    control = subprocess.run(
        ["dpkg-deb", "-I", build["deb"]], capture_output=True, text=True, check=True
    ).stdout
    for script in ("prerm", "postrm"):
        assert script in control
    # Nothing to do after unpacking: dpkg's triggers refresh the menu and icon caches, and
    # the desktop icon is the app's to make, as its user (tests/security/test_files.py).
    assert "postinst" not in control
    subprocess.run(["dpkg-deb", "-x", build["deb"], str(tmp_path)], check=True)
    desktop_files = [
        tmp_path / "usr/share/applications/possync.desktop",
        tmp_path / "opt/possync/share/possync-autostart.desktop",
    ]
    for desktop in desktop_files:
        text = desktop.read_text()
        assert "Exec=/opt/possync/possync" in text and "Icon=possync" in text
    # The kiosk session's only app (docs/deploy.md): possync started as a kiosk.
    session = tmp_path / "usr/share/xsessions/possync-kiosk.desktop"
    assert "Exec=/opt/possync/possync --kiosk\n" in session.read_text()
    if shutil.which("desktop-file-validate"):
        proc = subprocess.run(
            ["desktop-file-validate", *map(str, [*desktop_files, session])],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


@pytest.mark.slow
@needs_debian_tools
def test_deb_ships_a_ufw_profile_for_the_peer_port(build: dict, tmp_path: Path) -> None:
    subprocess.run(["dpkg-deb", "-x", build["deb"], str(tmp_path)], check=True)
    subprocess.run(["dpkg-deb", "-e", build["deb"], str(tmp_path / "DEBIAN")], check=True)
    profile = (tmp_path / "etc/ufw/applications.d/possync").read_text()
    assert f"ports={DEFAULT_PEER_PORT}/tcp" in profile.splitlines()
    assert profile.startswith(f"[{firewall.UFW_APP}]\n")
    conffiles = (tmp_path / "DEBIAN/conffiles").read_text().split()
    assert conffiles == [firewall.UFW_PROFILE_PATH]


# ------------------------------------------------------------------------------ installed


@pytest.mark.slow
@needs_debian_tools
@needs_root
def test_installed_self_test_passes(installed: Path, tmp_path: Path) -> None:
    # Started through a symlink, as /usr/bin/possync -> /opt/possync/possync is.
    link = tmp_path / "bin/possync"
    link.parent.mkdir()
    link.symlink_to(installed / "opt/possync/possync")
    proc = _self_test([str(link), "--self-test"], tmp_path, "offscreen")
    assert "FAIL" not in proc.stdout


@pytest.mark.slow
@needs_debian_tools
@needs_root
@pytest.mark.skipif(not shutil.which("xvfb-run"), reason="needs xvfb-run (Debian's xvfb)")
def test_installed_self_test_passes_on_x11(installed: Path, tmp_path: Path) -> None:
    """The xcb platform plugin with the system's X libraries (the .deb's Depends)."""
    app = str(installed / "opt/possync/possync")
    _self_test(["xvfb-run", "-a", app, "--self-test"], tmp_path, "xcb")


@pytest.mark.slow
@needs_debian_tools
@needs_root
def test_installing_writes_nothing_in_user_homes(installed: Path) -> None:
    # waiter has a desktop folder, cook none: both stay as they were.
    homes = sorted(p.relative_to(installed).as_posix() for p in (installed / "home").rglob("*"))
    assert homes == ["home/cook", "home/waiter", "home/waiter/Desktop"]


@pytest.mark.slow
@needs_debian_tools
@needs_root
def test_shortcuts_helper_for_one_user(installed: Path, tmp_path: Path) -> None:
    helper = installed / "opt/possync/bin/possync-shortcuts"
    home = tmp_path / "home"
    (home / "Bureau").mkdir(parents=True)
    (home / ".config").mkdir()
    (home / ".config/user-dirs.dirs").write_text('XDG_DESKTOP_DIR="$HOME/Bureau"\n')
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "DPKG_ROOT": str(installed)}

    def run(*args: str) -> str:
        proc = subprocess.run([str(helper), *args], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    run("desktop", "on")
    assert (home / "Bureau/possync.desktop").is_file()
    run("autostart", "on")
    autostart = home / ".config/autostart/possync.desktop"
    assert "X-Possync-Shortcut=autostart" in autostart.read_text()
    assert "autostart:        on" in run("status")
    run("autostart", "off")
    run("desktop", "off")
    assert not autostart.exists() and not (home / "Bureau/possync.desktop").exists()
    # A launcher the user made themselves is never touched.
    autostart.write_text("[Desktop Entry]\nType=Application\nName=mine\nExec=true\n")
    run("autostart", "on")
    run("autostart", "off")
    assert "Name=mine" in autostart.read_text()


@pytest.mark.slow
@needs_debian_tools
@needs_root
def test_removal_leaves_nothing_behind(build: dict, tmp_path: Path) -> None:
    root = _make_root(tmp_path)
    before = _files(root)
    assert _dpkg(root, "-i", build["deb"]).returncode == 0
    helper = root / "opt/possync/bin/possync-shortcuts"
    env = {**os.environ, "DPKG_ROOT": str(root)}
    subprocess.run([str(helper), "autostart", "on", "--all-users"], env=env, check=True)
    assert (root / "etc/xdg/autostart/possync.desktop").is_file()

    proc = _dpkg(root, "--purge", "possync")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _files(root) == before


# ------------------------------------------------------------------------------ Windows


def test_inno_setup_speaks_the_apps_languages() -> None:
    """English, French and Spanish (Inno Setup's own files), and each of possync's own
    messages in all three."""
    iss = (INSTALLER / "possync.iss").read_text(encoding="utf-8")
    languages = re.findall(r'^Name: "(\w+)"; MessagesFile: "compiler:(.+)"$', iss, re.M)
    assert languages == [
        ("english", "Default.isl"),
        ("french", "Languages\\French.isl"),
        ("spanish", "Languages\\Spanish.isl"),
    ]
    defined = re.findall(r"^(\w+)\.(\w+)=(.+)$", iss, re.M)
    used = set(re.findall(r"\{cm:(\w+)\}", iss)) | set(re.findall(r"CustomMessage\('(\w+)'\)", iss))
    used -= {"CreateDesktopIcon", "AdditionalIcons"}  # Inno Setup's own, translated by it
    for lang, _ in languages:
        assert used <= {name for language, name, _text in defined if language == lang}, lang
    english = {name: text for language, name, text in defined if language == "english"}
    for _language, name, text in defined:  # same arguments in every language
        assert sorted(re.findall(r"%\d", text)) == sorted(re.findall(r"%\d", english[name]))


def test_inno_setup_script_references() -> None:
    """The Windows installer cannot be compiled here: check what it points at."""
    iss = (INSTALLER / "possync.iss").read_text(encoding="utf-8")
    icon = re.search(r"^SetupIconFile=(.+)$", iss, re.M)[1].strip().replace("\\", "/")
    assert (INSTALLER / icon).is_file()
    bundle_dir = re.search(r'#define BundleDir "(.+)"', iss)[1].replace("\\", "/")
    assert (INSTALLER / bundle_dir).resolve() == ROOT / "build/installer/dist/possync"
    assert re.search(r"^AppId=\{\{[0-9A-F-]{36}\}$", iss, re.M)
    assert "DefaultDirName={autopf}\\" in iss
    assert "Tasks: desktopicon" in iss and "{autodesktop}" in iss
    assert "{autostartup}" in iss and "Flags: unchecked" in iss
    assert "runasoriginaluser" in iss  # data under the real user's %LOCALAPPDATA%
    # Setup makes no data folder, shared or per user: the app makes each user's, as them.
    for place in ("[Dirs]", "{commonappdata}", "{localappdata}", "{userappdata}"):
        assert place not in iss, place
    assert "F3017226-FE2A-4295-8BDF-00C3A9A7E4C5" in iss  # WebView2 Runtime's client id
    assert "QTWEBENGINE_DISABLE_SANDBOX=" not in iss
    # The peer port's firewall rule: shell/firewall.py's commands, private networks only,
    # added at install and removed at uninstall; the port is given by the build.
    add = " ".join(firewall.windows_add_rule(0)[1:]).replace("localport=0", "localport={#PeerPort}")
    delete = " ".join(firewall.windows_delete_rule()[1:])
    run = iss[iss.index("[Run]") : iss.index("[UninstallRun]")]
    uninstall_run = iss[iss.index("[UninstallRun]") : iss.index("[UninstallDelete]")]
    assert f'Parameters: "{add}"' in run and f'Parameters: "{delete}"' in run
    assert "profile=private" in add and "profile=public" not in iss
    assert f'Parameters: "{delete}"' in uninstall_run
    assert '{sys}\\netsh.exe' in run and "#error" in iss  # no silent default port
    # The spec builds the console twin the script and the docs talk about.
    assert 'name="possync-console"' in (INSTALLER / "possync.spec").read_text()


# ------------------------------------------------------------------------------ helpers


def _arch() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _deb_field(deb: str, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", deb, name], capture_output=True, text=True, check=True
    ).stdout.strip()


def _pyz_modules(executable: Path) -> set[str]:
    from PyInstaller.archive.readers import CArchiveReader

    archive = CArchiveReader(str(executable))
    return set(archive.open_embedded_archive("PYZ.pyz").toc)
