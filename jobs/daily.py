"""Daily: merge the day's ledger export, re-decide only what it touches, refresh the gate.

    vaxclean daily [--ledger PATH] [--reports PATH] [--warehouse DIR] [--as-of yyyy-mm-dd]

``--ledger`` and ``--reports`` may be repeated, oldest day first, to catch up on several days.

1. The day's rows are MERGEd into ``ledger_raw`` by ``record_id`` (new rows inserted, changed rows
   updated, identical rows left alone); unreadable and repeated rows go to ``ledger_rejects``.
2. ``ledger_raw``'s Change Data Feed since the version the last ``classify`` or ``daily`` run read
   (``pipeline_runs``) names the changed rows; this also catches a full ``ingest`` in between.
3. The touched subjects (and records without a subject), plus the subjects that share a register
   person with them (``transforms.daily``), are normalised from ``ledger_raw``, classified against
   the register rows of their IDs, gated, and MERGEd into ``doses``, ``subjects``,
   ``subject_checks``, ``dose_checks`` and ``signing_queue`` with the partitions they live in.
4. ``facility_daily`` and ``reconciliation`` are recomputed for the facility-days touched.

When the register, the accepted corrections or the rules changed since that run, every subject may
change: the job runs the full ``classify`` instead and says so. A rerun on the same files and the
same tables is skipped: no table gets a new version.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from functools import reduce

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.classify import CORRECTIONS, classify
from jobs.gate import (
    dose_rules,
    rules_fingerprint,
    rules_static_fingerprint,
    run_record,
    write_reports,
    written_versions,
)
from jobs.ingest import (
    FACILITY_REPORTS,
    LEDGER_RAW,
    LEDGER_REJECTS,
    _write_rejects,
    split_duplicate_records,
)
from transforms.classify import build_signing_queue, classify_doses, classify_subjects, resolve_ids
from transforms.daily import (
    filter_ledger_rows,
    filter_register_for_ids,
    rows_of,
    select_neighbours,
    select_touched_records,
    select_touched_subjects,
    semi_join,
    with_merge_actions,
)
from transforms.gate import with_source_versions
from transforms.ledger import (
    build_subjects,
    normalize_doses,
    normalize_facility_reports,
    with_partition_province,
)
from vaxclean import delta_io, schemas
from vaxclean.config import Config, InputSpec
from vaxclean.errors import VaxcleanError
from vaxclean.jobkit import argv_or_sys, load, parser, run_main
from vaxclean.logs import StepResult, progress
from vaxclean.readers import check_input_files, fingerprint, list_input_files, read_input
from vaxclean.spark import get_spark

log = logging.getLogger(__name__)

STEP = "daily"
GATE_TABLES = ("doses", "subjects", "subject_checks", "dose_checks", "signing_queue")
# Tables whose unchanged rows are dropped from the MERGE source, and the columns not compared.
UNCHANGED_DROPPED = {"doses": (), "dose_checks": (), "signing_queue": ("source_versions",)}
REPORT_TABLES = ("facility_daily", "reconciliation")


def last_gate_run(spark: SparkSession, cfg: Config) -> dict | None:
    """``outputs`` of the latest ``classify`` or ``daily`` run, or None."""
    if delta_io.version(spark, cfg, delta_io.RUNS_TABLE) is None:
        return None
    row = (
        delta_io.read(spark, cfg, delta_io.RUNS_TABLE)
        .filter(F.col("step").isin("classify", STEP) & (F.col("scope") == "all"))
        .orderBy(F.col("finished_at").desc())
        .select("outputs")
        .first()
    )
    return json.loads(row[0]) if row and row[0] else None


def merge_ledger(spark: SparkSession, cfg: Config, path: str) -> StepResult:
    """MERGE a day's export into ``ledger_raw`` by ``record_id``: new rows are inserted, changed rows
    updated, identical rows left alone (so they do not show up in the change feed)."""
    with progress("merge day's ledger") as r:
        if delta_io.version(spark, cfg, LEDGER_RAW) is None:
            raise VaxcleanError(
                f"no ledger in {cfg.warehouse}: ingest the full export and run classify first "
                "(vaxclean ingest --ledger PATH --register PATH; vaxclean classify)"
            )
        batch = read_input(spark, path, cfg.ledger, columns=schemas.LEDGER_COLUMNS, kind="ledger")
        keep, dup_rejects = split_duplicate_records(batch.rows)
        rows = with_partition_province(keep).cache()
        r.rows = rows.count()
        delta_io.merge(
            rows,
            cfg,
            LEDGER_RAW,
            keys=["record_id"],
            partition_column="province_code",
            update_when_changed=[c for c in schemas.LEDGER_COLUMNS if c != "record_id"],
        )
        n_rejects = _write_rejects(batch.rejects.unionByName(dup_rejects), cfg, LEDGER_REJECTS, batch.files)
        r.note = f"{n_rejects} rejected row(s) in {LEDGER_REJECTS}"
        rows.unpersist()
    return r


def merge_reports(spark: SparkSession, cfg: Config, path: str) -> tuple[StepResult, DataFrame]:
    """MERGE a day's facility reports by facility, date and product; return the facility-days sent."""
    with progress("merge day's reports") as r:
        batch = read_input(
            spark,
            path,
            cfg.facility_reports,
            columns=schemas.FACILITY_REPORT_COLUMNS,
            kind="facility reports",
        )
        rows = normalize_facility_reports(batch.rows).cache()
        r.rows = rows.count()
        if delta_io.version(spark, cfg, FACILITY_REPORTS) is None:
            delta_io.overwrite(rows, cfg, FACILITY_REPORTS)
        else:
            keys = ["facility_code", "report_date", "vaccine_raw"]
            delta_io.merge(rows, cfg, FACILITY_REPORTS, keys=keys, update_when_changed=["doses_administered"])
        _write_rejects(batch.rejects, cfg, "facility_report_rejects", batch.files)
        days = rows.select("facility_code", F.col("report_date").alias("day")).distinct()
    return r, days


