"""Daily incremental verification, the per-facility daily report, reconciliation, read versions.

The incremental tests build two warehouses from literal CSV rows: A = full ingest + classify of day 0,
then ``daily`` with day 1's export; B = a full ingest + classify of the ledger as it stands after
day 1. Every gate table of A must equal B's."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.classify import classify
from jobs.daily import daily
from jobs.ingest import ingest_facility_reports, ingest_ledger, ingest_register
from tests.helpers import LEDGER_DEFAULTS, REGISTER_DEFAULTS
from transforms.gate import (
    aggregate_entered,
    aggregate_facility_daily,
    aggregate_reconciliation_totals,
    reconcile_facility_reports,
)
from vaxclean import delta_io, schemas
from vaxclean.errors import InputError

AS_OF = "2022-04-26"
AN = {"full_name": "Nguyễn Văn An", "date_of_birth": "1985-03-05", "gender": "M"}
REGISTER = [
    *[{"personal_id": f"07908500000{i}", **AN} for i in (1, 3, 4, 6, 7, 9)],
    {"personal_id": "001190000111", "full_name": "Trần Thị Bình", "date_of_birth": "1990-07-01", "gender": "F",
     "province_code": "01", "district_code": "001", "commune_code": "00001"},
]  # fmt: skip
HN = {"province_code": "01", "district_code": "001", "commune_code": "00001", "facility_code": "01001-TYT01"}


def row(rid, sid, id_number, date, n=1, entered=None, signed="", **kw):
    return {"record_id": rid, "subject_id": sid, "id_number": id_number, "vaccination_date": date,
            "dose_number": str(n), "entered_at": entered or f"{date}T10:00:00", "signed_at": signed, **kw}  # fmt: skip


DAY0 = [
    row("r1", "S1", "079085000001", "2021-08-01"),
    row("r2", "S2", "79085000002", "2021-08-01"),  # malformed; fixed on day 1 to S1's person
    row("r3", "S3", "079085000003", "2021-08-02", entered="2021-08-03T09:00:00"),
    row("r4", "S4", "079085000004", "2021-08-02", facility_code="79760-TYT02"),
    row("r5", "P", "001190000111", "2021-08-05", full_name="Trần Thị Bình", date_of_birth="01/07/1990",
        gender="Nữ", **HN),
    row("r6", "S6", "079085000006", "2021-08-01", signed="2021-08-01T16:00:00"),
    row("r7", "S7", "079085000007", "2021-08-01"),
    row("r12", "S12", "079085000008", "2021-08-03", facility_code="79760-TYT03"),
]  # fmt: skip
DAY1 = [
    row("r2", "S2", "079085000001", "2021-08-01"),  # the ID fixed: S1 and S2 are now one person twice
    row("r4", "S4", "079085000004", "2021-08-02", facility_code="79760-TYT02", signed="2021-08-02T18:00:00"),
    row("r8", "S1", "079085000001", "2021-08-22", n=2),
    row("r9", "S9", "079085000009", "2021-08-20", entered="2021-08-21T08:00:00"),
    row("r10", "C", "001190000111", "2021-08-25", full_name="Nguyễn Minh Khôi", date_of_birth="02/09/2015", **HN),
    row("r11", "S7", "079085000007", "2021-08-25", n=2, **HN),  # S7 now lives in Hà Nội
    # The date corrected: the facility-day it leaves has no other dose, so its report rows must go.
    row("r12", "S12", "079085000008", "2021-08-04", facility_code="79760-TYT03"),
]  # fmt: skip
# Day 1 caught up as two exports, oldest first: r12 first typed with a wrong date, corrected in the
# second export; one facility report sent twice, the second count the right one.
DAY1_EARLY = [DAY1[0], row("r12", "S12", "079085000008", "2021-08-06", facility_code="79760-TYT03"), DAY1[2]]
DAY1_LATE = [r for r in DAY1 if r not in (DAY1[0], DAY1[2])]
REPORTS0 = [("79760-TYT01", "01/08/2021", "Pfizer", "4"), ("79760-TYT02", "02/08/2021", "Pfizer", "1")]
REPORTS1 = [("79760-TYT01", "20/08/2021", "Pfizer", "2"), ("01001-TYT01", "25/08/2021", "Pfizer", "2")]
REPORTS1_EARLY = [("79760-TYT01", "20/08/2021", "Pfizer", "5")]

TABLES = ("doses", "subjects", "subject_checks", "dose_checks", "signing_queue", "facility_daily",
          "reconciliation", "reconciliation_totals")  # fmt: skip
NOT_COMPARED = ("source_file", "source_row", "ingest_run_id", "source_versions")
ALL_TABLES = (*TABLES, "ledger_raw", "ledger_rejects", "facility_reports", "pipeline_runs")


def write_csv(path: Path, header, rows) -> str:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def ledger_csv(path: Path, rows) -> str:
    cols = schemas.LEDGER_COLUMNS
    return write_csv(path, cols, [[{**LEDGER_DEFAULTS, **r}[c] for c in cols] for r in rows])


def register_csv(path: Path) -> str:
    cols = schemas.REGISTER_COLUMNS
    return write_csv(path, cols, [[{**REGISTER_DEFAULTS, **r}.get(c, "") for c in cols] for r in REGISTER])


def versions(spark, cfg):
    return {t: delta_io.version(spark, cfg, t) for t in ALL_TABLES}


@pytest.fixture(scope="module")
def warehouses(spark, config, tmp_path_factory):
    base = tmp_path_factory.mktemp("daily")
    reg = register_csv(base / "register.csv")
    files = {
        "register": reg,
        "day0": ledger_csv(base / "day0.csv", DAY0),
        "day1": ledger_csv(base / "day1.csv", DAY1),
        "reports0": write_csv(base / "reports0.csv", schemas.FACILITY_REPORT_COLUMNS, REPORTS0),
        "reports1": write_csv(base / "reports1.csv", schemas.FACILITY_REPORT_COLUMNS, REPORTS1),
    }
    a = config.with_overrides(warehouse=str(base / "a"), out=str(base / "out"), as_of=AS_OF)
    ingest_register(spark, a, reg)
    ingest_ledger(spark, a, files["day0"])
    ingest_facility_reports(spark, a, files["reports0"])
    classify(spark, a)
    after_classify = versions(spark, a)
    daily(spark, a, ledger=files["day1"], reports=files["reports1"])

    b = config.with_overrides(warehouse=str(base / "b"), out=str(base / "out"), as_of=AS_OF)
    day1 = {r["record_id"] for r in DAY1}
    ingest_register(spark, b, reg)
    ingest_ledger(
        spark, b, ledger_csv(base / "all.csv", [r for r in DAY0 if r["record_id"] not in day1] + DAY1)
    )
    ingest_facility_reports(
        spark, b, write_csv(base / "reports.csv", schemas.FACILITY_REPORT_COLUMNS, REPORTS0 + REPORTS1)
    )
    classify(spark, b)
    return {"a": a, "b": b, "files": files, "after_classify": after_classify}


@pytest.fixture(scope="module")
def caught_up(spark, config, warehouses, tmp_path_factory):
    """C: day 0 as in A, then day 1 as two exports in one daily run (days caught up)."""
    base, files = tmp_path_factory.mktemp("caught_up"), warehouses["files"]
    c = config.with_overrides(warehouse=str(base / "c"), out=str(base / "out"), as_of=AS_OF)
    ingest_register(spark, c, files["register"])
    ingest_ledger(spark, c, files["day0"])
    ingest_facility_reports(spark, c, files["reports0"])
    classify(spark, c)
    reports_early = write_csv(base / "r-early.csv", schemas.FACILITY_REPORT_COLUMNS, REPORTS1_EARLY)
    daily(
        spark,
        c,
        ledger=[ledger_csv(base / "early.csv", DAY1_EARLY), ledger_csv(base / "late.csv", DAY1_LATE)],
        reports=[reports_early, files["reports1"]],
    )
    return c


def comparable(df):
    """Maps as sorted entry arrays: Spark can neither sort nor hash a map (chispa does both)."""
    return df.select(
        *[F.array_sort(F.map_entries(f.name)).alias(f.name) if isinstance(f.dataType, T.MapType) else f.name
          for f in df.schema.fields]
    )  # fmt: skip


def last_run(spark, cfg, step):
    row = (
        delta_io.read(spark, cfg, "pipeline_runs")
        .filter(F.col("step") == step)
        .orderBy(F.col("finished_at").desc())
        .first()
    )
    return json.loads(row["outputs"])


def assert_same_table(spark, cfg, expected_cfg, table):
    """``table`` holds the same rows in both warehouses, lineage columns apart."""
    got = delta_io.read(spark, cfg, table)
    expected = delta_io.read(spark, expected_cfg, table)
    cols = [c for c in expected.columns if c not in NOT_COMPARED]
    assert_df_equality(comparable(got.select(cols)), comparable(expected.select(cols)),
                       ignore_row_order=True, ignore_nullable=True)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("table", TABLES)
def test_incremental_equals_full_classify(spark, warehouses, table):
    assert_same_table(spark, warehouses["a"], warehouses["b"], table)


@pytest.mark.slow
@pytest.mark.parametrize("table", (*TABLES, "facility_reports"))
def test_days_caught_up_in_one_run_equal_full_classify(spark, warehouses, caught_up, table):
    """Two exports in one run, oldest first: a record or report sent in both keeps the later values."""
    assert_same_table(spark, caught_up, warehouses["b"], table)
    assert last_run(spark, caught_up, "daily")["mode"] == "incremental"


@pytest.mark.slow
def test_daily_was_incremental_and_found_the_neighbour(spark, warehouses):
    """Seven subjects touched (S1 S2 S4 S7 S9 S12 C); the parent P is re-decided as C's neighbour."""
    out = last_run(spark, warehouses["a"], "daily")
    assert (out["mode"], out["touched_subjects"], out["neighbours"]) == ("incremental", 7, 1)


