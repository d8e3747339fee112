"""Review workbooks, the DataFrame side: which rows each commune's list holds and what they say.

* :func:`select_review_rows`: one row per ``NEEDS_REVIEW`` subject with its current values, the
  problem in plain Vietnamese and the suggested correction (the rank-1 register person of
  ``match_suggestions``, or the register person its ID resolved to when only name, birth date or
  gender disagree, or the repaired spelling of a mojibake name).
* :func:`with_list_ids`: the list id of each commune's list (a hash of everything the list shows,
  so the same classification gives the same list and the same file) and the row numbers.
* :func:`verification_rows`: the commune's verification list after returned lists were ingested
  (status at issue and now, what was corrected, what was rejected).

The workbooks themselves are written by :mod:`vaxclean.xlsx` inside Spark executors; the schemas of
the review-loop tables are at the end of this module.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vaxclean import schemas, xlsx

NEEDS_REVIEW = "NEEDS_REVIEW"
UNKNOWN = "__"

#: The problem of each code, in the words of the cleanup procedure (Đề án 06), with what to do.
PROBLEM_TEXT = {
    "ID_MISSING": "Không có số CCCD/CMND: ghi số CCCD/CMND (người nước ngoài: ghi quốc tịch và số hộ chiếu).",
    "ID_MALFORMED": (
        "Sai định dạng số CCCD/CMND (CCCD đủ 12 chữ số, CMND 9 chữ số, không dấu cách, dấu chấm, "
        "không mất số 0 ở đầu): ghi lại số đúng."
    ),
    "ID_NOT_FOUND": (
        "Số CCCD/CMND không có trong Cơ sở dữ liệu quốc gia về dân cư: đối chiếu và ghi lại số đúng."
    ),
    "NAME_MISMATCH": (
        "Họ tên không khớp với Cơ sở dữ liệu quốc gia về dân cư (sai chính tả, thiếu dấu hoặc lỗi "
        "phông chữ): ghi họ tên đúng, có dấu."
    ),
    "DOB_MISMATCH": (
        "Ngày tháng năm sinh không khớp với Cơ sở dữ liệu quốc gia về dân cư, hoặc thiếu ngày, tháng: "
        "ghi ngày sinh đúng, đủ ngày/tháng/năm."
    ),
    "GENDER_MISMATCH": (
        "Giới tính không khớp với Cơ sở dữ liệu quốc gia về dân cư hoặc bị bỏ trống: chọn Nam hoặc Nữ."
    ),
    "ID_SHARED": (
        "Số CCCD/CMND là của người khác (ví dụ dùng số của cha mẹ cho con): ghi số định danh cá nhân "
        "của chính người được tiêm."
    ),
    "SUBJECT_DUPLICATE": (
        "Một người có nhiều mã đối tượng (đăng ký trùng): xác minh để gộp các mũi tiêm về một đối tượng."
    ),
    "FOREIGN_NO_PASSPORT": "Người nước ngoài chưa có số hộ chiếu: ghi «quốc tịch / số hộ chiếu».",
}
BASIS_MATCH = "Tìm theo họ tên, ngày sinh, giới tính, nơi cư trú (độ tin cậy {pct}%)"
BASIS_REGISTER = "Người có số CCCD/CMND này trong Cơ sở dữ liệu quốc gia về dân cư"
BASIS_MOJIBAKE = "Họ tên bị lỗi phông chữ (TCVN3/VNI), đã chuyển sang Unicode"
MISMATCH_CODES = ("NAME_MISMATCH", "DOB_MISMATCH", "GENDER_MISMATCH")

STATUS_TEXT = {
    "VERIFIED": "Đã xác minh",
    "FOREIGN": "Người nước ngoài (có hộ chiếu)",
    "NEEDS_REVIEW": "Cần rà soát",
}
FIELD_TEXT = {
    "id_number": "Số CCCD/CMND",
    "full_name": "Họ tên",
    "date_of_birth": "Ngày sinh",
    "gender": "Giới tính",
    "nationality": "Quốc tịch",
    "passport_number": "Số hộ chiếu",
}


def _literal_map(mapping: dict[str, str]) -> Column:
    return F.create_map(*[F.lit(x) for kv in sorted(mapping.items()) for x in kv])


def explain_codes(codes: Column | str, *, bullet: str = "• ") -> Column:
    """The Vietnamese text of each code, one per line (an unknown code is shown as itself)."""
    text = _literal_map(PROBLEM_TEXT)
    col = F.col(codes) if isinstance(codes, str) else codes
    lines = F.transform(col, lambda c: F.concat(F.lit(bullet), F.coalesce(F.try_element_at(text, c), c)))
    return F.array_join(lines, "\n")


def label_codes(codes: Column | str) -> Column:
    """Short Vietnamese labels of the codes, comma separated (for the verification list)."""
    labels = _literal_map(xlsx.PROBLEM_LABELS)
    col = F.col(codes) if isinstance(codes, str) else codes
    return F.array_join(F.transform(col, lambda c: F.coalesce(F.try_element_at(labels, c), c)), "; ")


def _duplicates_of(checks: DataFrame) -> DataFrame:
    """For each ``SUBJECT_DUPLICATE`` subject, the other subject ids of the same register person."""
    dup = checks.filter(F.array_contains("error_codes", "SUBJECT_DUPLICATE")).select(
        "subject_id", "matched_personal_id"
    )
    groups = dup.groupBy("matched_personal_id").agg(F.array_sort(F.collect_set("subject_id")).alias("_all"))
    return dup.join(groups, on="matched_personal_id", how="inner").select(
        "subject_id", F.array_remove("_all", F.col("subject_id")).alias("_others")
    )


def select_review_rows(
    checks: DataFrame, subjects: DataFrame, register: DataFrame, suggestions: DataFrame | None = None
) -> DataFrame:
    """One row per ``NEEDS_REVIEW`` subject: residence codes, current values, problem, suggestion.

    ``checks`` is ``subject_checks``, ``subjects`` the classified identities (same run),
    ``register`` the normalised register, ``suggestions`` ``match_suggestions`` (None when the
    matching step has not run: the suggestion then comes from the resolved register person only).
    """
    needs = checks.filter(F.col("status") == NEEDS_REVIEW).select(
        "subject_id", "error_codes", "matched_personal_id"
    )
    s = subjects.select(
        "subject_id",
        "subject_version",
        F.coalesce("province_code", F.lit(UNKNOWN)).alias("province_code"),
        "district_code",
        "commune_code",
        F.col("full_name_raw").alias("full_name"),
        "name_display",
        "name_fold",
        "name_is_mojibake",
        "dob_date",
        "dob_precision",
        "dob_raw",
        F.col("gender_raw").alias("gender"),
        F.col("id_clean").alias("id_number"),
        F.col("nationality_raw").alias("nationality"),
        "passport_number",
        "phone",
    )
    rows = needs.join(s, on="subject_id", how="inner").join(
        _duplicates_of(checks), on="subject_id", how="left"
    )
    if suggestions is not None:
        best = suggestions.filter(F.col("rank") == 1).select(
            "subject_id", F.col("personal_id").alias("_sug_pid"), F.col("score").alias("_sug_score")
        )
        rows = rows.join(best, on="subject_id", how="left")
    else:
        rows = rows.withColumn("_sug_pid", F.lit(None).cast("string")).withColumn(
            "_sug_score", F.lit(None).cast("double")
        )
    mismatch_only = F.forall("error_codes", lambda c: c.isin(*MISMATCH_CODES))
    person = F.coalesce(
        F.col("_sug_pid"),
        F.when(mismatch_only & F.col("matched_personal_id").isNotNull(), F.col("matched_personal_id")),
    )
    reg = register.select(
        F.col("personal_id").alias("_person"),
        F.col("full_name").alias("_reg_name"),
        F.col("dob_date").alias("_reg_dob"),
        F.col("dob_precision").alias("_reg_dob_precision"),
        F.col("gender").alias("_reg_gender"),
    )
    rows = rows.withColumn("_person", person).join(reg, on="_person", how="left")
    mojibake = F.coalesce(F.col("name_is_mojibake"), F.lit(False))
    found = F.col("_reg_name").isNotNull() | F.col("_reg_dob").isNotNull()
    pct = F.round(F.col("_sug_score") * 100).cast("int").cast("string")
    basis = (
        F.when(F.col("_sug_pid").isNotNull() & found, F.replace(F.lit(BASIS_MATCH), F.lit("{pct}"), pct))
        .when(found, F.lit(BASIS_REGISTER))
        .when(mojibake, F.lit(BASIS_MOJIBAKE))
    )
    duplicates = F.when(
        F.size("_others") > 0, F.concat(F.lit("\n  Trùng với mã đối tượng: "), F.array_join("_others", ", "))
    ).otherwise(F.lit(""))
    problem = F.concat(explain_codes("error_codes"), duplicates)
    given_name = F.element_at(F.split(F.coalesce("name_fold", F.lit("")), " "), -1)
    return rows.select(
        "province_code",
        "district_code",
        "commune_code",
        "subject_id",
        "subject_version",
        "error_codes",
        "full_name",
        "dob_date",
        "dob_precision",
        "dob_raw",
        "gender",
        "id_number",
        "nationality",
        "passport_number",
        "phone",
        problem.alias("problem"),
        F.when(found, F.col("_person")).alias("sug_id"),
        F.coalesce(F.col("_reg_name"), F.when(mojibake, F.col("name_display"))).alias("sug_name"),
        F.col("_reg_dob").alias("sug_dob_date"),
        F.col("_reg_dob_precision").alias("sug_dob_precision"),
        F.col("_reg_gender").alias("sug_gender"),
        basis.alias("sug_basis"),
        given_name.alias("_given"),
        F.coalesce("name_fold", F.lit("")).alias("_fold"),
    )


_COMMUNE = ("province_code", "district_code", "commune_code")


def with_list_ids(rows: DataFrame, *, salt: str) -> DataFrame:
    """Add the commune's ``list_id`` and each row's ``row_number``; the writer's columns, in order.

    The list id is ``DS-<commune>-<hash>``, the hash over the commune codes, ``salt`` (layout
    version and secret fingerprint) and every value the list shows: the same classification gives
    the same list id, anything that changes what a clerk would see gives a new one. Rows are
    numbered by given name, then full name (how Vietnamese lists are read), then subject id.
    """
    content = [c for c in rows.columns if not c.startswith("_")]
    row_hash = F.sha2(
        F.concat_ws("\x1f", *[F.coalesce(F.col(c).cast("string"), F.lit("\x00")) for c in content]), 256
    )
    keys = [F.coalesce(F.col(c), F.lit("")).alias(f"_k{i}") for i, c in enumerate(_COMMUNE)]
    hashed = rows.select("*", *keys, row_hash.alias("_row_hash"))
    lists = hashed.groupBy("_k0", "_k1", "_k2").agg(
        F.sha2(
            F.concat_ws(
                ",",
                F.lit(salt),
                "_k0",
                "_k1",
                "_k2",
                F.array_join(F.array_sort(F.collect_list("_row_hash")), ","),
            ),
            256,
        ).alias("_list_hash")
    )
    in_list = Window.partitionBy("_k0", "_k1", "_k2").orderBy("_given", "_fold", "subject_id")
    commune_tag = F.coalesce(F.regexp_replace("commune_code", "[^0-9A-Za-z]", "_"), F.lit("x"))
    return (
        hashed.join(lists, on=["_k0", "_k1", "_k2"], how="inner")
        .withColumn(
            "list_id", F.concat(F.lit("DS-"), commune_tag, F.lit("-"), F.substring("_list_hash", 1, 12))
        )
        .withColumn("row_number", F.row_number().over(in_list))
        .select(*xlsx.REVIEW_FIELDS)
    )


def verification_rows(
    manifest: DataFrame,
    checks: DataFrame,
    subjects: DataFrame,
    corrections: DataFrame,
    rejects: DataFrame,
    communes: DataFrame,
) -> DataFrame:
    """The verification list (danh sách xác minh) of each commune in ``communes``.

    One row per subject ever issued in one of the commune's lists (its latest list): status at
    issue and now (``subject_checks`` after re-classification), the fields corrected so far and by
    whom, and the reasons of rows rejected since the subject's last accepted correction. Also the
    subject's identity after corrections, for the platform-update file. Columns:
    :data:`vaxclean.xlsx.VERIFY_FIELDS` then ``gender``, ``nationality``, ``passport_number``,
    ``corrected``.
    """
    latest = Window.partitionBy("subject_id").orderBy(F.col("issued_at").desc(), F.col("list_id").desc())
    issued = (
        manifest.join(communes.select(*_COMMUNE), on=[*_COMMUNE], how="left_semi")
        .withColumn("_rn", F.row_number().over(latest))
        .filter(F.col("_rn") == 1)
        .select(*_COMMUNE, "subject_id", "row_number", F.col("error_codes").alias("_codes_before"))
    )
    fields = corrections.filter(F.col("field").isin(*FIELD_TEXT))
    by_subject = fields.groupBy("subject_id").agg(
        F.array_sort(F.collect_set("field")).alias("_fields"),
        F.max_by("verified_by", F.struct("verified_at", "ingested_at")).alias("verified_by"),
        F.max("ingested_at").alias("_last_accepted"),
    )
    field_names = _literal_map(FIELD_TEXT)
    now = checks.select("subject_id", "status", F.col("error_codes").alias("_codes_after"))
    ident = subjects.select(
        "subject_id",
        F.col("full_name_raw").alias("full_name"),
        "dob_date",
        "dob_precision",
        "dob_raw",
        F.col("id_clean").alias("id_number"),
        F.coalesce(
            F.try_element_at(_literal_map(xlsx.GENDER_LABEL), F.col("gender")), F.col("gender_raw")
        ).alias("gender"),
        "nationality",
        "passport_number",
    )
    rows = (
        issued.join(now, on="subject_id", how="left")
        .join(ident, on="subject_id", how="left")
        .join(by_subject, on="subject_id", how="left")
    )
    recent = (
        rejects.filter(F.col("subject_id").isNotNull())
        .join(rows.select("subject_id", "_last_accepted"), on="subject_id", how="inner")
        .filter(F.col("_last_accepted").isNull() | (F.col("ingested_at") > F.col("_last_accepted")))
        .groupBy("subject_id")
        .agg(F.array_join(F.array_sort(F.collect_set("reason")), "\n").alias("rejected"))
    )
    rows = rows.join(recent, on="subject_id", how="left")
    status_text = _literal_map(STATUS_TEXT)
    return rows.select(
        *_COMMUNE,
        "row_number",
        "subject_id",
        "full_name",
        "dob_date",
        "dob_precision",
        "dob_raw",
        "id_number",
        F.lit(STATUS_TEXT[NEEDS_REVIEW]).alias("status_before"),
        label_codes("_codes_before").alias("problem_before"),
        F.coalesce(F.try_element_at(status_text, F.col("status")), F.lit("Không còn trong dữ liệu")).alias(
            "status_after"
        ),
        label_codes(F.coalesce("_codes_after", F.array().cast("array<string>"))).alias("problem_after"),
        F.array_join(F.transform("_fields", lambda f: F.try_element_at(field_names, f)), ", ").alias(
            "fields_corrected"
        ),
        "verified_by",
        "rejected",
        "gender",
        "nationality",
        "passport_number",
        F.coalesce(F.size("_fields") > 0, F.lit(False)).alias("corrected"),
    )


# --- schemas of the review-loop tables ---------------------------------------------------------------

S, TS, L = T.StringType(), T.TimestampType(), T.LongType()
CODES = T.ArrayType(S, containsNull=False)
VALUES = T.MapType(S, S, valueContainsNull=True)

#: What :func:`vaxclean.xlsx.write_review_partition` yields.
WRITTEN = T.StructType(
    [
        T.StructField("kind", S, False),
        T.StructField("list_id", S, False),
        T.StructField("province_code", S, True),
        T.StructField("district_code", S, True),
        T.StructField("commune_code", S, True),
        T.StructField("file", S, False),
        T.StructField("file_sha256", S, False),
        T.StructField("status", S, False),
        T.StructField("n_rows", L, True),
        T.StructField("issued_at", TS, False),
        T.StructField("subject_id", S, True),
        T.StructField("subject_version", S, True),
        T.StructField("row_number", L, True),
        T.StructField("error_codes", CODES, True),
        T.StructField("issued_values", VALUES, True),
    ]
)

REVIEW_MANIFEST = schemas.REVIEW_MANIFEST
REVIEW_LISTS = schemas.REVIEW_LISTS


def manifest_rows(written: DataFrame) -> DataFrame:
    """``review_manifest`` rows from the writer's output (rows of lists written in this run)."""
    return (
        written.filter(F.col("kind") == "row")
        .withColumn("province_code", F.coalesce("province_code", F.lit(UNKNOWN)))
        .select(*REVIEW_MANIFEST.fieldNames())
    )


def list_rows(written: DataFrame) -> DataFrame:
    """``review_lists`` rows from the writer's output (every list of this export)."""
    return (
        written.filter(F.col("kind") == "file")
        .withColumn("province_code", F.coalesce("province_code", F.lit(UNKNOWN)))
        .select(*REVIEW_LISTS.fieldNames())
    )
