"""The signing gate (contract section 3, ``signing_queue``): every block reason, the foreigner path.

One subject per case, raw text through the real normalise → subjects → classify → gate path; the
whole table of cases is gated once (module fixture) and each test checks its own rows."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from tests.helpers import ledger_rows, register_rows, with_own_ids
from transforms.classify import build_signing_queue, classify_doses, classify_subjects
from transforms.ledger import build_subjects, normalize_doses, normalize_register

MISSING = ["", "0", "khong co"]
RULES = dict(
    campaign_start=dt.date(2021, 3, 8),
    as_of=dt.date(2022, 4, 26),
    min_interval_days={"PFIZER": 21},
    default_min_interval_days=21,
    booster_min_months={3: 3, 4: 4},
)

# The contract's vocabulary (section 3), plus the project's SUBJECT_UNKNOWN (a dose without subject).
SUBJECT_CODES = (
    "ID_MISSING", "ID_MALFORMED", "ID_NOT_FOUND", "NAME_MISMATCH", "DOB_MISMATCH", "GENDER_MISMATCH",
    "ID_SHARED", "SUBJECT_DUPLICATE", "FOREIGN_NO_PASSPORT",
)  # fmt: skip
DOSE_CODES = (
    "DOSE_DUPLICATE",
    "DOSE_SEQUENCE",
    "DOSE_INTERVAL_SHORT",
    "DOSE_DATE_INVALID",
    "DOSE_AFTER_DEATH",
)

REGISTER = [
    dict(personal_id="001190000111", full_name="Trần Thị Bình", date_of_birth="1990-07-01", gender="F"),
    dict(personal_id="079072000555", full_name="Đỗ Thị Mai", date_of_birth="1972-02-02", gender="F"),
    dict(personal_id="079040000777", full_name="Bùi Văn Tám", date_of_birth="1940-01-01", gender="M",
         date_of_death="2021-06-01"),
]  # fmt: skip
PARENT = {
    "full_name": "Trần Thị Bình",
    "id_number": "001190000111",
    "date_of_birth": "01/07/1990",
    "gender": "Nữ",
}
CHILD = {
    "full_name": "Nguyễn Minh Khôi",
    "id_number": "001190000111",
    "date_of_birth": "02/09/2015",
    "gender": "Nam",
}
MAI = {"full_name": "Đỗ Thị Mai", "id_number": "079072000555", "date_of_birth": "02/02/1972", "gender": "Nữ"}
DEAD = {"full_name": "Bùi Văn Tám", "id_number": "079040000777", "date_of_birth": "01/01/1940"}
KOREAN = {
    "full_name": "Kim Min Jun",
    "nationality": "Hàn Quốc",
    "passport_number": "M12345678",
    "id_number": "",
}


def dose(sid, rid, n=1, date="2021-08-01", signed="", **identity):
    return {"subject_id": sid, "record_id": rid, "dose_number": str(n), "vaccination_date": date,
            "entered_at": f"{date}T10:00:00", "signed_at": signed, **identity}  # fmt: skip


CASES = [
    dose("verified", "verified-1"),
    # subject codes: each blocks an otherwise clean dose
    dose("id_missing", "id_missing-1", id_number="khong co"),
    dose("id_malformed", "id_malformed-1", id_number="79085001234"),
    dose("id_not_found", "id_not_found-1", id_number="079085009999"),
    dose("name_mismatch", "name_mismatch-1", full_name="nguyen van an"),
    dose("dob_mismatch", "dob_mismatch-1", date_of_birth="06/03/1985"),
    dose("gender_mismatch", "gender_mismatch-1", gender="Nữ"),
    dose("parent", "parent-1", **PARENT),
    dose("child", "child-1", **CHILD),
    dose("dup_a", "dup_a-1", **MAI),
    dose("dup_b", "dup_b-1", **{**MAI, "date_of_birth": "1972-02-02"}),
    dose("foreign_no_passport", "foreign_no_passport-1", full_name="John Smith", nationality="US", id_number=""),
    # dose codes on verified subjects
    dose("dose_dup", "dose_dup-1"),
    dose("dose_dup", "dose_dup-2"),
    dose("dose_seq", "dose_seq-1", n=2, date="2021-07-01"),
    dose("dose_seq", "dose_seq-2", n=1, date="2021-08-01"),
    dose("dose_short", "dose_short-1", n=1, date="2021-08-01"),
    dose("dose_short", "dose_short-2", n=2, date="2021-08-15"),
    dose("dose_early", "dose_early-1", date="2021-03-07"),
    dose("dead", "dead-1", n=1, date="2021-05-01", **DEAD),
    dose("dead", "dead-2", n=2, date="2021-07-01", **DEAD),
    # a dose without a subject
    dose("", "orphan-1"),
    # subject and dose codes together: the sorted union
    dose("both", "both-1", n=1, date="2021-08-01", id_number=""),
    dose("both", "both-2", n=2, date="2021-08-10", id_number=""),
    # signed doses: signed → not queued; unparsable signature → queued again
    dose("signed", "signed-1", signed="2021-08-01T12:00:00"),
    dose("badsig", "badsig-1", signed="chua ky"),
    # foreigners: identified by passport, never looked up in the register
    dose("foreign", "foreign-1", **KOREAN),
    dose("foreign_reg_id", "foreign_reg_id-1", **{**KOREAN, "id_number": "079072000555"}),
    dose("foreign_short", "foreign_short-1", n=1, date="2021-08-01", **KOREAN),
    dose("foreign_short", "foreign_short-2", n=2, date="2021-08-10", **KOREAN),
    dose("unknown_nationality", "unknown_nationality-1", nationality="Atlantis", passport_number="X1234567", id_number=""),
]  # fmt: skip

# The dose row of each reason's case and the exact block reasons it must carry.
BLOCKED = {
    "ID_MISSING": ("id_missing-1", ["ID_MISSING"]),
    "ID_MALFORMED": ("id_malformed-1", ["ID_MALFORMED"]),
    "ID_NOT_FOUND": ("id_not_found-1", ["ID_NOT_FOUND"]),
    "NAME_MISMATCH": ("name_mismatch-1", ["NAME_MISMATCH"]),
    "DOB_MISMATCH": ("dob_mismatch-1", ["DOB_MISMATCH"]),
    "GENDER_MISMATCH": ("gender_mismatch-1", ["GENDER_MISMATCH"]),
    "ID_SHARED": ("child-1", ["DOB_MISMATCH", "GENDER_MISMATCH", "ID_SHARED", "NAME_MISMATCH"]),
    "SUBJECT_DUPLICATE": ("dup_a-1", ["SUBJECT_DUPLICATE"]),
    "FOREIGN_NO_PASSPORT": ("foreign_no_passport-1", ["FOREIGN_NO_PASSPORT"]),
    "DOSE_DUPLICATE": ("dose_dup-2", ["DOSE_DUPLICATE"]),
    "DOSE_SEQUENCE": ("dose_seq-2", ["DOSE_SEQUENCE"]),
    "DOSE_INTERVAL_SHORT": ("dose_short-2", ["DOSE_INTERVAL_SHORT"]),
    "DOSE_DATE_INVALID": ("dose_early-1", ["DOSE_DATE_INVALID"]),
    "DOSE_AFTER_DEATH": ("dead-2", ["DOSE_AFTER_DEATH"]),
    "SUBJECT_UNKNOWN": ("orphan-1", ["SUBJECT_UNKNOWN"]),
}


@pytest.fixture(scope="module")
def gate(spark):
    rows, register_raw = with_own_ids(CASES, REGISTER, first=700000)
    doses = normalize_doses(ledger_rows(spark, rows), missing_id_tokens=MISSING).cache()
    register = normalize_register(register_rows(spark, register_raw))
    subjects = build_subjects(doses)
    checks = classify_subjects(subjects, register).cache()
    dose_checks = classify_doses(doses, subjects, checks, register, **RULES)
    queue = build_signing_queue(doses, checks, dose_checks).cache()
    return {
        "df": queue,
        "rows": {r["record_id"]: (r["signable"], list(r["block_reasons"])) for r in queue.collect()},
        "status": {r["subject_id"]: (r["status"], r["matched_personal_id"]) for r in checks.collect()},
    }


def test_every_contract_code_has_a_block_case():
    assert set(BLOCKED) == {*SUBJECT_CODES, *DOSE_CODES, "SUBJECT_UNKNOWN"}


@pytest.mark.parametrize("reason", sorted(BLOCKED))
def test_block_reason(gate, reason):
    record_id, reasons = BLOCKED[reason]
    assert gate["rows"][record_id] == (False, reasons)


def test_clean_doses_around_the_blocked_ones_stay_signable(gate):
    """The near misses: the original of a duplicate, the parent whose ID a child used, the dose before
    a too-short interval, a dose before the death date."""
    for record_id in ("verified-1", "dose_dup-1", "parent-1", "dose_short-1", "dose_seq-1", "dead-1"):
        assert gate["rows"][record_id] == (True, []), record_id


def test_subject_and_dose_reasons_are_one_sorted_union(gate):
    assert gate["rows"]["both-1"] == (False, ["ID_MISSING"])
    assert gate["rows"]["both-2"] == (False, ["DOSE_INTERVAL_SHORT", "ID_MISSING"])


def test_signed_dose_is_not_queued_and_unparsable_signature_is(gate):
    assert "signed-1" not in gate["rows"]
    assert gate["rows"]["badsig-1"] == (True, [])


def test_foreigner_with_passport_is_signable_without_register_check(gate):
    assert gate["rows"]["foreign-1"] == (True, [])
    assert gate["status"]["foreign"] == ("FOREIGN", None)


def test_foreigner_typing_a_register_id_is_not_checked_against_it(gate):
    """The ID belongs to Đỗ Thị Mai in the register; a foreigner's row is never compared with it."""
    assert gate["rows"]["foreign_reg_id-1"] == (True, [])
    assert gate["status"]["foreign_reg_id"] == ("FOREIGN", None)