def ledger_changes(spark: SparkSession, cfg: Config, start: int, end: int) -> DataFrame:
    """Change Data Feed rows of ``ledger_raw`` in versions ``start`` … ``end``."""
    return (
        spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", start)
        .option("endingVersion", end)
        .load(cfg.table_path(LEDGER_RAW))
        .select("record_id", "subject_id")
    )


def _versions(spark: SparkSession, cfg: Config) -> dict[str, int | None]:
    names = (LEDGER_RAW, "register", CORRECTIONS, "facility_reports")
    return {n: delta_io.version(spark, cfg, n) for n in names}


def _full_reason(base: dict | None, read: dict[str, int | None], cfg: Config) -> str | None:
    """Why the daily run cannot be incremental, or None."""
    if not base or "read" not in base or "rules_static" not in base:
        return "no earlier classify/daily run recorded its snapshot"
    for name in ("register", CORRECTIONS):
        if base["read"].get(name) != read[name]:
            return f"{name} changed since the last run"
    if base["rules_static"] != rules_static_fingerprint(cfg):
        return "the rules changed since the last run"
    if base["read"].get(LEDGER_RAW) is None or base["read"][LEDGER_RAW] > (read[LEDGER_RAW] or -1):
        return "ledger_raw is older than the last run's snapshot"
    return None


