#!/usr/bin/env bash
# Get a free-threaded CPython 3.13 ("3.13t", built with --disable-gil) on this machine.
#
# No free-threaded interpreter is preinstalled and python.org is unreachable, so we build one
# from Debian's source package `python3.13` (suite trixie, component main) and cache it, so it
# is built once per machine (a couple of minutes on 2 cores).
#
# Usage:  FT=$(bash scripts/get-freethreaded-python.sh | tail -n1)
#
# The last line printed on stdout is the absolute path of the python3.13t binary; progress
# messages go to stderr.  Cache location: ${GILBENCH_FT_PREFIX:-$HOME/.cache/gilbench/cpython-3.13t}
set -euo pipefail

PREFIX="${GILBENCH_FT_PREFIX:-$HOME/.cache/gilbench/cpython-3.13t}"
FT="$PREFIX/bin/python3.13t"
SOURCES_FILE=/etc/apt/sources.list.d/debian.sources
DEV_PACKAGES=(build-essential pkg-config xz-utils
              libssl-dev libffi-dev zlib1g-dev libbz2-dev liblzma-dev libsqlite3-dev)

log() { printf '[get-freethreaded-python] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# True if $FT exists, runs, is free-threaded and has pip.
cache_ok() {
    [[ -x "$FT" ]] || return 1
    "$FT" -c 'import sys, sysconfig; sys.exit(0 if sysconfig.get_config_var("Py_GIL_DISABLED") == 1 else 1)' \
        >/dev/null 2>&1 || return 1
    "$FT" -m pip --version >/dev/null 2>&1 || return 1
}

if cache_ok; then
    echo "$FT"
    exit 0
fi

mkdir -p "$(dirname "$PREFIX")"

# Serialise concurrent runs on the same machine (several jobs may call this at once).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$PREFIX.lock"
    log "waiting for lock $PREFIX.lock"
    flock 9
    if cache_ok; then  # another run finished the build while we waited
        echo "$FT"
        exit 0
    fi
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gilbench-ft.XXXXXX")"
STAGE="$PREFIX.stage.$$"  # same filesystem as PREFIX, so the final mv is a rename
BUILD_LOG="$WORK/build.log"
cleanup() { rm -rf "$WORK" "$STAGE"; }
trap cleanup EXIT

# Run a command with its output going to the build log; on failure show the log tail and stop.
run_logged() {
    local what="$1"; shift
    log "$what (log: $BUILD_LOG)"
    if ! "$@" >>"$BUILD_LOG" 2>&1; then
        log "$what FAILED; last 60 lines of the log (URLs redacted):"
        # apt output names the mirror; redact URLs and apt list file names derived from them.
        tail -n 60 "$BUILD_LOG" | sed -E 's#[a-z]+://[^ ]+#<URL>#g; s#/lists/partial/[^ ]+#/lists/partial/<FILE>#g' >&2
        exit 1
    fi
}

# --- 1. build dependencies (-dev libraries) -----------------------------------------------
missing=()
for pkg in "${DEV_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
    [[ $(id -u) -eq 0 ]] || die "missing packages ${missing[*]} and not root; install them first"
    log "installing missing build dependencies: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y "${missing[@]}" >>"$BUILD_LOG" 2>&1; then
        run_logged "apt-get update" apt-get update
        run_logged "apt-get install ${missing[*]}" apt-get install -y "${missing[@]}"
    fi
fi

# --- 2. fetch the CPython source from Debian's archive, with a private apt config ----------
# The mirror URI is read from the system's sources file at run time (never hard-coded/printed).
[[ -r "$SOURCES_FILE" ]] || die "$SOURCES_FILE not readable; cannot find the Debian mirror"
URI="$(awk '/^URIs:/ {print $2; exit}' "$SOURCES_FILE")"
[[ -n "$URI" ]] || die "no URIs: line in $SOURCES_FILE"

APT_DIR="$WORK/apt"
mkdir -p "$APT_DIR/lists/partial" "$WORK/src"
echo "deb-src $URI trixie main" >"$APT_DIR/sources.list"
APT_OPTS=(-o "Dir::Etc::sourcelist=$APT_DIR/sources.list"
          -o "Dir::Etc::sourceparts=-"
          -o "Dir::State::Lists=$APT_DIR/lists"
          -o "Acquire::Check-Valid-Until=false")  # the mirror may be a dated snapshot

run_logged "apt-get update (private source list, trixie deb-src)" apt-get "${APT_OPTS[@]}" update
(cd "$WORK/src" && run_logged "apt-get source --download-only python3.13" \
    apt-get "${APT_OPTS[@]}" source --download-only python3.13)

shopt -s nullglob
tarballs=("$WORK"/src/python3.13_3.13.*.orig.tar.xz)
shopt -u nullglob
((${#tarballs[@]} == 1)) || die "expected one python3.13_3.13.*.orig.tar.xz, found ${#tarballs[@]}"
TARBALL="${tarballs[0]}"
VERSION="$(basename "$TARBALL" .orig.tar.xz)"; VERSION="${VERSION#python3.13_}"
log "got CPython $VERSION source"

# --- 3. build and install ----------------------------------------------------------------
tar -C "$WORK" -xf "$TARBALL"
SRC="$WORK/Python-$VERSION"
[[ -d "$SRC" ]] || die "tarball did not unpack to Python-$VERSION"

# No --enable-optimizations (PGO+LTO): it makes the build several times slower, too slow for
# CI; the benchmarks compare ratios measured on the same build, so a plain -O build is fine.
(cd "$SRC" && run_logged "configure --disable-gil" ./configure --disable-gil --prefix="$PREFIX")
(cd "$SRC" && run_logged "make -j$(nproc)" make -j"$(nproc)")
# Install into a staging root (DESTDIR) so an interrupted build never leaves a half-installed
# PREFIX; the install is configured for the final PREFIX (shebangs of pip etc. point there).
rm -rf "$STAGE"
(cd "$SRC" && run_logged "make install" make install DESTDIR="$STAGE")
[[ -x "$STAGE$PREFIX/bin/python3.13t" ]] || die "make install did not produce bin/python3.13t"

rm -rf "$PREFIX"
mv "$STAGE$PREFIX" "$PREFIX"

# --- 4. verify (pip included) --------------------------------------------------------------
if ! "$FT" -m pip --version >/dev/null 2>&1; then
    run_logged "ensurepip" "$FT" -m ensurepip --upgrade
fi
if ! cache_ok; then
    rm -rf "$PREFIX"
    die "built interpreter failed verification (free-threaded + pip); removed $PREFIX"
fi
log "built $("$FT" -c 'import sys; print(sys.version.split()[0])') free-threaded in $PREFIX"
echo "$FT"
