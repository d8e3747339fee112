"""Delta Lake I/O in one place, so partitioning and idempotency rules are written once.

* Every write is one Delta commit: it lands whole or not at all.
* ``replace_partitions`` replaces exactly the partitions named (``replaceWhere``), so re-ingesting a
  province's export replaces that province and nothing else, and province jobs running at the same
  time do not conflict.
* ``overwrite`` skips the commit when the new content equals the table's current content, so a
  rerun on the same input leaves the table at the same version.
* ``step_done`` / ``record_step`` keep a small ``pipeline_runs`` table: a step whose inputs (table
  versions, input fingerprint, settings) are unchanged since its last successful run is skipped.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import reduce
from operator import and_, or_
from typing import TypeVar

from delta.exceptions import (
    ConcurrentAppendException,
    ConcurrentDeleteDeleteException,
    ConcurrentDeleteReadException,
    ConcurrentTransactionException,
    ConcurrentWriteException,
    DeltaConcurrentModificationException,
    MetadataChangedException,
    ProtocolChangedException,
)
from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vaxclean.config import Config

log = logging.getLogger(__name__)

RUNS_TABLE = "pipeline_runs"
RUNS_SCHEMA = T.StructType(
    [
        T.StructField("step", T.StringType(), False),
        T.StructField("scope", T.StringType(), False),
        T.StructField("inputs_key", T.StringType(), False),
        T.StructField("inputs", T.StringType(), True),
        T.StructField("outputs", T.StringType(), True),
        T.StructField("rows", T.LongType(), True),
        T.StructField("finished_at", T.TimestampType(), True),
    ]
)


KILL_ENV = "VAXCLEAN_KILL_AT"


def kill_point(name: str) -> None:
    """Fault injection for the kill tests (tests/test_kill.py): when ``VAXCLEAN_KILL_AT`` names this
    point, the process is killed on the spot (SIGKILL: no cleanup, no finally, like ``kill -9``)."""
    if os.environ.get(KILL_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def exists(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


def read(spark: SparkSession, cfg: Config, name: str, *, version: int | None = None) -> DataFrame:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(cfg.table_path(name))


def version(spark: SparkSession, cfg: Config, name: str) -> int | None:
    """Current version of a table, or None when it does not exist yet."""
    path = cfg.table_path(name)
    if not exists(spark, path):
        return None
    return int(DeltaTable.forPath(spark, path).history(1).select("version").first()[0])


def _sql_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def partition_predicate(column: str, values: Iterable[str]) -> str:
    vals = sorted(set(values))
    if not vals:
        return "false"
    return f"{column} IN ({', '.join(_sql_literal(v) for v in vals)})"


def replace_partitions(
    df: DataFrame,
    cfg: Config,
    name: str,
    *,
    partition_column: str,
    values: Iterable[str],
    properties: Mapping[str, str] | None = None,
) -> None:
    """Replace exactly the partitions ``values`` of table ``name`` with ``df`` (one commit)."""
    path = cfg.table_path(name)
    predicate = partition_predicate(partition_column, values)
    spark = df.sparkSession
    if not exists(spark, path):
        # Create it empty first: a full overwrite here would wipe the provinces that a concurrent
        # first ingest committed meanwhile; a lost creation race raises a Delta conflict (retried).
        writer = df.limit(0).write.format("delta").mode("append").partitionBy(partition_column)
        for key, value in (properties or {}).items():
            writer = writer.option(key, value)
        writer.save(path)
    df.write.format("delta").mode("overwrite").option("replaceWhere", predicate).save(path)


def replace_where(df: DataFrame, cfg: Config, name: str, predicate: str, *, empty: bool) -> None:
    """Replace the rows of table ``name`` that match ``predicate`` with ``df`` (``empty``: it has no
    rows; the caller knows from its count).

    One commit, or none when there is nothing to add or remove: a missing table is created by
    appending ``df`` (even empty: the table exists afterwards); an empty ``df`` is a DELETE, which
    commits nothing when no row matches. A creation that loses a race with a concurrent writer's
    raises a Delta conflict (``retry_on_conflict``)."""
    path = cfg.table_path(name)
    spark = df.sparkSession
    if not exists(spark, path):
        df.write.format("delta").mode("append").save(path)
    elif empty:
        DeltaTable.forPath(spark, path).delete(predicate)
    else:
        df.write.format("delta").mode("overwrite").option("replaceWhere", predicate).save(path)


def _same_content(spark: SparkSession, path: str, df: DataFrame) -> bool:
    current = spark.read.format("delta").load(path)
    if current.schema.simpleString() != df.schema.simpleString():
        return False
    # Multiset equality: no row of either side is missing from the other.
    return current.exceptAll(df).isEmpty() and df.exceptAll(current).isEmpty()


def overwrite(
    df: DataFrame,
    cfg: Config,
    name: str,
    *,
    partition_column: str | None = None,
    skip_if_same: bool = True,
    properties: Mapping[str, str] | None = None,
) -> bool:
    """Overwrite a whole table in one commit; return False when skipped as unchanged."""
    path = cfg.table_path(name)
    spark = df.sparkSession
    if exists(spark, path):
        if skip_if_same and _same_content(spark, path, df):
            log.info("%s: unchanged, no new version", name)
            return False
        writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    else:
        writer = df.write.format("delta").mode("overwrite")
        for key, value in (properties or {}).items():
            writer = writer.option(key, value)
    if partition_column:
        writer = writer.partitionBy(partition_column)
    writer.save(path)
    return True


def merge(
    df: DataFrame,
    cfg: Config,
    name: str,
    *,
    keys: list[str],
    partition_column: str | None = None,
    update_when_changed: list[str] | None = None,
) -> None:
    """Upsert ``df`` into ``name`` on ``keys``; create the table on first use.

    With ``partition_column`` the merge condition carries the partition values of the source, so
    concurrent merges into different partitions do not conflict. Matched rows are updated only when
    a column in ``update_when_changed`` differs, so re-merging the same rows writes nothing.
    """
    path = cfg.table_path(name)
    spark = df.sparkSession
    if not exists(spark, path):
        writer = df.write.format("delta").mode("overwrite")
        if partition_column:
            writer = writer.partitionBy(partition_column)
        writer.save(path)
        return
    cond = _merge_condition(df, keys, partition_column)
    builder = DeltaTable.forPath(spark, path).alias("t").merge(df.alias("s"), cond)
    cols = update_when_changed or [c for c in df.columns if c not in keys]
    changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in cols) or "false"
    builder.whenMatchedUpdateAll(condition=changed).whenNotMatchedInsertAll().execute()


def _merge_condition(
    df: DataFrame, keys: list[str], partition_column: str | None, values: Sequence[str] | None = None
) -> str:
    """Null-safe key equality, led by the source's partition values when ``partition_column`` is given
    (so only those partitions are read, and concurrent MERGEs into other partitions do not conflict).
    ``values``: those partition values when the caller has collected them already."""
    cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    if partition_column:
        if values is None:
            values = _partition_values(df, partition_column)
        cond = f"t.{partition_predicate(partition_column, values)} AND {cond}"
    return cond


def _partition_values(df: DataFrame, partition_column: str) -> list[str]:
    return [r[0] for r in df.select(partition_column).distinct().collect()]


def insert_new(
    df: DataFrame, cfg: Config, name: str, *, keys: list[str], partition_column: str | None
) -> None:
    """MERGE that only inserts the rows whose ``keys`` are not in ``name`` yet; the table must exist.

    For append-only tables (issued lists): rows already there are left as they are, so running it
    twice, or racing another writer of the same rows, adds nothing."""
    DeltaTable.forPath(df.sparkSession, cfg.table_path(name)).alias("t").merge(
        df.alias("s"), _merge_condition(df, keys, partition_column)
    ).whenNotMatchedInsertAll().execute()


def sync(
    df: DataFrame,
    cfg: Config,
    name: str,
    *,
    keys: list[str],
    partition_column: str | None = None,
) -> bool:
    """MERGE ``df`` into ``name``: rows flagged ``_delete`` are deleted, the others upserted.

    ``keys`` (with the partition column among them) identify a row. The condition names the
    partitions of the source (``partition_column``), so only those partitions are read and rewritten.
    Matched rows are updated only when a column differs. Returns False (no commit) when ``df`` is
    empty; the table must exist.

    A matched row makes MERGE rewrite its whole file even when the update changes nothing: when
    most of ``df`` is already held as it is, drop those rows first (``changes_only``).
    """
    # One Spark job both ways: the partition values found tell an empty source too.
    values = _partition_values(df, partition_column) if partition_column else None
    if values == [] or (values is None and df.isEmpty()):
        return False
    path = cfg.table_path(name)
    types = {f.name: f.dataType for f in df.schema.fields}
    cols = [c for c in df.columns if c != "_delete"]
    changed = reduce(
        or_,
        [
            ~_comparable(f"t.`{c}`", types[c]).eqNullSafe(_comparable(f"s.`{c}`", types[c]))
            for c in cols
            if c not in keys
        ],
        F.lit(False),
    )
    values_map = {f"`{c}`": f"s.`{c}`" for c in cols}
    (
        DeltaTable.forPath(df.sparkSession, path)
        .alias("t")
        .merge(df.alias("s"), _merge_condition(df, keys, partition_column, values))
        .whenMatchedDelete(condition="s._delete")
        .whenMatchedUpdate(condition=F.expr("NOT s._delete") & changed, set=values_map)
        .whenNotMatchedInsert(condition="NOT s._delete", values=values_map)
        .execute()
    )
    return True


def _comparable(col: str, data_type: T.DataType) -> Column:
    """A column as equality can compare it: maps have no equality in Spark, their sorted entries do."""
    if isinstance(data_type, T.MapType):
        return F.array_sort(F.map_entries(F.expr(col)))
    return F.expr(col)


def changes_only(
    df: DataFrame, table: DataFrame, *, keys: list[str], ignore: Sequence[str] = ()
) -> DataFrame:
    """The rows of a ``sync`` source that change ``table``: its deletes, and the upserts whose row
    the table does not hold already, equal in every column (null-safe; maps by sorted entries)
    other than those in ``ignore`` (a row that differs only there is dropped, so the table keeps
    its values).

    Only the table's rows with the source's keys are read for the comparison (a broadcast
    semi-join), so the cost follows the source, apart from one pass over the table's files."""
    cols = [c for c in df.columns if c != "_delete" and c not in ignore]
    types = {f.name: f.dataType for f in df.schema.fields}
    held = table.select(*[_comparable(f"`{c}`", types[c]).alias(f"_t_{c}") for c in cols])
    source_keys = df.select(*[F.col(k).alias(f"_k_{k}") for k in keys])
    held = held.join(
        F.broadcast(source_keys),
        on=reduce(and_, [F.col(f"_t_{k}").eqNullSafe(F.col(f"_k_{k}")) for k in keys]),
        how="left_semi",
    )
    upserts = df.filter(~F.col("_delete"))
    same = reduce(and_, [_comparable(f"`{c}`", types[c]).eqNullSafe(F.col(f"_t_{c}")) for c in cols])
    return upserts.join(held, on=same, how="left_anti").unionByName(df.filter(F.col("_delete")))


