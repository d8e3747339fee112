"""Corrections from returned review lists: checking returned rows, and applying accepted ones.

* :func:`check_returned_rows`: every row read from a returned workbook, with the problems that make
  it untrustworthy (row key not issued, another commune's row, an edited read-only cell, a stale
  row, an invalid corrected value, no verifier) and its outcome.
* :func:`correction_rows` / :func:`reject_rows`: what goes to ``subject_corrections`` and
  ``correction_rejects``.
* :func:`apply_corrections`: the subject identities with the latest accepted correction of each
  field applied, re-normalised, with a new ``subject_version`` (called by ``jobs/classify.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from transforms import normalize as N
from transforms.ledger import IDENTITY_FIELDS, subject_version
from vaxclean import schemas, xlsx

#: Fields a correction may set (ledger column names), and ``note`` (kept, never applied).
FIELDS = tuple(xlsx.FIELD_SOURCES)
NOTE = "note"

ACCEPTED, ALREADY_RECORDED, NO_CHANGE, REJECTED = "ACCEPTED", "ALREADY_RECORDED", "NO_CHANGE", "REJECTED"

#: Why a row (or a file) was not taken, in Vietnamese for the commune's verification list.
REASONS = {
    xlsx.NOT_A_WORKBOOK: "Tệp không phải bảng tính Excel .xlsx đọc được",
    xlsx.NO_HEADER: "Không tìm thấy dòng tiêu đề của danh sách rà soát",
    xlsx.UNKNOWN_LIST: "Không xác định được danh sách của xã/phường nào",
    xlsx.BAD_LIST_SIGNATURE: "Trang thông tin ẩn của danh sách đã bị sửa",
    xlsx.NO_ROW_KEY: "Dòng không có khoá dòng: không thuộc danh sách đã phát hành",
    xlsx.BAD_SIGNATURE: "Khoá dòng bị sửa hoặc không hợp lệ",
    xlsx.FORMULA: "Ô sửa chứa công thức: chỉ ghi giá trị",
    "NOT_ISSUED": "Dòng không có trong danh sách đã phát hành",
    "OTHER_COMMUNE": "Dòng thuộc danh sách của xã/phường khác",
    "READ_ONLY_EDITED": "Ô chỉ đọc đã bị sửa (hoặc dòng bị xáo trộn khi sắp xếp): ghi sửa vào cột màu vàng",
    "STALE": "Thông tin đối tượng đã thay đổi sau khi lập danh sách: dùng danh sách mới",
    "DUPLICATE_CONFLICT": "Cùng một đối tượng có nhiều dòng với nội dung sửa khác nhau",
    "INVALID_ID": "CCCD/CMND đúng không hợp lệ (CCCD 12 chữ số, CMND 9 chữ số)",
    "INVALID_DOB": "Ngày sinh đúng không đọc được (ghi ngày/tháng/năm)",
    "INVALID_GENDER": "Giới tính đúng phải là Nam hoặc Nữ",
    "INVALID_NATIONALITY": "Quốc tịch không nhận ra được",
    "INVALID_PASSPORT": "Số hộ chiếu không hợp lệ (5-20 chữ cái, chữ số)",
    "NO_VERIFIER": "Chưa ghi người xác minh",
}
_PASSPORT = r"^[A-Za-z0-9]{5,20}$"

# --- schemas ---------------------------------------------------------------------------------------

S, TS, L, B = T.StringType(), T.TimestampType(), T.LongType(), T.BooleanType()
PROBLEMS = T.ArrayType(T.StructType([T.StructField("code", S, False), T.StructField("column", S, True)]))

#: What :func:`vaxclean.xlsx.read_returned_partition` yields.
RETURNED = T.StructType(
    [
        T.StructField("kind", S, False),
        T.StructField("source_file", S, False),
        T.StructField("file_sha256", S, False),
        T.StructField("sheet", S, True),
        T.StructField("source_row", L, True),
        T.StructField("file_list_id", S, True),
        T.StructField("file_province", S, True),
        T.StructField("file_district", S, True),
        T.StructField("file_commune", S, True),
        T.StructField("saved_at", TS, True),
        T.StructField("key_list_id", S, True),
        T.StructField("key_subject_id", S, True),
        T.StructField("key_subject_version", S, True),
        T.StructField("found", T.MapType(S, S, True), True),
        T.StructField("fixes", T.MapType(S, S, True), True),
        T.StructField("verified_by", S, True),
        T.StructField("note", S, True),
        T.StructField("problems", PROBLEMS, True),
        T.StructField("detail", S, True),
    ]
)

SUBJECT_CORRECTIONS = schemas.SUBJECT_CORRECTIONS
CORRECTION_KEYS = ["province_code", "subject_id", "subject_version", "field"]

CORRECTION_REJECTS = schemas.CORRECTION_REJECTS
REJECT_KEYS = ["file_sha256", "sheet", "source_row", "column", "reason_code"]


# --- checking returned rows ----------------------------------------------------------------------------


def _safe_code(col: Column, width: int) -> Column:
    """The file-name form of a code (:func:`vaxclean.xlsx.safe_code`)."""
    trimmed = F.trim(col)
    return F.when(
        trimmed.isNull() | (F.regexp_replace(trimmed, "_", "") == ""), F.lit("x" * width)
    ).otherwise(F.regexp_replace(trimmed, "[^0-9A-Za-z]", "_"))


def _problem(cond: Column, code: str, column: str | None = None) -> Column:
    return F.when(cond, F.struct(F.lit(code).alias("code"), F.lit(column).cast("string").alias("column")))


def _same_value(found: Column, issued: Column, *, digits: bool) -> Column:
    """A returned read-only value equals the issued one (an ID may have lost its leading zeros)."""
    same = found.eqNullSafe(issued)
    if digits:
        strip = F.regexp_replace(issued, "^0+", "")
        same = same | (found.rlike("^[0-9]+$") & (F.regexp_replace(found, "^0+", "") == strip))
    return same


def check_returned_rows(
    returned: DataFrame,
    *,
    manifest: DataFrame,
    subjects: DataFrame,
    corrections: DataFrame | None,
    missing_id_tokens: Sequence[str],
    require_verifier: bool,
) -> DataFrame:
    """Every returned row (``kind = 'row'``) with its problems and outcome.

    ``manifest`` is ``review_manifest``, ``subjects`` the current identities, ``corrections`` the
    ``subject_corrections`` recorded so far (None before the first). A row is ``REJECTED`` when it
    has a problem; ``ALREADY_RECORDED`` when all it returns is in ``corrections`` already (the same
    list ingested again: not stale, not new); ``ACCEPTED`` when it returns a correction or a note;
    ``NO_CHANGE`` otherwise.
    """
    rows = returned.filter(F.col("kind") == "row")
    m = manifest.select(
        F.col("list_id").alias("key_list_id"),
        F.col("subject_id").alias("key_subject_id"),
        F.col("subject_version").alias("_issued_version"),
        F.col("province_code").alias("province_code"),
        F.col("district_code").alias("district_code"),
        F.col("commune_code").alias("commune_code"),
        "issued_values",
    )
    cur = subjects.select(
        F.col("subject_id").alias("key_subject_id"), F.col("subject_version").alias("_current_version")
    )
    r = rows.join(m, on=["key_list_id", "key_subject_id"], how="left").join(
        cur, on="key_subject_id", how="left"
    )
    fixes = F.coalesce(F.col("fixes"), F.create_map().cast("map<string,string>"))
    returned_values = F.when(
        F.col("note").isNotNull(), F.map_concat(fixes, F.create_map(F.lit(NOTE), F.col("note")))
    ).otherwise(fixes)
    r = r.withColumn("_values", returned_values)
    if corrections is not None:
        done = corrections.groupBy(
            F.col("subject_id").alias("key_subject_id"), F.col("subject_version").alias("key_subject_version")
        ).agg(F.map_from_entries(F.collect_list(F.struct("field", "new_value"))).alias("_recorded"))
        r = r.join(done, on=["key_subject_id", "key_subject_version"], how="left")
    else:
        r = r.withColumn("_recorded", F.lit(None).cast("map<string,string>"))
    has_values = F.size("_values") > 0
    recorded = (
        has_values
        & F.coalesce(
            F.forall(
                F.map_keys("_values"),
                lambda k: F.try_element_at(F.col("_recorded"), k).eqNullSafe(
                    F.try_element_at(F.col("_values"), k)
                ),
            ),
            F.lit(False),
        )
        & F.col("_recorded").isNotNull()
    )
    r = r.withColumn("_already", recorded)

    keyed = F.col("key_list_id").isNotNull()
    issued = (
        keyed
        & F.col("_issued_version").isNotNull()
        & (F.col("_issued_version") == F.col("key_subject_version"))
    )
    other_commune = (
        issued
        & F.col("file_commune").isNotNull()
        & ~(
            (_safe_code(F.col("province_code"), 2) == _safe_code(F.col("file_province"), 2))
            & (_safe_code(F.col("district_code"), 3) == _safe_code(F.col("file_district"), 3))
            & (_safe_code(F.col("commune_code"), 5) == _safe_code(F.col("file_commune"), 5))
        )
    )
    edited = [
        _problem(
            issued
            & F.array_contains(F.map_keys("found"), key)
            & ~_same_value(
                F.try_element_at(F.col("found"), F.lit(key)),
                F.try_element_at(F.col("issued_values"), F.lit(key)),
                digits=key in xlsx.DIGIT_KEYS,
            ),
            "READ_ONLY_EDITED",
            xlsx.HEADERS[key],
        )
        for key in xlsx.CHECKED_KEYS
    ]
    # A row that returns nothing cannot be stale: there is nothing to apply to the moved-on subject.
    stale = (
        issued
        & has_values
        & ~F.col("_already")
        & ~F.col("_current_version").eqNullSafe(F.col("key_subject_version"))
    )

    def fix(name: str) -> Column:
        return F.try_element_at(fixes, F.lit(name))

    dob = N.parse_partial_date(fix("date_of_birth"))
    gender = N.normalize_gender(fix("gender"))
    value_problems = [
        _problem(
            fix("id_number").isNotNull()
            & (N.id_status(fix("id_number"), missing_tokens=missing_id_tokens) != N.ID_VALID),
            "INVALID_ID",
            xlsx.HEADERS["fix_id_number"],
        ),
        _problem(
            fix("date_of_birth").isNotNull() & dob.isNull(), "INVALID_DOB", xlsx.HEADERS["fix_date_of_birth"]
        ),
        _problem(
            fix("gender").isNotNull() & ~F.coalesce(gender.isin("M", "F"), F.lit(False)),
            "INVALID_GENDER",
            xlsx.HEADERS["fix_gender"],
        ),
        _problem(
            fix("nationality").isNotNull() & N.normalize_nationality(fix("nationality")).isNull(),
            "INVALID_NATIONALITY",
            xlsx.HEADERS["fix_nationality_passport"],
        ),
        _problem(
            fix("passport_number").isNotNull() & ~fix("passport_number").rlike(_PASSPORT),
            "INVALID_PASSPORT",
            xlsx.HEADERS["fix_nationality_passport"],
        ),
        _problem(
            F.lit(require_verifier) & (F.size(fixes) > 0) & F.col("verified_by").isNull(),
            "NO_VERIFIER",
            xlsx.HEADERS["verified_by"],
        ),
    ]
    same_row = Window.partitionBy("source_file", "key_list_id", "key_subject_id")
    content = F.to_json(F.struct(F.map_entries("_values"), F.col("verified_by")))
    conflict = keyed & (F.size(F.collect_set(content).over(same_row)) > 1)
    spark_problems = F.array_compact(
        F.array(
            _problem(keyed & ~issued, "NOT_ISSUED", xlsx.HEADERS["row_key"]),
            _problem(other_commune, "OTHER_COMMUNE", xlsx.HEADERS["row_key"]),
            *edited,
            _problem(stale & ~other_commune, "STALE", xlsx.HEADERS["row_key"]),
            _problem(conflict, "DUPLICATE_CONFLICT", xlsx.HEADERS["row_key"]),
            *value_problems,
        )
    )
    problems = F.concat(F.coalesce(F.col("problems"), F.array().cast(PROBLEMS)), spark_problems)
    r = r.withColumn("problems", problems)
    outcome = (
        F.when(F.size("problems") > 0, F.lit(REJECTED))
        .when(F.col("_already"), F.lit(ALREADY_RECORDED))
        .when(has_values, F.lit(ACCEPTED))
        .otherwise(F.lit(NO_CHANGE))
    )
    return r.select(
        "source_file",
        "file_sha256",
        "sheet",
        "source_row",
        "saved_at",
        F.coalesce("province_code", "file_province", F.lit("__")).alias("province_code"),
        F.coalesce(F.col("district_code"), F.col("file_district")).alias("district_code"),
        F.coalesce(F.col("commune_code"), F.col("file_commune")).alias("commune_code"),
        F.col("key_list_id").alias("list_id"),
        # The key's subject; for a row whose key cannot be trusted, the subject it claims to be.
        F.coalesce("key_subject_id", F.try_element_at(F.col("found"), F.lit("subject_id"))).alias(
            "subject_id"
        ),
        F.col("key_subject_version").alias("subject_version"),
        "issued_values",
        F.col("_values").alias("values"),
        "verified_by",
        "problems",
        outcome.alias("outcome"),
    )


def correction_rows(checked: DataFrame, *, ingested_at: dt.datetime) -> DataFrame:
    """``subject_corrections`` rows of the accepted returned rows: one per field returned.

    When the same subject, version and field come back from several rows (two copies of a list),
    the latest saved file wins, so the result has one row per key.
    """
    old = {field: xlsx.FIELD_ISSUED[field] for field in FIELDS}
    issued_key = F.create_map(*[F.lit(x) for kv in sorted(old.items()) for x in kv])
    exploded = checked.filter(F.col("outcome") == ACCEPTED).select(
        "*", F.explode("values").alias("field", "new_value")
    )
    latest = Window.partitionBy(*CORRECTION_KEYS).orderBy(
        F.col("saved_at").desc_nulls_last(), F.col("source_file").desc(), F.col("source_row").desc()
    )
    return (
        exploded.withColumn("_rn", F.row_number().over(latest))
        .filter(F.col("_rn") == 1)
        .select(
            "province_code",
            "district_code",
            "commune_code",
            "subject_id",
            "subject_version",
            "field",
            F.try_element_at(F.col("issued_values"), F.try_element_at(issued_key, F.col("field"))).alias(
                "old_value"
            ),
            "new_value",
            "verified_by",
            F.col("saved_at").alias("verified_at"),
            "list_id",
            "source_file",
            F.col("sheet").alias("source_sheet"),
            "source_row",
            "file_sha256",
            F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
        )
    )


def reject_rows(checked: DataFrame, returned: DataFrame, *, ingested_at: dt.datetime) -> DataFrame:
    """``correction_rejects`` rows: one per problem of a rejected row, and one per rejected file."""
    reasons = F.create_map(*[F.lit(x) for kv in sorted(REASONS.items()) for x in kv])
    rows = checked.filter(F.col("outcome") == REJECTED).select(
        "province_code",
        "commune_code",
        "source_file",
        "file_sha256",
        "sheet",
        "source_row",
        F.explode("problems").alias("p"),
        "list_id",
        "subject_id",
    )
    rows = rows.select(
        "province_code",
        "commune_code",
        "source_file",
        "file_sha256",
        "sheet",
        "source_row",
        F.col("p.column").alias("column"),
        F.col("p.code").alias("reason_code"),
        F.coalesce(F.try_element_at(reasons, F.col("p.code")), F.col("p.code")).alias("reason"),
        "list_id",
        "subject_id",
    )
    files = returned.filter(F.col("kind") == "file").select(
        F.coalesce("file_province", F.lit("__")).alias("province_code"),
        F.col("file_commune").alias("commune_code"),
        "source_file",
        "file_sha256",
        "sheet",
        "source_row",
        F.lit(None).cast("string").alias("column"),
        F.col("problems")[0]["code"].alias("reason_code"),
        F.coalesce("detail", F.try_element_at(reasons, F.col("problems")[0]["code"])).alias("reason"),
        F.lit(None).cast("string").alias("list_id"),
        F.lit(None).cast("string").alias("subject_id"),
    )
    return (
        rows.unionByName(files)
        .withColumn("ingested_at", F.lit(ingested_at).cast("timestamp"))
        .dropDuplicates(REJECT_KEYS)
        .select(*CORRECTION_REJECTS.fieldNames())
    )


# --- applying corrections ------------------------------------------------------------------------------


def apply_corrections(
    subjects: DataFrame, corrections: DataFrame, *, missing_id_tokens: Sequence[str]
) -> DataFrame:
    """The subjects with accepted corrections applied (``schemas.SUBJECTS`` columns, same order).

    For each subject and field the latest correction (by ``verified_at``, then ``ingested_at``)
    replaces the identity field, raw and normalised exactly as ``normalize_doses`` would have
    normalised a ledger row carrying that value; ``subject_version`` is recomputed for the
    subjects that got one. Subjects without corrections pass through unchanged. ``note`` rows and
    unknown fields are ignored.
    """
    latest = Window.partitionBy("subject_id", "field").orderBy(
        F.col("verified_at").desc_nulls_last(),
        F.col("ingested_at").desc_nulls_last(),
        F.col("source_file").desc(),
        F.col("source_row").desc(),
    )
    picked = (
        corrections.filter(F.col("field").isin(*FIELDS) & F.col("new_value").isNotNull())
        .withColumn("_rn", F.row_number().over(latest))
        .filter(F.col("_rn") == 1)
        .groupBy("subject_id")
        .agg(*[F.max(F.when(F.col("field") == f, F.col("new_value"))).alias(f"_c_{f}") for f in FIELDS])
        .withColumn("_corrected", F.lit(True))
    )
    s = subjects.join(picked, on="subject_id", how="left")

    def pick(field: str, corrected: Column, current: str) -> Column:
        return F.when(F.col(f"_c_{field}").isNotNull(), corrected).otherwise(F.col(current))

    id_new, name_new, dob_new = F.col("_c_id_number"), F.col("_c_full_name"), F.col("_c_date_of_birth")
    gender_new, nat_new, pass_new = F.col("_c_gender"), F.col("_c_nationality"), F.col("_c_passport_number")
    dob = N.parse_partial_date(dob_new)
    nationality = N.normalize_nationality(nat_new)
    out = s.select(
        "subject_id",
        "province_code",
        "district_code",
        "commune_code",
        pick("full_name", name_new, "full_name_raw").alias("full_name_raw"),
        pick("full_name", N.name_display(name_new), "name_display").alias("name_display"),
        pick("full_name", N.name_key(name_new), "name_key").alias("name_key"),
        pick("full_name", N.name_fold(name_new), "name_fold").alias("name_fold"),
        pick("full_name", N.is_mojibake(name_new), "name_is_mojibake").alias("name_is_mojibake"),
        pick("date_of_birth", dob_new, "dob_raw").alias("dob_raw"),
        pick("date_of_birth", dob["date"], "dob_date").alias("dob_date"),
        pick("date_of_birth", dob["precision"], "dob_precision").alias("dob_precision"),
        pick("gender", gender_new, "gender_raw").alias("gender_raw"),
        pick("gender", N.normalize_gender(gender_new), "gender").alias("gender"),
        pick("id_number", id_new, "id_raw").alias("id_raw"),
        pick("id_number", N.trim_all(id_new), "id_clean").alias("id_clean"),
        pick("id_number", N.id_status(id_new, missing_tokens=missing_id_tokens), "id_status").alias(
            "id_status"
        ),
        pick("nationality", nat_new, "nationality_raw").alias("nationality_raw"),
        pick("nationality", nationality, "nationality").alias("nationality"),
        pick("nationality", nationality.isNotNull() & (nationality != F.lit("VN")), "is_foreign").alias(
            "is_foreign"
        ),
        pick("passport_number", N.trim_all(pass_new), "passport_number").alias("passport_number"),
        "phone",
        "n_doses",
        "last_entered_at",
        "subject_version",
        "_corrected",
    )
    version = F.when(F.col("_corrected"), subject_version(*IDENTITY_FIELDS)).otherwise(
        F.col("subject_version")
    )
    return out.withColumn("subject_version", version).select(*schemas.SUBJECTS.fieldNames())
