#!/usr/bin/env bash
# Build the possync bundle (PyInstaller, one folder, Qt backend), its tarball, the .deb
# and the apt repository folder holding it.
#
#   installer/build.sh [--untrimmed] [--bundle-only] [--lint]
#
#   --untrimmed    no Qt trimming, system libraries bundled (to measure what trimming
#                  saves); implies --bundle-only and builds into <build dir>-untrimmed
#   --bundle-only  the bundle and its tarball, no .deb
#   --lint         run lintian on the .deb when it is installed (reports, never fails)
#
# Environment:
#   PYTHON                 the Python with possync and PyInstaller (default .venv/bin/python)
#   POSSYNC_BUILD_DIR      where everything goes (default build/installer, outside git)
#   POSSYNC_DEB_XZ_LEVEL   xz level of the .deb (default 6: about 3 min here; 1: 30 s, +15 MB)
#   POSSYNC_MAINTAINER     the .deb's Maintainer field
#   POSSYNC_LOCALES        Chromium UI languages kept in the bundle (see possync.spec)
#   POSSYNC_APT_KEY        gpg key id that signs the apt repository
#   POSSYNC_APT_UNSIGNED   1: write the apt repository unsigned when there is no key
#                          (neither: no apt repository is written)
#
# Needs: dpkg-dev (dpkg-shlibdeps), binutils (PyInstaller's strip), tar, gzip, xz; gpg to sign.
# Its last line is JSON: paths and sizes (MB = 2^20 bytes, as `du -m`), seconds taken.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE="$ROOT/installer"
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
OUT=${POSSYNC_BUILD_DIR:-$ROOT/build/installer}
XZ_LEVEL=${POSSYNC_DEB_XZ_LEVEL:-6}
MAINTAINER=${POSSYNC_MAINTAINER:-possync developers <packages@possync.invalid>}

untrimmed=no
bundle_only=no
lint=no
for arg in "$@"; do
    case "$arg" in
        --untrimmed) untrimmed=yes bundle_only=yes ;;
        --bundle-only) bundle_only=yes ;;
        --lint) lint=yes ;;
        *)
            sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
            exit 2
            ;;
    esac
done
if [ "$untrimmed" = yes ]; then
    OUT="$OUT-untrimmed"
    export POSSYNC_TRIM=0 POSSYNC_BUNDLE_SYSTEM_LIBS=1
fi

now() { date +%s%N; }
since() { echo $((($(now) - $1) / 1000000)); } # milliseconds
say() { echo "build.sh: $*" >&2; }
fail() {
    say "FAILED: $*"
    exit 1
}

started=$(now)
VERSION=$("$PYTHON" -c 'import tomllib,sys; print(tomllib.load(open(sys.argv[1],"rb"))["project"]["version"])' "$ROOT/pyproject.toml")
ARCH=$(dpkg --print-architecture 2>/dev/null || uname -m)
mkdir -p "$OUT"

# ------------------------------------------------------------------------------ bundle
say "PyInstaller: possync $VERSION into $OUT/dist (log: $OUT/pyinstaller.log)"
t0=$(now)
if ! (cd "$ROOT" && "$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$OUT/dist" --workpath "$OUT/work" "$HERE/possync.spec") >"$OUT/pyinstaller.log" 2>&1; then
    tail -n 40 "$OUT/pyinstaller.log" >&2
    fail "PyInstaller"
fi
pyinstaller_ms=$(since "$t0")
BUNDLE="$OUT/dist/possync"
[ -x "$BUNDLE/possync" ] || fail "no executable at $BUNDLE/possync"
[ -s "$BUNDLE/THIRD-PARTY-NOTICES" ] || fail "no third-party notice in $BUNDLE"
find "$BUNDLE" -xtype l | grep -q . && fail "dangling symlinks in the bundle: $(find "$BUNDLE" -xtype l)"
# Shared libraries need no execute bit (PyInstaller copies Qt's 0755 ones as they are).
find "$BUNDLE/_internal" -type f -name '*.so*' -perm /111 -exec chmod 0644 {} +

# The tarball is also the measure of the bundle's compressed size. It is made in the
# background while the .deb is built, once the bundle has been hard-linked into the .deb's
# tree (linking changes the files' ctime, which tar would report as a change).
TARBALL="$OUT/possync-$VERSION-linux-$ARCH.tar.gz"
start_tarball() {
    tar -C "$OUT/dist" -czf "$TARBALL.tmp" possync &
    tar_pid=$!
}

