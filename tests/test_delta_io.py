"""``delta_io.sync``: the MERGE of the daily run leaves untouched what it does not change."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality

from vaxclean import delta_io

SCHEMA = "k string, p string, v string, m map<string,string>, _delete boolean"
TABLE_SCHEMA = "k string, p string, v string, m map<string,string>"
HELD = [
    ("a", "01", "same", {"x": "1", "y": "2"}),
    ("b", "01", "old", None),
    ("c", "48", None, None),
    ("d", "48", "gone", None),
]


def test_changes_only_drops_the_rows_the_table_holds_as_they_are(spark):
    table = spark.createDataFrame(HELD, TABLE_SCHEMA)
    source = spark.createDataFrame(
        [
            ("a", "01", "same", {"y": "2", "x": "1"}, False),  # equal: the map's order does not count
            ("b", "01", "new", None, False),  # changed value
            ("c", "48", None, None, False),  # equal, nulls included
            ("d", "48", None, None, True),  # delete: always kept
            ("e", "92", "new", None, False),  # new key
            ("c", "01", None, None, False),  # same k, other partition: a new row
        ],
        SCHEMA,
    )
    expected = spark.createDataFrame(
        [
            ("b", "01", "new", None, False),
            ("d", "48", None, None, True),
            ("e", "92", "new", None, False),
            ("c", "01", None, None, False),
        ],
        SCHEMA,
    )
    got = delta_io.changes_only(source, table, keys=["k", "p"])
    # Sorted by the key: chispa's ignore_row_order sorts on every column, and maps do not sort.
    assert_df_equality(got.orderBy("k", "p"), expected.orderBy("k", "p"))


def test_changes_only_drops_rows_that_differ_only_in_ignored_columns(spark):
    table = spark.createDataFrame(HELD, TABLE_SCHEMA)
    source = spark.createDataFrame(
        [("a", "01", "same", {"x": "9"}, False), ("b", "01", "new", {"x": "9"}, False)], SCHEMA
    )
    got = delta_io.changes_only(source, table, keys=["k", "p"], ignore=["m"])
    expected = spark.createDataFrame([("b", "01", "new", {"x": "9"}, False)], SCHEMA)
    assert_df_equality(got.orderBy("k", "p"), expected.orderBy("k", "p"))


@pytest.fixture
def held_table(spark, config, tmp_path):
    cfg = config.with_overrides(warehouse=str(tmp_path / "wh"))
    spark.createDataFrame(HELD, TABLE_SCHEMA).write.format("delta").partitionBy("p").save(cfg.table_path("t"))
    return cfg


def test_sync_of_rows_already_held_writes_no_version(spark, held_table):
    source = spark.createDataFrame([("a", "01", "same", {"y": "2", "x": "1"}, False)], SCHEMA)
    held = delta_io.read(spark, held_table, "t")
    changes = delta_io.changes_only(source, held, keys=["k", "p"])
    assert delta_io.sync(changes, held_table, "t", keys=["k", "p"], partition_column="p") is False
    assert delta_io.version(spark, held_table, "t") == 0


def test_sync_updates_inserts_and_deletes(spark, held_table):
    source = spark.createDataFrame(
        [
            ("a", "01", "same", {"x": "1", "y": "2"}, False),
            ("b", "01", "new", None, False),
            ("d", "48", None, None, True),
            ("e", "92", "new", None, False),
        ],
        SCHEMA,
    )
    assert delta_io.sync(source, held_table, "t", keys=["k", "p"], partition_column="p") is True
    expected = spark.createDataFrame(
        [
            ("a", "01", "same", {"x": "1", "y": "2"}),
            ("b", "01", "new", None),
            ("c", "48", None, None),
            ("e", "92", "new", None),
        ],
        TABLE_SCHEMA,
    )
    got = delta_io.read(spark, held_table, "t").select("k", "p", "v", "m")
    assert_df_equality(got.orderBy("k", "p"), expected.orderBy("k", "p"))


def test_replace_where_with_no_rows_and_nothing_to_remove_writes_no_version(spark, held_table):
    empty = spark.createDataFrame([], TABLE_SCHEMA)
    delta_io.replace_where(empty, held_table, "t", "p = '92'", empty=True)
    assert delta_io.version(spark, held_table, "t") == 0


def test_replace_where_with_no_rows_removes_the_matching_ones(spark, held_table):
    empty = spark.createDataFrame([], TABLE_SCHEMA)
    delta_io.replace_where(empty, held_table, "t", "p = '48'", empty=True)
    got = sorted(r["k"] for r in delta_io.read(spark, held_table, "t").collect())
    assert got == ["a", "b"]


def test_replace_where_creates_a_missing_table_even_without_rows(spark, held_table):
    empty = spark.createDataFrame([], TABLE_SCHEMA)
    delta_io.replace_where(empty, held_table, "new", "p = '01'", empty=True)
    assert delta_io.version(spark, held_table, "new") == 0
    assert delta_io.read(spark, held_table, "new").schema == empty.schema
