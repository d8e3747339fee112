"""A class-data archive of Spark and Delta for local sessions: each local job starts faster.

A local job spends its first seconds loading and verifying the classes of Spark, Scala and Delta
from some 280 jars. Java's application class-data sharing (AppCDS, JDK 13+) keeps them parsed and
verified in an archive file that later JVMs map instead. ``vaxclean setup --class-archive`` builds
one (about a minute and a half, ~200 MB next to the Delta jars) by running a small Delta workload
in a JVM started with ``-XX:ArchiveClassesAtExit``; from then on :func:`vaxclean.spark.get_spark`
starts local sessions with ``-XX:SharedArchiveFile``. Measured on the project machine (2 cores,
30 Nov 2026, back to back, twice each), a fresh process that starts Spark and reads a few Delta
tables: 21.4-22.8 s and 31-33 core-seconds with the archive against 29.7-30.7 s and 40-42 without.

The JVM checks the archive itself: another Java build, other Spark jars or a damaged file and it
silently starts without it (the archive's messages are turned off), so a stale archive costs the
speed-up, never a run. Clusters are untouched: under spark-submit the session is not built here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ARCHIVE_NAME = "spark-classes.jsa"
# Off: a missing or mismatched archive is not worth a warning on every job.
QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"


def archive_path(jars_dir: str | os.PathLike[str]) -> Path:
    return Path(jars_dir).expanduser() / ARCHIVE_NAME


def java_options(jars_dir: str | os.PathLike[str] | None) -> str:
    """The driver JVM options that use the archive, or "" when there is none."""
    if not jars_dir:
        return ""
    path = archive_path(jars_dir)
    return f"-XX:SharedArchiveFile={path} {QUIET}" if path.is_file() else ""


def _key(jars_dir: str | os.PathLike[str]) -> str:
    """What the archive was built from: Spark (its version and where its jars are: the archive holds
    the class path it was dumped with, and a JVM on another path ignores it), the Delta jars and the
    Java that pyspark starts."""
    import pyspark

    java = Path(os.environ["JAVA_HOME"]) / "bin" / "java" if os.environ.get("JAVA_HOME") else "java"
    try:
        version = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=60, check=False
        ).stderr.strip()
    except OSError:
        version = "no java"
    jars = sorted(p.name for p in Path(jars_dir).expanduser().glob("*.jar"))
    spark_jars = Path(pyspark.__file__).resolve().parent / "jars"
    return "\n".join([f"pyspark {pyspark.__version__} at {spark_jars}", *jars, version])


def ensure(jars_dir: str | os.PathLike[str]) -> tuple[Path, bool]:
    """The archive in ``jars_dir``, built unless one from the same Spark, jars and Java is there.

    Returns its path and whether it was built now.
    """
    target, stamp = archive_path(jars_dir), archive_path(jars_dir).with_suffix(".key")
    key = _key(jars_dir)
    if target.is_file() and stamp.is_file() and stamp.read_text(encoding="utf-8") == key:
        return target, False
    stamp.unlink(missing_ok=True)
    build(jars_dir)
    stamp.write_text(key, encoding="utf-8")
    return target, True


def build(jars_dir: str | os.PathLike[str]) -> Path:
    """Build the archive in ``jars_dir`` (replacing one that is there) and return its path.

    The workload runs in a child process, whose JVM writes the archive when it exits; the file is
    moved into place only once that JVM is gone, so a reader never maps half an archive.
    """
    target = archive_path(jars_dir)
    partial = target.with_suffix(".jsa.part")
    partial.unlink(missing_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "vaxclean.class_archive", str(jars_dir), str(partial)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
        partial.unlink(missing_ok=True)
        tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
        raise OSError(f"the class archive could not be built (exit {proc.returncode}: {tail[0][:300]})")
    os.replace(partial, target)
    return target


def _workload(jars_dir: str, dump_to: str) -> None:
    """A local session as :func:`vaxclean.spark.get_spark` starts one, dumping its classes at exit,
    and a few rows through what the pipeline uses (CSV, Delta write, MERGE, replaceWhere, history,
    joins, windows, a Python UDF)."""
    from delta.tables import DeltaTable
    from pyspark import SparkContext
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    from vaxclean.spark import start_session

    extra = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "1",
        "spark.databricks.delta.snapshotPartitions": "1",
        # start_session adds the log4j setting, and no archive to map while this one is written.
        "spark.driver.extraJavaOptions": f"-XX:ArchiveClassesAtExit={dump_to} {QUIET} "
        "-XX:TieredStopAtLevel=1",
    }
    spark = start_session("vaxclean-class-archive", "local[2]", {}, jars_dir, extra_conf=extra)
    with tempfile.TemporaryDirectory(prefix="vaxclean-cds-") as tmp:
        csv = Path(tmp) / "in.csv"
        csv.write_text("id,name,born,province\n1,An,1985-03-05,79\n2,Bình,1990-07-01,01\n", encoding="utf-8")
        df = spark.read.option("header", True).csv(str(csv)).withColumn("born", F.to_date("born"))
        table = str(Path(tmp) / "t")
        df.write.format("delta").partitionBy("province").save(table)
        (
            DeltaTable.forPath(spark, table)
            .alias("t")
            .merge(
                df.withColumn("name", F.upper("name")).alias("s"), "t.id = s.id AND t.province = s.province"
            )
            .whenMatchedUpdateAll()
            .whenNotMatchedInsertAll()
            .execute()
        )
        hcm = df.filter("province = '79'")
        hcm.write.format("delta").mode("overwrite").option("replaceWhere", "province = '79'").save(table)
        DeltaTable.forPath(spark, table).history(1).collect()
        back = spark.read.format("delta").load(table)
        w = Window.partitionBy("province").orderBy("id")
        joined = back.join(df.select("id", F.col("name").alias("was")), "id")
        joined.withColumn("n", F.row_number().over(w)).groupBy("province").count().collect()
        back.select(F.udf(lambda s: s.lower())("name")).collect()  # a Python worker
    gateway = SparkContext._gateway  # noqa: SLF001 - the JVM must exit (and write the archive) first
    jvm = getattr(gateway, "proc", None)
    spark.stop()
    gateway.shutdown()
    if jvm is not None:
        jvm.stdin.close()  # the gateway JVM exits when its stdin closes
        jvm.wait(timeout=600)


if __name__ == "__main__":
    _workload(sys.argv[1], sys.argv[2])
