"""Report aggregates: counts per place, headline figures, progress between two versions.

Pure DataFrame → DataFrame functions over the contract's tables (``subject_checks``,
``dose_checks``) plus ``doses`` and ``facility_reports``. Every output holds counts only: no
subject, record, name, ID or date leaves these functions, so whatever renders them (HTML, Excel,
notebooks, logs) cannot show personal data.

Where figures are attributed (docs/rules.md decides the codes; this module only counts them):

* people (subjects) and their codes: the subject's residence (``subject_checks`` codes, the same
  place its review item goes to);
* doses in the place breakdown (``aggregate_counts``): the residence of the dose's subject, so a
  commune's row counts its own people's doses;
* doses in the headline (``aggregate_headline``): the province of the vaccination site, read from
  the facility code (``79760-TYT01`` → ``79``), because that is how facilities report them; a
  facility code without that shape falls back to the dose row's province.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

VERIFIED, FOREIGN, NEEDS_REVIEW = "VERIFIED", "FOREIGN", "NEEDS_REVIEW"
STATUSES = (VERIFIED, FOREIGN, NEEDS_REVIEW)
SUBJECT_CODES = (
    "ID_MISSING", "ID_MALFORMED", "ID_NOT_FOUND", "NAME_MISMATCH", "DOB_MISMATCH",
    "GENDER_MISMATCH", "ID_SHARED", "SUBJECT_DUPLICATE", "FOREIGN_NO_PASSPORT",
)  # fmt: skip
DOSE_CODES = (
    "DOSE_DUPLICATE", "DOSE_SEQUENCE", "DOSE_INTERVAL_SHORT", "DOSE_DATE_INVALID", "DOSE_AFTER_DEATH",
)  # fmt: skip
# A subject whose ID does not lead to its own register entry (the subjects docs/matching.md suggests
# register people for): its doses are "not yet matched to the register".
UNMATCHED_CODES = ("ID_MISSING", "ID_MALFORMED", "ID_NOT_FOUND", "ID_SHARED")
# "Without a valid ID": nothing usable was typed.
INVALID_ID_CODES = ("ID_MISSING", "ID_MALFORMED")
UNKNOWN = "__"  # a missing place code, as in ledger_raw's partition column

GEO = ("province_code", "district_code", "commune_code")
LEVELS = {"national": (), "province": GEO[:1], "district": GEO[:2], "commune": GEO}

S, L = T.StringType(), T.LongType()
REPORT_COUNTS = T.StructType(
    [
        T.StructField("level", S, False),  # national | province | district | commune
        T.StructField("province_code", S, True),  # null above the level's depth
        T.StructField("district_code", S, True),
        T.StructField("commune_code", S, True),
        T.StructField("entity", S, False),  # subject | dose
        T.StructField("category", S, False),  # total | status | error_code
        T.StructField("value", S, True),  # the status or code; null for total
        T.StructField("count", L, False),
    ]
)
HEADLINE_METRICS = (
    "doses_reported",  # sum of facility_reports.doses_administered
    "doses_entered",  # ledger rows (dose_checks)
    "doses_verified",  # subject VERIFIED or FOREIGN and no dose code: can be signed
    "doses_not_matched",  # subject has one of UNMATCHED_CODES
    "people",
    "people_verified",
    "people_foreign",
    "people_needs_review",
    "people_without_valid_id",  # subject has ID_MISSING or ID_MALFORMED
)
REPORT_HEADLINE = T.StructType(
    [T.StructField("level", S, False), T.StructField("province_code", S, True)]
    + [T.StructField(m, L, m == "doses_reported") for m in HEADLINE_METRICS]
)
PROGRESS_METRICS = (
    "needs_review_before",
    "needs_review_now",
    "fixed",  # NEEDS_REVIEW before, VERIFIED or FOREIGN now
    "newly_flagged",  # NEEDS_REVIEW now, and VERIFIED/FOREIGN or absent before
    "still_needs_review",
    "gone",  # NEEDS_REVIEW before, no longer in subject_checks (e.g. merged away)
    "codes_resolved",  # (subject, code) pairs present before and gone now, subject still present
)
REPORT_PROGRESS = T.StructType(
    [T.StructField("level", S, False), T.StructField("province_code", S, True)]
    + [T.StructField(m, L, False) for m in PROGRESS_METRICS]
)


def facility_province(facility_code: Column | str) -> Column:
    """``79760-TYT01`` → ``79``: the site's province (GSO province + district code prefix); else null."""
    code = F.col(facility_code) if isinstance(facility_code, str) else facility_code
    prov = F.regexp_extract(F.trim(code), r"^(\d{2})\d{3}-", 1)
    return F.when(prov != "", prov)


