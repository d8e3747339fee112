"""Ingest: the ledger export, the register snapshot and facility reports into Delta tables.

    vaxclean ingest --ledger PATH [--register PATH] [--reports PATH] [--warehouse DIR]

* ``ledger_raw`` (partitioned by ``province_code``): every raw value plus source file, source row and
  the ingest run id (a fingerprint of the input files). Re-ingesting a province's export replaces
  exactly that province. Rows that cannot be read as rows (ragged, broken quoting), rows without a
  ``record_id`` and repeated ``record_id`` rows go to ``ledger_rejects`` with a reason.
* ``register`` (partitioned by ``province_code``): the snapshot, normalised; replaced as a whole.
* ``facility_reports``: the sites' daily dose counts.

The same input ingested twice is skipped: nothing is written, no table gets a new version.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from transforms import normalize as N
from transforms.ledger import normalize_facility_reports, normalize_register, with_partition_province
from vaxclean import delta_io, schemas
from vaxclean.config import Config
from vaxclean.jobkit import add_province_flag, argv_or_sys, load, parser, run_main
from vaxclean.jobkit import provinces as province_codes
from vaxclean.logs import StepResult, progress
from vaxclean.readers import input_fingerprint, read_input
from vaxclean.spark import get_spark

log = logging.getLogger(__name__)

LEDGER_RAW = "ledger_raw"
LEDGER_REJECTS = "ledger_rejects"
REGISTER = "register"
REGISTER_REJECTS = "register_rejects"
FACILITY_REPORTS = "facility_reports"


def split_duplicate_records(rows: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Keep the first row of each ``record_id``; later copies and rows without an id are rejected."""
    first = Window.partitionBy("record_id").orderBy("source_file", "source_row")
    rid = N.trim_all("record_id")
    ranked = rows.withColumn("_rn", F.when(rid.isNotNull(), F.row_number().over(first)))
    ranked = ranked.withColumn(
        "_first", F.when(rid.isNotNull(), F.first(F.struct("source_file", "source_row")).over(first))
    )
    keep = ranked.filter(F.col("_rn") == 1).drop("_rn", "_first")
    reject = ranked.filter(F.col("_rn").isNull() | (F.col("_rn") > 1)).select(
        "source_file",
        "source_row",
        F.when(F.col("_rn").isNull(), F.lit("record_id is empty"))
        .otherwise(
            F.format_string(
                "duplicate record_id: first seen at %s row %d",
                F.col("_first.source_file"),
                F.col("_first.source_row"),
            )
        )
        .alias("reason"),
        F.to_json(F.struct(*[c for c in schemas.LEDGER_COLUMNS])).alias("raw_line"),
        "ingest_run_id",
    )
    return keep, reject


def _write_rejects(rejects: DataFrame, cfg: Config, name: str, files: Sequence[str]) -> int:
    """Replace the rejects of these source files (so a re-ingest never leaves stale rejects)."""
    rejects = rejects.cache()
    n = rejects.count()
    delta_io.replace_where(
        rejects, cfg, name, delta_io.partition_predicate("source_file", files), empty=n == 0
    )
    rejects.unpersist()
    return n


def ingest_ledger(
    spark: SparkSession, cfg: Config, path: str, *, provinces: Sequence[str] | None = None
) -> StepResult:
    """Ingest a ledger export; with ``provinces``, only those provinces' rows and partitions.

    A province job replaces exactly its provinces (a province absent from the export is emptied),
    so several province jobs can ingest slices of one national export at the same time.
    """
    with progress("ingest ledger") as result:
        # Whether this export is in already is decided from the files' hash, before Spark reads them;
        # the scope of a national ingest (the provinces in the export) follows from the files too.
        run_id = input_fingerprint(path, cfg.ledger)
        inputs: dict[str, object] = {"ledger_files": run_id}
        if provinces is not None:
            inputs["provinces"] = sorted(provinces)
            done = delta_io.step_done(spark, cfg, "ingest_ledger", inputs, scope=",".join(sorted(provinces)))
        else:
            done = delta_io.done_scope(spark, cfg, "ingest_ledger", inputs) is not None
        if done:
            result.note = "same input already ingested: nothing to do"
            return result
        batch = read_input(
            spark, path, cfg.ledger, columns=schemas.LEDGER_COLUMNS, kind="ledger", run_id=run_id
        )
        keep, dup_rejects = split_duplicate_records(batch.rows)
        rows = with_partition_province(keep)
        if provinces is not None:
            rows = rows.filter(F.col("province_code").isin(list(provinces)))
        rows = rows.cache()
        if provinces is None:
            provinces = sorted(r[0] for r in rows.select("province_code").distinct().collect())
        provinces = sorted(provinces)
        scope = ",".join(provinces)
        result.rows = rows.count()
        delta_io.replace_partitions(
            rows,
            cfg,
            LEDGER_RAW,
            partition_column="province_code",
            values=provinces,
            properties={"delta.enableChangeDataFeed": "true"},
        )
        n_rejects = _write_rejects(batch.rejects.unionByName(dup_rejects), cfg, LEDGER_REJECTS, batch.files)
        delta_io.record_step(
            spark,
            cfg,
            "ingest_ledger",
            inputs,
            outputs={"provinces": provinces},
            rows=result.rows,
            scope=scope,
        )
        rows.unpersist()
        result.note = f"{len(provinces)} province(s), {n_rejects} rejected row(s) in {LEDGER_REJECTS}"
    return result


