"""The apt repository folder (installer/apt_repo.py), read by real apt-get over HTTP from a
local static web server, as a tablet reads it: apt sees the package and its version, and
an older installed possync is upgraded; signed, only with the key the tablet trusts.

A tiny stand-in .deb (dpkg-deb --build, a second) takes the place of the real one, so this
runs in seconds; build.sh runs the same module on the real .deb (tests/test_installer.py).
"""

from __future__ import annotations

import functools
import gzip
import http.server
import importlib.util
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("dpkg-deb", "apt-get", "apt-cache", "gpg")),
    reason="needs dpkg-deb, apt-get and gpg (Debian; ./run test installs them)",
)


def _apt_repo():
    spec = importlib.util.spec_from_file_location("apt_repo", ROOT / "installer" / "apt_repo.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["apt_repo"] = module
    spec.loader.exec_module(module)
    return module


apt_repo = _apt_repo()


def fake_deb(
    folder: Path, version: str, package: str = "possync", arch: str = "amd64", extra: str = ""
) -> Path:
    """A possync package with one file and the real package's name (or the fields given,
    unchecked by dpkg-deb: what a hostile .deb carries)."""
    stage = folder / f"stage-{version}"
    (stage / "DEBIAN").mkdir(parents=True)
    (stage / "opt/possync").mkdir(parents=True)
    (stage / "opt/possync/VERSION").write_text(version + "\n")
    (stage / "DEBIAN/control").write_text(
        f"Package: {package}\nVersion: {version}\nArchitecture: {arch}\n"
        "Maintainer: possync developers <packages@possync.invalid>\nSection: misc\n"
        f"Priority: optional\n{extra}Description: stand-in of the possync app\n"
        " Two lines, as the real description has.\n"
    )
    deb = folder / f"possync_{version}_amd64.deb"
    subprocess.run(
        ["dpkg-deb", "--nocheck", "--root-owner-group", "-Zgzip", "--build", str(stage), str(deb)],
        check=True,
        capture_output=True,
    )
    return deb


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """The repository folder and the URL of a static web server serving it."""
    repo = tmp_path / "apt"
    repo.mkdir()
    handler = functools.partial(QuietHandler, directory=str(repo))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield repo, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class Tablet:
    """apt-get and apt-cache on a throwaway state: its own sources.list, lists, cache and
    dpkg status (possync 0.0.9 installed), nothing of the machine's own apt."""

    def __init__(self, home: Path, source: str) -> None:
        self.home = home
        for folder in ("lists/partial", "cache/archives/partial", "etc/preferences.d"):
            (home / folder).mkdir(parents=True, exist_ok=True)
        (home / "sources.list").write_text(source + "\n")
        (home / "status").write_text(
            "Package: possync\nStatus: install ok installed\nVersion: 0.0.9\n"
            "Architecture: amd64\nMaintainer: x <x@x.invalid>\nDescription: old possync\n"
        )
        self.options = [
            f"-oDir::Etc::SourceList={home / 'sources.list'}",
            "-oDir::Etc::SourceParts=/nonexistent",
            f"-oDir::Etc::Preferences={home / 'etc/preferences'}",
            f"-oDir::Etc::PreferencesParts={home / 'etc/preferences.d'}",
            f"-oDir::State::Lists={home / 'lists'}",
            f"-oDir::State::status={home / 'status'}",
            f"-oDir::Cache={home / 'cache'}",
            "-oAPT::Architecture=amd64",
            "-oAPT::Architectures::=amd64",
            "-oDebug::NoLocking=1",
            "-oAcquire::Languages=none",
            "-oAPT::Sandbox::User=root",
        ]

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [tool, *self.options, *args], capture_output=True, text=True, timeout=60
        )

    def update(self) -> subprocess.CompletedProcess:
        return self.run("apt-get", "update")

    def candidate(self) -> str:
        policy = self.run("apt-cache", "policy", "possync").stdout
        return next(line.split()[-1] for line in policy.splitlines() if "Candidate:" in line)

    def upgrade_plan(self) -> str:
        return self.run("apt-get", "-s", "upgrade").stdout


def test_apt_sees_the_package_and_upgrades_an_older_possync(served, tmp_path):
    repo, url = served
    apt_repo.main(["add", str(fake_deb(tmp_path, "0.1.0")), "--repo", str(repo), "--unsigned"])
    tablet = Tablet(tmp_path / "tablet", f"deb [trusted=yes] {url} stable main")
    updated = tablet.update()
    assert updated.returncode == 0, updated.stderr
    assert tablet.candidate() == "0.1.0"
    assert "Inst possync [0.0.9] (0.1.0 possync:stable [amd64])" in tablet.upgrade_plan()


def test_a_new_release_joins_the_pool_and_apt_picks_the_newest(served, tmp_path):
    repo, url = served
    for version in ("0.1.0", "0.2.0"):
        apt_repo.main(["add", str(fake_deb(tmp_path, version)), "--repo", str(repo), "--unsigned"])
    packages = (repo / "dists/stable/main/binary-amd64/Packages").read_text()
    assert packages.count("Package: possync") == 2  # both kept: a tablet can go back
    assert gzip.decompress((repo / "dists/stable/main/binary-amd64/Packages.gz").read_bytes()) \
        == packages.encode()  # fmt: skip
    tablet = Tablet(tmp_path / "tablet", f"deb [trusted=yes] {url} stable main")
    assert tablet.update().returncode == 0
    assert tablet.candidate() == "0.2.0"


