#!/usr/bin/env bash
# First command of the README: set everything up, then run the whole pipeline on the bundled
# sample data (local Spark, Delta tables on local disk under out/demo/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Review-list row keys are signed with a secret from the environment. The demo uses a fixed,
# public one; production sets VAXCLEAN_HMAC_SECRET from the data center's secret store.
export VAXCLEAN_HMAC_SECRET="${VAXCLEAN_HMAC_SECRET:-demo-secret-not-for-production}"
.venv/bin/vaxclean run --config conf/sample.yaml \
  --ledger sample/ledger.csv --register sample/register.csv --reports sample/facility_reports.csv \
  --warehouse out/demo/warehouse --out out/demo "$@"
# Counts, headline figures and charts: out/demo/report/report.html and summary.xlsx.
.venv/bin/vaxclean report --config conf/sample.yaml --warehouse out/demo/warehouse --out out/demo
