"""Classification of subjects and doses into the contract's error codes (docs/rules.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from vaxclean import schemas

PRECISION_RANK = {"YEAR": 1, "MONTH": 2, "DAY": 3}


def precision_rank(col: Column) -> Column:
    """YEAR < MONTH < DAY, as 1 < 2 < 3."""
    return F.create_map(*[x for k, v in PRECISION_RANK.items() for x in (F.lit(k), F.lit(v))])[col]


def codes(*pairs: tuple[Column, str]) -> Column:
    """A sorted, distinct array of the codes whose condition is true (null conditions count as false)."""
    arr = F.array(*[F.when(cond, F.lit(code)) for cond, code in pairs])
    return F.array_sort(F.array_distinct(F.array_compact(arr)))


def dob_agrees(typed: str, typed_precision: str, reg: str, reg_precision: str) -> Column:
    """The typed birth date agrees with the register's at the register's precision.

    Partial dates are stored as their first day (``1985-03`` → 1985-03-01), so comparing truncated
    dates compares what both sides know. A typed date less precise than the register's disagrees.
    """
    t, rp = F.col(typed), F.col(reg_precision)
    r = F.col(reg)
    same = (
        F.when(rp == "DAY", t == r)
        .when(rp == "MONTH", F.trunc(t, "month") == F.trunc(r, "month"))
        .otherwise(F.year(t) == F.year(r))
    )
    precise_enough = precision_rank(F.col(typed_precision)) >= precision_rank(rp)
    return F.when(r.isNull(), F.lit(True)).otherwise(
        F.coalesce(t.isNotNull() & precise_enough & same, F.lit(False))
    )


def resolve_ids(subjects: DataFrame, register: DataFrame) -> DataFrame:
    """Add ``matched_personal_id``: the register person a Vietnamese subject's valid ID resolves to.

    A ``personal_id`` match wins over an ``old_id_number`` match; several old-number matches take
    the smallest ``personal_id``.
    """
    keys = (
        register.select(F.col("personal_id").alias("_id"), F.lit(0).alias("_pri"), "personal_id")
        .unionByName(
            register.filter(F.col("old_id_number").isNotNull()).select(
                F.col("old_id_number").alias("_id"), F.lit(1).alias("_pri"), "personal_id"
            )
        )
        .groupBy("_id")
        .agg(F.min(F.struct("_pri", "personal_id")).alias("_best"))
        .select("_id", F.col("_best.personal_id").alias("matched_personal_id"))
    )
    lookup = F.when(~F.col("is_foreign") & (F.col("id_status") == "VALID"), F.col("id_clean"))
    return (
        subjects.withColumn("_lookup", lookup)
        .join(keys, F.col("_lookup") == F.col("_id"), how="left")
        .drop("_lookup", "_id")
    )


def classify_subjects(subjects: DataFrame, register: DataFrame) -> DataFrame:
    """``subject_checks``: status, sorted error codes and the resolved register person per subject."""
    reg = register.select(
        F.col("personal_id").alias("matched_personal_id"),
        F.col("name_key").alias("reg_name_key"),
        F.col("dob_date").alias("reg_dob_date"),
        F.col("dob_precision").alias("reg_dob_precision"),
        F.col("gender").alias("reg_gender"),
    )
    s = resolve_ids(subjects, register).join(reg, on="matched_personal_id", how="left")

    foreign = F.coalesce(F.col("is_foreign"), F.lit(False))
    resolved = ~foreign & F.col("matched_personal_id").isNotNull()
    name_mm = resolved & ~F.col("name_key").eqNullSafe(F.col("reg_name_key"))
    dob_mm = resolved & ~dob_agrees("dob_date", "dob_precision", "reg_dob_date", "reg_dob_precision")
    gender_mm = resolved & ~F.col("gender").eqNullSafe(F.col("reg_gender"))
    s = s.select("*", name_mm.alias("_name_mm"), dob_mm.alias("_dob_mm"), gender_mm.alias("_gender_mm"))

    agrees = F.col("matched_personal_id").isNotNull() & ~F.col("_name_mm") & ~F.col("_dob_mm")
    same_person = Window.partitionBy("matched_personal_id")
    n_agree = F.sum(F.when(agrees, 1).otherwise(0)).over(same_person)
    s = s.withColumn("_n_agree", F.when(F.col("matched_personal_id").isNotNull(), n_agree).otherwise(0))

    has_passport = F.col("passport_number").isNotNull()
    error_codes = codes(
        (foreign & ~has_passport, "FOREIGN_NO_PASSPORT"),
        (~foreign & (F.col("id_status") == "MISSING"), "ID_MISSING"),
        (~foreign & (F.col("id_status") == "MALFORMED"), "ID_MALFORMED"),
        (~foreign & (F.col("id_status") == "VALID") & F.col("matched_personal_id").isNull(), "ID_NOT_FOUND"),
        (F.col("_name_mm"), "NAME_MISMATCH"),
        (F.col("_dob_mm"), "DOB_MISMATCH"),
        (F.col("_gender_mm"), "GENDER_MISMATCH"),
        (F.col("_name_mm") & F.col("_dob_mm") & (F.col("_n_agree") >= 1), "ID_SHARED"),
        (agrees & (F.col("_n_agree") >= 2), "SUBJECT_DUPLICATE"),
    )
    status = (
        F.when(foreign & has_passport, F.lit("FOREIGN"))
        .when(resolved & (F.size(error_codes) == 0), F.lit("VERIFIED"))
        .otherwise(F.lit("NEEDS_REVIEW"))
    )
    return s.select(
        "subject_id",
        "province_code",
        "commune_code",
        status.alias("status"),
        error_codes.alias("error_codes"),
        F.when(~foreign, F.col("matched_personal_id")).alias("matched_personal_id"),
        "district_code",
        "subject_version",
    )


def classify_doses(
    doses: DataFrame,
    subjects: DataFrame,
    checks: DataFrame,
    register: DataFrame,
    *,
    campaign_start: dt.date,
    as_of: dt.date,
    min_interval_days: Mapping[str, int],
    default_min_interval_days: int,
    booster_min_months: Mapping[int, int],
) -> DataFrame:
    """``dose_checks``: the dose codes of every ledger row (docs/rules.md, "Dose codes")."""
    person = (
        subjects.select("subject_id", F.col("dob_date").alias("_dob"))
        .join(checks.select("subject_id", "matched_personal_id"), on="subject_id", how="left")
        .join(
            register.select(
                F.col("personal_id").alias("matched_personal_id"), F.col("date_of_death").alias("_dod")
            ),
            on="matched_personal_id",
            how="left",
        )
        .select("subject_id", "_dob", "_dod")
    )
    d = doses.join(person, on="subject_id", how="left")

    vd = F.col("vaccination_date")
    product = F.coalesce(F.col("vaccine"), F.lower(F.trim(F.col("vaccine_raw"))))
    first_copy = Window.partitionBy("subject_id", "vaccination_date", product).orderBy(
        F.col("entered_at").asc_nulls_last(), F.col("record_id")
    )
    duplicate = vd.isNotNull() & F.col("subject_id").isNotNull() & (F.row_number().over(first_copy) > 1)
    date_invalid = (
        vd.isNull()
        | (vd < F.lit(campaign_start))
        | (vd > F.lit(as_of))
        | (vd > F.to_date(F.col("entered_at")))
        | (vd < F.col("_dob"))
    )
    d = d.select(
        "*",
        F.coalesce(duplicate, F.lit(False)).alias("_dup"),
        F.coalesce(date_invalid, F.lit(False)).alias("_invalid"),
        F.coalesce(vd > F.col("_dod"), F.lit(False)).alias("_after_death"),
    )

    in_order = Window.partitionBy("subject_id").orderBy(
        vd.asc_nulls_last(),
        F.col("dose_number").asc_nulls_last(),
        F.col("entered_at").asc_nulls_last(),
        "record_id",
    )
    before = in_order.rowsBetween(Window.unboundedPreceding, -1)
    valid = ~F.col("_dup") & ~F.col("_invalid")
    prev = F.last(
        F.when(valid, F.struct(F.col("dose_number").alias("n"), vd.alias("d"), F.col("vaccine").alias("v"))),
        True,
    ).over(before)
    d = d.withColumn("_prev", F.when(F.col("subject_id").isNotNull(), prev))

    n = F.col("dose_number")
    sequence = valid & (
        n.isNull() | (n < 1) | (n > 4) | (F.col("_prev").isNotNull() & (n <= F.col("_prev.n")))
    )
    intervals = F.create_map(*[x for k, v in sorted(min_interval_days.items()) for x in (F.lit(k), F.lit(v))])
    min_days = F.coalesce(intervals[F.col("_prev.v")], F.lit(default_min_interval_days))
    months = F.create_map(*[x for k, v in sorted(booster_min_months.items()) for x in (F.lit(k), F.lit(v))])
    short = (
        valid
        & ~sequence
        & F.col("_prev").isNotNull()
        & (
            ((n == 2) & (F.datediff(vd, F.col("_prev.d")) < min_days))
            | (n.isin(3, 4) & (vd < F.add_months(F.col("_prev.d"), F.coalesce(months[n], F.lit(0)))))
        )
    )
    error_codes = codes(
        (F.col("_dup"), "DOSE_DUPLICATE"),
        (F.col("_invalid"), "DOSE_DATE_INVALID"),
        (F.col("_after_death"), "DOSE_AFTER_DEATH"),
        (sequence, "DOSE_SEQUENCE"),
        (short, "DOSE_INTERVAL_SHORT"),
    )
    return d.select("record_id", "subject_id", error_codes.alias("error_codes"), "province_code").select(
        *schemas.DOSE_CHECKS.fieldNames()
    )


def build_signing_queue(doses: DataFrame, checks: DataFrame, dose_checks: DataFrame) -> DataFrame:
    """``signing_queue``: every unsigned dose, whether it may be signed, and what blocks it."""
    subject = checks.select("subject_id", "status", F.col("error_codes").alias("_subject_codes"))
    dose = dose_checks.select("record_id", F.col("error_codes").alias("_dose_codes"))
    q = (
        doses.filter(F.col("signed_at").isNull())
        .select("record_id", "subject_id", "province_code", "facility_code", "vaccination_date")
        .join(subject, on="subject_id", how="left")
        .join(dose, on="record_id", how="left")
    )
    subject_codes = F.coalesce(F.col("_subject_codes"), F.array().cast("array<string>"))
    dose_codes = F.coalesce(F.col("_dose_codes"), F.array().cast("array<string>"))
    reasons = F.array_sort(F.array_union(subject_codes, dose_codes))
    # A subject that has no status (no subject_id) is never signable; its reason is the missing subject.
    reasons = F.when(F.col("status").isNull(), F.array(F.lit("SUBJECT_UNKNOWN"))).otherwise(reasons)
    signable = F.coalesce(
        F.col("status").isin("VERIFIED", "FOREIGN") & (F.size(dose_codes) == 0), F.lit(False)
    )
    return q.select(
        "record_id",
        "subject_id",
        signable.alias("signable"),
        reasons.alias("block_reasons"),
        "province_code",
        "facility_code",
        "vaccination_date",
    ).select(*schemas.SIGNING_QUEUE.fieldNames())
