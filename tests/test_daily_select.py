"""What a daily run re-decides (``transforms/daily.py``): literal rows in, the rows it must pick out."""

from __future__ import annotations

from chispa import assert_df_equality

from transforms.daily import filter_ledger_rows, filter_register_for_ids, semi_join, with_merge_actions

LEDGER = "record_id string, subject_id string, full_name string"


def test_ledger_rows_of_touched_subjects_whatever_their_spacing(spark):
    raw = spark.createDataFrame([("r1", "S1", "An"), ("r2", "\u00a0S1 ", "An"), ("r3", "S2", "Binh")], LEDGER)
    subjects = spark.createDataFrame([("S1",)], "subject_id string")
    records = spark.createDataFrame([], "record_id string")
    got = filter_ledger_rows(raw, subjects=subjects, records=records)
    expected = spark.createDataFrame([("r1", "S1", "An"), ("r2", "\u00a0S1 ", "An")], LEDGER)
    assert_df_equality(got, expected, ignore_row_order=True)


def test_ledger_rows_without_subject_only_when_their_record_changed(spark):
    raw = spark.createDataFrame(
        [(" r1", None, "An"), ("r2", " ", "Binh"), ("r3", None, "Cuc"), ("r4", "S9", "Dung")], LEDGER
    )
    subjects = spark.createDataFrame([], "subject_id string")
    # r4 has a subject that is not touched: naming its record does not pick it out.
    records = spark.createDataFrame([("r1",), ("r2",), ("r4",)], "record_id string")
    got = filter_ledger_rows(raw, subjects=subjects, records=records)
    expected = spark.createDataFrame([(" r1", None, "An"), ("r2", " ", "Binh")], LEDGER)
    assert_df_equality(got, expected, ignore_row_order=True)


def test_ledger_row_named_twice_comes_out_once(spark):
    raw = spark.createDataFrame([("r1", "S1", "An")], LEDGER)
    subjects = spark.createDataFrame([("S1",), ("S1",)], "subject_id string")
    records = spark.createDataFrame([("r1",), ("r1",)], "record_id string")
    got = filter_ledger_rows(raw, subjects=subjects, records=records)
    assert_df_equality(got, raw, ignore_row_order=True)


REGISTER = "personal_id string, old_id_number string, full_name string"


def test_register_rows_by_citizen_id_or_old_id_once_each(spark):
    register = spark.createDataFrame(
        [
            ("001190000111", "012345678", "An"),
            ("079072000555", None, "Binh"),
            ("079040000777", "079040000777", "Cuc"),
            ("001090000999", None, "Dung"),
        ],
        REGISTER,
    )
    ids = spark.createDataFrame([("012345678",), ("079072000555",), ("079040000777",), (None,)], "id string")
    got = filter_register_for_ids(register, ids)
    expected = spark.createDataFrame(
        [
            ("001190000111", "012345678", "An"),
            ("079072000555", None, "Binh"),
            ("079040000777", "079040000777", "Cuc"),
        ],
        REGISTER,
    )
    assert_df_equality(got, expected, ignore_row_order=True)


def test_merge_source_deletes_keys_the_new_result_no_longer_has(spark):
    new = spark.createDataFrame([("r1", "01", "ok")], "record_id string, province_code string, v string")
    old = spark.createDataFrame(
        [("r1", "01"), ("r1", "79"), ("r2", "01")], "record_id string, province_code string"
    )
    got = with_merge_actions(new, old, keys=["record_id", "province_code"])
    expected = spark.createDataFrame(
        [("r1", "01", "ok", False), ("r1", "79", None, True), ("r2", "01", None, True)],
        "record_id string, province_code string, v string, _delete boolean",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_semi_join_matches_null_keys_too(spark):
    schema = "record_id string, province_code string, facility_code string"
    df = spark.createDataFrame([("r1", "01", "F1"), ("r2", None, "F2"), ("r3", "01", "F3")], schema)
    keys = spark.createDataFrame(
        [("r1", "01"), ("r2", None), ("r3", "79")], "record_id string, province_code string"
    )
    got = semi_join(df, keys, keys=["record_id", "province_code"])
    expected = spark.createDataFrame([("r1", "01", "F1"), ("r2", None, "F2")], schema)
    assert_df_equality(got, expected, ignore_row_order=True)
