#!/usr/bin/env bash
# Second command of the README (and what CI runs): set everything up, then the whole test suite,
# slow end-to-end tests, the kill chain and the cluster run included, in two test processes
# (pytest-xdist; tests/conftest.py says how the work is shared between them).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install-system-deps.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest -n 2 --no-loadscope-reorder "$@"