@pytest.mark.slow
def test_daily_changes_what_the_day_changed(spark, warehouses):
    """Not only equal to B: the day's effects are there (so A and B cannot be equal by both missing them)."""
    cfg = warehouses["a"]
    checks = {r["subject_id"]: r for r in delta_io.read(spark, cfg, "subject_checks").collect()}
    assert list(checks["S1"]["error_codes"]) == list(checks["S2"]["error_codes"]) == ["SUBJECT_DUPLICATE"]
    assert checks["C"]["status"] == "NEEDS_REVIEW" and "ID_SHARED" in checks["C"]["error_codes"]
    assert checks["S7"]["province_code"] == "01"
    queue = {r["record_id"] for r in delta_io.read(spark, cfg, "signing_queue").collect()}
    assert "r4" not in queue and {"r8", "r9", "r10", "r11"} <= queue
    days = delta_io.read(spark, cfg, "facility_daily").filter(F.col("facility_code") == "79760-TYT03")
    assert [str(r["day"]) for r in days.collect()] == ["2021-08-04"]


@pytest.mark.slow
def test_rerunning_the_same_day_adds_nothing(spark, warehouses):
    cfg, files = warehouses["a"], warehouses["files"]
    before = versions(spark, cfg)
    results = daily(spark, cfg, ledger=files["day1"], reports=files["reports1"])
    assert versions(spark, cfg) == before
    assert "nothing to do" in results[-1].note


