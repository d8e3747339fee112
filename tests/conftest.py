"""One SparkSession for the whole test session, tuned for small literal DataFrames."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vaxclean.config import load_config
from vaxclean.spark import get_spark

ROOT = Path(__file__).resolve().parents[1]

# The tests' Spark JVMs (this session, the cluster test's driver and executors; the same options are
# in tests/conf/short-process.yaml): the quick C1 compiler only, with C2's 256 MB of code cache. With
# -XX:TieredStopAtLevel=1 alone the JVM reserves 48 MB for compiled code; one sample run compiles
# ~68 MB, so the cache fills and the JVM flushes and recompiles for the rest of the process. Measured
# on 1 Dec 2026, the sample run, C1 without and with the larger cache, alternately (2 pairs):
# 243 -> 212 and 268 -> 233 busy core-seconds (-13 %), 172 -> 157 s and 185 -> 170 s.
TEST_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m"

TEST_SPARK_CONF = {
    "spark.master": "local[2]",
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.adaptive.enabled": "false",
    "spark.databricks.delta.snapshotPartitions": "1",
    "spark.rdd.compress": "false",
    "spark.shuffle.compress": "false",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "1",
    # Interpreted expressions instead of generated and compiled Java (as conf/sample.yaml): literal
    # frames of a few rows spend more in code generation and compilation than in the rows.
    # Measured on 30 Nov 2026 (test_classify_doses + test_report, 31 tests): 60.3 s against 75.6 s.
    # The generated-code path stays covered: test_classify_doses reruns its cases with code
    # generation forced on and must get the same rows; the cluster test (tests/test_cluster.py) runs the
    # whole pipeline with it and must match the local run row for row.
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    # The JVM's quick C1 compiler only: the same test time with a third less CPU (measured on 30
    # Nov 2026, the same 31 tests: 70.0 s and 86 core-seconds against 69.5 s and 129), and CPU is
    # what two test processes on two cores share. get_spark appends the log4j setting to this.
    "spark.driver.extraJavaOptions": TEST_JVM_OPTIONS,
}


@pytest.fixture(scope="session")
def config():
    return load_config(ROOT / "conf" / "local.yaml")


@pytest.fixture(scope="session")
def spark(config, tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = get_spark(config, extra_conf={**TEST_SPARK_CONF, "spark.sql.warehouse.dir": str(warehouse)})
    yield session
    session.stop()


DEMO_AS_OF = "2022-12-31"  # sample/manifest.json: the day the sample was exported
CLI_RUN_SECRET = "cli-test-secret"  # the HMAC secret of ``cli_debug_run`` (and of the kill tests)


# --- two test processes (pytest-xdist: pytest -n 2 --dist loadscope, as scripts/test.sh runs) ---
# A worker takes a module at a time (its module fixtures are built once). The one whole pipeline
# run the slow tests share, ``cli_debug_run``, is a subprocess whose result both test processes
# read from disk (the first that asks builds it), so no module needs to sit with another.
# The longest modules are handed out first (``--no-loadscope-reorder`` keeps this order) so that
# they overlap instead of one ending the run alone: the kill chain and the cluster run, then the
# personal-data scan (which builds the shared run) beside the daily tests (which do not need it),
# so neither process waits for the other's run at the start.
LONGEST_FIRST = (
    "tests/test_kill.py",
    "tests/test_cluster.py",
    "tests/test_pii_logs.py",
    "tests/test_daily.py",
    "tests/test_notebooks.py",
    "tests/test_workbooks.py",
)


def pytest_collection_modifyitems(config, items):
    """Put the ``LONGEST_FIRST`` modules first, in that order."""

    def rank(item) -> int:
        module = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(module) if module in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a module stays


@pytest.fixture(scope="session")
def demo_warehouse(cli_debug_run):
    """The demo's warehouse: the whole pipeline run once on ``sample/`` (``cli_debug_run``, the
    command-line run with conf/sample.yaml, as scripts/demo.sh runs it).

    Several minutes the first time: only for tests marked ``slow``. Returns the config (the
    run's own, conf/sample.yaml) pointing at that warehouse and --out. The kill and cluster tests
    compare their tables with this warehouse, so tests must not change it: a test that writes (a
    report, another export) works on a copy of the tables it needs.
    """
    run, work = cli_debug_run
    assert run.returncode == 0, run.stderr[-3000:]
    # Steps run in this process on this warehouse (the rerun test) sign with the run's secret.
    os.environ["VAXCLEAN_HMAC_SECRET"] = CLI_RUN_SECRET
    return load_config(ROOT / "conf" / "sample.yaml").with_overrides(
        warehouse=str(work / "wh"), out=str(work / "out"), as_of=DEMO_AS_OF
    )


@pytest.fixture(scope="session")
def cli_debug_run(tmp_path_factory):
    """``vaxclean run`` on ``sample/`` as the data center types it, in a fresh process, at DEBUG.

    One subprocess run shared by the command-line test (progress lines, summary, no traceback), the
    personal-data log scan (tests/test_pii_logs.py), and the kill and cluster tests, which compare
    their tables with it. Under pytest-xdist the test processes share it too: the first to ask runs
    it under a file lock and leaves its result on disk; the others wait for the lock and read that.
    Two minutes or more: slow tests only. Returns ``(completed_process, work_dir)``; the run's
    warehouse and --out are under work_dir.
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # this pytest run's folder, which holds every worker's basetemp
    work, done = base / "cli-run", base / "cli-run.json"
    with open(base / "cli-run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        if not done.exists():
            work.mkdir(exist_ok=True)
            proc = _cli_run(work)
            done.write_text(json.dumps([proc.args, proc.returncode, proc.stdout, proc.stderr]))
        args, returncode, stdout, stderr = json.loads(done.read_text())
    return subprocess.CompletedProcess(args, returncode, stdout, stderr), work


def _cli_run(work: Path) -> subprocess.CompletedProcess:
    sample = ROOT / "sample"
    env = {**os.environ, "VAXCLEAN_HMAC_SECRET": CLI_RUN_SECRET, "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable, "-m", "vaxclean.cli", "run", "--config", str(ROOT / "conf" / "sample.yaml"),
        "--ledger", str(sample / "ledger.csv"), "--register", str(sample / "register.csv"),
        "--reports", str(sample / "facility_reports.csv"), "--warehouse", str(work / "wh"),
        "--out", str(work / "out"), "--log-level", "DEBUG", "--as-of", DEMO_AS_OF,
    ]  # fmt: skip
    return subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=3000)
