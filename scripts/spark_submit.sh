#!/usr/bin/env bash
# Run one vaxclean job through spark-submit, the way the data center runs it:
#
#   scripts/spark_submit.sh [spark-submit options] STEP [job flags]
#
#   scripts/spark_submit.sh run --config conf/cluster.yaml --ledger L --register R --warehouse W --out O
#   scripts/spark_submit.sh --master yarn --conf spark.sql.shuffle.partitions=800 classify --warehouse W
#
# STEP is a job name (run, ingest, classify, match, export-workbooks, ...: jobs/<step>.py) and the
# job flags are exactly the CLI's (`vaxclean STEP --help`). Options before STEP go to spark-submit
# as given and win over the defaults below. The master is --master, else $VAXCLEAN_MASTER, else the
# local test cluster of scripts/cluster.sh (spark://127.0.0.1:7077).
#
# What is shipped: the code as dist/vaxclean-pyfiles.zip (--py-files; build it with
# scripts/package.sh) and the two cached Delta jars (--jars; `vaxclean setup` fetches them). With
# --packages among the options the jars come from Maven instead and --jars is left out.
# Relative paths in the job flags (--config conf/cluster.yaml) are taken from the current folder.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$REPO/.venv/bin/python}

die() {
  echo "spark_submit: $*" >&2
  exit 2
}
usage() {
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# Split the command line: spark-submit options (each "--name value", or one of the few flags that
# take no value), then STEP, then the job's own flags.
submit_opts=()
master=${VAXCLEAN_MASTER:-spark://127.0.0.1:7077}
has_packages=false
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage ;;
    --verbose | --supervise)
      submit_opts+=("$1")
      shift
      ;;
    --master)
      [ $# -ge 2 ] || die "--master needs a value"
      master=$2
      shift 2
      ;;
    --*=*)
      submit_opts+=("$1")
      [[ $1 == --packages=* ]] && has_packages=true
      shift
      ;;
    --*)
      [ $# -ge 2 ] || die "$1 needs a value"
      [ "$1" = --packages ] && has_packages=true
      submit_opts+=("$1" "$2")
      shift 2
      ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || usage
step=$1
shift
job="$REPO/jobs/${step//-/_}.py"
[ -f "$job" ] || die "no job named '$step' (no $job); see \`vaxclean --help\`"

[ -x "$PY" ] || die "$PY not found; run scripts/setup.sh first (or set PYTHON)"
SPARK_HOME=$("$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
export SPARK_HOME

zip="$REPO/dist/vaxclean-pyfiles.zip"
[ -f "$zip" ] || die "$zip is missing: build it with scripts/package.sh"
# A zip older than the sources would run yesterday's code on the cluster without a word.
stale=$(find "$REPO/vaxclean" "$REPO/jobs" "$REPO/transforms" -newer "$zip" -type f \
  \( -name '*.py' -o -name '*.csv' -o -name '*.properties' \) -print -quit)
[ -z "$stale" ] || die "$zip is older than $stale: rebuild it with scripts/package.sh"

defaults=(
  --name "vaxclean-$step"
  --py-files "$zip"
  # Delta's SQL extension and catalog must be in place when the session starts; vaxclean/spark.py
  # adds them too, but only spark-submit's own settings are certain to reach the JVM first.
  --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension
  --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog
  # Python 3.11 with pyspark on the driver and the executors (executors start Python only for
  # Python UDFs, which the pipeline does not use today; this keeps it right if one is added).
  --conf "spark.pyspark.python=${PYSPARK_PYTHON:-$PY}"
  --conf "spark.pyspark.driver.python=${PYSPARK_DRIVER_PYTHON:-$PY}"
  # The driver's JVM logs warnings and errors only, as local runs do.
  --driver-java-options "-Dlog4j2.configurationFile=file:$REPO/vaxclean/log4j2.properties"
)
if ! $has_packages; then
  # Exactly the two Delta jars: the transitive ones (Hadoop, Jackson, Parquet) clash with Spark's.
  jars=$(cd "$REPO" && "$PY" -c '
import sys
from vaxclean.errors import VaxcleanError
from vaxclean.jars import find_delta_jars
try:
    print(",".join(find_delta_jars(None)))
except VaxcleanError as exc:
    sys.exit(f"spark_submit: {exc}")
')
  defaults+=(--jars "$jars")
fi
case "$master" in
  local* | spark://127.0.0.1:* | spark://localhost:*)
    # The test cluster lives on loopback: keep the driver there too, and its UI off (port 4040
    # and up may belong to another engineer's Spark on this machine).
    export SPARK_LOCAL_IP=127.0.0.1
    defaults+=(--conf spark.driver.host=127.0.0.1 --conf spark.driver.bindAddress=127.0.0.1
      --conf spark.ui.enabled=false)
    ;;
esac

set -x
exec "$SPARK_HOME/bin/spark-submit" --master "$master" "${defaults[@]}" "${submit_opts[@]}" "$job" "$@"