@pytest.mark.slow
def test_an_unusable_later_export_stops_the_run_before_any_merge(spark, warehouses, tmp_path):
    """Caught-up days go in whole or not at all: the first export is not merged alone."""
    cfg = warehouses["a"]
    first = ledger_csv(tmp_path / "d2.csv", [row("r99", "S99", "079085000009", "2021-08-26")])
    broken = write_csv(tmp_path / "d3.csv", ["record_id", "subject_id"], [["r98", "S98"]])
    before = versions(spark, cfg)
    with pytest.raises(InputError, match="d3.csv"):
        daily(spark, cfg, ledger=[first, broken])
    assert versions(spark, cfg) == before


@pytest.mark.slow
def test_queue_rows_name_the_ledger_version_they_were_decided_from(spark, warehouses):
    cfg = warehouses["a"]
    classified_at = warehouses["after_classify"]["ledger_raw"]
    daily_read = last_run(spark, cfg, "daily")["read"]
    assert daily_read["ledger_raw"] > classified_at
    rows = {
        r["record_id"]: dict(r["source_versions"])
        for r in delta_io.read(spark, cfg, "signing_queue").collect()
    }
    assert rows["r3"]["ledger_raw"] == classified_at  # untouched since classify
    # S7 was re-decided (its new dose r11) and r7 came out the same: it keeps its versions.
    assert rows["r7"]["ledger_raw"] == classified_at
    assert rows["r8"]["ledger_raw"] == daily_read["ledger_raw"]  # re-decided by the daily run
    assert rows["r8"]["register"] == daily_read["register"]
    # Traced back: at the recorded version r8 is in the ledger, unsigned; at classify time it was not.
    then = delta_io.read(spark, cfg, "ledger_raw", version=rows["r8"]["ledger_raw"])
    assert then.filter("record_id = 'r8' AND coalesce(trim(signed_at), '') = ''").count() == 1
    before = delta_io.read(spark, cfg, "ledger_raw", version=classified_at)
    assert before.filter("record_id = 'r8'").count() == 0


