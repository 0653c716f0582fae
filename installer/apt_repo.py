"""An apt repository folder for possync's .deb, to publish on any static web server, so the
tablets update with `apt upgrade` (docs/installer.md, "Updates").

    python installer/apt_repo.py add possync_0.1.0_amd64.deb [more.deb ...] --repo DIR \
        (--key KEYID | --unsigned)

Copies (hard-links when it can) each .deb into ``DIR/pool/main/p/<package>/`` next to
those already there, then writes the indexes from every .deb in the pool:

    DIR/dists/stable/main/binary-<arch>/Packages, Packages.gz
    DIR/dists/stable/Release                      hashes of the indexes
    DIR/dists/stable/InRelease, Release.gpg       signed, with --key (or POSSYNC_APT_KEY)
    DIR/possync-archive-keyring.gpg               the public key, for sources.list signed-by

The indexes are written here, in the format of Debian's repository specification, so no
tool beyond dpkg-deb (part of dpkg) and, for signing, gpg is needed: apt-ftparchive
(apt-utils) is not on every build machine. tests/test_apt_repo.py has real apt-get read
the result. Signing uses gpg's default home or $GNUPGHOME and the key id given; an
unsigned repository is written only when asked (``--unsigned`` or POSSYNC_APT_UNSIGNED=1).

A .deb's control file is not trusted: its ``Package`` and ``Architecture`` name folders
here, so they must be plain Debian names (a ``../`` would write outside the repository),
and the fields this script writes itself (``Filename``, ``Size``, the hashes) are dropped
from the copied control text, so a .deb cannot point apt at another file.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

SUITE = "stable"
COMPONENT = "main"
ORIGIN = "possync"
KEYRING = "possync-archive-keyring.gpg"
HASHES = (("MD5Sum", "md5"), ("SHA256", "sha256"))
PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
ARCHITECTURE = re.compile(r"[a-z0-9-]+")
# Fields of a Packages entry that say where the file is and what it hashes to: written
# here from the file itself, never copied from a .deb's control.
LOCATING_FIELDS = ("Filename", "Size", "MD5sum")


@dataclass(frozen=True)
class Deb:
    """A .deb in the pool: its control stanza, path from the repository's root and hashes."""

    control: str
    filename: str
    size: int
    md5: str
    sha256: str

    @property
    def architecture(self) -> str:
        return checked(field(self.control, "Architecture"), ARCHITECTURE, "Architecture")

    @property
    def package(self) -> str:
        return checked(field(self.control, "Package"), PACKAGE_NAME, "Package")

    def stanza(self) -> str:
        """The Packages entry: the package's control fields, then where and what it is."""
        located = (
            f"Filename: {self.filename}\nSize: {self.size}\n"
            f"MD5sum: {self.md5}\nSHA256: {self.sha256}\n"
        )
        return self.control.rstrip("\n") + "\n" + located


def field(control: str, name: str) -> str:
    for line in control.splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return value.strip()
    raise ValueError(f"the control file has no {name} field")


def checked(value: str, pattern: re.Pattern[str], name: str) -> str:
    """``value`` when it is a plain Debian name; ValueError otherwise."""
    if not pattern.fullmatch(value):
        raise ValueError(f"the control file's {name} {value!r} is not a plain Debian name")
    return value


def without_locating_fields(control: str) -> str:
    """The control text without the fields a Packages entry gets from the file itself."""
    kept = []
    for line in control.splitlines(keepends=True):
        key = line.partition(":")[0]
        if key in LOCATING_FIELDS or key.upper().startswith("SHA"):
            continue
        kept.append(line)
    return "".join(kept)


def read_deb(path: Path, root: Path) -> Deb:
    control = subprocess.run(
        ["dpkg-deb", "--field", str(path)], capture_output=True, text=True, check=True
    ).stdout
    data = path.read_bytes()
    return Deb(
        without_locating_fields(control),
        path.relative_to(root).as_posix(),
        len(data),
        hashlib.md5(data).hexdigest(),
        hashlib.sha256(data).hexdigest(),
    )


