"""Ingest: column map, bad input at the boundary, rejects, province replacement, idempotency."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from jobs.ingest import ingest_ledger, ingest_register
from tests.helpers import LEDGER_DEFAULTS, REGISTER_DEFAULTS
from vaxclean import delta_io, schemas
from vaxclean.errors import InputError


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, bom: bool = False) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def ledger_file(
    path: Path, records: list[tuple[str, str, str]], *, header: list[str] | None = None, **kw
) -> Path:
    """records: (record_id, subject_id, province_code)."""
    cols = list(schemas.LEDGER_COLUMNS)
    rows = []
    for rid, sid, prov in records:
        row = {**LEDGER_DEFAULTS, "record_id": rid, "subject_id": sid, "province_code": prov}
        rows.append([row[c] for c in cols])
    return write_csv(path, header or cols, rows, **kw)


@pytest.fixture
def cfg(config, tmp_path):
    return config.with_overrides(warehouse=str(tmp_path / "wh"), out=str(tmp_path / "out"))


def test_header_aliases_map_through_config(spark, cfg, tmp_path):
    header = [c.upper() for c in schemas.LEDGER_COLUMNS]
    header[header.index("FULL_NAME")] = "Họ và tên"
    header[header.index("ID_NUMBER")] = " cccd "
    ledger_file(tmp_path / "l.csv", [("R1", "S1", "79")], header=header, bom=True)
    ingest_ledger(spark, cfg, str(tmp_path / "l.csv"))
    row = delta_io.read(spark, cfg, "ledger_raw").first()
    assert (row["record_id"], row["full_name"], row["id_number"]) == ("R1", "Nguyễn Văn An", "079085001234")
    assert (row["source_row"], row["source_file"]) == (2, str(tmp_path / "l.csv"))


def test_unknown_header_names_file_and_column(spark, cfg, tmp_path):
    header = [*schemas.LEDGER_COLUMNS[:-1], "ghi chu"]
    path = ledger_file(tmp_path / "l.csv", [("R1", "S1", "79")], header=header)
    with pytest.raises(InputError, match=r"file .*l\.csv, column 'ghi chu': unknown header"):
        ingest_ledger(spark, cfg, str(path))


def test_missing_required_column_names_it(spark, cfg, tmp_path):
    cols = [c for c in schemas.LEDGER_COLUMNS if c != "vaccination_date"]
    path = write_csv(tmp_path / "l.csv", cols, [["x"] * len(cols)])
    with pytest.raises(InputError, match=r"column 'vaccination_date': required column is missing"):
        ingest_ledger(spark, cfg, str(path))


def test_semicolon_file_is_rejected_with_its_name(spark, cfg, tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text(";".join(schemas.LEDGER_COLUMNS) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"semi\.csv.*not comma separated"):
        ingest_ledger(spark, cfg, str(path))


def test_ragged_row_and_duplicate_id_become_rejects(spark, cfg, tmp_path):
    path = ledger_file(tmp_path / "l.csv", [("R1", "S1", "79"), ("R1", "S2", "79"), ("R3", "S3", "79")])
    with path.open("a", encoding="utf-8") as fh:
        fh.write("R4,S4,too,few,fields\n")
    ingest_ledger(spark, cfg, str(path))
    kept = sorted(r["record_id"] for r in delta_io.read(spark, cfg, "ledger_raw").collect())
    rejects = sorted(
        (r["source_row"], r["reason"][:20]) for r in delta_io.read(spark, cfg, "ledger_rejects").collect()
    )
    assert kept == ["R1", "R3"]
    assert rejects == [(3, "duplicate record_id:"), (5, "row does not have th")]


def test_reingest_replaces_exactly_that_province(spark, cfg, tmp_path):
    ingest_ledger(spark, cfg, str(ledger_file(tmp_path / "a.csv", [("A1", "S1", "79"), ("A2", "S2", "01")])))
    ingest_ledger(spark, cfg, str(ledger_file(tmp_path / "b.csv", [("B1", "S3", "79")])))
    rows = sorted(
        (r["province_code"], r["record_id"]) for r in delta_io.read(spark, cfg, "ledger_raw").collect()
    )
    assert rows == [("01", "A2"), ("79", "B1")]


def test_an_export_ingested_again_after_another_replaces_it(spark, cfg, tmp_path):
    """A, then B, then A again: A is not skipped as "already ingested", B's rows are gone."""
    a = str(ledger_file(tmp_path / "a.csv", [("A1", "S1", "79")]))
    ingest_ledger(spark, cfg, a)
    ingest_ledger(spark, cfg, str(ledger_file(tmp_path / "b.csv", [("B1", "S2", "79")])))
    result = ingest_ledger(spark, cfg, a)
    assert [r["record_id"] for r in delta_io.read(spark, cfg, "ledger_raw").collect()] == ["A1"]
    assert result.rows == 1


def test_same_input_twice_writes_nothing(spark, cfg, tmp_path):
    path = str(ledger_file(tmp_path / "a.csv", [("A1", "S1", "79")]))
    ingest_ledger(spark, cfg, path)
    before = {t: delta_io.version(spark, cfg, t) for t in ("ledger_raw", "ledger_rejects", "pipeline_runs")}
    result = ingest_ledger(spark, cfg, path)
    after = {t: delta_io.version(spark, cfg, t) for t in ("ledger_raw", "ledger_rejects", "pipeline_runs")}
    assert before == after
    assert "nothing to do" in result.note


def test_bad_file_leaves_tables_at_their_version(spark, cfg, tmp_path):
    ingest_ledger(spark, cfg, str(ledger_file(tmp_path / "a.csv", [("A1", "S1", "79")])))
    before = delta_io.version(spark, cfg, "ledger_raw")
    folder = tmp_path / "batch"
    folder.mkdir()
    ledger_file(folder / "good.csv", [("G1", "S1", "79")])
    write_csv(folder / "bad.csv", ["record_id"], [["X"]])
    with pytest.raises(InputError, match="bad.csv"):
        ingest_ledger(spark, cfg, str(folder))
    assert delta_io.version(spark, cfg, "ledger_raw") == before


def test_register_ingest_normalises(spark, cfg, tmp_path):
    cols = list(schemas.REGISTER_COLUMNS)
    row = {**REGISTER_DEFAULTS, "personal_id": "079085001234", "full_name": "Nguyễn Văn An",
           "date_of_birth": "1985-03", "gender": "M"}  # fmt: skip
    path = write_csv(tmp_path / "r.csv", cols, [[row[c] for c in cols]])
    ingest_register(spark, cfg, str(path))
    reg = delta_io.read(spark, cfg, "register").first()
    assert (reg["personal_id"], reg["name_key"], reg["dob_precision"]) == (
        "079085001234",
        "nguyễn văn an",
        "MONTH",
    )