# --- concurrent writers ----------------------------------------------------------------------------

CONFLICTS = (
    DeltaConcurrentModificationException,
    ConcurrentAppendException,
    ConcurrentDeleteDeleteException,
    ConcurrentDeleteReadException,
    ConcurrentTransactionException,
    ConcurrentWriteException,
    MetadataChangedException,
    ProtocolChangedException,
)

R = TypeVar("R")


def retry_on_conflict(action: Callable[[], R], *, what: str, attempts: int = 6) -> R:
    """Run a Delta commit again when a concurrent writer got in first (another province or commune)."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except CONFLICTS:
            if attempt == attempts:
                raise
            pause = min(8.0, 0.5 * 2**attempt) * (0.5 + random.random())
            log.info("%s: concurrent commit, retrying in %.1f s (attempt %d)", what, pause, attempt)
            time.sleep(pause)
    raise AssertionError("unreachable")


def ensure_table(
    spark: SparkSession, cfg: Config, name: str, schema: T.StructType, partition_column: str | None
) -> None:
    """Create an empty table when missing, so that concurrent first writers all MERGE into it
    (a creating overwrite could wipe what another writer has just committed)."""
    if exists(spark, cfg.table_path(name)):
        return
    writer = spark.createDataFrame([], schema).write.format("delta").mode("append")
    if partition_column:
        writer = writer.partitionBy(partition_column)
    retry_on_conflict(lambda: writer.save(cfg.table_path(name)), what=f"create {name}")


# --- step bookkeeping ----------------------------------------------------------------------------


def inputs_key(inputs: Mapping[str, object]) -> str:
    return json.dumps(inputs, sort_keys=True, default=str)


def step_done(
    spark: SparkSession, cfg: Config, step: str, inputs: Mapping[str, object], *, scope: str = "all"
) -> bool:
    """True when the latest successful run of ``step`` over ``scope`` had exactly these inputs.

    ``scope`` says what the step covers (``all``, or the provinces of a ledger batch): ingesting
    export A, then B, then A again for the same province is not skipped, because B came last.
    """
    path = cfg.table_path(RUNS_TABLE)
    if not exists(spark, path):
        return False
    runs = spark.read.format("delta").load(path)
    last = (
        runs.filter((F.col("step") == step) & (F.col("scope") == scope))
        .orderBy(F.col("finished_at").desc())
        .select("inputs_key")
        .first()
    )
    return last is not None and last[0] == inputs_key(inputs)


def done_scope(spark: SparkSession, cfg: Config, step: str, inputs: Mapping[str, object]) -> str | None:
    """The scope over which ``step`` last ran with exactly these inputs, when that run is still the
    latest of its scope (``step_done`` for that scope); None otherwise.

    For a step whose scope follows from its inputs (the provinces found in an export): it can be
    skipped without reading the input to learn the scope."""
    path = cfg.table_path(RUNS_TABLE)
    if not exists(spark, path):
        return None
    latest = F.max_by("inputs_key", "finished_at")  # per scope: the inputs of its latest run
    found = (
        spark.read.format("delta")
        .load(path)
        .filter(F.col("step") == step)
        .groupBy("scope")
        .agg(latest.alias("inputs_key"), F.max("finished_at").alias("finished_at"))
        .filter(F.col("inputs_key") == inputs_key(inputs))
        .orderBy(F.col("finished_at").desc())
        .select("scope")
        .first()
    )
    return None if found is None else found[0]


def record_step(
    spark: SparkSession,
    cfg: Config,
    step: str,
    inputs: Mapping[str, object],
    *,
    outputs: Mapping[str, object] | None = None,
    rows: int | None = None,
    scope: str = "all",
) -> None:
    """Append the step's completion marker (written last, after all of the step's outputs)."""
    row = (
        step,
        scope,
        inputs_key(inputs),
        json.dumps(dict(inputs), sort_keys=True, default=str),
        json.dumps(dict(outputs or {}), sort_keys=True, default=str),
        rows,
        dt.datetime.now(dt.UTC).replace(tzinfo=None),
    )
    df = spark.createDataFrame([row], RUNS_SCHEMA)
    kill_point(f"before-record:{step}")  # the step's outputs are committed, its marker is not
    df.write.format("delta").mode("append").save(cfg.table_path(RUNS_TABLE))
    kill_point(f"after:{step}")
