from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from vaxclean import class_archive
from vaxclean.errors import DeltaJarsMissing
from vaxclean.jars import default_jars_dir, find_delta_jars


def test_session_has_delta(spark, tmp_path):
    path = str(tmp_path / "t")
    spark.range(3).write.format("delta").save(path)
    assert spark.read.format("delta").load(path).count() == 3


def test_missing_jars_is_one_clear_sentence(tmp_path):
    with pytest.raises(DeltaJarsMissing, match=r"run `vaxclean setup` once"):
        find_delta_jars(tmp_path / "empty")


def test_no_class_archive_adds_no_java_option(tmp_path):
    assert class_archive.java_options(tmp_path) == ""
    assert class_archive.java_options(None) == ""


def test_a_class_archive_is_passed_to_the_driver_jvm(tmp_path):
    (tmp_path / class_archive.ARCHIVE_NAME).write_bytes(b"x")
    assert class_archive.java_options(tmp_path).split() == [
        f"-XX:SharedArchiveFile={tmp_path / class_archive.ARCHIVE_NAME}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"
    ]  # fmt: skip


def test_an_archive_from_another_spark_install_is_rebuilt(tmp_path):
    """An archive holds the class path it was dumped with, and a JVM on another path (another
    virtualenv) ignores it silently; so its key names where Spark's jars are, and ``ensure`` rebuilds
    it when they moved."""
    import pyspark

    jars = Path(pyspark.__file__).resolve().parent / "jars"
    assert f"at {jars}\n" in class_archive._key(tmp_path)  # noqa: SLF001


def test_a_damaged_class_archive_costs_the_speed_up_not_the_run(tmp_path):
    """What get_spark relies on: the JVM starts, silently, with an archive it cannot use."""
    damaged = tmp_path / class_archive.ARCHIVE_NAME
    damaged.write_bytes(b"\0not an archive" * 100)
    java = Path(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else "java"
    proc = subprocess.run(
        [str(java), *class_archive.java_options(tmp_path).split(), "-version"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert "openjdk version" in proc.stderr.lower() or "java version" in proc.stderr.lower()
    assert "cds" not in proc.stderr.lower() and "archive" not in proc.stderr.lower()


def test_the_test_session_starts_from_the_class_archive_when_setup_built_one(spark, config):
    """scripts/test.sh builds the archive (``vaxclean setup --class-archive``); every local session
    then names it on its driver's command line."""
    archive = class_archive.archive_path(config.jars_dir or default_jars_dir())
    if not archive.is_file():
        pytest.skip(f"no class archive at {archive}: `vaxclean setup --class-archive` was not run")
    runtime = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()  # noqa: SLF001
    assert f"-XX:SharedArchiveFile={archive}" in list(runtime.getInputArguments())
