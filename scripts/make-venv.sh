#!/usr/bin/env bash
# Make a virtualenv for any Python and install gilbench (with its test extras) into it, built
# from this checkout, so `DIR/bin/python -m gilbench run` measures that interpreter.
#
# Usage:  bash scripts/make-venv.sh PYTHON DIR
#   PYTHON  the interpreter (e.g. /root/.pyenv/versions/3.13.0/bin/python3, or a 3.13t binary)
#   DIR     the virtualenv to create (re-created if it exists)
# The last line on stdout is DIR/bin/python; progress goes to stderr.
#
# The project is installed with `pip install "SNAPSHOT[test]"` from a snapshot of the source tree
# (tracked and untracked-but-not-ignored files), not from the tree itself: pip builds in-tree,
# and several people (or CI jobs) may be building or editing the tree at the same moment; the
# snapshot also keeps stale ext/*.c and *.so files of another interpreter out of the build.
set -euo pipefail

log() { printf '[make-venv] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

(($# == 2)) || die "usage: bash scripts/make-venv.sh PYTHON DIR"
PYTHON="$1"
DIR="$2"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

command -v "$PYTHON" >/dev/null 2>&1 || [[ -x "$PYTHON" ]] || die "no such interpreter: $PYTHON"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
    || die "$PYTHON is older than 3.10, which gilbench requires"

SNAP="$(mktemp -d "${TMPDIR:-/tmp}/gilbench-src.XXXXXX")"
trap 'rm -rf "$SNAP"' EXIT

# --- 1. snapshot the source tree ---------------------------------------------------------------
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # tracked + untracked files that .gitignore does not exclude (no builds, venvs, results)
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' f; do [[ -e "$f" ]] && printf '%s\0' "$f"; done \
        | tar --null -T - -cf -) | tar -C "$SNAP" -xf -
else
    tar -C "$ROOT" --exclude=.git --exclude='*.so' --exclude='ext/*.c' --exclude=build \
        --exclude='*.egg-info' --exclude='.venv*' --exclude=__pycache__ -cf - . | tar -C "$SNAP" -xf -
fi
[[ -f "$SNAP/pyproject.toml" ]] || die "snapshot of $ROOT has no pyproject.toml"

# --- 2. the virtualenv -------------------------------------------------------------------------
log "creating $DIR with $("$PYTHON" -c 'import sys; print(sys.version.split()[0])') ($PYTHON)"
"$PYTHON" -m venv --clear "$DIR"
VPY="$DIR/bin/python"
[[ -x "$VPY" ]] || die "venv creation did not produce $VPY"

# --- 3. install --------------------------------------------------------------------------------
log "pip install \".[test]\" (builds the Cython extensions for this interpreter)"
# --prefer-binary: the newest NumPy may have no wheel for this interpreter (NumPy 2.5 publishes
# none for 3.13t; 2.4 does), and pip would then build it from source for a quarter of an hour.
"$VPY" -m pip install -q --disable-pip-version-check --prefer-binary "$SNAP[test]" >&2

# --- 4. check: the package imports from the venv, with the compiled extensions ----------------
# (from / so that nothing but the installed copy can be imported)
(cd / && "$VPY" - <<'PY'
import sys
import gilbench
from gilbench import host
ext = host.extension_build()
gil = "enabled" if host.gil_enabled() else "disabled"
compiled = "compiled" if ext["compiled"] else "MISSING: " + ext["reason"]
print(f"[make-venv] gilbench {gilbench.__version__} in {sys.prefix}: build {host.build_name()}, "
      f"GIL {gil}, extensions {compiled}", file=sys.stderr)
sys.exit(0 if ext["compiled"] else 1)
PY
) || die "gilbench installed in $DIR but its compiled extensions do not import"
echo "$VPY"