def test_foreigner_dose_error_still_blocks(gate):
    assert gate["rows"]["foreign_short-1"] == (True, [])
    assert gate["rows"]["foreign_short-2"] == (False, ["DOSE_INTERVAL_SHORT"])


def test_unknown_nationality_takes_the_vietnamese_path(gate):
    """A passport does not help a subject whose nationality is not known to be foreign."""
    assert gate["rows"]["unknown_nationality-1"] == (False, ["ID_MISSING"])


def test_queue_holds_exactly_the_unsigned_doses(spark, gate):
    out = gate["df"].select("record_id", "subject_id", "signable", "block_reasons")
    schema = T.StructType(
        [
            T.StructField("record_id", T.StringType()),
            T.StructField("subject_id", T.StringType()),
            T.StructField("signable", T.BooleanType()),
            T.StructField("block_reasons", T.ArrayType(T.StringType())),
        ]
    )
    expected_rows = [
        ("verified-1", "verified", True, []),
        ("id_missing-1", "id_missing", False, ["ID_MISSING"]),
        ("id_malformed-1", "id_malformed", False, ["ID_MALFORMED"]),
        ("id_not_found-1", "id_not_found", False, ["ID_NOT_FOUND"]),
        ("name_mismatch-1", "name_mismatch", False, ["NAME_MISMATCH"]),
        ("dob_mismatch-1", "dob_mismatch", False, ["DOB_MISMATCH"]),
        ("gender_mismatch-1", "gender_mismatch", False, ["GENDER_MISMATCH"]),
        ("parent-1", "parent", True, []),
        ("child-1", "child", False, ["DOB_MISMATCH", "GENDER_MISMATCH", "ID_SHARED", "NAME_MISMATCH"]),
        ("dup_a-1", "dup_a", False, ["SUBJECT_DUPLICATE"]),
        ("dup_b-1", "dup_b", False, ["SUBJECT_DUPLICATE"]),
        ("foreign_no_passport-1", "foreign_no_passport", False, ["FOREIGN_NO_PASSPORT"]),
        ("dose_dup-1", "dose_dup", True, []),
        ("dose_dup-2", "dose_dup", False, ["DOSE_DUPLICATE"]),
        ("dose_seq-1", "dose_seq", True, []),
        ("dose_seq-2", "dose_seq", False, ["DOSE_SEQUENCE"]),
        ("dose_short-1", "dose_short", True, []),
        ("dose_short-2", "dose_short", False, ["DOSE_INTERVAL_SHORT"]),
        ("dose_early-1", "dose_early", False, ["DOSE_DATE_INVALID"]),
        ("dead-1", "dead", True, []),
        ("dead-2", "dead", False, ["DOSE_AFTER_DEATH"]),
        ("orphan-1", None, False, ["SUBJECT_UNKNOWN"]),
        ("both-1", "both", False, ["ID_MISSING"]),
        ("both-2", "both", False, ["DOSE_INTERVAL_SHORT", "ID_MISSING"]),
        ("badsig-1", "badsig", True, []),
        ("foreign-1", "foreign", True, []),
        ("foreign_reg_id-1", "foreign_reg_id", True, []),
        ("foreign_short-1", "foreign_short", True, []),
        ("foreign_short-2", "foreign_short", False, ["DOSE_INTERVAL_SHORT"]),
        ("unknown_nationality-1", "unknown_nationality", False, ["ID_MISSING"]),
    ]  # fmt: skip
    expected = spark.createDataFrame(expected_rows, schema)
    assert_df_equality(out, expected, ignore_nullable=True, ignore_row_order=True)
