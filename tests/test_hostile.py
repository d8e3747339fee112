"""Hostile inputs (tests/hostile/, made by scripts/make_hostile_corpus.py) through the real readers.

Every unusable file gives one sentence naming it (and the row and column where there is one), no
stack trace; a batch with unusable files lists every one of them and writes nothing; rows that
cannot be trusted go to a rejects table with their reason and never reach the clean tables. The
whole-file checks need no Spark; the rows that Spark reads are grouped into one batch per kind.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs import ingest as ingest_job
from jobs.ingest import ingest_ledger, ingest_register
from transforms.corrections import (
    ACCEPTED,
    RETURNED,
    check_returned_rows,
    correction_rows,
    reject_rows,
)
from transforms.workbooks import REVIEW_MANIFEST
from vaxclean import delta_io, readers, schemas, xlsx
from vaxclean.errors import InputError, InputErrors

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ROOT / "tests" / "hostile"
CORPUS_SECRET = b"hostile-corpus-secret-public-test-only"  # public, test-only (see the corpus script)

# file → (message fragment, row, column): the whole file is refused before Spark reads anything.
UNUSABLE = {
    "ledger/l01-missing-column.csv": ("required column is missing", None, "vaccination_date"),
    "ledger/l02-renamed-column.csv": ("unknown header", None, "ngay tiem"),
    "ledger/l03-semicolon.csv": ("not comma separated", 1, None),
    "ledger/l04-tab.csv": ("not comma separated", 1, None),
    "ledger/l05-utf16-bom.csv": ("UTF-16", None, None),
    "ledger/l06-utf16-no-bom.csv": ("UTF-16", None, None),
    "ledger/l07-windows-1258.csv": ("not UTF-8 text", 1, None),
    "ledger/l08-windows-1258-late.csv": ("not UTF-8 text", 647, None),
    "ledger/l09-empty.csv": ("the file is empty", None, None),
    "ledger/l10-blank-lines.csv": ("the file is empty", None, None),
    "ledger/l11-header-only.csv": ("header row but no data rows", 2, None),
    "ledger/l12-huge-field.csv": ("longer than 131,072 characters", 3, None),
    "ledger/l13-xlsx-named-csv.csv": ("Excel .xlsx workbook, not CSV", None, None),
    "ledger/l14-xls-named-csv.csv": ("Excel .xls", None, None),
    "ledger/l15-duplicate-header.csv": ("two headers map to 'full_name'", None, "họ và tên"),
    "ledger/l16-trailing-comma-header.csv": ("a header cell is empty", None, "#20"),
    "ledger/l17-text-named-parquet.parquet": ("not a Parquet file", None, None),
    "ledger/l18-binary.csv": ("binary, not a CSV text file", None, None),
    "ledger/l19-no-header.csv": ("the first row is not a header", 1, None),
    "register/r01-missing-personal-id.csv": ("required column is missing", None, "personal_id"),
    "register/r02-renamed-column.csv": ("unknown header", None, "so_cccd"),
    "register/r03-semicolon.csv": ("not comma separated", 1, None),
    "register/r04-utf16.csv": ("UTF-16", None, None),
    "register/r05-windows-1258.csv": ("not UTF-8 text", 1, None),
    "register/r06-empty.csv": ("the file is empty", None, None),
    "register/r07-header-only.csv": ("header row but no data rows", 2, None),
    "register/r08-huge-field.csv": ("longer than 131,072 characters", 2, None),
}

# returned workbook → (file-level code, fragment of the message) or the row problems found on read
# (subject, code) before any Spark check; None: nothing wrong is visible in the file itself.
WORKBOOKS = {
    "w01-good.xlsx": None,
    "w02-renamed-csv.xlsx": ("NOT_A_WORKBOOK", "CSV đổi tên"),
    "w03-old-excel.xls": ("NOT_A_WORKBOOK", "Excel 97-2003 (.xls)"),
    "w04-password.xlsx": ("NOT_A_WORKBOOK", "đặt mật khẩu"),
    "w05-macro.xlsm": ("NOT_A_WORKBOOK", "có macro"),
    "w06-formula.xlsx": [("S79-A2", "FORMULA")],
    "w07-merged-cells.xlsx": None,
    "w08-missing-sheet.xlsx": ("NO_HEADER", "không tìm thấy dòng tiêu đề"),
    "w09-zip-bomb.xlsx": ("NOT_A_WORKBOOK", "giải nén ra 200 MB"),
    "w10-edited-key.xlsx": [(None, "BAD_SIGNATURE")],
    "w11-other-commune.xlsx": None,
    "w12-bad-list-signature.xlsx": ("BAD_LIST_SIGNATURE", "đã bị sửa"),
    "w13 returned list (copy).xlsx": ("UNKNOWN_LIST", "không xác định được danh sách"),
    "w14-empty.xlsx": ("NOT_A_WORKBOOK", "tệp rỗng"),
    "w15-truncated.xlsx": ("NOT_A_WORKBOOK", "hỏng hoặc bị cắt"),
    "w16-no-row-key.xlsx": [(None, "NO_ROW_KEY")],
    "w17-read-only-edited.xlsx": None,
    "w18-invalid-id.xlsx": None,
    "w19-not-issued.xlsx": None,
    "w20-other-secret.xlsx": ("BAD_LIST_SIGNATURE", "đã bị sửa"),
    "w21-no-verifier.xlsx": None,
}

# What the checks against the issued manifest reject: file → [(subject, code, column)].
ROW_REJECTS = {
    "w06-formula.xlsx": [("S79-A2", "FORMULA", "CCCD/CMND đúng")],
    "w07-merged-cells.xlsx": [("S79-A3", "NO_VERIFIER", "Người xác minh"), ("S79-A4", "READ_ONLY_EDITED", "Họ và tên")],
    "w10-edited-key.xlsx": [("S79-A2", "BAD_SIGNATURE", "Khoá dòng (không sửa)")],  # subject as shown
    "w11-other-commune.xlsx": [("S79-B1", "OTHER_COMMUNE", "Khoá dòng (không sửa)")],
    "w16-no-row-key.xlsx": [(None, "NO_ROW_KEY", "Khoá dòng (không sửa)")],
    "w17-read-only-edited.xlsx": [("S79-A3", "READ_ONLY_EDITED", "Họ và tên")],
    "w18-invalid-id.xlsx": [("S79-A4", "INVALID_ID", "CCCD/CMND đúng")],
    "w19-not-issued.xlsx": [("S79-A2", "NOT_ISSUED", "Khoá dòng (không sửa)")],
    "w21-no-verifier.xlsx": [("S79-A2", "NO_VERIFIER", "Người xác minh")],
}  # fmt: skip


def test_the_corpus_is_complete():
    files = [f for f in HOSTILE.rglob("*") if f.is_file() and f.suffix != ".json"]
    assert len(files) >= 40
    listed = {f"workbooks/{n}" for n in WORKBOOKS} | set(UNUSABLE)
    on_disk = {f.relative_to(HOSTILE).as_posix() for f in files}
    assert listed <= on_disk


def _spec(config, rel: str):
    kind = rel.split("/")[0]
    spec = config.ledger if kind == "ledger" else config.register
    columns = schemas.LEDGER_COLUMNS if kind == "ledger" else schemas.REGISTER_COLUMNS
    return kind, spec, columns


@pytest.mark.parametrize("rel", sorted(UNUSABLE))
def test_unusable_file_gives_one_sentence_naming_it(spark, config, rel):
    fragment, row, column = UNUSABLE[rel]
    kind, spec, columns = _spec(config, rel)
    path = HOSTILE / rel
    with pytest.raises(InputError) as err:
        readers.read_input(spark, str(path), spec, columns=columns, kind=kind)
    message = str(err.value)
    assert message.startswith(f"file {path}")
    assert fragment in message
    assert (err.value.row, err.value.column) == (row, column)
    assert "\n" not in message and "Traceback" not in message
    assert not any(v in message for v in ("Nguyễn Văn An", "079085001234", "05/03/1985"))  # corpus person


def test_a_batch_with_unusable_files_names_each_and_writes_nothing(spark, config, tmp_path, capsys):
    folder = tmp_path / "batch"
    folder.mkdir()
    bad = [
        "l01-missing-column.csv",
        "l05-utf16-bom.csv",
        "l11-header-only.csv",
        "l17-text-named-parquet.parquet",
    ]
    for name in [*bad, "l20-bom.csv", "l21-crlf.csv"]:
        shutil.copy(HOSTILE / "ledger" / name, folder / name)
    cfg = config.with_overrides(warehouse=str(tmp_path / "wh"), out=str(tmp_path / "out"))
    with pytest.raises(InputErrors) as err:
        ingest_ledger(spark, cfg, str(folder))
    assert [Path(p.path).name for p in err.value.problems] == bad

    status = ingest_job.main(["--ledger", str(folder), "--warehouse", cfg.warehouse, "--out", cfg.out])
    stderr = capsys.readouterr().err
    assert status == 2
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines[0] == "vaxclean ingest: error: 4 input files cannot be used, nothing was written:"
    assert [line.split(":")[0].split(",")[0].strip() for line in lines[1:]] == [
        f"file {folder / n}" for n in bad
    ]
    assert not Path(cfg.table_path("ledger_raw")).exists()


def test_ledger_rows_that_cannot_be_trusted_go_to_rejects_only(spark, config, tmp_path):
    folder = tmp_path / "ledger"
    folder.mkdir()
    names = ["l20-bom.csv", "l21-crlf.csv", "l22-embedded-newline.csv", "l23-duplicate-record-ids.csv",
             "l24-empty-record-id.csv"]  # fmt: skip
    for name in names:
        shutil.copy(HOSTILE / "ledger" / name, folder / name)
    cfg = config.with_overrides(warehouse=str(tmp_path / "wh"), out=str(tmp_path / "out"))
    ingest_ledger(spark, cfg, str(folder))
    raw = delta_io.read(spark, cfg, "ledger_raw")
    kept = {(Path(r["source_file"]).name, r["source_row"], r["record_id"]) for r in raw.collect()}
    assert kept == {
        ("l20-bom.csv", 2, "BOM-000001"), ("l20-bom.csv", 3, "BOM-000002"),
        ("l21-crlf.csv", 2, "CRLF-000001"), ("l21-crlf.csv", 3, "CRLF-000002"),
        ("l22-embedded-newline.csv", 2, "NL-000001"), ("l22-embedded-newline.csv", 3, "NL-000002"),
        ("l22-embedded-newline.csv", 4, "NL-000003"),
        ("l23-duplicate-record-ids.csv", 2, "DUP-000001"), ("l23-duplicate-record-ids.csv", 3, "DUP-000002"),
        ("l24-empty-record-id.csv", 2, "NOID-000001"), ("l24-empty-record-id.csv", 4, "NOID-000003"),
    }  # fmt: skip
    newline = raw.filter(F.col("record_id") == "NL-000002").first()
    assert newline["full_name"] == "Nguyễn Văn\nXuống Dòng"
    assert raw.filter(F.col("record_id") == "NL-000003").first()["batch_number"] == 'A1, "lô" 2\r\nghi chú'
    rejects = {
        (Path(r["source_file"]).name, r["source_row"], r["reason"])
        for r in delta_io.read(spark, cfg, "ledger_rejects").collect()
    }
    assert rejects == {
        (
            "l23-duplicate-record-ids.csv",
            4,
            f"duplicate record_id: first seen at {folder / 'l23-duplicate-record-ids.csv'} row 2",
        ),
        ("l24-empty-record-id.csv", 3, "record_id is empty"),
    }
    # The rejected rows' subjects reached no clean table.
    assert raw.filter(F.col("subject_id").isin("S79-DUP-0003", "S79-NOID-0002")).isEmpty()


def test_ragged_ledger_rows_go_to_rejects_with_file_and_row(spark, config, tmp_path):
    cfg = config.with_overrides(warehouse=str(tmp_path / "wh"), out=str(tmp_path / "out"))
    ingest_ledger(spark, cfg, str(HOSTILE / "ledger" / "l25-ragged.csv"))
    kept = sorted(r["record_id"] for r in delta_io.read(spark, cfg, "ledger_raw").collect())
    rejects = sorted(
        (r["source_row"], r["reason"][:40]) for r in delta_io.read(spark, cfg, "ledger_rejects").collect()
    )
    assert kept == ["RAG-000001", "RAG-000002", "RAG-000003"]
    assert rejects == [
        (3, "row does not have the header's 19 fields"),
        (6, "row does not have the header's 19 fields"),
    ]


def test_register_with_a_bom_lands(spark, config, tmp_path):
    cfg = config.with_overrides(warehouse=str(tmp_path / "wh"), out=str(tmp_path / "out"))
    ingest_register(spark, cfg, str(HOSTILE / "register" / "r09-bom.csv"))
    ids = sorted(r["personal_id"] for r in delta_io.read(spark, cfg, "register").collect())
    assert ids == ["079190000001", "079190000002", "079190000003"]


# --- returned workbooks ---------------------------------------------------------------------------------


def _read(name: str) -> list[tuple]:
    path = HOSTILE / "workbooks" / name
    return list(
        xlsx.read_returned_workbook(str(path), path.read_bytes(), secret=CORPUS_SECRET, file_sha256=name)
    )


@pytest.mark.parametrize("name", sorted(WORKBOOKS))
def test_returned_workbook_file_checks(name):
    expected = WORKBOOKS[name]
    rows = _read(name)
    fields = [dict(zip(xlsx.RETURNED_FIELDS, r, strict=True)) for r in rows]
    if isinstance(expected, tuple):
        code, fragment = expected
        [row] = fields
        assert row["kind"] == "file" and row["problems"] == [(code, None)]
        assert row["detail"].startswith(f"{name}: ") and fragment in row["detail"]
        assert "\n" not in row["detail"]
    else:
        assert fields and all(r["kind"] == "row" for r in fields)
        problems = sorted((r["key_subject_id"], code) for r in fields for code, _ in r["problems"])
        assert problems == sorted(expected or [])


def test_the_zip_bomb_is_refused_without_inflating_it():
    content = (HOSTILE / "workbooks" / "w09-zip-bomb.xlsx").read_bytes()
    assert len(content) < 300_000
    assert "giải nén ra 200 MB" in xlsx.container_problem("w09-zip-bomb.xlsx", content)


def test_returned_batch_rejects_every_untrusted_row_and_keeps_the_good_ones(spark, config):
    """The whole folder as ingest-workbooks reads it, checked against the lists the corpus issued."""
    manifest_rows = json.loads((HOSTILE / "review_manifest.json").read_text(encoding="utf-8"))
    issued_at = dt.datetime(2024, 5, 1, 8, 0)
    manifest = spark.createDataFrame(
        [
            (m["list_id"], m["province_code"], m["district_code"], m["commune_code"], m["subject_id"],
             m["subject_version"], m["row_number"], ["ID_MISSING"], m["issued_values"], issued_at, "x.xlsx")
            for m in manifest_rows
        ],
        REVIEW_MANIFEST,
    )  # fmt: skip
    subjects = manifest.select("subject_id", "subject_version")
    folder = HOSTILE / "workbooks"
    files = [
        (str(f), f.name, None, f.read_bytes())
        for f in sorted(folder.iterdir())
        if not f.name.startswith("~$")  # ingest-workbooks skips Excel's lock files
    ]
    parsed = spark.createDataFrame(
        [r for f in files for r in xlsx.read_returned_partition([f], secret=CORPUS_SECRET)], RETURNED
    )
    checked = check_returned_rows(
        parsed,
        manifest=manifest,
        subjects=subjects,
        corrections=None,
        missing_id_tokens=config.rules.missing_id_tokens,
        require_verifier=True,
    ).cache()
    at = dt.datetime(2024, 6, 1)
    corrections = {
        (Path(r["source_file"]).name, r["subject_id"], r["field"], r["new_value"])
        for r in correction_rows(checked, ingested_at=at).collect()
    }
    assert corrections == {
        ("w01-good.xlsx", "S79-A1", "id_number", "079190000111"),
        ("w07-merged-cells.xlsx", "S79-A2", "id_number", "079190000222"),  # the merge's anchor row is intact
    }
    rejects = reject_rows(checked, parsed, ingested_at=at).collect()
    by_file: dict[str, list[tuple]] = {}
    for r in rejects:
        by_file.setdefault(Path(r["source_file"]).name, []).append(
            (r["subject_id"], r["reason_code"], r["column"])
        )
    row_level = {name: sorted(v, key=str) for name, v in by_file.items() if name in ROW_REJECTS}
    assert row_level == {name: sorted(v, key=str) for name, v in ROW_REJECTS.items()}
    whole = {name for name, expected in WORKBOOKS.items() if isinstance(expected, tuple)}
    for r in rejects:
        name = Path(r["source_file"]).name
        if name in whole:
            assert r["reason_code"] == WORKBOOKS[name][0] and name in r["reason"]
    assert set(by_file) == whole | set(ROW_REJECTS)  # the good file has no reject, every other file has
    accepted = {(Path(r["source_file"]).name, r["subject_id"]) for r in checked.filter(F.col("outcome") == ACCEPTED).collect()}  # fmt: skip
    assert accepted == {("w01-good.xlsx", "S79-A1"), ("w07-merged-cells.xlsx", "S79-A2")}
    checked.unpersist()
