"""The signing gate's lineage and its reports: per-facility daily figures and reconciliation.

Definitions (docs/rules.md, "Facility daily report" and "Reconciliation"):

* a dose's **day** is its ``vaccination_date``; a facility's province is the first two digits of
  its ``facility_code`` (``79760-TYT01`` → ``79``; ``__`` when the code does not start with two digits);
* **entered late**: the date of ``entered_at`` is after the vaccination date (missing ``entered_at``
  is not late: it is unknown); **signed late**: the date of ``signed_at`` is after it;
* **same-day signing rate**: doses signed on their vaccination day / doses entered for that day;
* **entered** for reconciliation: ledger rows without ``DOSE_DUPLICATE`` (a duplicate is one dose
  typed twice, not a second dose given); the **gap** is reported − entered, and **not entered** is
  the positive part of the facility-day gap (doses given but never entered).
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

FACILITY_DAY = ("facility_code", "day")
RECONCILIATION_KEYS = ("facility_code", "day", "vaccine")

FACILITY_DAILY_COLUMNS = (
    "facility_code", "day", "province_code", "doses_entered", "entered_same_day", "entered_late",
    "signed", "signed_same_day", "signed_late", "unsigned", "signable", "blocked",
    "blocked_by_reason", "same_day_signing_rate", "doses_reported", "report_gap",
)  # fmt: skip
RECONCILIATION_COLUMNS = (
    "facility_code", "day", "vaccine", "province_code", "doses_reported", "doses_entered",
    "duplicates_entered", "gap",
)  # fmt: skip
RECONCILIATION_TOTALS_COLUMNS = (
    "scope", "province_code", "doses_reported", "doses_entered", "gap", "not_entered",
    "facility_days", "facility_days_with_gap",
)  # fmt: skip


def facility_province(col: Column | str) -> Column:
    """The province of a facility: the two leading digits of its code, ``__`` otherwise."""
    c = F.col(col) if isinstance(col, str) else col
    return F.when(c.rlike(r"^[0-9]{2}"), c.substr(1, 2)).otherwise(F.lit("__"))


def with_source_versions(df: DataFrame, *, versions: Mapping[str, int | None]) -> DataFrame:
    """Add ``source_versions`` (map table → Delta version) naming the snapshot the rows were decided
    from. Tables that do not exist (``None``) are left out."""
    pairs = [x for k, v in sorted(versions.items()) if v is not None for x in (F.lit(k), F.lit(int(v)))]
    versions_col = F.create_map(*pairs) if pairs else F.create_map().cast("map<string,bigint>")
    return df.withColumn("source_versions", versions_col.cast(T.MapType(T.StringType(), T.LongType())))


def aggregate_entered(doses: DataFrame, dose_checks: DataFrame) -> DataFrame:
    """Ledger rows per facility, vaccination day and product: all rows and the duplicate copies."""
    dup = dose_checks.select("record_id", F.array_contains("error_codes", "DOSE_DUPLICATE").alias("_dup"))
    return (
        doses.select("record_id", "facility_code", F.col("vaccination_date").alias("day"), "vaccine")
        .join(dup, on="record_id", how="left")
        .groupBy(*RECONCILIATION_KEYS)
        .agg(
            F.count(F.lit(1)).alias("rows_entered"),
            F.sum(F.when(F.coalesce(F.col("_dup"), F.lit(False)), 1).otherwise(0)).alias(
                "duplicates_entered"
            ),
        )
    )


def reconcile_facility_reports(reports: DataFrame, entered: DataFrame) -> DataFrame:
    """``reconciliation``: what each site reported against what the ledger holds, per facility, day
    and product (``entered`` from :func:`aggregate_entered`). A side with no row counts as 0, except
    ``doses_reported``, which stays null when the site sent no report for that day and product."""
    reported = (
        reports.select("facility_code", F.col("report_date").alias("day"), "vaccine", "doses_administered")
        .groupBy(*RECONCILIATION_KEYS)
        .agg(F.sum("doses_administered").cast("long").alias("doses_reported"))
    )
    on = [reported[k].eqNullSafe(entered[k]) for k in RECONCILIATION_KEYS]
    joined = reported.join(entered, on=on, how="full")
    keys = [F.coalesce(reported[k], entered[k]).alias(k) for k in RECONCILIATION_KEYS]
    rows = F.coalesce(entered["rows_entered"], F.lit(0)).cast("long")
    dups = F.coalesce(entered["duplicates_entered"], F.lit(0)).cast("long")
    out = joined.select(
        *keys, reported["doses_reported"], (rows - dups).alias("doses_entered"), dups.alias("dups")
    )
    return out.select(
        *RECONCILIATION_KEYS,
        facility_province("facility_code").alias("province_code"),
        "doses_reported",
        "doses_entered",
        F.col("dups").alias("duplicates_entered"),
        (F.coalesce(F.col("doses_reported"), F.lit(0)) - F.col("doses_entered")).alias("gap"),
    ).select(*RECONCILIATION_COLUMNS)


def aggregate_reconciliation_totals(reconciliation: DataFrame) -> DataFrame:
    """National and per-province totals of ``reconciliation``; ``not_entered`` adds up the positive
    facility-day gaps (products pooled, so a dose typed with the wrong product is not counted)."""
    per_day = reconciliation.groupBy("facility_code", "day", "province_code").agg(
        F.sum(F.coalesce("doses_reported", F.lit(0))).alias("r"),
        F.sum("doses_entered").alias("e"),
    )
    gap = F.col("r") - F.col("e")
    measures = [
        F.sum("r").cast("long").alias("doses_reported"),
        F.sum("e").cast("long").alias("doses_entered"),
        F.sum(gap).cast("long").alias("gap"),
        F.sum(F.greatest(gap, F.lit(0))).cast("long").alias("not_entered"),
        F.count(F.lit(1)).cast("long").alias("facility_days"),
        F.sum(F.when(gap > 0, 1).otherwise(0)).cast("long").alias("facility_days_with_gap"),
    ]
    national = per_day.agg(*measures).select(
        F.lit("NATIONAL").alias("scope"), F.lit(None).cast("string").alias("province_code"), "*"
    )
    provinces = per_day.groupBy("province_code").agg(*measures).select(F.lit("PROVINCE").alias("scope"), "*")
    return national.unionByName(provinces).select(*RECONCILIATION_TOTALS_COLUMNS)


def aggregate_facility_daily(doses: DataFrame, queue: DataFrame, reconciliation: DataFrame) -> DataFrame:
    """``facility_daily``: per facility and vaccination day, what was entered, signed, signable and
    blocked (by reason), how much was entered or signed late, and the reported doses and gap.

    ``queue`` is ``signing_queue`` (the unsigned doses with their decision); ``reconciliation`` the
    table of :func:`reconcile_facility_reports` for the same facility-days.
    """
    q = queue.select("record_id", "signable", "block_reasons")
    d = doses.select(
        "record_id",
        "facility_code",
        F.col("vaccination_date").alias("day"),
        F.to_date("entered_at").alias("_entered"),
        F.to_date("signed_at").alias("_signed"),
    ).join(q, on="record_id", how="left")
    day = F.col("day")
    in_queue = F.col("signable").isNotNull()
    blocked = in_queue & ~F.col("signable")

    def n(cond: Column) -> Column:
        return F.sum(F.when(cond, 1).otherwise(0)).cast("long")

    counts = d.groupBy(*FACILITY_DAY).agg(
        F.count(F.lit(1)).cast("long").alias("doses_entered"),
        n(F.col("_entered") == day).alias("entered_same_day"),
        n(F.col("_entered") > day).alias("entered_late"),
        n(F.col("_signed").isNotNull()).alias("signed"),
        n(F.col("_signed") == day).alias("signed_same_day"),
        n(F.col("_signed") > day).alias("signed_late"),
        n(in_queue).alias("unsigned"),
        n(in_queue & F.col("signable")).alias("signable"),
        n(blocked).alias("blocked"),
    )
    reasons = (
        d.filter(blocked)
        .select(*FACILITY_DAY, F.explode("block_reasons").alias("reason"))
        .groupBy(*FACILITY_DAY, "reason")
        .agg(F.count(F.lit(1)).cast("long").alias("n"))
        .groupBy(*FACILITY_DAY)
        .agg(F.map_from_entries(F.array_sort(F.collect_list(F.struct("reason", "n")))).alias("by_reason"))
    )
    reported = reconciliation.groupBy(*FACILITY_DAY).agg(
        F.sum("doses_reported").cast("long").alias("doses_reported"),
        F.sum("doses_entered").cast("long").alias("_entered_nodup"),
    )
    # Full join: a facility-day that was reported but has no ledger row at all is the worst gap.
    on = [F.col(f"c.{k}").eqNullSafe(F.col(f"r.{k}")) for k in FACILITY_DAY]
    count_cols = [c for c in counts.columns if c not in FACILITY_DAY]
    joined = (
        counts.alias("c")
        .join(reported.alias("r"), on=on, how="full")
        .select(
            *[F.coalesce(F.col(f"c.{k}"), F.col(f"r.{k}")).alias(k) for k in FACILITY_DAY],
            *[F.coalesce(F.col(f"c.{c}"), F.lit(0).cast("long")).alias(c) for c in count_cols],
            "r.doses_reported",
            F.coalesce(F.col("r._entered_nodup"), F.lit(0).cast("long")).alias("_entered_nodup"),
        )
    )
    on = [F.col(f"j.{k}").eqNullSafe(F.col(f"b.{k}")) for k in FACILITY_DAY]
    out = joined.alias("j").join(reasons.alias("b"), on=on, how="left").select("j.*", "b.by_reason")
    empty = F.create_map().cast(T.MapType(T.StringType(), T.LongType()))
    return out.select(
        *FACILITY_DAY,
        facility_province("facility_code").alias("province_code"),
        "doses_entered",
        "entered_same_day",
        "entered_late",
        "signed",
        "signed_same_day",
        "signed_late",
        "unsigned",
        "signable",
        "blocked",
        F.coalesce("by_reason", empty).alias("blocked_by_reason"),
        F.when(F.col("doses_entered") > 0, F.col("signed_same_day") / F.col("doses_entered")).alias(
            "same_day_signing_rate"
        ),
        "doses_reported",
        (F.col("doses_reported") - F.col("_entered_nodup")).alias("report_gap"),
    ).select(*FACILITY_DAILY_COLUMNS)