def _has_any(codes: Column | str, wanted: tuple[str, ...]) -> Column:
    """True when the code array holds one of ``wanted``; false for a null array."""
    arr = F.col(codes) if isinstance(codes, str) else codes
    return F.coalesce(F.arrays_overlap(arr, F.array(*[F.lit(c) for c in wanted])), F.lit(False))


def _place(col: str) -> Column:
    return F.coalesce(F.col(col), F.lit(UNKNOWN)).alias(col)


def _facts(subject_checks: DataFrame, dose_checks: DataFrame) -> DataFrame:
    """One row per (subject or dose, fact): geography, entity, category, value."""
    total = F.struct(F.lit("total").alias("category"), F.lit(None).cast(S).alias("value"))

    def as_fact(code: Column) -> Column:
        return F.struct(F.lit("error_code").alias("category"), code.alias("value"))

    def facts(status: Column, codes: Column) -> Column:
        status_fact = F.struct(F.lit("status").alias("category"), status.alias("value"))
        return F.concat(F.array(total, status_fact), F.transform(codes, as_fact))

    subjects = subject_checks.select(
        *[_place(c) for c in GEO],
        F.lit("subject").alias("entity"),
        F.explode(facts(F.col("status"), F.col("error_codes"))).alias("f"),
    )
    residence = subject_checks.select(
        "subject_id",
        *[F.col(c).alias(f"s_{c}") for c in GEO],
        F.col("status").alias("s_status"),
    )
    dose_status = F.when(
        F.col("s_status").isin(VERIFIED, FOREIGN) & (F.size("error_codes") == 0), F.lit(VERIFIED)
    ).otherwise(F.lit(NEEDS_REVIEW))
    joined = dose_checks.select("subject_id", "error_codes", F.col("province_code").alias("d_province")).join(
        residence, on="subject_id", how="left"
    )
    doses = joined.select(
        F.coalesce("s_province_code", "d_province", F.lit(UNKNOWN)).alias("province_code"),
        F.coalesce("s_district_code", F.lit(UNKNOWN)).alias("district_code"),
        F.coalesce("s_commune_code", F.lit(UNKNOWN)).alias("commune_code"),
        F.lit("dose").alias("entity"),
        F.explode(facts(dose_status, F.col("error_codes"))).alias("f"),
    )
    return subjects.unionByName(doses).select(*GEO, "entity", "f.category", "f.value")


def aggregate_counts(subject_checks: DataFrame, dose_checks: DataFrame) -> DataFrame:
    """Counts by status and error code, nationally and per province, district and commune.

    Assumes ``subject_checks`` and ``dose_checks`` of the contract (one row per subject, one per
    record). Output ``REPORT_COUNTS``, one row per (level, place, entity, category, value):
    ``category`` ``total`` counts subjects or doses; ``status`` counts subjects by status and doses
    as ``VERIFIED`` (subject VERIFIED or FOREIGN, no dose code) or ``NEEDS_REVIEW``; ``error_code``
    counts subjects or doses carrying each code (one subject may count under several codes). Doses
    are placed at their subject's residence. A missing place code is counted under ``__``.
    """
    facts = _facts(subject_checks, dose_checks)
    keys = ("entity", "category", "value")
    parts = [
        facts.groupBy(*cols, *keys)
        .agg(F.count(F.lit(1)).alias("count"))
        .select(
            F.lit(level).alias("level"),
            *[(F.col(c) if c in cols else F.lit(None).cast(S)).alias(c) for c in GEO],
            *keys,
            "count",
        )
        for level, cols in LEVELS.items()
    ]
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out.select(*REPORT_COUNTS.fieldNames())