def add_to_pool(debs: list[Path], repo: Path) -> None:
    """Each .deb into pool/main/<initial>/<package>/, hard-linked when on one file system.
    Nothing is written for a .deb whose name or architecture is not a plain Debian name."""
    pool = (repo / "pool").resolve()
    for deb in debs:
        read = read_deb(deb, deb.parent)
        package, _ = read.package, read.architecture  # both checked before any write
        folder = (pool / COMPONENT / package[0] / package).resolve()
        if not folder.is_relative_to(pool):
            raise ValueError(f"{deb.name} would be written outside {pool}")
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / deb.name
        target.unlink(missing_ok=True)
        try:
            os.link(deb, target)
        except OSError:
            shutil.copy2(deb, target)


def write_indexes(repo: Path, key: str | None = None) -> list[Path]:
    """Packages for each architecture in the pool, then Release (signed with ``key``)."""
    debs = [read_deb(p, repo) for p in sorted((repo / "pool").rglob("*.deb"))]
    if not debs:
        raise ValueError(f"no .deb in {repo / 'pool'}")
    dist = repo / "dists" / SUITE
    if dist.exists():
        shutil.rmtree(dist)
    indexes: list[Path] = []
    for arch in sorted({deb.architecture for deb in debs}):
        folder = dist / COMPONENT / f"binary-{arch}"
        folder.mkdir(parents=True)
        text = "\n".join(d.stanza() for d in debs if d.architecture == arch).encode()
        (folder / "Packages").write_bytes(text)
        (folder / "Packages.gz").write_bytes(gzip.compress(text, 9, mtime=0))
        indexes += [folder / "Packages", folder / "Packages.gz"]
    release = dist / "Release"
    release.write_text(release_text(dist, indexes, sorted({d.architecture for d in debs})))
    if key:
        sign(release, key, repo / KEYRING)
    return indexes


def release_text(dist: Path, indexes: list[Path], architectures: list[str]) -> str:
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or time.time())
    lines = [
        f"Origin: {ORIGIN}",
        f"Label: {ORIGIN}",
        f"Suite: {SUITE}",
        f"Codename: {SUITE}",
        f"Date: {formatdate(epoch, usegmt=True)}",
        f"Architectures: {' '.join(architectures)}",
        f"Components: {COMPONENT}",
        "Description: possync, live sync for Odoo POS Restaurant tablets",
    ]
    for title, algorithm in HASHES:
        lines.append(f"{title}:")
        for index in indexes:
            data = index.read_bytes()
            digest = hashlib.new(algorithm, data).hexdigest()
            lines.append(f" {digest} {len(data):>16} {index.relative_to(dist).as_posix()}")
    return "\n".join(lines) + "\n"


def sign(release: Path, key: str, keyring: Path) -> None:
    """InRelease (clear-signed) and Release.gpg (detached), and the public key beside."""
    gpg = ["gpg", "--batch", "--yes", "--local-user", key, "--digest-algo", "SHA512"]
    folder = release.parent
    subprocess.run([*gpg, "--clearsign", "-o", folder / "InRelease", release], check=True)
    detached = folder / "Release.gpg"
    subprocess.run([*gpg, "--armor", "--detach-sign", "-o", detached, release], check=True)
    subprocess.run(["gpg", "--batch", "--yes", "--export", "-o", keyring, key], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add .debs to the pool and write the indexes")
    add.add_argument("debs", nargs="+", type=Path)
    add.add_argument("--repo", type=Path, required=True, help="the repository folder")
    add.add_argument(
        "--key",
        default=os.environ.get("POSSYNC_APT_KEY") or None,
        help="gpg key id to sign with (default: $POSSYNC_APT_KEY)",
    )
    add.add_argument(
        "--unsigned",
        action="store_true",
        default=os.environ.get("POSSYNC_APT_UNSIGNED") == "1",
        help="write an unsigned repository when no key is given ($POSSYNC_APT_UNSIGNED=1)",
    )
    args = parser.parse_args(argv)
    if not args.key and not args.unsigned:
        print(
            "apt_repo: no signing key: give --key (or POSSYNC_APT_KEY), "
            "or --unsigned (POSSYNC_APT_UNSIGNED=1) for an unsigned repository",
            file=sys.stderr,
        )
        return 2
    try:
        add_to_pool(args.debs, args.repo)
        write_indexes(args.repo, args.key)
    except (OSError, ValueError, subprocess.CalledProcessError) as exc:
        print(f"apt_repo: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
