"""Report: where the cleanup stands, as Delta tables, an HTML page and an Excel summary.

    vaxclean report [--config conf/local.yaml] [--warehouse DIR] [--out DIR] [--since-version N]
    python -m jobs.report ...

Reads ``subject_checks``, ``dose_checks``, ``doses`` and (when ingested) ``facility_reports``;
overwrites the Delta tables ``report_counts`` (counts by status and error code per province,
district and commune), ``report_headline`` (doses reported / entered / verified / not matched,
people without a valid ID) and ``report_progress`` (what changed since an earlier version of
``subject_checks``, read by Delta time travel); writes ``<out>/report/report.html`` (charts as
embedded PNGs, reads offline) and ``<out>/report/summary.xlsx`` (native Excel charts). Aggregates
only: the report holds no personal data. Unchanged aggregates leave their tables at the same
version.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from transforms.report import (
    aggregate_counts,
    aggregate_headline,
    aggregate_progress,
    aggregate_status_history,
    pivot_counts,
)
from vaxclean import delta_io
from vaxclean.config import Config
from vaxclean.errors import VaxcleanError
from vaxclean.jobkit import argv_or_sys, load, parser, run_main
from vaxclean.logs import StepResult, progress
from vaxclean.spark import get_spark

log = logging.getLogger(__name__)

CHECKS = "subject_checks"
COUNTS, HEADLINE, PROGRESS = "report_counts", "report_headline", "report_progress"
HISTORY_VERSIONS = 10


def _rows(df: DataFrame) -> list[dict]:
    """Collect a small aggregate (dozens to a few thousand rows) as plain dicts."""
    return [r.asDict() for r in df.collect()]


def checks_history(spark: SparkSession, cfg: Config, *, limit: int) -> list[tuple[int, dt.datetime]]:
    """The last ``limit`` versions of ``subject_checks`` with their commit times, oldest first."""
    hist = DeltaTable.forPath(spark, cfg.table_path(CHECKS)).history(limit).select("version", "timestamp")
    return sorted((int(r["version"]), r["timestamp"]) for r in hist.collect())


def read_previous(spark: SparkSession, cfg: Config, version: int) -> DataFrame | None:
    """``subject_checks`` at ``version``, or None when time travel cannot reach it (vacuumed)."""
    try:
        df = delta_io.read(spark, cfg, CHECKS, version=version)
        df.schema  # noqa: B018 - resolving the schema is what fails for an unreachable version
        return df
    except Exception as exc:  # noqa: BLE001 - Delta raises several JVM error types here
        log.warning(
            "subject_checks version %d cannot be read (%s): no progress section", version, type(exc).__name__
        )
        return None


def report(
    spark: SparkSession,
    cfg: Config,
    *,
    since_version: int | None = None,
    history_versions: int = HISTORY_VERSIONS,
) -> tuple[Path, list[StepResult]]:
    """Compute the aggregates, write the ``report_*`` tables, render the files; return the folder."""
    from vaxclean.report_files import ReportData, write_report  # matplotlib only when reporting

    results: list[StepResult] = []
    for name in (CHECKS, "dose_checks", "doses"):
        if not delta_io.exists(spark, cfg.table_path(name)):
            raise VaxcleanError(
                f"no {name} table in {cfg.warehouse}: run the pipeline first "
                "(vaxclean run ... or vaxclean classify)"
            )
    versions = checks_history(spark, cfg, limit=max(history_versions, 1))
    current_version = versions[-1][0]
    if since_version is not None and not 0 <= since_version < current_version:
        raise VaxcleanError(
            f"--since-version {since_version}: subject_checks has versions up to {current_version}; "
            "give one before the current version"
        )
    checks = delta_io.read(spark, cfg, CHECKS, version=current_version)
    dose_checks = delta_io.read(spark, cfg, "dose_checks")
    doses = delta_io.read(spark, cfg, "doses")
    has_reports = delta_io.exists(spark, cfg.table_path("facility_reports"))
    reports = delta_io.read(spark, cfg, "facility_reports") if has_reports else None

    with progress("report counts", results) as r:
        delta_io.overwrite(aggregate_counts(checks, dose_checks), cfg, COUNTS)
        counts = delta_io.read(spark, cfg, COUNTS).cache()
        r.rows = counts.count()
    with progress("report headline", results) as r:
        delta_io.overwrite(aggregate_headline(checks, dose_checks, doses, reports), cfg, HEADLINE)
        headline = _rows(delta_io.read(spark, cfg, HEADLINE))
        r.rows = len(headline)

    with progress("report progress", results) as r:
        previous_version = since_version if since_version is not None else current_version - 1
        previous = read_previous(spark, cfg, previous_version) if previous_version >= 0 else None
        progress_rows: list[dict] = []
        if previous is not None:
            delta_io.overwrite(aggregate_progress(previous, checks), cfg, PROGRESS)
            progress_rows = _rows(delta_io.read(spark, cfg, PROGRESS))
            r.note = f"subject_checks v{previous_version} → v{current_version}"
        else:
            r.note = "first version of subject_checks: nothing to compare with"
        r.rows = len(progress_rows)

        readable = []
        for v, ts in versions:
            df = checks if v == current_version else read_previous(spark, cfg, v)
            if df is not None:
                readable.append(
                    df.select(F.lit(v).cast("long").alias("version"), F.lit(ts).alias("timestamp"), "status")
                )
        history_df = readable[0]
        for df in readable[1:]:
            history_df = history_df.unionByName(df)
        history = _rows(aggregate_status_history(history_df))

    with progress("report files", results) as r:
        national = counts.filter((F.col("level") == "national") & (F.col("category") == "error_code"))
        national_codes: dict[str, dict[str, int]] = {"subject": {}, "dose": {}}
        for row in national.orderBy("entity", F.col("count").desc(), "value").collect():
            national_codes[row["entity"]][row["value"]] = int(row["count"])
        data = ReportData(
            generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            as_of=cfg.as_of_date().isoformat(),
            subject_checks_version=current_version,
            headline=headline,
            provinces=_rows(pivot_counts(counts, level="province")),
            communes=_rows(pivot_counts(counts, level="commune")),
            national_codes=national_codes,
            progress=progress_rows,
            progress_from_version=previous_version if progress_rows else None,
            history=[{**h, "timestamp": str(h["timestamp"])} for h in history],
            notes=()
            if reports is not None
            else ("No facility reports ingested: doses reported are not shown.",),
        )
        out_dir = Path(cfg.out) / "report"
        written = write_report(out_dir, data)
        counts.unpersist()
        r.rows = len(data.communes)
        r.note = f"{written['html']} and {written['xlsx'].name}"
    return out_dir, results


def run_step(spark: SparkSession, cfg: Config) -> list[StepResult]:
    """The report step as ``vaxclean run`` would call it."""
    return report(spark, cfg)[1]


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(
        "vaxclean report",
        "Write the progress report: counts by status and error code per province, district and commune, "
        "headline figures, progress since the previous run (Delta time travel). Outputs the Delta tables "
        "report_counts, report_headline, report_progress and OUT/report/report.html + summary.xlsx.",
    )
    p.add_argument(
        "--since-version",
        type=int,
        help="compare with this version of subject_checks (default: the version before the current one)",
    )
    p.add_argument(
        "--history",
        type=int,
        default=HISTORY_VERSIONS,
        help="how many recent versions of subject_checks the status-by-run chart covers "
        "(default: %(default)s)",
    )
    args = p.parse_args(argv_or_sys(argv))

    def body() -> int:
        cfg = load(args)
        out_dir, _ = report(
            get_spark(cfg), cfg, since_version=args.since_version, history_versions=args.history
        )
        print(f"report written to {out_dir}")
        return 0

    return run_main(body, step="report")


if __name__ == "__main__":
    raise SystemExit(main())
