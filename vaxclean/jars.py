"""The Delta Lake jars: fetched once from Maven Central into a cache, used offline afterwards.

``vaxclean setup`` asks Spark's own resolver (``configure_spark_with_delta_pip``, i.e. Ivy and
``spark.jars.packages``) for ``io.delta:delta-spark_4.2_2.13`` and keeps the two jars Delta needs
(delta-spark and delta-storage) in the cache folder. If Spark's resolver cannot get through, it
downloads the same two jars from Maven Central directly and checks their SHA-1. Every later
session puts exactly those files on ``spark.jars``: no network, no Ivy, and none of the
transitive jars (Hadoop, Jackson, Parquet) that would clash with the ones Spark ships.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from vaxclean import DELTA_VERSION, SCALA_BINARY, SPARK_BINARY
from vaxclean.errors import DeltaJarsMissing

log = logging.getLogger(__name__)

MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
ARTIFACTS = (
    ("io.delta", f"delta-spark_{SPARK_BINARY}_{SCALA_BINARY}", DELTA_VERSION),
    ("io.delta", "delta-storage", DELTA_VERSION),
)


def jar_names() -> list[str]:
    return [f"{artifact}-{version}.jar" for _, artifact, version in ARTIFACTS]


def default_jars_dir() -> Path:
    return Path(os.environ.get("VAXCLEAN_JARS_DIR") or "~/.cache/vaxclean/jars").expanduser()


def find_delta_jars(jars_dir: str | os.PathLike[str] | None) -> list[str]:
    """Paths of the cached Delta jars, or raise :class:`DeltaJarsMissing` with how to get them."""
    folder = Path(jars_dir).expanduser() if jars_dir else default_jars_dir()
    paths = [folder / name for name in jar_names()]
    missing = [p.name for p in paths if not p.is_file() or p.stat().st_size == 0]
    if missing:
        raise DeltaJarsMissing(
            f"The Delta Lake jars ({', '.join(missing)}) are not in {folder}: run `vaxclean setup` once "
            "on a machine that reaches Maven Central (or `bash scripts/setup.sh`), or set VAXCLEAN_JARS_DIR "
            "to a folder that holds them."
        )
    return [str(p) for p in paths]


def _copy_from_ivy(ivy_jars: Path, folder: Path) -> None:
    for group, artifact, version in ARTIFACTS:
        src = ivy_jars / f"{group}_{artifact}-{version}.jar"
        if not src.is_file():
            raise FileNotFoundError(src)
        tmp = folder / (src.name + ".part")
        shutil.copyfile(src, tmp)
        os.replace(tmp, folder / f"{artifact}-{version}.jar")


def _fetch_with_spark_resolver(folder: Path) -> None:
    """Resolve through Spark's Ivy resolver, the way delta-spark documents it."""
    from delta import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession

    with tempfile.TemporaryDirectory(prefix="vaxclean-ivy-") as ivy:
        builder = (
            SparkSession.builder.master("local[1]")
            .appName("vaxclean-setup")
            .config("spark.jars.ivy", ivy)
            .config("spark.ui.enabled", "false")
        )
        spark = configure_spark_with_delta_pip(builder).getOrCreate()
        try:
            _copy_from_ivy(Path(ivy) / "jars", folder)
        finally:
            spark.stop()


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as resp:  # noqa: S310 - fixed https URL
        return resp.read()


def _fetch_from_maven_central(folder: Path) -> None:
    for group, artifact, version in ARTIFACTS:
        base = f"{MAVEN_CENTRAL}/{group.replace('.', '/')}/{artifact}/{version}/{artifact}-{version}.jar"
        data = _download(base)
        expected = _download(base + ".sha1").decode().split()[0].strip()
        actual = hashlib.sha1(data).hexdigest()  # noqa: S324 - Maven Central publishes SHA-1
        if actual != expected:
            raise OSError(f"checksum mismatch for {base}: {actual} != {expected}")
        tmp = folder / f"{artifact}-{version}.jar.part"
        tmp.write_bytes(data)
        os.replace(tmp, folder / f"{artifact}-{version}.jar")


def ensure_delta_jars(jars_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Fetch the Delta jars into the cache unless they are there already; return their paths."""
    folder = Path(jars_dir).expanduser() if jars_dir else default_jars_dir()
    try:
        return find_delta_jars(folder)
    except DeltaJarsMissing:
        pass
    folder.mkdir(parents=True, exist_ok=True)
    try:
        _fetch_with_spark_resolver(folder)
        log.info("Delta %s jars resolved by Spark's resolver into %s", DELTA_VERSION, folder)
    except Exception as exc:  # noqa: BLE001 - any resolver failure falls back to a plain download
        log.warning("Spark's resolver could not fetch Delta (%s); downloading from Maven Central", exc)
        try:
            _fetch_from_maven_central(folder)
        except OSError as exc2:
            raise DeltaJarsMissing(
                f"Could not fetch the Delta Lake jars from Maven Central into {folder} ({exc2}); "
                "check the network, or copy delta-spark and delta-storage jars there by hand."
            ) from None
    return find_delta_jars(folder)
