"""Kill tests: the pipeline SIGKILLed at named points loses nothing and a rerun gives the same tables.

The pipeline runs as a subprocess (``python -m jobs.run``) on the bundled sample, with the flags,
settings and HMAC secret of the command-line run the other slow tests share (``cli_debug_run`` in
tests/conftest.py), which is the uninterrupted run the tables are compared with. Two kinds of kill
point, both deterministic:

* ``after:<step>`` / ``before-record:<step>``: ``vaxclean.delta_io.kill_point`` SIGKILLs the process
  after a step's completion marker, or after the step's outputs but before its marker;
* ``commit:<n>``: a test-only Delta LogStore (tests/killhook/KillingLogStore.java, compiled here and
  put on the driver's class path) SIGKILLs the driver and halts the JVM just before the n-th commit
  file of the process: that write's data files are on disk, its commit is not.

After every kill each Delta table is checked from its log alone (contiguous, parseable commit files,
every live data file present) and the interrupted table is still at its old version. The chain
reruns the pipeline killed at the next point each time (each rerun resumes: finished steps are
skipped); a last rerun completes and its tables are compared row for row with the uninterrupted run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tests.conftest import CLI_RUN_SECRET, DEMO_AS_OF
from tests.helpers import as_multiset, table_versions
from vaxclean.jars import find_delta_jars

pytestmark = [pytest.mark.slow, pytest.mark.kill]

ROOT = Path(__file__).resolve().parents[1]

# Kill points of the chain, in pipeline order: each rerun resumes (finished steps are skipped) and
# stops at the next one. ``commit:<table>`` stops before the run's first commit to that table.
# Ten points, the minimum: each one more costs a Spark process start and its redone work
# (about 50 core-seconds), and CI's 30 minutes hold the chain beside the rest of the suite. Every kind
# of point stays: a table's first write, a commit in the middle of a step (a write and a MERGE), a
# step's outputs committed but not its marker, and the boundary after each ingest, classify and
# match. A point costs its process start plus what the rerun redoes: "outputs without the marker"
# is taken at export-workbooks, not at classify, whose redo is the pipeline's longest step.
CHAIN = [
    "commit:register",  # ingest register: the first write of a new table
    "commit:ledger_raw",
    "after:ingest_ledger",
    "after:ingest_facility_reports",
    "commit:subject_checks",  # classify, in the middle of its writes
    "after:classify",
    "commit:match_suggestions",
    "after:match",
    "commit:review_manifest",  # export-workbooks: creating its manifest table
    "before-record:export_workbooks",
]
# Columns that hold the time of the run, not data (compared apart from them).
# The workbooks carry their issue time, hence their checksum.
RUNTIME_COLUMNS = {
    "ingested_at", "finished_at", "issued_at", "computed_at", "decided_at", "run_at", "file_sha256",
}  # fmt: skip


# --- running the pipeline ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hook(tmp_path_factory) -> str:
    """The compiled kill LogStore, and the class path the driver needs to load it."""
    out = tmp_path_factory.mktemp("killhook")
    delta_storage = next(j for j in find_delta_jars(os.environ.get("VAXCLEAN_JARS_DIR")) if "storage" in j)
    hadoop = next(
        (Path(sys.prefix) / "lib").glob("python3*/site-packages/pyspark/jars/hadoop-client-api-*.jar")
    )
    subprocess.run(
        ["javac", "-cp", f"{delta_storage}:{hadoop}", "-d", str(out), str(ROOT / "tests/killhook/KillingLogStore.java")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    # delta-storage goes on the driver class path too, so the hook and Delta see one LogStore class.
    return f"{out}:{delta_storage}"


@pytest.fixture(scope="module")
def data() -> Path:
    return ROOT / "sample"


def pipeline(root: Path, data: Path, hook: str, *, kill_at: str | None = None) -> subprocess.CompletedProcess:
    """One ``vaxclean run`` on ``root``/wh, ``root``/out; killed at ``kill_at`` when given."""
    env = {
        **os.environ,
        "VAXCLEAN_HMAC_SECRET": CLI_RUN_SECRET,
        # The hook goes at the end of the driver's class path (Spark's launcher appends this variable;
        # --driver-class-path would put it first), so the class-data archive of Spark's own class
        # path still applies (vaxclean.class_archive).
        "SPARK_DIST_CLASSPATH": hook,
        "PYSPARK_SUBMIT_ARGS": "--conf spark.delta.logStore.file.impl=KillingLogStore pyspark-shell",
        "VAXCLEAN_KILL_MARKER": str(root / "killed-at"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("VAXCLEAN_KILL_AT", None)
    if kill_at:
        env["VAXCLEAN_KILL_AT"] = kill_at
    (root / "killed-at").unlink(missing_ok=True)
    cmd = [
        sys.executable, "-m", "jobs.run", "--config", str(ROOT / "tests/conf/short-process.yaml"),
        "--ledger", str(data / "ledger.csv"), "--register", str(data / "register.csv"),
        "--reports", str(data / "facility_reports.csv"), "--warehouse", str(root / "wh"),
        "--out", str(root / "out"), "--as-of", DEMO_AS_OF,
    ]  # fmt: skip
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)


# --- checking the tables -------------------------------------------------------------------------------


def comparable(df: DataFrame) -> DataFrame:
    """The data columns; maps as their sorted entries (set operations do not take maps)."""
    cols = []
    for f in df.schema.fields:
        if f.name in RUNTIME_COLUMNS or isinstance(f.dataType, T.TimestampType):
            continue
        if isinstance(f.dataType, T.MapType):
            cols.append(F.to_json(F.array_sort(F.map_entries(F.col(f.name)))).alias(f.name))
        else:
            cols.append(F.col(f.name))
    return df.select(*cols)


def assert_same_tables(spark, expected: Path, actual: Path) -> None:
    """Every table of the uninterrupted run, row for row (run-time columns aside)."""
    names = sorted(p.parent.name for p in expected.glob("*/_delta_log"))
    assert names == sorted(p.parent.name for p in actual.glob("*/_delta_log"))
    for name in names:
        want = comparable(spark.read.format("delta").load(str(expected / name)))
        got = comparable(spark.read.format("delta").load(str(actual / name)))
        if name == "pipeline_runs":  # table versions consumed differ after redone writes
            want, got = want.select("step", "scope"), got.select("step", "scope")
        assert want.schema == got.schema, name
        rows_want, rows_got = as_multiset(want), as_multiset(got)
        assert rows_want == rows_got, (
            f"{name}: {(rows_got - rows_want).total()} row(s) only after the kills, "
            f"{(rows_want - rows_got).total()} only in the uninterrupted run, "
            f"e.g. {list(rows_got - rows_want)[:2]} / {list(rows_want - rows_got)[:2]}"
        )


def workbook_files(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*.xlsx"))


def uninterrupted(request) -> Path:
    """The uninterrupted run: ``vaxclean run`` on the sample, same flags (tests/conftest.py).

    Asked for only when the chain is done: under pytest-xdist the other test process may build it
    meanwhile (``cli_debug_run`` is shared on disk), so the chain does not wait for it.
    """
    run, work = request.getfixturevalue("cli_debug_run")
    assert run.returncode == 0, run.stderr[-3000:]
    return work


def kill_and_check(spark, root: Path, data: Path, hook: str, point: str) -> None:
    before = table_versions(root / "wh") if (root / "wh").exists() else {}
    run = pipeline(root, data, hook, kill_at=point)
    assert run.returncode == -9, f"{point}: not killed (exit {run.returncode}): {run.stderr[-2000:]}"
    after = table_versions(root / "wh")
    if point.startswith("commit:"):  # killed between the data files and the commit of ``table``
        table = point.removeprefix("commit:")
        stopped_at = (root / "killed-at").read_text(encoding="utf-8").strip()
        assert Path(stopped_at).name == table, point
        assert after.get(table) == before.get(table), f"{point}: {table} moved without its commit"
        if table in after:  # and Spark reads it, at its old version, without the orphaned files
            path = str(root / "wh" / table)
            old = spark.read.format("delta").option("versionAsOf", after[table]).load(path)
            assert spark.read.format("delta").load(path).exceptAll(old).isEmpty()
    for name, version in before.items():
        assert after[name] >= version, name


def test_chain_of_kills_then_a_rerun_gives_the_uninterrupted_tables(spark, tmp_path, data, hook, request):
    for point in CHAIN:
        kill_and_check(spark, tmp_path, data, hook, point)
    final = pipeline(tmp_path, data, hook)
    assert final.returncode == 0, final.stderr[-3000:]
    reference = uninterrupted(request)
    assert_same_tables(spark, reference / "wh", tmp_path / "wh")
    assert workbook_files(tmp_path / "out") == workbook_files(reference / "out")
    print(f"kill points survived: {len(CHAIN)} ({', '.join(CHAIN)})")
