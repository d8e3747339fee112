"""The whole pipeline through spark-submit on a real Spark standalone cluster matches local mode.

A master and two workers (1 core, 2g each) start on 127.0.0.1 from the pip-installed Spark
(``scripts/cluster.sh``); the code goes to them as the ``--py-files`` zip built by
``scripts/package.sh`` and the Delta jars as ``--jars`` (``scripts/spark_submit.sh``). The sample
then runs through the cluster with the flags, as-of date and HMAC secret of the local-mode
command-line run the other slow tests share (``cli_debug_run``, tests/conftest.py), and every Delta
table of the two warehouses must hold the same rows.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tests.conftest import CLI_RUN_SECRET, DEMO_AS_OF, TEST_JVM_OPTIONS
from tests.helpers import as_multiset

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample"
# The repo's venv: its python runs the local pipeline and the driver and executors on the cluster.
PYTHON = sys.executable

CONTRACT_TABLES = {"ledger_raw", "doses", "subjects", "subject_checks", "dose_checks", "signing_queue"}
# Columns that may differ between two correct runs of the same input; every other column must match.
# Wall-clock times: pipeline_runs.finished_at, and the issue time of review lists, which the
# workbook files also carry (hence their checksum). Lineage (source_file, source_row,
# ingest_run_id) is the same in both runs because both read the same absolute paths.
MAY_DIFFER = {
    "pipeline_runs": ("finished_at",),
    "review_lists": ("issued_at", "file_sha256"),
    "review_manifest": ("issued_at",),
}
# The two runs write their workbooks to different --out folders, which pipeline_runs records.
OUT_PATH_COLUMNS = {"pipeline_runs": ("inputs_key", "inputs", "outputs")}
RUN_TIMEOUT = 45 * 60
# conf/cluster.yaml is tuned for the national run; for the 580-row sample on two one-core workers
# these spark-submit settings win over it (as a data center would pass them for a small province).
# Measured on 30 Nov 2026, the cluster run alone: 524 s with only the shuffle partitions lowered;
# 365 s with these and optimized writes off too; the module with these (optimized writes kept on,
# as conf/cluster.yaml has them) 680 s, the local command-line run and the comparison included.
SMALL_DATA = [
    "--conf", "spark.sql.shuffle.partitions=2",
    "--conf", "spark.default.parallelism=2",
    "--conf", "spark.sql.adaptive.enabled=false",
    "--conf", "spark.databricks.delta.snapshotPartitions=2",
    "--conf", "spark.sql.sources.parallelPartitionDiscovery.parallelism=1",
    # The JVMs' quick C1 compiler only, as in the other tests' Spark processes (tests/conftest.py):
    # the cluster's driver and executors share two cores with the other test process. (This option
    # replaces spark_submit.sh's own, so its log4j setting is repeated.)
    # (TEST_JVM_OPTIONS: C1 with C2's code cache, tests/conftest.py.)
    "--driver-java-options",
    f"-Dlog4j2.configurationFile=file:{ROOT}/vaxclean/log4j2.properties {TEST_JVM_OPTIONS}",
    "--conf", f"spark.executor.extraJavaOptions={TEST_JVM_OPTIONS}",
    # Expressions interpreted, as conf/sample.yaml has them for sample-sized data. Measured on 30
    # Nov 2026, the module alone (the local run included): 545 s and 859 core-seconds against 596 s
    # and 960 with generated code. Generated code stays tested by test_classify_doses.
    "--conf", "spark.sql.codegen.wholeStage=false",
    "--conf", "spark.sql.codegen.factoryMode=NO_CODEGEN",
]  # fmt: skip

pytestmark = [pytest.mark.slow, pytest.mark.cluster]


def _free_port() -> int:
    # Other engineers may run Spark on this machine: take ports nobody holds rather than 7077/8080.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], *, env: dict[str, str], log: Path, timeout: int = RUN_TIMEOUT) -> None:
    """Run a command from the repo root, its output in ``log``; on failure show the log's tail."""
    with log.open("w") as out:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-4000:]
        pytest.fail(f"{' '.join(cmd[:3])} ... exited {proc.returncode}; last output:\n{tail}")