# ------------------------------------------------------------------------------ .deb
DEB=""
deb_ms=0
if [ "$bundle_only" = no ]; then
    t0deb=$(now)
    # dpkg-shlibdeps wants the tree at debian/<package> beside debian/control.
    WORK="$OUT/deb"
    STAGE="$WORK/debian/possync"
    rm -rf "$WORK"
    mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" \
        "$STAGE/usr/share/applications" "$STAGE/usr/share/xsessions" "$STAGE/usr/share/doc/possync" \
        "$STAGE/usr/share/icons/hicolor/scalable/apps" "$STAGE/usr/share/icons/hicolor/256x256/apps" \
        "$STAGE/etc/ufw/applications.d"
    printf 'Source: possync\n\nPackage: possync\nArchitecture: any\n' >"$WORK/debian/control"

    # The bundle, hard-linked (same file system) rather than copied: nothing below
    # changes a file of it.
    cp -al "$BUNDLE" "$STAGE/opt/possync" 2>/dev/null || cp -a "$BUNDLE" "$STAGE/opt/possync"
    install -d -m 0755 "$STAGE/opt/possync/bin" "$STAGE/opt/possync/share"
    install -m 0755 "$HERE/linux/possync-shortcuts" "$STAGE/opt/possync/bin/possync-shortcuts"
    install -m 0644 "$HERE/linux/possync-autostart.desktop" "$STAGE/opt/possync/share/"
    ln -s /opt/possync/possync "$STAGE/usr/bin/possync"
    ln -s /opt/possync/bin/possync-shortcuts "$STAGE/usr/bin/possync-shortcuts"
    install -m 0644 "$HERE/linux/possync.desktop" "$STAGE/usr/share/applications/possync.desktop"
    # A login-screen session whose only app is possync in kiosk mode (docs/deploy.md).
    install -m 0644 "$HERE/linux/possync-kiosk.desktop" "$STAGE/usr/share/xsessions/possync-kiosk.desktop"
    install -m 0644 "$HERE/icons/possync.svg" "$STAGE/usr/share/icons/hicolor/scalable/apps/possync.svg"
    install -m 0644 "$ROOT/shell/static/possync.png" "$STAGE/usr/share/icons/hicolor/256x256/apps/possync.png"
    install -m 0644 "$HERE/linux/debian/copyright" "$STAGE/usr/share/doc/possync/copyright"
    install -m 0644 "$BUNDLE/THIRD-PARTY-NOTICES" "$STAGE/usr/share/doc/possync/THIRD-PARTY-NOTICES"
    {
        printf 'possync (%s) stable; urgency=medium\n\n  * possync %s.\n\n' "$VERSION" "$VERSION"
        printf ' -- %s  %s\n' "$MAINTAINER" "$(date -R -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")"
    } | gzip -9n >"$STAGE/usr/share/doc/possync/changelog.gz"
    chmod 0644 "$STAGE/usr/share/doc/possync/changelog.gz"
    # The peer port for ufw (`ufw allow possync`), made from the agent's default port; a
    # conffile, so an administrator's edit survives upgrades.
    (cd "$ROOT" && "$PYTHON" -m shell.firewall ufw-profile) >"$STAGE/etc/ufw/applications.d/possync"
    chmod 0644 "$STAGE/etc/ufw/applications.d/possync"
    echo /etc/ufw/applications.d/possync >"$STAGE/DEBIAN/conffiles"
    chmod 0644 "$STAGE/DEBIAN/conffiles"
    for script in prerm postrm; do
        install -m 0755 "$HERE/linux/debian/$script" "$STAGE/DEBIAN/$script"
    done
    start_tarball

    # Depends: the system libraries the bundle links against, found the Debian way.
    say "dpkg-shlibdeps (log: $OUT/shlibdeps.log)"
    mapfile -d '' elf_files < <(
        find "$STAGE/opt/possync" -type f -print0 | while IFS= read -r -d '' f; do
            [ "$(head -c 4 "$f" | tr -d '\0')" = $'\x7fELF' ] && printf '%s\0' "${f#"$WORK"/}"
        done
    )
    [ "${#elf_files[@]}" -gt 0 ] || fail "no ELF files in the bundle"
    shlibs=$(cd "$WORK" && dpkg-shlibdeps -O \
        -l"debian/possync/opt/possync/_internal" \
        -l"debian/possync/opt/possync/_internal/PySide6/Qt/lib" \
        "${elf_files[@]/#/-e}" 2>"$OUT/shlibdeps.log") || {
        tail -n 20 "$OUT/shlibdeps.log" >&2
        fail "dpkg-shlibdeps"
    }
    depends=$(printf '%s\n' "$shlibs" | sed -n 's/^shlibs:Depends=//p')
    [ -n "$depends" ] || fail "dpkg-shlibdeps found no dependencies"

    installed_kb=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
    sed -e "s|@VERSION@|$VERSION|" -e "s|@ARCH@|$ARCH|" -e "s|@MAINTAINER@|$MAINTAINER|" \
        -e "s|@INSTALLED_SIZE@|$installed_kb|" -e "s|@DEPENDS@|$depends|" \
        "$HERE/linux/debian/control.in" >"$STAGE/DEBIAN/control"
    (cd "$STAGE" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | LC_ALL=C sort -z |
        xargs -0 md5sum) >"$STAGE/DEBIAN/md5sums"
    chmod 0644 "$STAGE/DEBIAN/control" "$STAGE/DEBIAN/md5sums"

    DEB="$OUT/possync_${VERSION}_${ARCH}.deb"
    say "dpkg-deb: xz -$XZ_LEVEL"
    dpkg-deb --root-owner-group -Zxz -z"$XZ_LEVEL" --build "$STAGE" "$DEB.tmp" >/dev/null
    mv -f "$DEB.tmp" "$DEB"
    deb_ms=$(since "$t0deb")

    # The apt repository: this .deb joins the pool (earlier ones stay), the indexes are
    # written again; publish the folder on any static web server (docs/installer.md).
    # Signed with POSSYNC_APT_KEY; unsigned only when POSSYNC_APT_UNSIGNED=1 asks for it
    # (tablets then need [trusted=yes]); with neither, no apt folder is written.
    if [ -n "${POSSYNC_APT_KEY:-}" ] || [ "${POSSYNC_APT_UNSIGNED:-}" = 1 ]; then
        APT_REPO="$OUT/apt"
        say "apt repository: $APT_REPO${POSSYNC_APT_KEY:+ (signed by $POSSYNC_APT_KEY)}"
        "$PYTHON" "$HERE/apt_repo.py" add "$DEB" --repo "$APT_REPO" ||
            fail "apt repository"
    else
        say "apt repository: skipped (no POSSYNC_APT_KEY; POSSYNC_APT_UNSIGNED=1 writes it unsigned)"
    fi
