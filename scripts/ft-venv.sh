#!/usr/bin/env bash
# Make a virtualenv on a free-threaded CPython (3.13t) with gilbench installed in it.
#
# Usage:  bash scripts/ft-venv.sh [DIR]        (DIR defaults to ./.venv-ft)
# The interpreter comes from scripts/get-freethreaded-python.sh (built once per machine and
# cached); the install is scripts/make-venv.sh's (`pip install ".[test]"`; NumPy publishes
# cp313t wheels). The last line on stdout is DIR/bin/python. Then, for example:
#   gilbench run --python "$(bash scripts/ft-venv.sh /tmp/ft | tail -n1)" --python "$(command -v python3)"
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="${1:-.venv-ft}"

FT="$(bash "$HERE/get-freethreaded-python.sh" | tail -n1)"
[[ -x "$FT" ]] || { echo "[ft-venv] ERROR: get-freethreaded-python.sh gave no interpreter" >&2; exit 1; }
exec bash "$HERE/make-venv.sh" "$FT" "$DIR"
