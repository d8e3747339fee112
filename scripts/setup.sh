#!/usr/bin/env bash
# Set up vaxclean on a fresh machine: a virtualenv with the pinned packages, and the Delta Lake jars
# fetched once from Maven Central into ~/.cache/vaxclean/jars (VAXCLEAN_JARS_DIR to move it).
# Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v java >/dev/null 2>&1; then
  echo "vaxclean setup: Java 17 or newer is needed (Debian: apt-get install openjdk-17-jre-headless)" >&2
  exit 2
fi
PY=""
for candidate in python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    PY=$candidate; break
  fi
done
if [ -z "$PY" ]; then
  echo "vaxclean setup: Python 3.11 is needed" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.vaxclean-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
  touch "$stamp"
fi
.venv/bin/vaxclean setup