def _with_national(per_province: DataFrame, metrics: tuple[str, ...]) -> DataFrame:
    """Per-province rows plus one ``national`` row (province_code null) holding the sums."""
    national = per_province.agg(*[F.coalesce(F.sum(m), F.lit(0)).cast(L).alias(m) for m in metrics]).select(
        F.lit("national").alias("level"), F.lit(None).cast(S).alias("province_code"), *metrics
    )
    provinces = per_province.select(F.lit("province").alias("level"), "province_code", *metrics)
    return national.unionByName(provinces)


def aggregate_headline(
    subject_checks: DataFrame,
    dose_checks: DataFrame,
    doses: DataFrame,
    facility_reports: DataFrame | None,
) -> DataFrame:
    """The campaign's headline figures (``HEADLINE_METRICS``), nationally and per province.

    ``doses`` needs ``record_id``, ``facility_code``; ``facility_reports`` ``facility_code``,
    ``doses_administered`` (None when no reports were ingested: ``doses_reported`` is then null).
    Dose figures are placed at the vaccination site's province (``facility_province``), people
    at their residence. Output ``REPORT_HEADLINE``: the national row first, then one row per
    province; a province with no figure of a kind has 0 there.
    """
    subject = subject_checks.select(
        "subject_id", F.col("status").alias("s_status"), F.col("error_codes").alias("s_codes")
    )
    site = doses.select("record_id", "facility_code")
    dose_rows = (
        dose_checks.join(site, on="record_id", how="left")
        .join(subject, on="subject_id", how="left")
        .select(
            F.coalesce(facility_province("facility_code"), F.col("province_code"), F.lit(UNKNOWN)).alias(
                "province_code"
            ),
            F.lit(1).alias("doses_entered"),
            (F.col("s_status").isin(VERIFIED, FOREIGN) & (F.size("error_codes") == 0))
            .cast("int")
            .alias("doses_verified"),
            _has_any("s_codes", UNMATCHED_CODES).cast("int").alias("doses_not_matched"),
        )
    )
    people_rows = subject_checks.select(
        _place("province_code"),
        F.lit(1).alias("people"),
        (F.col("status") == VERIFIED).cast("int").alias("people_verified"),
        (F.col("status") == FOREIGN).cast("int").alias("people_foreign"),
        (F.col("status") == NEEDS_REVIEW).cast("int").alias("people_needs_review"),
        _has_any("error_codes", INVALID_ID_CODES).cast("int").alias("people_without_valid_id"),
    )
    parts = [dose_rows, people_rows]
    if facility_reports is not None:
        parts.append(
            facility_reports.select(
                F.coalesce(facility_province("facility_code"), F.lit(UNKNOWN)).alias("province_code"),
                F.coalesce(F.col("doses_administered").cast("long"), F.lit(0)).alias("doses_reported"),
            )
        )
    combined = parts[0]
    for part in parts[1:]:
        combined = combined.unionByName(part, allowMissingColumns=True)
    metrics = [m for m in HEADLINE_METRICS if m in combined.columns]
    per_province = combined.groupBy("province_code").agg(
        *[F.coalesce(F.sum(m), F.lit(0)).cast("long").alias(m) for m in metrics]
    )
    out = _with_national(per_province, tuple(metrics))
    if facility_reports is None:
        out = out.withColumn("doses_reported", F.lit(None).cast(L))
    return out.select(*REPORT_HEADLINE.fieldNames())