@pytest.mark.slow
def test_classify_records_the_versions_it_read(spark, warehouses):
    cfg = warehouses["b"]
    out = last_run(spark, cfg, "classify")
    assert out["read"]["ledger_raw"] == delta_io.version(spark, cfg, "ledger_raw")
    assert out["read"]["register"] == delta_io.version(spark, cfg, "register")
    assert out["wrote"]["signing_queue"] == delta_io.version(spark, cfg, "signing_queue")
    stamped = delta_io.read(spark, cfg, "signing_queue").select(F.col("source_versions")["ledger_raw"])
    assert {r[0] for r in stamped.collect()} == {out["read"]["ledger_raw"]}


# --- the report transforms, on literal rows -----------------------------------------------------

DOSES = T.StructType(
    [
        T.StructField("record_id", T.StringType()),
        T.StructField("facility_code", T.StringType()),
        T.StructField("vaccination_date", T.DateType()),
        T.StructField("vaccine", T.StringType()),
        T.StructField("entered_at", T.TimestampType()),
        T.StructField("signed_at", T.TimestampType()),
    ]
)
D1, D2 = dt.date(2021, 8, 1), dt.date(2021, 8, 2)


def ts(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2021, 8, day, hour)


@pytest.fixture(scope="module")
def report_inputs(spark):
    doses = spark.createDataFrame(
        [
            ("a", "79760-TYT01", D1, "PFIZER", ts(1, 10), ts(1, 16)),  # entered and signed the same day
            ("b", "79760-TYT01", D1, "PFIZER", ts(1, 11), ts(3, 9)),  # signed late
            ("c", "79760-TYT01", D1, "PFIZER", ts(2, 8), None),  # entered late, signable
            ("d", "79760-TYT01", D1, "PFIZER", ts(1, 12), None),  # blocked twice over
            ("e", "79760-TYT01", D1, "PFIZER", ts(1, 12), None),  # duplicate of a, blocked
            ("f", "79760-TYT01", D1, "MODERNA", ts(1, 13), None),  # blocked
            ("g", "01001-TYT01", D2, "PFIZER", None, None),  # no entered_at: not late
        ],
        DOSES,
    )
    queue = spark.createDataFrame(
        [
            ("c", True, []),
            ("d", False, ["DOB_MISMATCH", "NAME_MISMATCH"]),
            ("e", False, ["DOSE_DUPLICATE"]),
            ("f", False, ["NAME_MISMATCH"]),
            ("g", True, []),
        ],
        "record_id string, signable boolean, block_reasons array<string>",
    )
    dose_checks = spark.createDataFrame(
        [("a", []), ("b", []), ("c", []), ("d", []), ("e", ["DOSE_DUPLICATE"]), ("f", []), ("g", [])],
        "record_id string, error_codes array<string>",
    )
    reports = spark.createDataFrame(
        [
            ("79760-TYT01", D1, "PFIZER", 6),  # 4 entered (e is a duplicate): 2 never entered
            ("79760-TYT01", D1, "MODERNA", 1),
            ("79760-TYT02", D2, "PFIZER", 3),  # nothing entered at all
        ],
        "facility_code string, report_date date, vaccine string, doses_administered int",
    )
    recon = reconcile_facility_reports(reports, aggregate_entered(doses, dose_checks)).cache()
    return {"doses": doses, "queue": queue, "recon": recon}


