"""Every subject code of the data contract: a literal row that must trigger it and a near miss that
must not. Raw text goes through the real normalise → subjects → classify path; the whole table of
cases is classified once (module fixture) and each test checks its own subjects."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from tests.helpers import ledger_rows, register_rows
from transforms.classify import classify_subjects
from transforms.ledger import build_subjects, normalize_doses, normalize_register

MISSING = ["", "0", "khong co", "chua co"]

REGISTER = [
    # personal_id, old_id, name, dob, gender, death
    dict(personal_id="079085001234", old_id_number="025123456", full_name="Nguyễn Văn An", date_of_birth="1985-03-05", gender="M"),
    dict(personal_id="001190000111", full_name="Trần Thị Bình", date_of_birth="1990-07-01", gender="F"),
    dict(personal_id="079050000222", full_name="Lê Văn Cường", date_of_birth="1950", gender="M"),
    dict(personal_id="079085000333", full_name="Phạm Thị Hòa", date_of_birth="1985-11-20", gender="F"),
    dict(personal_id="079070000444", full_name="Hoàng Văn Dũng", date_of_birth="1970-01-15", gender="M"),
    dict(personal_id="079072000555", full_name="Đỗ Thị Mai", date_of_birth="1972-02-02", gender="F"),
    dict(personal_id="079080000666", full_name="Võ Minh Tuấn", date_of_birth="1980-06", gender="M"),
]  # fmt: skip

# subject_id -> overrides of the default ledger row (Nguyễn Văn An, 05/03/1985, Nam, 079085001234)
SUBJECTS = {
    "verified": {},
    "nfd_case_spaces": {"full_name": "NGUYỄN  VĂN AN ".replace("Ễ", "E\u0302\u0303")},
    "dob_other_formats": {"date_of_birth": "1985-03-05"},
    "dob_excel_serial": {"date_of_birth": "31111"},
    "gender_male": {"gender": "Male"},
    "nationality_empty": {"nationality": ""},
    "id_whitespace": {"id_number": " {own} "},
    "old_cmnd": {"id_number": "025123456"},
    "missing_empty": {"id_number": ""},
    "missing_khong_co": {"id_number": "khong co"},
    "missing_zero": {"id_number": "0"},
    "malformed_lost_zero": {"id_number": "79085001234"},
    "malformed_scientific": {"id_number": "7.9085E+10"},
    "malformed_spaces": {"id_number": "079 085 001 234"},
    "malformed_dots": {"id_number": "079.085.001.234"},
    "malformed_prefix": {"id_number": "099085001234"},
    "malformed_century": {"id_number": "079485001234"},
    "not_found": {"id_number": "079085009999"},
    "name_no_diacritics": {"full_name": "nguyen van an"},
    "name_mojibake": {"full_name": "NguyÔn V¨n An"},
    "name_tone_old": {"full_name": "Phạm Thị Hoà", "id_number": "079085000333", "date_of_birth": "20/11/1985", "gender": "Nữ"},
    "dob_other_day": {"date_of_birth": "06/03/1985"},
    "dob_year_only": {"date_of_birth": "1985"},
    "dob_empty": {"date_of_birth": ""},
    "dob_register_year_only": {"full_name": "Lê Văn Cường", "id_number": "079050000222", "date_of_birth": "12/04/1950"},
    "dob_register_month_ok": {"full_name": "Võ Minh Tuấn", "id_number": "079080000666", "date_of_birth": "06/1980"},
    "dob_register_month_other": {"full_name": "Võ Minh Tuấn", "id_number": "079080000666", "date_of_birth": "07/1980"},
    "gender_wrong": {"gender": "Nữ"},
    "gender_empty": {"gender": ""},
    # a parent's ID used for a child: the parent is vaccinated too
    "parent": {"full_name": "Trần Thị Bình", "id_number": "001190000111", "date_of_birth": "01/07/1990", "gender": "Nữ"},
    "child": {"full_name": "Nguyễn Minh Khôi", "id_number": "001190000111", "date_of_birth": "02/09/2015", "gender": "Nam"},
    # near miss: someone else's ID but the owner never appears
    "borrowed_alone": {"full_name": "Nguyễn Minh Khôi", "id_number": "079070000444", "date_of_birth": "02/09/2015"},
    # the same person registered twice
    "dup_a": {"full_name": "Đỗ Thị Mai", "id_number": "079072000555", "date_of_birth": "02/02/1972", "gender": "Nữ"},
    "dup_b": {"full_name": "Đỗ Thị Mai", "id_number": "079072000555", "date_of_birth": "1972-02-02", "gender": "F"},
    # near miss: a second subject on the same ID that disagrees on the name only
    "same_id_name_typo": {"full_name": "Hoang Van Dung", "id_number": "079070000444", "date_of_birth": "15/01/1970"},
    "foreign_passport": {"full_name": "Kim Min Jun", "nationality": "Hàn Quốc", "passport_number": "M12345678", "id_number": ""},
    "foreign_no_passport": {"full_name": "John Smith", "nationality": "US", "passport_number": "", "id_number": ""},
}  # fmt: skip


def cases() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Ledger rows and register rows. A case that does not type its own ID gets a register person
    of its own (the default identity), so that cases never meet as duplicates of each other."""
    rows, register = [], list(REGISTER)
    for i, (sid, over) in enumerate(SUBJECTS.items()):
        if "id_number" not in over or "{own}" in over["id_number"]:
            own = f"079085{900000 + i:06d}"
            over = {**over, "id_number": over.get("id_number", "{own}").replace("{own}", own)}
            register.append(
                dict(personal_id=own, full_name="Nguyễn Văn An", date_of_birth="1985-03-05", gender="M")
            )
        rows.append({"subject_id": sid, **over})
    return rows, register