def aggregate_progress(previous: DataFrame, current: DataFrame) -> DataFrame:
    """What changed between two versions of ``subject_checks``, nationally and per province.

    Subjects are paired by ``subject_id``; a subject is placed in its current province (its
    previous one when it is gone). Output ``REPORT_PROGRESS`` (see ``PROGRESS_METRICS``): the
    national row first, then one row per province that has a subject in either version.
    """
    before = previous.select(
        "subject_id",
        F.col("province_code").alias("b_province"),
        F.col("status").alias("b_status"),
        F.col("error_codes").alias("b_codes"),
    )
    now = current.select(
        "subject_id",
        F.col("province_code").alias("n_province"),
        F.col("status").alias("n_status"),
        F.col("error_codes").alias("n_codes"),
    )
    was_review = F.coalesce(F.col("b_status") == NEEDS_REVIEW, F.lit(False))
    is_review = F.coalesce(F.col("n_status") == NEEDS_REVIEW, F.lit(False))
    present = F.col("n_status").isNotNull()
    resolved = F.when(present & F.col("b_codes").isNotNull(), F.size(F.array_except("b_codes", "n_codes")))
    pairs = before.join(now, on="subject_id", how="full").select(
        F.coalesce("n_province", "b_province", F.lit(UNKNOWN)).alias("province_code"),
        was_review.cast("int").alias("needs_review_before"),
        is_review.cast("int").alias("needs_review_now"),
        (was_review & present & ~is_review).cast("int").alias("fixed"),
        (is_review & ~was_review).cast("int").alias("newly_flagged"),
        (was_review & is_review).cast("int").alias("still_needs_review"),
        (was_review & ~present).cast("int").alias("gone"),
        F.coalesce(resolved, F.lit(0)).alias("codes_resolved"),
    )
    per_province = pairs.groupBy("province_code").agg(
        *[F.sum(m).cast("long").alias(m) for m in PROGRESS_METRICS]
    )
    return _with_national(per_province, PROGRESS_METRICS).select(*REPORT_PROGRESS.fieldNames())


def aggregate_status_history(versions: DataFrame) -> DataFrame:
    """Subjects per status for each version of ``subject_checks``.

    ``versions`` holds ``version`` (long), ``timestamp`` and ``status`` (one row per subject per
    version, as read by time travel). Output: ``version``, ``timestamp``, ``status``, ``count``.
    """
    return (
        versions.groupBy("version", "timestamp", "status")
        .agg(F.count(F.lit(1)).cast("long").alias("count"))
        .select("version", "timestamp", "status", "count")
    )


def pivot_counts(counts: DataFrame, *, level: str) -> DataFrame:
    """One wide row per place of ``level``: subjects, statuses, doses and every code as columns.

    ``counts`` is ``aggregate_counts``' output. Columns: the level's place codes, ``subjects``,
    ``verified``, ``foreign``, ``needs_review``, ``doses``, ``doses_needs_review``, then one column
    per subject code and per dose code (0 where absent), sorted by place.
    """
    place = list(LEVELS[level])
    key = F.concat_ws(":", "entity", "category", F.coalesce("value", F.lit("")))
    columns = {
        "subject:total:": "subjects",
        "subject:status:VERIFIED": "verified",
        "subject:status:FOREIGN": "foreign",
        "subject:status:NEEDS_REVIEW": "needs_review",
        "dose:total:": "doses",
        "dose:status:NEEDS_REVIEW": "doses_needs_review",
        **{f"subject:error_code:{c}": c for c in SUBJECT_CODES},
        **{f"dose:error_code:{c}": c for c in DOSE_CODES},
    }
    wide = (
        counts.filter(F.col("level") == level)
        .select(*place, key.alias("key"), "count")
        .groupBy(*place)
        .pivot("key", list(columns))
        .agg(F.sum("count"))
    )
    return wide.select(
        *place, *[F.coalesce(F.col(f"`{k}`"), F.lit(0)).cast(L).alias(v) for k, v in columns.items()]
    ).orderBy(*place)