@pytest.fixture(scope="module")
def inputs() -> dict[str, str]:
    names = {"ledger": "ledger.csv", "register": "register.csv", "reports": "facility_reports.csv"}
    paths = {flag: SAMPLE / name for flag, name in names.items()}
    for path in paths.values():
        assert path.is_file(), f"{path} is missing: the bundled sample is the cluster test's input"
    return {flag: str(path) for flag, path in paths.items()}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Build the zip, start the standalone cluster, yield its env; stop it whatever happens."""
    run_dir = tmp_path_factory.mktemp("cluster")
    ui_port = _free_port()
    env = {
        **os.environ,
        "PYTHON": PYTHON,
        "PYSPARK_PYTHON": PYTHON,
        "VAXCLEAN_HMAC_SECRET": CLI_RUN_SECRET,
        "VAXCLEAN_CLUSTER_DIR": str(run_dir),
        "VAXCLEAN_MASTER_PORT": str(_free_port()),
        "VAXCLEAN_MASTER_UI_PORT": str(ui_port),
        "VAXCLEAN_WORKER_UI_PORTS": f"{_free_port()} {_free_port()}",
    }
    env["VAXCLEAN_MASTER"] = f"spark://127.0.0.1:{env['VAXCLEAN_MASTER_PORT']}"
    _run(["bash", "scripts/package.sh"], env=env, log=run_dir / "package.out", timeout=600)
    try:
        _run(["bash", "scripts/cluster.sh", "start"], env=env, log=run_dir / "start.out", timeout=600)
        yield {"env": env, "ui": f"http://127.0.0.1:{ui_port}/json/", "dir": run_dir}
    finally:
        subprocess.run(["bash", "scripts/cluster.sh", "stop"], cwd=ROOT, env=env, timeout=300, check=False)
    assert not list(run_dir.glob("*.pid")), "cluster.sh stop left a daemon behind"


@pytest.fixture(scope="module")
def warehouses(cluster, inputs, request, tmp_path_factory):
    """The sample through spark-submit on the cluster (W1), and the local-mode run (``cli_debug_run``).

    The local run is asked for after the cluster run: under pytest-xdist the other test process may
    build it meanwhile (it is shared on disk), so the cluster run does not wait for it.
    """
    base = tmp_path_factory.mktemp("runs")
    flags = ["--ledger", inputs["ledger"], "--register", inputs["register"], "--reports", inputs["reports"]]
    _run(
        ["bash", "scripts/spark_submit.sh", *SMALL_DATA,
         "run", "--config", "conf/cluster.yaml", *flags, "--as-of", DEMO_AS_OF,
         "--warehouse", str(base / "W1"), "--out", str(base / "O1")],
        env=cluster["env"], log=base / "cluster-run.out",
    )  # fmt: skip
    with urllib.request.urlopen(cluster["ui"], timeout=10) as resp:
        master = json.load(resp)
    (base / "master.json").write_text(json.dumps(master, indent=1))
    local_run, local = request.getfixturevalue("cli_debug_run")
    assert local_run.returncode == 0, local_run.stderr[-3000:]
    return {
        "cluster": base / "W1",
        "local": local / "wh",
        "cluster_out": base / "O1",
        "local_out": local / "out",
        "master": master,
    }


def delta_tables(warehouse: Path) -> set[str]:
    return {log.parent.name for log in warehouse.glob("*/_delta_log")}


def comparable(df: DataFrame, name: str, out: Path) -> DataFrame:
    """Drop the columns that may differ, write the run's --out folder as ``<out>``, maps as JSON
    text (set operations do not take maps)."""
    cols = []
    for f in df.schema.fields:
        if f.name in MAY_DIFFER.get(name, ()):
            continue
        col = F.col(f.name)
        if isinstance(f.dataType, T.MapType):
            col = F.to_json(col)
        elif f.name in OUT_PATH_COLUMNS.get(name, ()):
            col = F.replace(col, F.lit(str(out)), F.lit("<out>"))
        cols.append(col.alias(f.name))
    return df.select(*cols)


def test_the_run_went_through_the_cluster(cluster, warehouses):
    """The driver ran as an application of the standalone master, with executors on both workers."""
    apps = warehouses["master"].get("completedapps", [])
    # A private cluster on its own ports: the pipeline is its only application. (The session's
    # appName from the config, "vaxclean", wins over spark-submit's --name.)
    assert [a["state"] for a in apps] == ["FINISHED"], apps
    assert apps[0]["name"].startswith("vaxclean")
    assert warehouses["master"]["aliveworkers"] == 2
    for work_dir in ("work1", "work2"):
        executors = list((cluster["dir"] / work_dir).glob(f"{apps[0]['id']}/*/stderr"))
        assert executors, f"no executor of {apps[0]['id']} ran on {work_dir}"


def test_both_runs_write_the_same_tables(warehouses):
    cluster_tables, local_tables = delta_tables(warehouses["cluster"]), delta_tables(warehouses["local"])
    assert not CONTRACT_TABLES - cluster_tables, f"missing on the cluster: {CONTRACT_TABLES - cluster_tables}"
    assert cluster_tables == local_tables


def test_every_table_has_identical_rows(spark, warehouses):
    """Row for row, as a multiset, for every table both runs wrote (match_suggestions included).

    The tables are sample-sized (at most a few thousand rows), so both sides are collected and
    compared as multisets in Python: two Spark jobs a table instead of four ``exceptAll`` jobs, and
    a difference is reported as the differing rows only.
    """
    mismatches = {}
    for name in sorted(delta_tables(warehouses["cluster"])):
        read = spark.read.format("delta").load
        on_cluster = comparable(read(str(warehouses["cluster"] / name)), name, warehouses["cluster_out"])
        local = comparable(read(str(warehouses["local"] / name)), name, warehouses["local_out"])
        assert on_cluster.schema == local.schema, f"{name}: schemas differ"
        rows_cluster, rows_local = as_multiset(on_cluster), as_multiset(local)
        only_cluster, only_local = rows_cluster - rows_local, rows_local - rows_cluster
        if only_cluster or only_local:
            mismatches[name] = (
                f"{only_cluster.total()} row(s) only on the cluster, {only_local.total()} only in local "
                f"mode, e.g. {list(only_cluster)[:2]} / {list(only_local)[:2]}"
            )
        if name in CONTRACT_TABLES:
            assert rows_cluster, f"{name} is empty: the comparison would prove nothing"
    assert not mismatches, "\n".join(f"{t}: {m}" for t, m in mismatches.items())
