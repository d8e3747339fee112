"""Incremental verification: which subjects a day's ledger changes touch, and the rows to MERGE.

The classification of a subject depends on its own dose rows, on the register, and (for
``ID_SHARED`` and ``SUBJECT_DUPLICATE``) on the other subjects that resolve to the same register
person. So re-deciding exactly these subjects reproduces a full run for everything that can change:

* **touched**: every subject named by a changed ledger row, before or after the change (a row moved
  from one subject to another touches both), and every changed row without a subject;
* **neighbours**: the untouched subjects that resolve to a register person that a touched subject
  resolved to before the change or resolves to after it. Their own rows did not change, but their
  ``ID_SHARED`` / ``SUBJECT_DUPLICATE`` codes, status and signing decisions may.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from operator import and_

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transforms import normalize as N

DELETE = "_delete"


def select_touched_subjects(changes: DataFrame) -> DataFrame:
    """Distinct trimmed ``subject_id`` of change-feed rows (pre- and post-images, inserts, deletes)."""
    sid = N.trim_all("subject_id")
    return changes.select(sid.alias("subject_id")).filter(F.col("subject_id").isNotNull()).distinct()


def select_touched_records(changes: DataFrame) -> DataFrame:
    """Distinct trimmed ``record_id`` of change-feed rows."""
    rid = N.trim_all("record_id")
    return changes.select(rid.alias("record_id")).filter(F.col("record_id").isNotNull()).distinct()


def _flagged(df: DataFrame, column: str, values: DataFrame, flag: str) -> DataFrame:
    """``df`` with a column ``flag``: true where ``column`` is one of the values of the one-column
    ``values`` (small, broadcast), else null. Flags on several columns filter in one pass, where
    a union of semi-joins would read ``df`` once per column."""
    keys = values.select(F.col(values.columns[0]).alias(f"_{flag}_key")).distinct()
    keys = F.broadcast(keys.withColumn(flag, F.lit(True)))
    return df.join(keys, F.col(column) == F.col(f"_{flag}_key"), how="left")


def filter_ledger_rows(raw: DataFrame, *, subjects: DataFrame, records: DataFrame) -> DataFrame:
    """The ``ledger_raw`` rows of the given subjects, plus given rows that have no subject.

    Assumes ``subjects`` has a ``subject_id`` and ``records`` a ``record_id`` column (trimmed, as in
    ``doses``); both sides are small and are broadcast. One pass over ``raw``.
    """
    keyed = raw.withColumn("_sid", N.trim_all("subject_id")).withColumn("_rid", N.trim_all("record_id"))
    flagged = _flagged(
        _flagged(keyed, "_sid", subjects.select("subject_id"), "_of_s"), "_rid", records, "_of_r"
    )
    hit = F.col("_of_s") | (F.col("_sid").isNull() & F.col("_of_r"))
    return flagged.filter(F.coalesce(hit, F.lit(False))).select(*raw.columns)


def rows_of(df: DataFrame, *, subjects: DataFrame, records: DataFrame) -> DataFrame:
    """The rows of ``df`` (a table with trimmed ``subject_id`` and ``record_id``, as ``doses``) of
    the given subjects or records, in one pass (both sides small, broadcast)."""
    flagged = _flagged(
        _flagged(df, "subject_id", subjects.select("subject_id"), "_of_s"), "record_id", records, "_of_r"
    )
    return flagged.filter(F.coalesce(F.col("_of_s") | F.col("_of_r"), F.lit(False))).select(*df.columns)


def filter_register_for_ids(register: DataFrame, ids: DataFrame) -> DataFrame:
    """Register rows whose ``personal_id`` or ``old_id_number`` is one of ``ids.id`` (so resolving
    these IDs, and reading their persons, gives what the whole register would give). One pass over
    the register: a flag join on each ID column."""
    keys = ids.select("id").filter(F.col("id").isNotNull())
    flagged = _flagged(_flagged(register, "personal_id", keys, "_p"), "old_id_number", keys, "_o")
    hit = F.coalesce(F.col("_p") | F.col("_o"), F.lit(False))
    return flagged.filter(hit).select(*register.columns).dropDuplicates(["personal_id"])


def select_neighbours(checks: DataFrame, *, persons: DataFrame, exclude: DataFrame) -> DataFrame:
    """``subject_id`` of subjects in ``checks`` resolving to one of ``persons.personal_id``, other
    than those in ``exclude.subject_id``."""
    p = F.broadcast(persons.select(F.col("personal_id").alias("matched_personal_id")).distinct())
    return (
        checks.join(p, on="matched_personal_id", how="left_semi")
        .select("subject_id")
        .join(F.broadcast(exclude.select("subject_id")), on="subject_id", how="left_anti")
        .distinct()
    )


def semi_join(df: DataFrame, keys_df: DataFrame, *, keys: Sequence[str]) -> DataFrame:
    """The rows of ``df`` whose ``keys`` are among the rows of ``keys_df`` (null-safe; ``keys_df``
    is small and broadcast)."""
    k = F.broadcast(keys_df.select(*[F.col(c).alias(f"_s_{c}") for c in keys]))
    cond = reduce(and_, [F.col(c).eqNullSafe(F.col(f"_s_{c}")) for c in keys])
    return df.join(k, on=cond, how="left_semi")


def with_merge_actions(new: DataFrame, old_keys: DataFrame, *, keys: Sequence[str]) -> DataFrame:
    """The source of a MERGE that makes a table hold exactly ``new`` for the affected keys.

    ``old_keys`` are the keys (``keys``, including the partition column) of the rows the table holds
    now for the affected subjects or records. A row there that ``new`` no longer has (a record that
    moved province or left the ledger, a dose that got signed) is added with ``_delete`` true and the
    other columns null; the rows of ``new`` carry ``_delete`` false.
    """
    kept = new.select(*[F.col(k).alias(f"_n_{k}") for k in keys])
    same = [F.col(k).eqNullSafe(F.col(f"_n_{k}")) for k in keys]
    gone = old_keys.select(*keys).distinct().join(kept, on=same, how="left_anti")
    deletes = gone.select(
        *[F.col(c) if c in keys else F.lit(None).cast(new.schema[c].dataType).alias(c) for c in new.columns],
        F.lit(True).alias(DELETE),
    )
    return new.withColumn(DELETE, F.lit(False)).unionByName(deletes)
