"""Province jobs (issue 7): ``--province`` limits a job to its provinces, and three province jobs
started at once on one warehouse all land: no conflict failure, no lost row, no duplicated row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs.ingest import ingest_ledger
from tests.helpers import run_at_once
from tests.test_ingest import ledger_file
from vaxclean import delta_io

ROOT = Path(__file__).resolve().parents[1]
OLD = [("A01", "S1", "01"), ("A48", "S2", "48"), ("A79", "S3", "79"), ("A92", "S4", "92")]
# The next national export: new rows for 01, 48 and 92; 79 has no row any more.
NEW = [("B01", "S1", "01"), ("C01", "S5", "01"), ("B48", "S2", "48"), ("B92", "S4", "92")]


@pytest.fixture
def cfg(config, tmp_path):
    return config.with_overrides(warehouse=str(tmp_path / "wh"), out=str(tmp_path / "out"))


def ledger_rows(spark, cfg) -> list[tuple[str, str]]:
    rows = delta_io.read(spark, cfg, "ledger_raw").select("province_code", "record_id").collect()
    return sorted((r[0], r[1]) for r in rows)


def test_province_ingest_replaces_only_its_provinces(spark, cfg, tmp_path):
    ingest_ledger(spark, cfg, str(ledger_file(tmp_path / "old.csv", OLD)))
    ingest_ledger(spark, cfg, str(ledger_file(tmp_path / "new.csv", NEW)), provinces=["01", "79"])
    # 01 replaced by the new export, 79 emptied (no 79 rows in it), 48 and 92 untouched.
    assert ledger_rows(spark, cfg) == [("01", "B01"), ("01", "C01"), ("48", "A48"), ("92", "A92")]


@pytest.mark.slow
def test_three_province_jobs_at_once_all_land(spark, cfg, tmp_path):
    """Three province jobs on one national export, started at once on a new warehouse: they race
    to create the tables (the case that once lost a province) and every province still lands."""
    new = ledger_file(tmp_path / "new.csv", NEW)
    cmd = [sys.executable, "-m", "jobs.ingest", "--config", "tests/conf/short-process.yaml", "--warehouse", cfg.warehouse,
           "--out", cfg.out, "--ledger", str(new)]  # fmt: skip
    jobs = [
        subprocess.Popen(
            [*cmd, "--province", p], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for p in ("01", "48", "92")
    ]
    results = [(p.wait(timeout=900), p.stderr.read()) for p in jobs]
    assert [r[0] for r in results] == [0, 0, 0], [r[1][-1500:] for r in results]
    assert all("Traceback" not in r[1] for r in results)
    # No lost and no duplicated row; province 79's row is in no job's scope.
    assert ledger_rows(spark, cfg) == [("01", "B01"), ("01", "C01"), ("48", "B48"), ("92", "B92")]
    runs = delta_io.read(spark, cfg, "pipeline_runs").filter("step = 'ingest_ledger'").collect()
    assert sorted(r["scope"] for r in runs) == ["01", "48", "92"]


@pytest.mark.slow
def test_two_province_exports_at_once_write_exactly_their_communes(spark, demo_warehouse, tmp_path):
    """Two ``export-workbooks --province`` runs at once (two threads, one session) on a copy of the
    demo's classified tables write exactly the workbooks, lists and manifest rows the national export
    wrote for those provinces, and one index per province."""
    import shutil

    from jobs.export_workbooks import run_step

    demo = Path(demo_warehouse.warehouse)
    wh = tmp_path / "wh"
    for name in ("subject_checks", "subjects", "register", "match_suggestions"):
        shutil.copytree(demo / name, wh / name)
    cfg = demo_warehouse.with_overrides(warehouse=str(wh), out=str(tmp_path / "out"))
    national = delta_io.read(spark, demo_warehouse, "review_lists")
    busiest = national.groupBy("province_code").count().orderBy(F.desc("count"), "province_code").limit(2)
    provinces = sorted(r[0] for r in busiest.collect())
    errors = run_at_once(lambda p: run_step(spark, cfg, provinces=[p]), provinces)
    assert not errors, errors

    def lists(c):
        rows = delta_io.read(spark, c, "review_lists").filter(F.col("province_code").isin(provinces))
        return sorted(tuple(r) for r in rows.select("list_id", "commune_code", "file", "n_rows").collect())

    def manifest(c):
        rows = delta_io.read(spark, c, "review_manifest").filter(F.col("province_code").isin(provinces))
        return sorted(tuple(r) for r in rows.select("list_id", "subject_id", "row_number").collect())

    assert lists(cfg) == lists(demo_warehouse) and len(lists(cfg)) >= 2
    assert delta_io.read(spark, cfg, "review_lists").count() == len(lists(cfg))  # no other province
    assert manifest(cfg) == manifest(demo_warehouse)
    out, demo_out = Path(cfg.out) / "workbooks", Path(demo_warehouse.out) / "workbooks"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.xlsx")) == sorted(
        p.relative_to(demo_out).as_posix() for p in demo_out.rglob("*.xlsx") if p.parent.name in provinces
    )
    assert not (out / "index.csv").exists()  # the national index is the national export's
    for p in provinces:
        index = (out / p / "index.csv").read_text(encoding="utf-8-sig").splitlines()
        assert len(index) - 1 == sum(1 for r in lists(cfg) if r[2].startswith(f"workbooks/{p}/"))
    runs = delta_io.read(spark, cfg, "pipeline_runs").filter("step = 'export_workbooks'").collect()
    assert sorted(r["scope"] for r in runs) == provinces


def test_province_flag_rejects_bad_codes(capsys):
    from jobs.ingest import main

    with pytest.raises(SystemExit) as exc:
        main(["--ledger", "x.csv", "--province", "7a"])
    assert exc.value.code == 2
    assert "--province takes 2-digit province codes" in capsys.readouterr().err
