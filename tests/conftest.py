"""One SparkSession for the whole test session, tuned for small literal DataFrames."""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def demo_warehouse(spark, config, tmp_path_factory):
    """The demo's warehouse (scripts/demo.sh): the whole pipeline run once on ``sample/``.

    Several minutes: only for tests marked ``slow``. Returns the config pointing at it.
    """
    import os

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

    One subprocess run shared by the command-line test (progress lines, summary, no traceback)
    and the personal-data log scan (tests/test_pii_logs.py). Several minutes: slow tests only.
    Returns ``(completed_process, work_dir)``; the run's warehouse and --out are under work_dir.
    """
    import os
    import subprocess
    import sys

    work = tmp_path_factory.mktemp("cli-run")
    sample = ROOT / "sample"
    env = {**os.environ, "VAXCLEAN_HMAC_SECRET": "cli-test-secret", "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable, "-m", "vaxclean.cli", "run", "--config", str(ROOT / "conf" / "local.yaml"),
        "--ledger", str(sample / "ledger.csv"), "--register", str(sample / "register.csv"),
        "--reports", str(sample / "facility_reports.csv"), "--warehouse", str(work / "wh"),
        "--out", str(work / "out"), "--log-level", "DEBUG", "--as-of", DEMO_AS_OF,
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=3000)
    return proc, work
