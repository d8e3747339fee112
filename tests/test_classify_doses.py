"""Every dose code, a trigger and a near miss; and the signing gate's block reasons.

Each case is one subject with its own doses; all cases are classified once per module."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from tests.helpers import as_multiset, ledger_rows, register_rows, with_own_ids
from transforms.classify import build_signing_queue, classify_doses, classify_subjects
from transforms.ledger import build_subjects, normalize_doses, normalize_register

MISSING = ["", "0", "khong co"]
AS_OF = dt.date(2022, 4, 26)
RULES = dict(
    campaign_start=dt.date(2021, 3, 8),
    as_of=AS_OF,
    min_interval_days={"PFIZER": 21, "ASTRAZENECA": 28, "ABDALA": 14},
    default_min_interval_days=21,
    booster_min_months={3: 3, 4: 4},
)

REGISTER = [
    dict(personal_id="079085001234", full_name="Nguyễn Văn An", date_of_birth="1985-03-05", gender="M"),
    dict(personal_id="079040000777", full_name="Bùi Văn Tám", date_of_birth="1940-01-01", gender="M",
         date_of_death="2021-06-01"),
]  # fmt: skip
DEAD = {"full_name": "Bùi Văn Tám", "id_number": "079040000777", "date_of_birth": "01/01/1940"}


def dose(sid, rid, n, date, vaccine="Pfizer", entered=None, signed="", **identity):
    entered = entered or f"{date}T10:00:00"
    return {"subject_id": sid, "record_id": rid, "dose_number": str(n), "vaccination_date": date,
            "vaccine": vaccine, "entered_at": entered, "signed_at": signed, **identity}  # fmt: skip


CASES = [
    # clean two-dose Pfizer series, 21 days apart: the near miss of every interval/sequence code
    dose("ok", "ok-1", 1, "2021-08-01"),
    dose("ok", "ok-2", 2, "2021-08-22"),
    # the same dose entered twice
    dose("dup", "dup-1", 1, "2021-08-01", entered="2021-08-01T10:00:00"),
    dose("dup", "dup-2", 1, "2021-08-01", entered="2021-08-02T10:00:00"),
    # near miss: the same day, but another product
    dose("nodup", "nodup-1", 1, "2021-08-01", vaccine="Vero Cell"),
    dose("nodup", "nodup-2", 2, "2021-08-01", vaccine="AstraZeneca", entered="2021-08-01T11:00:00"),
    # dose 2 dated before dose 1
    dose("seq", "seq-1", 2, "2021-07-01"),
    dose("seq", "seq-2", 1, "2021-08-01"),
    # Pfizer dose 2 after 14 days (< 21)
    dose("short", "short-1", 1, "2021-08-01"),
    dose("short", "short-2", 2, "2021-08-15"),
    # booster 2 months after dose 2 (< 3 months); near miss exactly 3 months
    dose("boost", "boost-1", 1, "2021-06-01"),
    dose("boost", "boost-2", 2, "2021-07-01"),
    dose("boost", "boost-3", 3, "2021-09-01"),
    dose("boostok", "boostok-1", 1, "2021-06-01"),
    dose("boostok", "boostok-2", 2, "2021-07-01"),
    dose("boostok", "boostok-3", 3, "2021-10-01"),
    # dates: before the campaign, on its first day, after entry, in the future, before birth
    dose("early", "early-1", 1, "2021-03-07"),
    dose("firstday", "firstday-1", 1, "2021-03-08"),
    dose("afterentry", "afterentry-1", 1, "2021-08-12", entered="2021-08-11T10:00:00"),
    dose("future", "future-1", 1, "2022-05-01", entered="2022-05-01T10:00:00"),
    dose("unborn", "unborn-1", 1, "2021-08-12", date_of_birth="2021-09-01", full_name="Nguyễn Văn Bé"),
    dose("baddate", "baddate-1", 1, "31/02/2021"),
    # the register says this person died on 2021-06-01
    dose("dead", "dead-1", 1, "2021-05-01", **DEAD),
    dose("dead", "dead-2", 2, "2021-07-01", **DEAD),
    # signing: a signed dose never enters the queue
    dose("signed", "signed-1", 1, "2021-08-01", signed="2021-08-01T12:00:00"),
    dose("signed", "signed-2", 2, "2021-08-22"),
    # signing: a subject that needs review blocks an otherwise clean dose
    dose("review", "review-1", 1, "2021-08-01", id_number=""),
    # signing: a foreigner with a passport is signable without a register check
    dose("foreign", "foreign-1", 1, "2021-08-01", id_number="", nationality="KR", passport_number="M1234567"),
]


def classify_cases(spark):
    """``CASES`` through normalising, subjects, subject and dose checks and the signing queue."""
    rows, register_raw = with_own_ids(CASES, REGISTER, first=800000)
    doses = normalize_doses(ledger_rows(spark, rows), missing_id_tokens=MISSING).cache()
    register = normalize_register(register_rows(spark, register_raw))
    subjects = build_subjects(doses)
    checks = classify_subjects(subjects, register).cache()
    dose_checks = classify_doses(doses, subjects, checks, register, **RULES).cache()
    return dose_checks, build_signing_queue(doses, checks, dose_checks)


@pytest.fixture(scope="module")
def tables(spark):
    dose_checks, queue = classify_cases(spark)
    return {
        "doses": {r["record_id"]: list(r["error_codes"]) for r in dose_checks.collect()},
        "queue": {r["record_id"]: (r["signable"], list(r["block_reasons"])) for r in queue.collect()},
        "queue_df": queue,
        "dose_checks_df": dose_checks,
    }


def test_clean_series_has_no_codes(tables):
    assert tables["doses"]["ok-1"] == [] and tables["doses"]["ok-2"] == []


def test_dose_duplicate_flags_the_later_copy(tables):
    assert tables["doses"]["dup-1"] == []
    assert tables["doses"]["dup-2"] == ["DOSE_DUPLICATE"]


def test_same_day_other_product_is_not_duplicate(tables):
    assert "DOSE_DUPLICATE" not in tables["doses"]["nodup-2"]


def test_dose_sequence(tables):
    assert tables["doses"]["seq-2"] == ["DOSE_SEQUENCE"]
    assert tables["doses"]["seq-1"] == []


def test_dose_interval_short_primary(tables):
    assert tables["doses"]["short-2"] == ["DOSE_INTERVAL_SHORT"]
    assert tables["doses"]["ok-2"] == []


def test_dose_interval_short_booster(tables):
    assert tables["doses"]["boost-3"] == ["DOSE_INTERVAL_SHORT"]
    assert tables["doses"]["boostok-3"] == []


@pytest.mark.parametrize("rid", ["early-1", "afterentry-1", "future-1", "unborn-1", "baddate-1"])
def test_dose_date_invalid(tables, rid):
    assert tables["doses"][rid] == ["DOSE_DATE_INVALID"]


def test_campaign_first_day_is_valid(tables):
    assert tables["doses"]["firstday-1"] == []


def test_dose_after_death(tables):
    assert tables["doses"]["dead-2"] == ["DOSE_AFTER_DEATH"]
    assert tables["doses"]["dead-1"] == []


def test_signed_doses_are_not_queued(tables):
    assert "signed-1" not in tables["queue"]
    assert tables["queue"]["signed-2"] == (True, [])


def test_verified_clean_dose_is_signable(tables):
    assert tables["queue"]["ok-1"] == (True, [])


def test_dose_error_blocks_signing(tables):
    assert tables["queue"]["short-2"] == (False, ["DOSE_INTERVAL_SHORT"])


def test_subject_review_blocks_signing(tables):
    assert tables["queue"]["review-1"] == (False, ["ID_MISSING"])


def test_foreigner_with_passport_is_signable(tables):
    assert tables["queue"]["foreign-1"] == (True, [])


def test_signing_queue_contract_columns(spark, tables):
    out = (
        tables["queue_df"]
        .filter("record_id IN ('ok-1', 'dup-2')")
        .select("record_id", "subject_id", "signable", "block_reasons")
    )
    schema = T.StructType(
        [
            T.StructField("record_id", T.StringType()),
            T.StructField("subject_id", T.StringType()),
            T.StructField("signable", T.BooleanType()),
            T.StructField("block_reasons", T.ArrayType(T.StringType())),
        ]
    )
    expected = spark.createDataFrame(
        [("ok-1", "ok", True, []), ("dup-2", "dup", False, ["DOSE_DUPLICATE"])], schema
    )
    assert_df_equality(out, expected, ignore_nullable=True, ignore_row_order=True)


def test_generated_code_gives_the_rows_of_interpreted_evaluation(spark, tables):
    """The tests evaluate expressions interpreted (tests/conftest.py); production runs compile them.

    The same cases with Spark's generated code forced on must give the same dose checks and queue.
    """
    interpreted = (as_multiset(tables["dose_checks_df"]), as_multiset(tables["queue_df"]))
    # Spark would answer the rerun from the fixture's cached (interpreted) frames: same plans.
    spark.catalog.clearCache()
    saved = {k: spark.conf.get(k) for k in ("spark.sql.codegen.wholeStage", "spark.sql.codegen.factoryMode")}
    spark.conf.set("spark.sql.codegen.wholeStage", "true")
    spark.conf.set("spark.sql.codegen.factoryMode", "CODEGEN_ONLY")  # a compile failure fails the test
    try:
        dose_checks, queue = classify_cases(spark)
        generated = (as_multiset(dose_checks), as_multiset(queue))
    finally:
        for key, value in saved.items():
            spark.conf.set(key, value)
    assert generated == interpreted