@pytest.fixture(scope="module")
def checks(spark):
    rows, register_raw = cases()
    doses = normalize_doses(ledger_rows(spark, rows), missing_id_tokens=MISSING)
    register = normalize_register(register_rows(spark, register_raw))
    out = classify_subjects(build_subjects(doses), register)
    return {r["subject_id"]: r for r in out.collect()}


def codes(checks, sid):
    return list(checks[sid]["error_codes"])


@pytest.mark.parametrize(
    "sid",
    ["verified", "nfd_case_spaces", "dob_other_formats", "dob_excel_serial", "gender_male", "nationality_empty",
     "id_whitespace", "name_tone_old", "dob_register_year_only", "dob_register_month_ok"],
)  # fmt: skip
def test_noise_is_not_an_error(checks, sid):
    assert checks[sid]["status"] == "VERIFIED", codes(checks, sid)
    assert codes(checks, sid) == []


def test_old_cmnd_resolves_to_the_register_person(checks):
    assert checks["old_cmnd"]["status"] == "VERIFIED"
    assert checks["old_cmnd"]["matched_personal_id"] == "079085001234"


@pytest.mark.parametrize("sid", ["missing_empty", "missing_khong_co", "missing_zero"])
def test_id_missing(checks, sid):
    assert codes(checks, sid) == ["ID_MISSING"]
    assert checks[sid]["status"] == "NEEDS_REVIEW"
    assert checks[sid]["matched_personal_id"] is None


@pytest.mark.parametrize(
    "sid",
    ["malformed_lost_zero", "malformed_scientific", "malformed_spaces", "malformed_dots", "malformed_prefix",
     "malformed_century"],
)  # fmt: skip
def test_id_malformed(checks, sid):
    assert codes(checks, sid) == ["ID_MALFORMED"]


def test_id_not_found(checks):
    assert codes(checks, "not_found") == ["ID_NOT_FOUND"]
    assert checks["not_found"]["matched_personal_id"] is None


@pytest.mark.parametrize("sid", ["name_no_diacritics", "name_mojibake"])
def test_name_mismatch(checks, sid):
    assert codes(checks, sid) == ["NAME_MISMATCH"]
    assert checks[sid]["matched_personal_id"].startswith("079085")


@pytest.mark.parametrize("sid", ["dob_other_day", "dob_year_only", "dob_empty", "dob_register_month_other"])
def test_dob_mismatch(checks, sid):
    assert codes(checks, sid) == ["DOB_MISMATCH"]


@pytest.mark.parametrize("sid", ["gender_wrong", "gender_empty"])
def test_gender_mismatch(checks, sid):
    assert codes(checks, sid) == ["GENDER_MISMATCH"]


def test_id_shared_child_under_parent_id(checks):
    assert codes(checks, "child") == ["DOB_MISMATCH", "GENDER_MISMATCH", "ID_SHARED", "NAME_MISMATCH"]
    assert codes(checks, "parent") == []
    assert checks["child"]["matched_personal_id"] == "001190000111"


def test_borrowed_id_without_its_owner_is_not_id_shared(checks):
    assert codes(checks, "borrowed_alone") == ["DOB_MISMATCH", "NAME_MISMATCH"]


def test_subject_duplicate_both_subjects(checks):
    assert codes(checks, "dup_a") == ["SUBJECT_DUPLICATE"]
    assert codes(checks, "dup_b") == ["SUBJECT_DUPLICATE"]


def test_same_id_with_name_typo_is_not_a_duplicate(checks):
    assert codes(checks, "same_id_name_typo") == ["NAME_MISMATCH"]


def test_foreigner_with_passport(checks):
    assert checks["foreign_passport"]["status"] == "FOREIGN"
    assert codes(checks, "foreign_passport") == []
    assert checks["foreign_passport"]["matched_personal_id"] is None


def test_foreigner_without_passport(checks):
    assert checks["foreign_no_passport"]["status"] == "NEEDS_REVIEW"
    assert codes(checks, "foreign_no_passport") == ["FOREIGN_NO_PASSPORT"]


def test_subject_checks_contract_columns(spark):
    """The contract's columns and types for one verified subject, as a literal expected DataFrame."""
    raw = ledger_rows(spark, [{"subject_id": "S1"}])
    doses = normalize_doses(raw, missing_id_tokens=MISSING)
    register = normalize_register(register_rows(spark, REGISTER[:1]))
    out = classify_subjects(build_subjects(doses), register).select(
        "subject_id", "province_code", "commune_code", "status", "error_codes", "matched_personal_id"
    )
    schema = T.StructType(
        [
            T.StructField("subject_id", T.StringType()),
            T.StructField("province_code", T.StringType()),
            T.StructField("commune_code", T.StringType()),
            T.StructField("status", T.StringType()),
            T.StructField("error_codes", T.ArrayType(T.StringType())),
            T.StructField("matched_personal_id", T.StringType()),
        ]
    )
    expected = spark.createDataFrame([("S1", "79", "26734", "VERIFIED", [], "079085001234")], schema)
    assert_df_equality(out, expected, ignore_nullable=True, ignore_row_order=True)