def incremental(
    spark: SparkSession,
    cfg: Config,
    *,
    base: dict,
    read: dict[str, int | None],
    results: list[StepResult],
    report_days: DataFrame | None = None,
) -> dict[str, int]:
    """Re-decide the subjects touched since ``base`` and MERGE them; refresh the report rows of the
    facility-days touched (and of ``report_days``); return counts for the run record."""
    end = read[LEDGER_RAW]
    start = base["read"][LEDGER_RAW] + 1
    at = {t: delta_io.version(spark, cfg, t) for t in GATE_TABLES}  # the state before this run
    old_doses = delta_io.read(spark, cfg, "doses", version=at["doses"])
    old_checks = delta_io.read(spark, cfg, "subject_checks", version=at["subject_checks"])

    with progress("touched subjects", results) as r:
        changes = ledger_changes(spark, cfg, start, end) if end >= start else None
        empty_s = spark.createDataFrame([], "subject_id string")
        empty_r = spark.createDataFrame([], "record_id string")
        t_subj = select_touched_subjects(changes) if changes is not None else empty_s
        t_rec = select_touched_records(changes) if changes is not None else empty_r
        lo, hi = sorted([base["as_of"], cfg.as_of_date().isoformat()])
        if lo != hi:  # doses whose "in the future" verdict flips between the two as-of days
            vd = F.col("vaccination_date")
            moved = old_doses.filter((vd > F.lit(lo).cast("date")) & (vd <= F.lit(hi).cast("date")))
            t_subj = t_subj.unionByName(moved.select("subject_id").filter(F.col("subject_id").isNotNull()))
            t_rec = t_rec.unionByName(moved.select("record_id"))
        t_subj, t_rec = t_subj.distinct().localCheckpoint(), t_rec.distinct().localCheckpoint()
        r.rows = t_subj.count()
        n_records = t_rec.count()
        r.note = f"{n_records:,} changed record(s), ledger_raw versions {start}..{end}"
    if r.rows == 0 and n_records == 0:
        if report_days is not None:
            results.append(write_reports(spark, cfg, facility_days=report_days))
        return {"touched_subjects": 0, "changed_records": 0, "neighbours": 0}

    rules = cfg.rules
    register = delta_io.read(spark, cfg, "register", version=read["register"])
    with progress("re-decide subjects", results) as r:
        raw = delta_io.read(spark, cfg, LEDGER_RAW, version=end)
        new_doses = normalize_doses(
            filter_ledger_rows(raw, subjects=t_subj, records=t_rec), missing_id_tokens=rules.missing_id_tokens
        ).localCheckpoint()
        subj_t = build_subjects(new_doses)
        if read[CORRECTIONS] is not None:
            from transforms.corrections import apply_corrections

            corrections = delta_io.read(spark, cfg, CORRECTIONS, version=read[CORRECTIONS]).join(
                F.broadcast(t_subj), on="subject_id", how="left_semi"
            )
            subj_t = apply_corrections(subj_t, corrections, missing_id_tokens=rules.missing_id_tokens)
        subj_t = subj_t.localCheckpoint()
        old_checks_t = old_checks.join(F.broadcast(t_subj), on="subject_id", how="left_semi")
        reg_t = filter_register_for_ids(register, subj_t.select(F.col("id_clean").alias("id")))
        persons = (
            resolve_ids(subj_t, reg_t)
            .select(F.col("matched_personal_id").alias("personal_id"))
            .unionByName(old_checks_t.select(F.col("matched_personal_id").alias("personal_id")))
            .filter(F.col("personal_id").isNotNull())
        )
        neighbours = select_neighbours(old_checks, persons=persons, exclude=t_subj).localCheckpoint()
        n_neighbours = neighbours.count()
        subj_n = delta_io.read(spark, cfg, "subjects", version=at["subjects"]).join(
            F.broadcast(neighbours), on="subject_id", how="left_semi"
        )
        subjects = subj_t.unionByName(subj_n).localCheckpoint()
        # Every row ``doses`` holds now for what this run re-decides: read once, used for the
        # neighbours' doses, the keys the MERGEs replace and the rows that come back unchanged.
        group = t_subj.unionByName(neighbours).distinct().localCheckpoint()
        old_group = rows_of(old_doses, subjects=group, records=t_rec).localCheckpoint()
        doses = new_doses.unionByName(
            old_group.join(F.broadcast(neighbours), on="subject_id", how="left_semi")
        ).localCheckpoint()
        ids = subjects.select(F.col("id_clean").alias("id"))
        reg_g = filter_register_for_ids(register, ids).localCheckpoint()
        checks = classify_subjects(subjects, reg_g).localCheckpoint()
        dose_checks = classify_doses(doses, subjects, checks, reg_g, **dose_rules(cfg)).localCheckpoint()
        versions = {n: read[n] for n in (LEDGER_RAW, "register", CORRECTIONS)}
        queue = (
            build_signing_queue(doses, checks, dose_checks)
            .transform(with_source_versions, versions=versions)
            .localCheckpoint()
        )
        r.rows = subjects.count()
        r.note = f"{n_neighbours:,} neighbour subject(s), {doses.count():,} dose row(s)"

    with progress("merge results", results) as r:
        old_subject_keys = old_checks.join(F.broadcast(group), on="subject_id", how="left_semi").select(
            "subject_id", "province_code"
        )
        old_records = (
            old_group.select(
                "record_id", "province_code", "facility_code", F.col("vaccination_date").alias("day")
            )
            .distinct()
            .localCheckpoint()
        )
        old_records.count()
        old_subject_keys = old_subject_keys.localCheckpoint()
        old_subject_keys.count()
        rkeys, skeys = ["record_id", "province_code"], ["subject_id", "province_code"]
        plan = (
            ("doses", doses, rkeys, old_records),
            ("subjects", subjects, skeys, old_subject_keys),
            ("subject_checks", checks, skeys, old_subject_keys),
            ("dose_checks", dose_checks, rkeys, old_records),
            ("signing_queue", queue, rkeys, old_records),
        )
        sources: list[DataFrame] = []
        report_keys: list[DataFrame] = []
        for name, new, keys, old in plan:
            table = delta_io.read(spark, cfg, name)
            source = with_merge_actions(new.select(*table.columns), old, keys=keys)
            # Rows that come back as the table holds them (most earlier doses of a re-decided
            # subject and their checks, queue rows decided the same way) are dropped here, or MERGE
            # would copy every file holding one. A queue row decided the same way keeps the versions
            # it was first decided from (the decision is the same at both snapshots). The rows of
            # ``subjects`` and ``subject_checks`` of a re-decided subject nearly all change
            # (``n_doses``, ``subject_version``): comparing them would only cost a pass.
            if name in UNCHANGED_DROPPED:
                held = old_group if name == "doses" else table  # doses: already read, same version
                source = delta_io.changes_only(source, held, keys=keys, ignore=UNCHANGED_DROPPED[name])
            sources.append(source.localCheckpoint())
            if name in UNCHANGED_DROPPED:  # the records whose rows the report tables count changed
                report_keys.append(sources[-1].select(*rkeys))
            delta_io.sync(sources[-1], cfg, name, keys=keys, partition_column="province_code")
            r.rows += new.count()
        # Only the facility-days of rows the reports count that changed (before or after) need a
        # refresh: a re-decided subject's earlier doses mostly change nothing there. (A queue row
        # that changed elsewhere than in its decision changed in ``doses`` too.)
        changed = reduce(DataFrame.unionByName, report_keys).distinct().localCheckpoint()
        facility_days = (
            semi_join(old_records, changed, keys=rkeys)
            .select("facility_code", "day")
            .unionByName(
                semi_join(doses, changed, keys=rkeys).select(
                    "facility_code", F.col("vaccination_date").alias("day")
                )
            )
        )
        if report_days is not None:
            facility_days = facility_days.unionByName(report_days)
        facility_days = facility_days.distinct().localCheckpoint()
        facility_days.count()
    results.append(write_reports(spark, cfg, facility_days=facility_days))
    counts = {"touched_subjects": t_subj.count(), "changed_records": n_records, "neighbours": n_neighbours}
    cached = [t_subj, t_rec, new_doses, subj_t, neighbours, subjects, doses, reg_g, checks, dose_checks]
    for df in [
        *cached,
        group,
        old_group,
        old_records,
        old_subject_keys,
        facility_days,
        changed,
        *sources,
    ]:
        df.unpersist()
    return counts


