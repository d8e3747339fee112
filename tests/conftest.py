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
    # generation forced on and must get the same rows; the cluster test (pytest -m cluster) runs the
    # whole pipeline with it and must match the local run row for row.
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    # The JVM's quick C1 compiler only: the same test time with a third less CPU (measured on 30
    # Nov 2026, the same 31 tests: 70.0 s and 86 core-seconds against 69.5 s and 129), and CPU is
    # what two test processes on two cores share. get_spark appends the log4j setting to this.
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",
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

# --- two test processes (pytest-xdist: pytest -n 2 --no-loadscope-reorder, as scripts/test.sh runs) ---
# The unit of work a worker takes is a *scope*: every test of one module together (its module
# fixtures are built once), except the tests of ``demo_warehouse``, the in-process pipeline run on
# the sample, which form one scope (the run is built once per test process, so once in all).
# xdist's own ``loadgroup`` cannot do this with pytest 9 (it renames ``item._nodeid``, which pytest 9
# no longer reads), and the controller that schedules sees only test ids, so the group is listed
# here by id; collection checks the list against the fixtures each test really uses and stops on a
# difference. ``cli_debug_run`` needs no group: its run is a subprocess whose result the test
# processes share on disk (the first that asks builds it).
SHARED_RUN_SCOPES = {
    "demo_warehouse": (
        "tests/test_notebooks.py::test_notebook_runs_on_the_demo_warehouse",
        "tests/test_report.py::test_report_on_the_demo_data_agrees_with_the_sample_files",
        "tests/test_province_jobs.py::test_two_province_exports_at_once_write_exactly_their_communes",
        "tests/test_pipeline_e2e.py::",
    ),
}
# The longest scopes, handed out first so that they overlap instead of one ending the run alone
# (``--no-loadscope-reorder`` keeps this order): the kill chain, the cluster run, the demo run.
LONGEST_FIRST = ("tests/test_kill.py", "tests/test_cluster.py", "demo_warehouse")


def xdist_scope(nodeid: str) -> str:
    """The xdist work unit of a test: its shared pipeline run, or its module."""
    for fixture, prefixes in SHARED_RUN_SCOPES.items():
        if nodeid.startswith(prefixes):
            return fixture
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config, items):
    """Check ``SHARED_RUN_SCOPES`` against the fixtures; put the ``LONGEST_FIRST`` scopes first."""
    wrong = []
    for item in items:
        uses = next((f for f in SHARED_RUN_SCOPES if f in getattr(item, "fixturenames", ())), None)
        if uses is not None and xdist_scope(item.nodeid) != uses:  # it would build the run again
            wrong.append(f"{item.nodeid} uses {uses} but is not listed under it")
    if wrong:
        raise pytest.UsageError("tests/conftest.py SHARED_RUN_SCOPES is out of date: " + "; ".join(wrong))

    def rank(item) -> int:
        scope = xdist_scope(item.nodeid)
        return LONGEST_FIRST.index(scope) if scope in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a scope stays


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class SharedRunScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_scope(nodeid)

    return SharedRunScheduling(config, log)


@pytest.fixture(scope="session")
def demo_warehouse(spark, config, tmp_path_factory):
    """The demo's warehouse (scripts/demo.sh): the whole pipeline run once on ``sample/``.

    Several minutes: only for tests marked ``slow``. Returns the config pointing at it.
    """
    from jobs.run import run

    os.environ.setdefault("VAXCLEAN_HMAC_SECRET", "test-secret")
    base = tmp_path_factory.mktemp("demo")
    cfg = config.with_overrides(warehouse=str(base / "warehouse"), out=str(base / "out"), as_of=DEMO_AS_OF)
    sample = ROOT / "sample"
    run(
        spark,
        cfg,
        ledger=str(sample / "ledger.csv"),
        register=str(sample / "register.csv"),
        reports=str(sample / "facility_reports.csv"),
    )
    return cfg


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