fi

[ "$bundle_only" = yes ] && start_tarball
wait "$tar_pid" || fail "tar"
mv -f "$TARBALL.tmp" "$TARBALL"

if [ "$lint" = yes ] && [ -n "$DEB" ]; then
    if command -v lintian >/dev/null; then
        say "lintian:"
        lintian --tag-display-limit 0 "$DEB" >&2 || true
    else
        say "lintian is not installed; skipped"
    fi
fi

total_ms=$(since "$started")
"$PYTHON" - "$BUNDLE" "$TARBALL" "$DEB" "${APT_REPO:-}" "$pyinstaller_ms" "$deb_ms" "$total_ms" \
    "$untrimmed" <<'EOF'
import json
import os
import sys

bundle, tarball, deb, apt_repo, pyinstaller_ms, deb_ms, total_ms, untrimmed = sys.argv[1:]
MB = 1024 * 1024


def tree_bytes(path):
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(folder, name)
            if not os.path.islink(full):
                total += os.path.getsize(full)
    return total


def mb(size):
    return round(size / MB, 1)


print(
    json.dumps(
        {
            "trimmed": untrimmed != "yes",
            "bundle": bundle,
            "bundle_mb": mb(tree_bytes(bundle)),
            "bundle_tar_gz": tarball,
            "bundle_tar_gz_mb": mb(os.path.getsize(tarball)),
            "deb": deb or None,
            "deb_mb": mb(os.path.getsize(deb)) if deb else None,
            "apt": apt_repo or None,
            "pyinstaller_s": round(int(pyinstaller_ms) / 1000, 1),
            "deb_s": round(int(deb_ms) / 1000, 1),
            "total_s": round(int(total_ms) / 1000, 1),
        }
    )
)
EOF
