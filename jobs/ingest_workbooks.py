"""Ingest returned review workbooks: corrections into Delta, re-classification, verification lists.

    vaxclean ingest-workbooks --returned DIR [--config conf/local.yaml] [--warehouse DIR] [--out DIR]
    python -m jobs.ingest_workbooks --returned DIR ...

Every file below ``--returned`` is read (Spark executors, a file at a time). Rows that can be trusted
(row key signed with our secret and issued to the file's commune, read-only cells as issued, subject
unchanged since issue, valid corrected values, a verifier named) become ``subject_corrections``
(Delta MERGE: the same file twice changes nothing; concurrent ingests retry on conflict); every
other row, and every file that cannot be read as a review list, becomes ``correction_rejects`` rows
with a reason. Then the subjects are classified again (``jobs.classify``, which applies the
corrections) and each commune touched gets its verification list
(``<out>/verification/<p>/<p>-<d>-<c>-xac-minh.xlsx``) and platform-update file
(``<out>/platform-updates/<p>/<p>-<d>-<c>.csv``). ``returned_files`` remembers each file by its
SHA-256: a file already ingested is skipped. See docs/review-loop.md.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Sequence

from pyspark import StorageLevel
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.classify import CORRECTIONS, classify
from jobs.export_workbooks import (
    MANIFEST,
    commune_names,
    out_folder,
    require_secret,
)
from transforms.corrections import (
    ACCEPTED,
    ALREADY_RECORDED,
    CORRECTION_KEYS,
    CORRECTION_REJECTS,
    REJECT_KEYS,
    REJECTED,
    RETURNED,
    SUBJECT_CORRECTIONS,
    check_returned_rows,
    correction_rows,
    reject_rows,
)
from transforms.workbooks import verification_rows
from vaxclean import delta_io, xlsx
from vaxclean.config import Config
from vaxclean.delta_io import ensure_table, retry_on_conflict
from vaxclean.errors import VaxcleanError
from vaxclean.jobkit import argv_or_sys, load, parser, run_main
from vaxclean.logs import StepResult, progress
from vaxclean.spark import get_spark

log = logging.getLogger(__name__)

REJECTS = "correction_rejects"
RETURNED_FILES = "returned_files"
RETURNED_FILES_SCHEMA = T.StructType(
    [
        T.StructField("file_sha256", T.StringType(), False),
        T.StructField("source_file", T.StringType(), False),
        T.StructField("saved_at", T.TimestampType(), True),
        T.StructField("rows", T.LongType(), False),
        T.StructField("accepted", T.LongType(), False),
        T.StructField("already_recorded", T.LongType(), False),
        T.StructField("rejected", T.LongType(), False),
        T.StructField("file_problem", T.StringType(), True),
        T.StructField("ingested_at", T.TimestampType(), False),
    ]
)


def read_returned_files(spark: SparkSession, folder: str) -> DataFrame:
    """Every file below ``folder`` as (path, sha256, modified, content); lock files skipped."""
    try:
        files = spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(folder)
    except AnalysisException as exc:
        raise VaxcleanError(
            f"returned workbooks {folder}: cannot read the folder ({str(exc).splitlines()[0]})"
        ) from None
    name = F.element_at(F.split("path", "/"), -1)
    return files.filter(~name.startswith("~$") & ~name.startswith(".~lock")).select(
        F.regexp_replace("path", "^file:", "").alias("path"),
        F.sha2("content", 256).alias("file_sha256"),
        F.col("modificationTime").alias("modified"),
        "content",
    )


def _pinned(spark: SparkSession, cfg: Config, name: str) -> DataFrame | None:
    """Table ``name`` at its current version (None when missing).

    Pinning matters: a Delta write re-computes cached DataFrames that read the table by path, and
    the rows checked against the subjects before re-classification must stay as checked.
    """
    version = delta_io.version(spark, cfg, name)
    return None if version is None else delta_io.read(spark, cfg, name, version=version)


def _new_only(spark: SparkSession, cfg: Config, df: DataFrame, name: str, keys: list[str]) -> DataFrame:
    table = _pinned(spark, cfg, name)
    return df if table is None else df.join(table.select(*keys), on=keys, how="left_anti")


def _merge(spark: SparkSession, cfg: Config, df: DataFrame, name: str, **kwargs: object) -> None:
    retry_on_conflict(lambda: delta_io.merge(df, cfg, name, **kwargs), what=f"merge {name}")  # type: ignore[arg-type]


def write_verification(
    spark: SparkSession, cfg: Config, communes: DataFrame, *, out_dir: str
) -> list[tuple[str, int]]:
    """Verification workbook and platform-update CSV of each commune in ``communes`` (executors)."""
    corrections, rejects = (
        delta_io.read(spark, cfg, name)
        if delta_io.exists(spark, cfg.table_path(name))
        else spark.createDataFrame([], schema)
        for name, schema in ((CORRECTIONS, SUBJECT_CORRECTIONS), (REJECTS, CORRECTION_REJECTS))
    )
    rows = verification_rows(
        delta_io.read(spark, cfg, MANIFEST),
        delta_io.read(spark, cfg, "subject_checks"),
        delta_io.read(spark, cfg, "subjects"),
        corrections,
        rejects,
        communes,
    )
    partitions = max(1, spark.sparkContext.defaultParallelism)
    ordered = rows.repartition(
        partitions, "province_code", "district_code", "commune_code"
    ).sortWithinPartitions("province_code", "district_code", "commune_code", "row_number", "subject_id")
    body = functools.partial(
        xlsx.write_verification_partition,
        out_dir=out_dir,
        made_at=dt.datetime.now().replace(microsecond=0),
        names=commune_names(),
    )
    return ordered.rdd.mapPartitions(body).collect()


def ingest_returned(
    spark: SparkSession, cfg: Config, folder: str, *, reclassify: bool = True
) -> list[StepResult]:
    """Ingest the returned workbooks below ``folder``; see the module docstring."""
    results: list[StepResult] = []
    secret = require_secret(cfg)
    if not delta_io.exists(spark, cfg.table_path(MANIFEST)):
        raise VaxcleanError(
            f"no review lists were issued from {cfg.warehouse} (table {MANIFEST} is missing): "
            "run `vaxclean export-workbooks` first"
        )
    out_dir = out_folder(cfg)
    require_verifier = bool((cfg.raw.get("workbooks") or {}).get("require_verifier", True))
    ingested_at = dt.datetime.now().replace(microsecond=0)

    with progress("read returned", results) as r:
        files = _new_only(spark, cfg, read_returned_files(spark, folder), RETURNED_FILES, ["file_sha256"])
        files = files.persist(StorageLevel.MEMORY_AND_DISK)
        n_files = files.count()
        if n_files == 0:
            r.note = "no new returned file (every file already ingested): nothing to do"
            files.unpersist()
            return results
        body = functools.partial(xlsx.read_returned_partition, secret=secret)
        parsed = spark.createDataFrame(
            files.select("path", "file_sha256", "modified", "content").rdd.mapPartitions(body), RETURNED
        ).persist(StorageLevel.MEMORY_AND_DISK)
        r.rows = parsed.filter(F.col("kind") == "row").count()
        files.unpersist()
        r.note = f"{n_files} file(s)"

    with progress("check corrections", results) as r:
        corrections = _pinned(spark, cfg, CORRECTIONS)
        checked = check_returned_rows(
            parsed,
            manifest=_pinned(spark, cfg, MANIFEST),
            subjects=_pinned(spark, cfg, "subjects"),
            corrections=corrections,
            missing_id_tokens=cfg.rules.missing_id_tokens,
            require_verifier=require_verifier,
        ).persist(StorageLevel.MEMORY_AND_DISK)
        r.rows = checked.count()
        outcomes = {row["outcome"]: row["count"] for row in checked.groupBy("outcome").count().collect()}
        r.note = ", ".join(f"{n} {k.lower().replace('_', ' ')}" for k, n in sorted(outcomes.items()))

    # Counted now: the summary must describe the rows as checked, whatever is written next.
    per_file = spark.createDataFrame(
        _file_summary(parsed, checked, ingested_at).collect(), RETURNED_FILES_SCHEMA
    )

    with progress("merge corrections", results) as r:
        new = correction_rows(checked, ingested_at=ingested_at)
        if corrections is not None:
            same = [*CORRECTION_KEYS, "new_value", "verified_by"]
            new = new.join(corrections.select(*same), on=same, how="left_anti")
        new = new.select(*SUBJECT_CORRECTIONS.fieldNames()).persist(StorageLevel.MEMORY_AND_DISK)
        n_new = r.rows = new.count()
        if n_new:
            ensure_table(spark, cfg, CORRECTIONS, SUBJECT_CORRECTIONS, "province_code")
            _merge(
                spark,
                cfg,
                new,
                CORRECTIONS,
                keys=CORRECTION_KEYS,
                partition_column="province_code",
                update_when_changed=["new_value", "verified_by"],
            )
        new.unpersist()
        rejects = _new_only(
            spark, cfg, reject_rows(checked, parsed, ingested_at=ingested_at), REJECTS, REJECT_KEYS
        )
        rejects = rejects.persist(StorageLevel.MEMORY_AND_DISK)
        n_rejects = rejects.count()
        if n_rejects:
            ensure_table(spark, cfg, REJECTS, CORRECTION_REJECTS, "province_code")
            _merge(spark, cfg, rejects, REJECTS, keys=REJECT_KEYS, partition_column="province_code")
        rejects.unpersist()
        r.note = f"{n_rejects} reject row(s) in {REJECTS}"

    if n_new and reclassify:
        results += retry_on_conflict(lambda: classify(spark, cfg), what="classify")

    with progress("verification lists", results) as r:
        touched = (
            checked.filter(F.col("list_id").isNotNull())
            .select("province_code", "district_code", "commune_code")
            .distinct()
        )
        written = write_verification(spark, cfg, touched, out_dir=out_dir)
        r.rows = sum(n for path, n in written if path.endswith(".xlsx"))
        r.note = f"{sum(1 for p, _ in written if p.endswith('.xlsx'))} commune(s) under {out_dir}"

    ensure_table(spark, cfg, RETURNED_FILES, RETURNED_FILES_SCHEMA, None)
    _merge(spark, cfg, per_file, RETURNED_FILES, keys=["file_sha256"])
    for row in per_file.orderBy("source_file").collect():
        if row["file_problem"]:
            print(
                f"  returned file {row['source_file']}: rejected as a whole: {row['file_problem']}",
                flush=True,
            )
        else:
            print(
                f"  returned file {row['source_file']}: {row['rows']} row(s), {row['accepted']} accepted, "
                f"{row['rejected']} rejected, {row['already_recorded']} already recorded",
                flush=True,
            )
    checked.unpersist()
    parsed.unpersist()
    return results


def _file_summary(parsed: DataFrame, checked: DataFrame, ingested_at: dt.datetime) -> DataFrame:
    """One ``returned_files`` row per file of this batch."""
    counts = checked.groupBy("file_sha256").agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.when(F.col("outcome") == ACCEPTED, 1).otherwise(0)).alias("accepted"),
        F.sum(F.when(F.col("outcome") == ALREADY_RECORDED, 1).otherwise(0)).alias("already_recorded"),
        F.sum(F.when(F.col("outcome") == REJECTED, 1).otherwise(0)).alias("rejected"),
    )
    files = parsed.groupBy("file_sha256").agg(
        F.first("source_file").alias("source_file"),
        F.max("saved_at").alias("saved_at"),
        F.max(F.when(F.col("kind") == "file", F.col("detail"))).alias("file_problem"),
    )
    return files.join(counts, on="file_sha256", how="left").select(
        "file_sha256",
        "source_file",
        "saved_at",
        *[
            F.coalesce(c, F.lit(0)).cast("long").alias(c)
            for c in ("rows", "accepted", "already_recorded", "rejected")
        ],
        "file_problem",
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = parser("vaxclean ingest-workbooks", "Ingest returned review workbooks as corrections.")
    p.add_argument("--returned", required=True, help="folder of returned workbooks (searched recursively)")
    p.add_argument(
        "--no-reclassify",
        action="store_true",
        help="record corrections only; classify later (vaxclean classify)",
    )
    args = p.parse_args(argv_or_sys(argv))

    def body() -> int:
        cfg = load(args)
        ingest_returned(get_spark(cfg), cfg, args.returned, reclassify=not args.no_reclassify)
        return 0

    return run_main(body, step="ingest-workbooks")


if __name__ == "__main__":
    raise SystemExit(main())