@pytest.fixture
def signing_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A throwaway Ed25519 key in its own gpg home (GNUPGHOME), as a CI secret would be;
    the gpg-agent that home starts is stopped after the test."""
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    subprocess.run(
        ["gpg", "--batch", "--passphrase", "", "--quick-gen-key",
         "possync test <packages@possync.invalid>", "ed25519", "sign", "never"],
        check=True, capture_output=True,
    )  # fmt: skip
    listed = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--list-keys"], check=True, capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    yield next(line.split(":")[9] for line in listed.splitlines() if line.startswith("fpr"))
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)


def test_a_signed_repository_is_read_with_the_key_the_tablet_trusts(
    served, tmp_path, signing_key, monkeypatch
):
    repo, url = served
    monkeypatch.setenv("POSSYNC_APT_KEY", signing_key)
    assert apt_repo.main(["add", str(fake_deb(tmp_path, "0.1.0")), "--repo", str(repo)]) == 0
    for name in ("dists/stable/InRelease", "dists/stable/Release.gpg", apt_repo.KEYRING):
        assert (repo / name).is_file(), name
    keyring = tmp_path / "trusted.gpg"
    shutil.copy(repo / apt_repo.KEYRING, keyring)  # what the tablet downloaded once
    tablet = Tablet(tmp_path / "tablet", f"deb [signed-by={keyring}] {url} stable main")
    updated = tablet.update()
    assert updated.returncode == 0 and "NO_PUBKEY" not in updated.stderr, updated.stderr
    assert tablet.candidate() == "0.1.0"


def test_attack_a_repository_changed_after_signing_is_refused_by_apt(
    served, tmp_path, signing_key
):
    repo, url = served
    apt_repo.main(["add", str(fake_deb(tmp_path, "0.1.0")), "--repo", str(repo),
                   "--key", signing_key])  # fmt: skip
    keyring = tmp_path / "trusted.gpg"
    shutil.copy(repo / apt_repo.KEYRING, keyring)
    # Someone with write access to the web server swaps in a package list of their own.
    (tmp_path / "evil").mkdir()
    evil = fake_deb(tmp_path / "evil", "9.9.9")
    apt_repo.add_to_pool([evil], repo)
    lists = repo / "dists/stable/main/binary-amd64"
    (lists / "Packages.gz").unlink()
    (lists / "Packages").write_text(
        apt_repo.read_deb(repo / "pool/main/p/possync" / evil.name, repo).stanza()
    )
    tablet = Tablet(tmp_path / "tablet", f"deb [signed-by={keyring}] {url} stable main")
    tampered = tablet.update()
    assert tampered.returncode != 0 and "Hash Sum mismatch" in tampered.stderr, tampered.stderr
    assert tablet.candidate() == "0.0.9"  # only what is installed: nothing was taken

    # Signed again, but by a key the tablet does not trust: refused as well.
    apt_repo.write_indexes(repo, signing_key)
    unknown = tmp_path / "none.gpg"
    unknown.write_bytes(b"")  # a keyring without the repository's key
    stranger = Tablet(tmp_path / "stranger", f"deb [signed-by={unknown}] {url} stable main")
    refused = stranger.update()
    assert refused.returncode != 0 and "NO_PUBKEY" in refused.stderr, refused.stderr
    assert stranger.candidate() == "0.0.9"


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


@pytest.mark.parametrize(
    ("package", "arch"),
    [("../../../../escaped", "amd64"), ("possync", "../../../../escaped"), ("p/../..", "amd64")],
)
def test_attack_a_deb_whose_control_names_a_path_writes_nothing_outside_the_repo(
    tmp_path, package, arch
):
    repo = tmp_path / "site" / "apt"
    repo.mkdir(parents=True)
    hostile = fake_deb(tmp_path, "0.1.0", package=package, arch=arch)
    before = files_under(tmp_path)
    assert apt_repo.main(["add", str(hostile), "--repo", str(repo), "--unsigned"]) == 1
    assert files_under(tmp_path) == before, "nothing written, inside the repository or out"


def test_attack_a_deb_whose_control_names_another_file_and_hash_is_listed_as_itself(tmp_path):
    repo = tmp_path / "apt"
    lies = (
        "Filename: pool/main/e/evil/evil.deb\nSize: 1\nMD5sum: 00\n"
        "SHA256: 0000\nSHA1: 00\nSHA512: 00\n"
    )
    deb = fake_deb(tmp_path, "0.1.0", extra=lies)
    assert apt_repo.main(["add", str(deb), "--repo", str(repo), "--unsigned"]) == 0
    packages = (repo / "dists/stable/main/binary-amd64/Packages").read_text()
    data = deb.read_bytes()
    assert packages.count("Filename:") == 1
    assert f"Filename: pool/main/p/possync/{deb.name}\n" in packages
    assert f"Size: {len(data)}\n" in packages and "Size: 1\n" not in packages
    assert packages.count("SHA256:") == 1 and "SHA1:" not in packages and "SHA512:" not in packages
    assert "MD5sum: 00\n" not in packages


def test_an_unsigned_repository_is_written_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.delenv("POSSYNC_APT_KEY", raising=False)
    monkeypatch.delenv("POSSYNC_APT_UNSIGNED", raising=False)
    repo = tmp_path / "apt"
    assert apt_repo.main(["add", str(fake_deb(tmp_path, "0.1.0")), "--repo", str(repo)]) == 2
    assert not repo.exists()
    monkeypatch.setenv("POSSYNC_APT_UNSIGNED", "1")
    assert apt_repo.main(["add", str(fake_deb(tmp_path / "b", "0.1.0")), "--repo", str(repo)]) == 0
    assert (repo / "dists/stable/Release").is_file()
    assert not (repo / "dists/stable/InRelease").exists()
