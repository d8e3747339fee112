"""The Spark engine: generate chunks in parallel and write each table as a folder of part files.

``sparkContext.parallelize(specs, n_chunks).mapPartitions(...)`` runs
:func:`vaxclean.synth.chunk.generate_chunk` once per chunk on the executors. Each chunk yields one
``(table, pickled rows)`` pair per table; those pairs are persisted once, and each table is written
from them as a DataFrame (all columns strings). Keeping a chunk's rows pickled in one blob makes
the per-table passes cheap: filtering on the tag unpickles a tag and a bytes object, and only the
chosen table's rows are ever unpickled. Facility reports are summed across chunks with a
``groupBy``. The rows are exactly those of the local engine for the same options.
"""

from __future__ import annotations

import logging
import pickle
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vaxclean.synth.chunk import ChunkSpec, generate_chunk
from vaxclean.synth.columns import TABLES
from vaxclean.synth.generate import Options, manifest, write_manifest

log = logging.getLogger(__name__)

# CSV as RFC 4180 and as typed: quotes doubled, no trimming (leading/trailing spaces are data),
# empty strings written empty, UTF-8, one header per part file.
CSV_OPTIONS = {
    "header": "true",
    "quote": '"',
    "escape": '"',
    "emptyValue": "",
    "nullValue": "",
    "ignoreLeadingWhiteSpace": "false",
    "ignoreTrailingWhiteSpace": "false",
    "encoding": "UTF-8",
    "lineSep": "\n",
}


def _pack(value: Any) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _tagged_chunks(specs: Iterable[ChunkSpec]) -> Iterator[tuple[str, bytes]]:
    for spec in specs:
        result = generate_chunk(spec)
        for table in ("register", "ledger", "truth_subjects", "truth_doses"):
            yield table, _pack(getattr(result, table))
        yield "reports", _pack([(f, day, vaccine, n) for (f, day, vaccine), n in result.reports.items()])
        yield "stats", _pack(dict(result.stats))


def _rows_of(tagged, table: str):
    """The rows of one table: unpickle only the blobs tagged with it."""
    return tagged.filter(lambda r: r[0] == table).flatMap(lambda r: pickle.loads(r[1]))


def _probe(_: Iterable[int]) -> Iterator[bool]:
    import vaxclean.synth.chunk  # noqa: F401 - the import is the probe

    yield True


def _ship_package(spark: SparkSession) -> None:
    """Make ``vaxclean`` (and ``transforms``) importable on the Python workers.

    Under spark-submit with ``--py-files``, or when the workers run the driver's interpreter, they
    already are, and nothing is shipped. Otherwise (e.g. a local master whose workers start the
    ``python3`` on PATH instead of the project's virtualenv) both packages are zipped from where the
    driver imports them and added with ``addPyFile``.
    """
    sc = spark.sparkContext
    try:
        sc.parallelize([0], 1).mapPartitions(_probe).collect()
        return
    except Exception:  # noqa: BLE001 - py4j wraps the worker's ImportError
        log.info("vaxclean is not importable on the Spark workers: shipping it with addPyFile")
    import transforms
    import vaxclean

    folder = Path(tempfile.mkdtemp(prefix="vaxclean-pyfiles-"))
    archive = folder / "vaxclean_synth.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for package in (vaxclean, transforms):
            root = Path(package.__file__).resolve().parent
            for path in sorted(root.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                    zf.write(path, Path(root.name) / path.relative_to(root))
    sc.addPyFile(str(archive))


def _schema(columns: tuple[str, ...]) -> T.StructType:
    return T.StructType([T.StructField(c, T.StringType(), True) for c in columns])


def _write(df: DataFrame, path: str, fmt: str) -> None:
    writer = df.write.mode("overwrite")
    if fmt == "parquet":
        writer.parquet(path)
    else:
        writer.options(**CSV_OPTIONS).csv(path)


def generate_spark(opts: Options, out: str, spark: SparkSession) -> dict[str, Any]:
    """Generate ``opts`` with Spark into folders under ``out``; return the manifest."""
    _ship_package(spark)
    specs = opts.chunk_specs()
    tagged = spark.sparkContext.parallelize(specs, len(specs)).mapPartitions(_tagged_chunks)
    tagged = tagged.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        out_path = Path(out)
        out_path.mkdir(parents=True, exist_ok=True)
        files = {}
        for table in ("register", "ledger", "truth_subjects", "truth_doses"):
            started = time.perf_counter()
            fmt = opts.ledger_format if table == "ledger" else "csv"
            df = spark.createDataFrame(_rows_of(tagged, table), _schema(TABLES[table]), verifySchema=False)
            _write(df, f"{out}/{table}", fmt)
            files[table] = f"{table}/"
            # the first table also pays for generating every chunk
            log.info("%s written in %.1f s", table, time.perf_counter() - started)
        report_schema = T.StructType(
            [
                T.StructField("facility_code", T.StringType(), False),
                T.StructField("report_date", T.StringType(), False),
                T.StructField("vaccine", T.StringType(), False),
                T.StructField("doses", T.LongType(), False),
            ]
        )
        reports = (
            spark.createDataFrame(_rows_of(tagged, "reports"), report_schema, verifySchema=False)
            .groupBy("facility_code", "report_date", "vaccine")
            .agg(F.sum("doses").alias("doses"))
            .select(
                "facility_code",
                "report_date",
                "vaccine",
                F.col("doses").cast("string").alias("doses_administered"),
            )
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        _write(reports, f"{out}/facility_reports", "csv")
        files["facility_reports"] = "facility_reports/"
        stats: Counter = Counter()
        for part in tagged.filter(lambda r: r[0] == "stats").map(lambda r: r[1]).collect():
            stats.update(pickle.loads(part))
        totals = reports.agg(F.count("*"), F.sum(F.col("doses_administered").cast("long"))).first()
        stats["facility_report_rows"] = int(totals[0])
        stats["doses_reported"] = int(totals[1] or 0)
        reports.unpersist()
    finally:
        tagged.unpersist()
    data = manifest(opts, stats, files=files)
    write_manifest(out_path / "manifest.json", data)
    return data
