"""The one place that builds a SparkSession.

* In a notebook or on a cluster where a session is already active, that session is reused.
* Under ``spark-submit`` the JVM already exists with the master and jars spark-submit was given;
  the builder then only adds the Delta SQL extension and the job's own settings.
* Locally, the Delta jars come from the cache filled by ``vaxclean setup`` (see :mod:`vaxclean.jars`);
  without them the run stops with one sentence saying how to get them.
* Locally, a class-data archive in that cache (``vaxclean setup --class-archive``, see
  :mod:`vaxclean.class_archive`) is mapped by the driver JVM when there is one: a faster start.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from vaxclean import class_archive
from vaxclean.config import Config
from vaxclean.errors import DeltaJarsMissing
from vaxclean.jars import find_delta_jars

log = logging.getLogger(__name__)

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}
LOG4J_CONF = Path(__file__).with_name("log4j2.properties")


def _under_spark_submit() -> bool:
    # pyspark sets this when the JVM was started by spark-submit before Python.
    return "PYSPARK_GATEWAY_PORT" in os.environ


def get_spark(cfg: Config, *, extra_conf: dict[str, str] | None = None) -> SparkSession:
    """Return the active session, or build one from ``cfg`` with Delta enabled."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    return start_session(cfg.app_name, cfg.master, cfg.spark_conf, cfg.jars_dir, extra_conf=extra_conf)


def start_session(
    app_name: str,
    master: str | None,
    spark_conf: dict[str, str],
    jars_dir: str | None,
    *,
    extra_conf: dict[str, str] | None = None,
) -> SparkSession:
    """Build a session with Delta enabled (what :func:`get_spark` does when none is active)."""
    builder = SparkSession.builder.appName(app_name)
    conf = {**spark_conf, **DELTA_CONF, **(extra_conf or {})}
    if not _under_spark_submit():
        if master:
            builder = builder.master(master)
        if master and master.startswith("local"):
            # Quiet the loopback warning and keep the driver on this machine; Python workers use
            # this interpreter (the project's venv), not whatever python3 is first on PATH.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            java_opts = conf.get("spark.driver.extraJavaOptions", "")
            if "SharedArchive" not in java_opts and "ArchiveClassesAtExit" not in java_opts:
                # Spark's classes from the archive `vaxclean setup --class-archive` built, if any.
                java_opts = f"{java_opts} {class_archive.java_options(jars_dir)}"
            conf["spark.driver.extraJavaOptions"] = (
                f"{java_opts.strip()} -Dlog4j2.configurationFile=file:{LOG4J_CONF}".strip()
            )
        if jars_dir:
            jars = find_delta_jars(jars_dir)
            existing = [j for j in conf.get("spark.jars", "").split(",") if j]
            conf["spark.jars"] = ",".join(existing + jars)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    _check_delta(spark)
    return spark


def _check_delta(spark: SparkSession) -> None:
    try:
        jvm = spark.sparkContext._jvm  # noqa: SLF001 - no public API for a class lookup
        jvm.java.lang.Thread.currentThread().getContextClassLoader().loadClass("io.delta.tables.DeltaTable")
    except Exception:  # noqa: BLE001 - py4j raises its own error types
        raise DeltaJarsMissing(
            "Delta Lake is not on this Spark session's classpath: run `vaxclean setup` for local runs, or "
            "pass the jars to spark-submit with --jars (see README, 'Running on a cluster')."
        ) from None