def _paths(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _checked_fingerprint(paths: list[str], spec: InputSpec) -> str | None:
    """Every file of ``paths`` found and its header checked (before anything is merged: a wrong
    second path must not leave the first day merged alone); their fingerprint, in the order given,
    without reading rows (for one path: the ``ingest_run_id`` its rows get)."""
    files = [f for p in paths for f in list_input_files(p)]
    check_input_files(files, spec)
    return fingerprint(files) if paths else None


def daily(
    spark: SparkSession,
    cfg: Config,
    *,
    ledger: str | Sequence[str] | None = None,
    reports: str | Sequence[str] | None = None,
) -> list[StepResult]:
    """The daily run (module docstring). ``ledger`` / ``reports``: the day's exports, both optional.

    Several exports (days missed, caught up in one run) are MERGEd one after the other in the order
    given, oldest first, so a record changed on a later day keeps its later values; the subjects
    they touch are then re-decided once."""
    ledgers, report_paths = _paths(ledger), _paths(reports)
    results: list[StepResult] = []
    files = {
        "ledger_files": _checked_fingerprint(ledgers, cfg.ledger),
        "report_files": _checked_fingerprint(report_paths, cfg.facility_reports),
    }
    read = _versions(spark, cfg)
    if delta_io.step_done(spark, cfg, STEP, {**files, **read, "rules": rules_fingerprint(cfg)}):
        with progress(STEP, results) as r:
            r.note = "same day's files and tables as the last run: nothing to do"
        return results
    base = last_gate_run(spark, cfg)
    reports_before = read["facility_reports"]
    report_days = None
    for path in ledgers:
        results.append(merge_ledger(spark, cfg, path))
    for path in report_paths:
        result, days = merge_reports(spark, cfg, path)
        results.append(result)
        report_days = days if report_days is None else report_days.unionByName(days)
    read = _versions(spark, cfg)

    reason = _full_reason(base, read, cfg)
    counts: dict[str, int] = {}
    if reason is None:
        reports_moved = base["read"].get("facility_reports") != reports_before
        try:
            counts = incremental(
                spark,
                cfg,
                base=base,
                read=read,
                results=results,
                report_days=None if reports_moved else report_days,
            )
        except AnalysisException as exc:  # e.g. change data no longer available (vacuumed)
            if "change" not in str(exc).lower():
                raise
            reason = "ledger_raw's change data feed does not cover the versions since the last run"
        else:
            if reports_moved:  # reports re-ingested in full since the last run: reconcile everything
                results.append(write_reports(spark, cfg))
    if reason is not None:
        log.info("daily: running the full classify (%s)", reason)
        print(f"daily: full classify ({reason})", flush=True)
        results += classify(spark, cfg)
    outputs = {
        **run_record(cfg, read),
        **counts,
        "mode": "full" if reason else "incremental",
        "wrote": written_versions(spark, cfg, GATE_TABLES + REPORT_TABLES),
    }
    inputs = {**files, **read, "rules": rules_fingerprint(cfg)}
    delta_io.record_step(spark, cfg, STEP, inputs, outputs=outputs, rows=counts.get("changed_records"))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    p = parser("vaxclean daily", "Merge a day's ledger export and re-decide only what it touches.")
    p.add_argument(
        "--ledger",
        action="append",
        help="the day's ledger export (new and changed rows): a CSV/Parquet file or folder; "
        "give it once per day, oldest first, to catch up on several days in one run",
    )
    p.add_argument(
        "--reports",
        action="append",
        help="facility dose reports: a CSV/Parquet file or a folder (may be given more than once)",
    )
    args = p.parse_args(argv_or_sys(argv))

    def body() -> int:
        cfg = load(args)
        daily(get_spark(cfg), cfg, ledger=args.ledger, reports=args.reports)
        return 0

    return run_main(body, step="daily")


if __name__ == "__main__":
    raise SystemExit(main())
