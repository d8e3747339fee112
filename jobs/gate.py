"""Wiring shared by ``classify`` and ``daily``: the gate's report tables and its run record.

* ``facility_daily`` (partitioned by the facility's ``province_code``): per facility and vaccination
  day, doses entered, signed, signable, blocked by reason, entered and signed late, the same-day
  signing rate, and the reported doses and gap.
* ``reconciliation`` (same partitioning): facility reports against entered doses per facility, day
  and product; ``reconciliation_totals``: national and per-province totals.

Not a command of its own: ``vaxclean classify`` rebuilds these tables, ``vaxclean daily`` refreshes
only the facility-days its changes touched.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from transforms.daily import semi_join, with_merge_actions
from transforms.gate import (
    FACILITY_DAY,
    RECONCILIATION_KEYS,
    aggregate_entered,
    aggregate_facility_daily,
    aggregate_reconciliation_totals,
    reconcile_facility_reports,
)
from vaxclean import delta_io
from vaxclean.config import Config
from vaxclean.logs import StepResult, progress

log = logging.getLogger(__name__)

FACILITY_DAILY = "facility_daily"
RECONCILIATION = "reconciliation"
RECONCILIATION_TOTALS = "reconciliation_totals"
FACILITY_REPORTS = "facility_reports"
REPORT_SCHEMA = "facility_code string, report_date date, vaccine string, doses_administered int"


def _fingerprint(payload: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _rules_payload(cfg: Config) -> dict[str, object]:
    rules = cfg.rules
    return {
        "campaign_start": rules.campaign_start,
        "missing": rules.missing_id_tokens,
        "intervals": dict(rules.min_interval_days),
        "default": rules.default_min_interval_days,
        "boosters": dict(rules.booster_min_months),
    }


def rules_static_fingerprint(cfg: Config) -> str:
    """The rules that decide codes, without ``as_of`` (a daily run handles a moved as-of day itself)."""
    return _fingerprint(_rules_payload(cfg))


def rules_fingerprint(cfg: Config) -> str:
    """The rules that decide codes, ``as_of`` included (a full classify reruns when it moves)."""
    return _fingerprint({**_rules_payload(cfg), "as_of": cfg.as_of_date()})


def dose_rules(cfg: Config) -> dict[str, object]:
    """The keyword arguments of ``transforms.classify.classify_doses`` that come from the config."""
    rules = cfg.rules
    return {
        "campaign_start": rules.campaign_start,
        "as_of": cfg.as_of_date(),
        "min_interval_days": rules.min_interval_days,
        "default_min_interval_days": rules.default_min_interval_days,
        "booster_min_months": rules.booster_min_months,
    }


def run_record(cfg: Config, read: dict[str, int | None]) -> dict[str, object]:
    """What ``pipeline_runs.outputs`` keeps for a gate run: the Delta versions it read (the snapshot a
    signing list can be traced back to), the as-of day and the rules, and the versions it left."""
    return {
        "read": dict(read),
        "as_of": cfg.as_of_date().isoformat(),
        "rules_static": rules_static_fingerprint(cfg),
    }


def written_versions(spark: SparkSession, cfg: Config, tables: tuple[str, ...]) -> dict[str, int | None]:
    return {t: delta_io.version(spark, cfg, t) for t in tables}


def _reports(spark: SparkSession, cfg: Config) -> DataFrame:
    if delta_io.version(spark, cfg, FACILITY_REPORTS) is None:
        return spark.createDataFrame([], REPORT_SCHEMA)
    return delta_io.read(spark, cfg, FACILITY_REPORTS).select(
        "facility_code", "report_date", "vaccine", "doses_administered"
    )


def _on_facility_days(df: DataFrame, keys: DataFrame, *, day: str) -> DataFrame:
    """Rows of ``df`` whose (facility_code, ``day``) is one of ``keys`` (null-safe)."""
    return semi_join(df, keys.select("facility_code", F.col("day").alias(day)), keys=["facility_code", day])


def _sync_facility_days(
    new: DataFrame, cfg: Config, name: str, facility_days: DataFrame, *, table_keys: Sequence[str]
) -> None:
    """MERGE the recomputed rows of these facility-days into ``name``; rows gone from them deleted."""
    old = _on_facility_days(delta_io.read(new.sparkSession, cfg, name), facility_days, day="day")
    keys = [*table_keys, "province_code"]
    delta_io.sync(
        with_merge_actions(new, old, keys=keys), cfg, name, keys=keys, partition_column="province_code"
    )


def write_reports(spark: SparkSession, cfg: Config, *, facility_days: DataFrame | None = None) -> StepResult:
    """Rebuild the report tables, or only the given facility-days (``facility_code``, ``day``).

    Reads the current ``doses``, ``dose_checks``, ``signing_queue`` and ``facility_reports``; a
    facility-day is recomputed from all of its rows, so the result equals a full rebuild.
    """
    with progress("facility reports") as r:
        exists = all(delta_io.version(spark, cfg, t) is not None for t in (FACILITY_DAILY, RECONCILIATION))
        doses = delta_io.read(spark, cfg, "doses")
        dose_checks = delta_io.read(spark, cfg, "dose_checks")
        queue = delta_io.read(spark, cfg, "signing_queue")
        reports = _reports(spark, cfg)
        if facility_days is None or not exists:
            recon = reconcile_facility_reports(reports, aggregate_entered(doses, dose_checks))
            delta_io.overwrite(
                recon, cfg, RECONCILIATION, partition_column="province_code", skip_if_same=False
            )
            recon = delta_io.read(spark, cfg, RECONCILIATION)
            daily = aggregate_facility_daily(doses, queue, recon)
            delta_io.overwrite(
                daily, cfg, FACILITY_DAILY, partition_column="province_code", skip_if_same=False
            )
            r.rows = delta_io.read(spark, cfg, FACILITY_DAILY).count()
            r.note = "rebuilt"
        else:
            keys = facility_days.select("facility_code", "day").distinct().localCheckpoint()
            doses_fd = _on_facility_days(doses, keys, day="vaccination_date").localCheckpoint()
            records = F.broadcast(doses_fd.select("record_id"))
            entered = aggregate_entered(doses_fd, dose_checks.join(records, on="record_id", how="left_semi"))
            recon = reconcile_facility_reports(
                _on_facility_days(reports, keys, day="report_date"), entered
            ).localCheckpoint()
            _sync_facility_days(recon, cfg, RECONCILIATION, keys, table_keys=RECONCILIATION_KEYS)
            daily = aggregate_facility_daily(
                doses_fd, queue.join(records, on="record_id", how="left_semi"), recon
            ).localCheckpoint()
            _sync_facility_days(daily, cfg, FACILITY_DAILY, keys, table_keys=FACILITY_DAY)
            r.rows = daily.count()
            r.note = f"{keys.count():,} facility-day(s) refreshed"
            for df in (keys, doses_fd, recon, daily):
                df.unpersist()
        totals = aggregate_reconciliation_totals(delta_io.read(spark, cfg, RECONCILIATION))
        delta_io.overwrite(totals, cfg, RECONCILIATION_TOTALS)
    return r