def ingest_register(spark: SparkSession, cfg: Config, path: str) -> StepResult:
    with progress("ingest register") as result:
        run_id = input_fingerprint(path, cfg.register)  # skip before reading (see ingest_ledger)
        inputs = {"register_files": run_id}
        if delta_io.step_done(spark, cfg, "ingest_register", inputs):
            result.note = "same snapshot already ingested: nothing to do"
            return result
        batch = read_input(
            spark, path, cfg.register, columns=schemas.REGISTER_COLUMNS, kind="register", run_id=run_id
        )
        register = normalize_register(batch.rows).cache()
        result.rows = register.count()
        delta_io.overwrite(register, cfg, REGISTER, partition_column="province_code")
        n_rejects = _write_rejects(batch.rejects, cfg, REGISTER_REJECTS, batch.files)
        delta_io.record_step(spark, cfg, "ingest_register", inputs, rows=result.rows)
        register.unpersist()
        result.note = f"{n_rejects} rejected row(s)" if n_rejects else ""
    return result


def ingest_facility_reports(spark: SparkSession, cfg: Config, path: str) -> StepResult:
    with progress("ingest reports") as result:
        run_id = input_fingerprint(path, cfg.facility_reports)  # skip before reading (see ingest_ledger)
        inputs = {"report_files": run_id}
        if delta_io.step_done(spark, cfg, "ingest_facility_reports", inputs):
            result.note = "same input already ingested: nothing to do"
            return result
        batch = read_input(
            spark,
            path,
            cfg.facility_reports,
            columns=schemas.FACILITY_REPORT_COLUMNS,
            kind="facility reports",
            run_id=run_id,
        )
        reports = normalize_facility_reports(batch.rows).cache()
        result.rows = reports.count()
        delta_io.overwrite(reports, cfg, FACILITY_REPORTS)
        n_rejects = _write_rejects(batch.rejects, cfg, "facility_report_rejects", batch.files)
        delta_io.record_step(spark, cfg, "ingest_facility_reports", inputs, rows=result.rows)
        reports.unpersist()
        result.note = f"{n_rejects} rejected row(s)" if n_rejects else ""
    return result


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(
        "vaxclean ingest", "Ingest the ledger export, register snapshot and facility reports into Delta."
    )
    p.add_argument("--ledger", help="ledger export: a CSV/Parquet file or a folder of them")
    p.add_argument("--register", help="register snapshot: a CSV/Parquet file or a folder")
    p.add_argument("--reports", help="facility dose reports: a CSV/Parquet file or a folder")
    add_province_flag(p)
    args = p.parse_args(argv_or_sys(argv))
    only = province_codes(p, args)

    def body() -> int:
        if not (args.ledger or args.register or args.reports):
            p.error("give at least one of --ledger, --register, --reports")
        cfg = load(args)
        spark = get_spark(cfg)
        if args.register:
            ingest_register(spark, cfg, args.register)
        if args.ledger:
            # Province ingests run side by side (shared warehouse lock); the first writes into a new
            # warehouse race to create the tables, and the loser's commit is simply done again.
            delta_io.retry_on_conflict(
                lambda: ingest_ledger(spark, cfg, args.ledger, provinces=only), what="ingest ledger"
            )
        if args.reports:
            ingest_facility_reports(spark, cfg, args.reports)
        return 0

    return run_main(body, step="ingest")


if __name__ == "__main__":
    raise SystemExit(main())
