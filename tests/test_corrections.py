"""apply_corrections: accepted corrections override the identity, re-normalised, with a new version."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from tests.helpers import ledger_rows
from transforms.corrections import SUBJECT_CORRECTIONS, apply_corrections
from transforms.ledger import build_subjects, normalize_doses
from vaxclean import schemas

MISSING = ["", "0", "khong co"]
T0 = dt.datetime(2024, 5, 1, 9, 0)


def correction(subject_id: str, field: str, new_value: str | None, *, at: dt.datetime = T0, row: int = 2):
    return (
        "79", "760", "26734", subject_id, "v-issued", field, None, new_value, "Công an phường", at,
        "DS-26734-x", "returned.xlsx", "Danh sách", row, "sha", at,
    )  # fmt: skip


@pytest.fixture(scope="module")
def subjects(spark):
    raw = ledger_rows(
        spark,
        [
            {"subject_id": "S-ID", "id_number": "79085001234"},
            {"subject_id": "S-NAME", "full_name": "NguyÔn V¨n An", "gender": ""},
            {"subject_id": "S-FOREIGN", "full_name": "Kim Min Jun", "nationality": "", "id_number": ""},
            {"subject_id": "S-NONE", "date_of_birth": "1985"},
        ],
    )
    return build_subjects(normalize_doses(raw, missing_id_tokens=MISSING)).cache()


@pytest.fixture(scope="module")
def applied(spark, subjects):
    rows = [
        correction("S-ID", "id_number", "079085009999", at=T0 - dt.timedelta(days=1)),
        correction("S-ID", "id_number", "079085001234"),  # the latest wins
        correction("S-ID", "date_of_birth", "1985-03-06"),
        correction("S-NAME", "full_name", "Nguyễn  Văn An"),
        correction("S-NAME", "gender", "Nữ"),
        correction("S-FOREIGN", "nationality", "Hàn Quốc"),
        correction("S-FOREIGN", "passport_number", " M12345678 "),
        correction("S-NONE", "note", "đã chuyển đi"),  # a note is kept, never applied
    ]
    corrections = spark.createDataFrame(rows, SUBJECT_CORRECTIONS)
    out = apply_corrections(subjects, corrections, missing_id_tokens=MISSING)
    return {r["subject_id"]: r for r in out.collect()}, {r["subject_id"]: r for r in subjects.collect()}


def test_latest_correction_of_a_field_wins_and_is_renormalised(applied):
    after, before = applied
    s = after["S-ID"]
    assert (s["id_raw"], s["id_clean"], s["id_status"]) == ("079085001234", "079085001234", "VALID")
    assert (s["dob_raw"], s["dob_date"], s["dob_precision"]) == ("1985-03-06", dt.date(1985, 3, 6), "DAY")
    assert s["full_name_raw"] == before["S-ID"]["full_name_raw"]  # fields not corrected stay
    assert s["subject_version"] != before["S-ID"]["subject_version"]


def test_corrected_name_replaces_every_name_column(applied):
    s = applied[0]["S-NAME"]
    assert s["full_name_raw"] == "Nguyễn  Văn An"
    assert (s["name_display"], s["name_key"], s["name_fold"]) == (
        "Nguyễn Văn An",
        "nguyễn văn an",
        "nguyen van an",
    )
    assert s["name_is_mojibake"] is False
    assert (s["gender_raw"], s["gender"]) == ("Nữ", "F")


def test_corrected_nationality_and_passport_make_a_foreigner(applied):
    s = applied[0]["S-FOREIGN"]
    assert (s["nationality_raw"], s["nationality"], s["is_foreign"]) == ("Hàn Quốc", "KR", True)
    assert s["passport_number"] == "M12345678"


def test_subject_with_only_a_note_is_unchanged(spark, subjects, applied):
    after, before = applied
    assert after["S-NONE"] == before["S-NONE"]


def test_subjects_without_corrections_pass_through_with_the_subjects_schema(spark, subjects):
    none = spark.createDataFrame([], SUBJECT_CORRECTIONS)
    out = apply_corrections(subjects, none, missing_id_tokens=MISSING)
    assert out.columns == schemas.SUBJECTS.fieldNames()
    assert_df_equality(out, subjects, ignore_row_order=True, ignore_nullable=True)


def test_version_matches_build_subjects_for_the_same_identity(spark, subjects):
    """A corrected subject gets the version build_subjects gives a ledger row with those values."""
    raw = ledger_rows(spark, [{"subject_id": "S-ID", "id_number": "079085001234"}])
    fresh = build_subjects(normalize_doses(raw, missing_id_tokens=MISSING))
    corrections = spark.createDataFrame(
        [correction("S-ID", "id_number", "079085001234")], SUBJECT_CORRECTIONS
    )
    out = apply_corrections(
        subjects.filter(F.col("subject_id") == "S-ID"), corrections, missing_id_tokens=MISSING
    )
    assert out.first()["subject_version"] == fresh.first()["subject_version"]
