"""From raw ledger text to normalised doses, subjects, and the normalised register."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from transforms import normalize as N
from vaxclean import schemas

UNKNOWN_PROVINCE = "__"


def with_partition_province(df: DataFrame) -> DataFrame:
    """``province_code`` trimmed for partitioning (``__`` when empty); the raw value kept aside."""
    code = N.trim_all("province_code")
    return df.withColumn("province_code_raw", F.col("province_code")).withColumn(
        "province_code", F.coalesce(code, F.lit(UNKNOWN_PROVINCE))
    )


def with_name_columns(df: DataFrame, source: str, *, prefix: str = "") -> DataFrame:
    """Add ``name_key``, ``name_display``, ``name_fold`` and ``name_is_mojibake`` for ``source``.

    Equivalent to ``N.name_key`` / ``N.name_display`` / ``N.name_fold`` / ``N.is_mojibake``, but in
    stages, so that NFC composition and mojibake detection appear once in the plan instead of once
    per output column (the plan of the composed helpers takes Spark tens of seconds to analyse).
    """
    nfc = f"{prefix}_nfc"
    moj = f"{prefix}name_is_mojibake"
    repaired = f"{prefix}_repaired"
    staged = df.withColumns(
        {
            nfc: N.collapse_spaces(N.nfc_vietnamese(source)),
            moj: N.is_mojibake(source),
        }
    ).withColumn(
        repaired,
        F.when(F.col(moj), N.collapse_spaces(N.nfc_vietnamese(N.repair_mojibake(source)))).otherwise(  # noqa: E501
            F.col(nfc)
        ),
    )
    return staged.withColumns(
        {
            f"{prefix}name_key": N.new_tone_placement(F.lower(F.col(nfc))),
            f"{prefix}name_display": N.new_tone_placement(F.col(repaired)),
            f"{prefix}name_fold": N.fold_diacritics(N.new_tone_placement(F.lower(F.col(repaired)))),
        }
    ).drop(nfc, repaired)


def normalize_doses(raw: DataFrame, *, missing_id_tokens: Sequence[str]) -> DataFrame:
    """One row per ledger row with every field normalised next to its raw value (``schemas.DOSES``).

    Assumes ``raw`` has the ``ledger_raw`` columns (text, plus lineage). Never fails on a value:
    what cannot be parsed becomes null and is classified later.
    """
    staged = with_name_columns(raw, "full_name").withColumns(
        {
            "_dob": N.parse_partial_date("date_of_birth"),
            "_nationality": N.normalize_nationality("nationality"),
        }
    )
    out = staged.select(
        N.trim_all("record_id").alias("record_id"),
        N.trim_all("subject_id").alias("subject_id"),
        F.col("province_code"),
        N.trim_all("district_code").alias("district_code"),
        N.trim_all("commune_code").alias("commune_code"),
        N.trim_all("facility_code").alias("facility_code"),
        F.col("full_name").alias("full_name_raw"),
        "name_display",
        "name_key",
        "name_fold",
        "name_is_mojibake",
        F.col("date_of_birth").alias("dob_raw"),
        F.col("_dob.date").alias("dob_date"),
        F.col("_dob.precision").alias("dob_precision"),
        F.col("gender").alias("gender_raw"),
        N.normalize_gender("gender").alias("gender"),
        F.col("id_number").alias("id_raw"),
        N.trim_all("id_number").alias("id_clean"),
        N.id_status("id_number", missing_tokens=missing_id_tokens).alias("id_status"),
        F.col("nationality").alias("nationality_raw"),
        F.col("_nationality").alias("nationality"),
        (F.col("_nationality").isNotNull() & (F.col("_nationality") != F.lit("VN"))).alias("is_foreign"),
        N.trim_all("passport_number").alias("passport_number"),
        N.trim_all("phone").alias("phone"),
        F.col("vaccine").alias("vaccine_raw"),
        N.canonical_vaccine("vaccine").alias("vaccine"),
        F.col("dose_number").alias("dose_number_raw"),
        N.parse_dose_number("dose_number").alias("dose_number"),
        F.col("vaccination_date").alias("vaccination_date_raw"),
        N.parse_date_day("vaccination_date").alias("vaccination_date"),
        N.trim_all("batch_number").alias("batch_number"),
        N.parse_timestamp("entered_at").alias("entered_at"),
        N.parse_timestamp("signed_at").alias("signed_at"),
        "source_file",
        "source_row",
        "ingest_run_id",
    )
    return out.select(*schemas.DOSES.fieldNames())


IDENTITY_FIELDS = (
    "province_code", "district_code", "commune_code", "full_name_raw", "name_display", "name_key",
    "name_fold", "name_is_mojibake", "dob_raw", "dob_date", "dob_precision", "gender_raw", "gender",
    "id_raw", "id_clean", "id_status", "nationality_raw", "nationality", "is_foreign",
    "passport_number", "phone",
)  # fmt: skip


def subject_version(*cols: str) -> Column:
    """A subject's data version: the first 16 hex digits of SHA-256 over ``cols`` (nulls marked).

    ``build_subjects`` and ``transforms.corrections.apply_corrections`` both stamp it, so a review
    row issued against one version is recognised as stale once the subject's data moves on.
    """
    return F.sha2(
        F.concat_ws("\u241f", *[F.coalesce(F.col(c).cast("string"), F.lit("\u2400")) for c in cols]), 256
    ).substr(1, 16)


def build_subjects(doses: DataFrame) -> DataFrame:
    """One row per subject: the identity on its most recently entered dose row (docs/rules.md).

    ``subject_version`` hashes the identity fields, so a review row issued against one version is
    recognised as stale once the subject's data moves on.
    """
    latest = Window.partitionBy("subject_id").orderBy(
        F.col("entered_at").desc_nulls_last(), F.col("record_id").desc()
    )
    per_subject = Window.partitionBy("subject_id")
    ranked = doses.filter(F.col("subject_id").isNotNull()).select(
        "subject_id",
        *IDENTITY_FIELDS,
        F.count(F.lit(1)).over(per_subject).cast("int").alias("n_doses"),
        F.max("entered_at").over(per_subject).alias("last_entered_at"),
        F.row_number().over(latest).alias("_rn"),
    )
    version = subject_version(*IDENTITY_FIELDS)
    return (
        ranked.filter(F.col("_rn") == 1)
        .select(
            "subject_id",
            *IDENTITY_FIELDS,
            "n_doses",
            "last_entered_at",
            version.alias("subject_version"),
        )
        .select(*schemas.SUBJECTS.fieldNames())
    )


def normalize_register(raw: DataFrame) -> DataFrame:
    """The register snapshot normalised for comparison and matching (``schemas.REGISTER``).

    Duplicate ``personal_id`` rows (a broken extract) keep one row: the latest file row.
    """
    latest = Window.partitionBy("personal_id").orderBy(
        F.col("source_file").desc(), F.col("source_row").desc()
    )
    staged = with_name_columns(raw, "full_name").withColumns(
        {"_dob": N.parse_partial_date("date_of_birth"), "_death": N.parse_partial_date("date_of_death")}
    )
    out = staged.select(
        N.trim_all("personal_id").alias("personal_id"),
        N.trim_all("old_id_number").alias("old_id_number"),
        F.col("name_display").alias("full_name"),
        "name_key",
        "name_fold",
        F.col("_dob.date").alias("dob_date"),
        F.col("_dob.precision").alias("dob_precision"),
        N.normalize_gender("gender").alias("gender"),
        F.coalesce(N.trim_all("province_code"), F.lit(UNKNOWN_PROVINCE)).alias("province_code"),
        N.trim_all("district_code").alias("district_code"),
        N.trim_all("commune_code").alias("commune_code"),
        F.col("_death.date").alias("date_of_death"),
        "source_file",
        "source_row",
    ).filter(F.col("personal_id").isNotNull())
    return (
        out.withColumn("_rn", F.row_number().over(latest))
        .filter(F.col("_rn") == 1)
        .select(*schemas.REGISTER.fieldNames())
    )


def normalize_facility_reports(rows: DataFrame) -> DataFrame:
    """Facility report rows as read → the ``facility_reports`` table's columns, values parsed."""
    return rows.select(
        N.trim_all("facility_code").alias("facility_code"),
        N.parse_date_day("report_date").alias("report_date"),
        N.canonical_vaccine("vaccine").alias("vaccine"),
        F.col("vaccine").alias("vaccine_raw"),
        F.expr("try_cast(trim(doses_administered) AS INT)").alias("doses_administered"),
        "source_file",
        "source_row",
        "ingest_run_id",
    )
