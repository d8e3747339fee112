#!/usr/bin/env bash
# Second command of the README (and what CI runs): set everything up, then the whole test suite,
# slow end-to-end tests included, in two test processes (pytest-xdist; tests/conftest.py says how
# the work is shared between them), the kill chain and the cluster run included (README, Tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install-system-deps.sh
# A class-data archive of Spark's classes (vaxclean/class_archive.py; 90 s, once): each local Spark
# process of the suite (test sessions, command-line runs, the kill chain's, notebook kernels) then
# starts ~8 s sooner.
.venv/bin/vaxclean setup --class-archive
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest -n 2 --dist loadscope --no-loadscope-reorder "$@"
