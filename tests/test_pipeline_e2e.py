"""End to end on the bundled sample: the run command works, and a rerun changes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jobs.run import run
from jobs.score import DEFAULTS, failures, score
from tests.helpers import table_versions
from vaxclean import delta_io

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample"
TABLES = ("ledger_raw", "register", "doses", "subjects", "subject_checks", "dose_checks", "signing_queue")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def warehouse(demo_warehouse):
    """The demo's warehouse (tests/conftest.py): the pipeline run once on ``sample/``."""
    return demo_warehouse


def snapshot(cfg) -> dict[str, int]:
    """The version of every Delta table in the warehouse (the contract's and our own), read from the
    logs: a table's rows change only with a new version, so equal versions mean equal tables."""
    versions = table_versions(Path(cfg.warehouse))
    assert set(TABLES) <= set(versions)
    return versions


def test_every_contract_table_is_written(spark, warehouse):
    for table in ("subject_checks", "dose_checks", "signing_queue"):
        assert delta_io.read(spark, warehouse, table).count() > 0, table


def test_rerun_on_same_input_changes_nothing(spark, warehouse):
    before = snapshot(warehouse)
    run(
        spark,
        warehouse,
        ledger=str(SAMPLE / "ledger.csv"),
        register=str(SAMPLE / "register.csv"),
        reports=str(SAMPLE / "facility_reports.csv"),
    )
    assert snapshot(warehouse) == before


def test_scores_meet_the_documented_thresholds_on_the_sample(spark, warehouse):
    """The pipeline against the generator's independent ground truth (jobs/score.py thresholds)."""
    report = score(spark, warehouse, SAMPLE)
    assert failures(report, DEFAULTS) == []
    assert {"ID_SHARED", "SUBJECT_DUPLICATE", "DOSE_AFTER_DEATH"} <= set(
        report["subjects"]["per_code"]
    ) | set(report["doses"]["per_code"])


def test_one_row_per_subject_and_per_record(spark, warehouse):
    checks = delta_io.read(spark, warehouse, "subject_checks")
    assert checks.count() == checks.select("subject_id").distinct().count()
    doses = delta_io.read(spark, warehouse, "dose_checks")
    raw = delta_io.read(spark, warehouse, "ledger_raw")
    assert doses.count() == raw.count() == doses.select("record_id").distinct().count()


def test_run_command_prints_progress_and_summary(cli_debug_run):
    """The data center's command line, in a fresh process, as the README gives it."""
    proc, _ = cli_debug_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "rows/s" in proc.stdout and "summary" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_missing_input_is_one_sentence(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "vaxclean.cli", "run", "--ledger", str(tmp_path / "nope.csv"),
         "--register", str(SAMPLE / "register.csv"), "--warehouse", str(tmp_path / "wh")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "nope.csv" in proc.stderr and "no such file or folder" in proc.stderr
    assert "Traceback" not in proc.stderr
