#!/usr/bin/env bash
# CI: run gilbench's test suite under a free-threaded CPython (3.13t), against an installed copy.
#
# Usage:  bash scripts/ci-freethreaded.sh [extra pytest arguments]
#   1. gets the 3.13t interpreter (scripts/get-freethreaded-python.sh: built once per machine,
#      cached under ~/.cache/gilbench),
#   2. makes a fresh virtualenv in a temporary directory and installs the project there with
#      `pip install ".[test]"` (scripts/make-venv.sh),
#   3. runs `python -m pytest tests -q -x -p no:cacheprovider` from that temporary directory, so
#      only the installed package is importable (never the source tree), with PYTHON_GIL unset
#      so the GIL stays off unless something turns it back on, which the tests check.
# Tests that need the free-threaded build (tests/test_freethreaded.py) run here and skip, with
# the reason, on a default build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf '[ci-freethreaded] %s\n' "$*" >&2; }

FT="$(bash "$ROOT/scripts/get-freethreaded-python.sh" | tail -n1)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gilbench-ci-ft.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

VPY="$(bash "$ROOT/scripts/make-venv.sh" "$FT" "$WORK/venv" | tail -n1)"

cd "$WORK"  # not the source tree: `import gilbench` must find the installed copy
env -u PYTHON_GIL "$VPY" - <<'PY'
import sys, sysconfig
assert sysconfig.get_config_var("Py_GIL_DISABLED"), "not a free-threaded interpreter"
print(f"[ci-freethreaded] {sys.executable}: Python {sys.version.split()[0]}, free-threaded, "
      f"GIL {'enabled' if sys._is_gil_enabled() else 'disabled'}", file=sys.stderr)
PY
log "python -m pytest $ROOT/tests -q -x -p no:cacheprovider $*"
env -u PYTHON_GIL "$VPY" -m pytest "$ROOT/tests" -q -x -p no:cacheprovider "$@"