def test_reconciliation_per_facility_day_and_product(spark, report_inputs):
    expected = spark.createDataFrame(
        [
            ("79760-TYT01", D1, "PFIZER", "79", 6, 4, 1, 2),
            ("79760-TYT01", D1, "MODERNA", "79", 1, 1, 0, 0),
            ("79760-TYT02", D2, "PFIZER", "79", 3, 0, 0, 3),
            ("01001-TYT01", D2, "PFIZER", "01", None, 1, 0, -1),
        ],
        "facility_code string, day date, vaccine string, province_code string, doses_reported long, "
        "doses_entered long, duplicates_entered long, gap long",
    )
    assert_df_equality(report_inputs["recon"], expected, ignore_row_order=True, ignore_nullable=True)


def test_reconciliation_totals_national_and_per_province(spark, report_inputs):
    out = aggregate_reconciliation_totals(report_inputs["recon"])
    expected = spark.createDataFrame(
        [
            ("NATIONAL", None, 10, 6, 4, 5, 3, 2),
            ("PROVINCE", "79", 10, 5, 5, 5, 2, 2),
            ("PROVINCE", "01", 0, 1, -1, 0, 1, 0),
        ],
        "scope string, province_code string, doses_reported long, doses_entered long, gap long, "
        "not_entered long, facility_days long, facility_days_with_gap long",
    )
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


def test_facility_daily_counts_late_entry_late_signing_and_reasons(spark, report_inputs):
    r = report_inputs
    out = aggregate_facility_daily(r["doses"], r["queue"], r["recon"])
    expected = spark.createDataFrame(
        [
            (
                "79760-TYT01",
                D1,
                "79",
                6,
                5,
                1,
                2,
                1,
                1,
                4,
                1,
                3,
                {"DOB_MISMATCH": 1, "DOSE_DUPLICATE": 1, "NAME_MISMATCH": 2},
                1 / 6,
                7,
                2,
            ),
            ("01001-TYT01", D2, "01", 1, 0, 0, 0, 0, 0, 1, 1, 0, {}, 0.0, None, None),
            ("79760-TYT02", D2, "79", 0, 0, 0, 0, 0, 0, 0, 0, 0, {}, None, 3, 3),
        ],
        "facility_code string, day date, province_code string, doses_entered long, entered_same_day long, "
        "entered_late long, signed long, signed_same_day long, signed_late long, unsigned long, "
        "signable long, blocked long, blocked_by_reason map<string,bigint>, same_day_signing_rate double, "
        "doses_reported long, report_gap long",
    )
    assert_df_equality(comparable(out), comparable(expected), ignore_row_order=True, ignore_nullable=True)
