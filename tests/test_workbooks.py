"""Review workbooks, both directions, on a small literal set.

The module classifies a handful of subjects once (a temporary warehouse), exports the workbooks,
and then plays the commune's part: returned files are made with openpyxl (and re-saved by headless
LibreOffice for the round trip), ingested, and the Delta tables and outputs checked. Fixtures are
module-scoped and the tests run in file order: reject-only batches first (no re-classification),
then the round trip, then what may follow it.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from openpyxl import Workbook, load_workbook
from pyspark.sql import functions as F

from jobs.classify import classify
from jobs.export_workbooks import run_step
from jobs.ingest_workbooks import ingest_returned
from tests.helpers import ledger_rows, register_rows, run_at_once
from transforms.ledger import normalize_register, with_partition_province
from vaxclean import delta_io, xlsx
from vaxclean.errors import VaxcleanError

SECRET = "test-secret-for-workbooks"
TAN_DINH = "workbooks/79/79-760-26734.xlsx"
DA_KAO = "workbooks/79/79-760-26737.xlsx"

REGISTER = [
    dict(personal_id="079085001234", full_name="Nguyễn Văn An", date_of_birth="1985-03-05", gender="M"),
    dict(personal_id="079190000111", full_name="Trần Thị Bình", date_of_birth="1990-07-01", gender="F"),
    dict(personal_id="079070000444", full_name="Hoàng Văn Dũng", date_of_birth="1970-01-15", gender="M"),
    dict(personal_id="079072000555", full_name="Đỗ Thị Mai", date_of_birth="1972-02-02", gender="F"),
    dict(personal_id="079060000888", full_name="Phạm Văn Tư", date_of_birth="1960-06-06", gender="M"),
    dict(personal_id="079075000999", full_name="Vũ Thị Lan", date_of_birth="1975-05-05", gender="F"),
    dict(personal_id="079180000123", full_name="Lý Thị Thu", date_of_birth="1980-01-01", gender="F"),
]  # fmt: skip

# subject_id -> overrides of the default ledger row (Nguyễn Văn An, 05/03/1985, Nam, 079085001234,
# Phường Tân Định 79/760/26734)
SUBJECTS = {
    "S-OK": {},
    "S-MISSING": dict(full_name="Trần Thị Bình", date_of_birth="01/07/1990", gender="Nữ", id_number=""),
    "S-LOSTZERO": dict(full_name="Hoàng Văn Dũng", date_of_birth="15/01/1970", id_number="79070000444"),
    "S-NAME": dict(full_name="Do Thi Mai", date_of_birth="02/02/1972", gender="Nữ", id_number="079072000555"),
    "S-DOB": dict(full_name="Phạm Văn Tư", date_of_birth="1960", id_number="079060000888"),
    "S-GENDER": dict(full_name="Vũ Thị Lan", date_of_birth="05/05/1975", gender="", id_number="079075000999"),
    "S-FORMULA": dict(full_name='=HYPERLINK("http://x.invalid","bấm")', id_number="@079085001234", phone="+84912345678"),
    "S-TAMPER": dict(full_name="Nguyễn Thị Tâm", id_number="khong co"),
    "S-EDIT": dict(full_name="Nguyễn Văn Sửa", id_number=""),
    "S-BADID": dict(full_name="Đặng Văn Sai", id_number=""),
    "S-STALE": dict(full_name="Trần Văn Cũ", id_number=""),
    "S-CONC-A": dict(full_name="Lý Văn Một", id_number=""),
    "S-B1": dict(full_name="Lê Thị Hoa", id_number="", commune_code="26737"),
    "S-CONC-B": dict(full_name="Lý Văn Hai", id_number="", commune_code="26737"),
    "S-OK-ELSEWHERE": dict(
        full_name="Lý Thị Thu", date_of_birth="01/01/1980", gender="Nữ", id_number="079180000123", commune_code="26740"
    ),
}  # fmt: skip
ROUND_TRIP = ("S-MISSING", "S-LOSTZERO", "S-NAME", "S-DOB", "S-GENDER")


# --- helpers ------------------------------------------------------------------------------------------


class Sheet:
    """A review sheet opened with openpyxl, addressed by subject id and Vietnamese header."""

    def __init__(self, path: Path):
        self.wb = load_workbook(path)
        self.ws = self.wb[xlsx.DATA_SHEET]
        self.col = {c.value: c.column for c in self.ws[1] if c.value}

    def row(self, subject_id: str) -> int:
        for r in range(2, self.ws.max_row + 1):
            if self.ws.cell(r, self.col["Mã đối tượng"]).value == subject_id:
                return r
        raise KeyError(subject_id)

    def cell(self, subject_id: str, header: str):
        return self.ws.cell(self.row(subject_id), self.col[header])

    def set(self, subject_id: str, **by_header: object) -> None:
        for header, value in by_header.items():
            self.cell(subject_id, header.replace("_", " ")).value = value

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.wb.save(path)
        return path


def fix(sheet: Sheet, subject_id: str, header: str, value: object, verifier: str = "Công an phường Tân Định"):
    sheet.cell(subject_id, header).value = value
    sheet.cell(subject_id, "Người xác minh").value = verifier


def rejects_of(spark, cfg, file_name: str) -> list[tuple]:
    rows = delta_io.read(spark, cfg, "correction_rejects").filter(
        F.col("source_file").endswith("/" + file_name)
    )
    return sorted(((r["subject_id"], r["reason_code"], r["column"]) for r in rows.collect()), key=str)


def corrections_of(spark, cfg, subject_id: str) -> dict[str, str]:
    if not delta_io.exists(spark, cfg.table_path("subject_corrections")):
        return {}
    rows = (
        delta_io.read(spark, cfg, "subject_corrections").filter(F.col("subject_id") == subject_id).collect()
    )
    return {r["field"]: r["new_value"] for r in rows}


def versions(spark, cfg, *tables: str) -> dict[str, int | None]:
    return {t: delta_io.version(spark, cfg, t) for t in tables}


def soffice_resave(src: Path, out_dir: Path, profile: Path) -> Path:
    """Open and save a workbook with headless LibreOffice, as a clerk's spreadsheet program would."""
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "xlsx",
         "--outdir", str(out_dir), str(src)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return out_dir / src.name


# --- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def secret():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VAXCLEAN_HMAC_SECRET", SECRET)
        yield SECRET.encode()


@pytest.fixture(scope="module")
def cfg(config, tmp_path_factory):
    root = tmp_path_factory.mktemp("review")
    return config.with_overrides(warehouse=str(root / "wh"), out=str(root / "out"))


@pytest.fixture(scope="module")
def issued(spark, cfg):
    """Ledger and register in Delta, classified once, workbooks exported once."""
    raw = with_partition_province(ledger_rows(spark, [{"subject_id": s, **o} for s, o in SUBJECTS.items()]))
    delta_io.replace_partitions(raw, cfg, "ledger_raw", partition_column="province_code", values=["79"])
    register = normalize_register(register_rows(spark, REGISTER))
    delta_io.overwrite(register, cfg, "register", partition_column="province_code")
    classify(spark, cfg)
    run_step(spark, cfg)
    return Path(cfg.out)


@pytest.fixture(scope="module")
def bad_batch(spark, cfg, issued, tmp_path_factory):
    """One folder of returned files that must all be rejected (nothing accepted, no re-classification)."""
    folder = tmp_path_factory.mktemp("bad")
    src = issued / TAN_DINH

    tampered = Sheet(src)
    fix(tampered, "S-TAMPER", "CCCD/CMND đúng", "079190000222")
    key = tampered.cell("S-TAMPER", "Khoá dòng (không sửa)")
    list_id, sid, version, sig = key.value.split("|")
    key.value = f"{list_id}|{sid}|{version[::-1]}|{sig}"  # the row claims another version
    hand_added = tampered.ws.max_row + 2  # a blank row, then a person typed in by hand
    tampered.ws.cell(hand_added, tampered.col["Họ và tên"]).value = "Người Mới Thêm"
    tampered.ws.cell(hand_added, tampered.col["CCCD/CMND đúng"]).value = "079085001234"
    tampered.save(folder / "tampered.xlsx")

    edited = Sheet(src)
    fix(edited, "S-EDIT", "CCCD/CMND đúng", "079190000333")
    edited.cell("S-EDIT", "Họ và tên").value = "Nguyễn Văn Sữa"  # typed over the read-only name
    fix(edited, "S-BADID", "CCCD/CMND đúng", "79085001")  # 8 digits typed as text: not a valid ID
    edited.save(folder / "edited.xlsx")

    other = Sheet(src)
    da_kao = Sheet(issued / DA_KAO)
    row = [c.value for c in da_kao.ws[da_kao.row("S-B1")]]
    other.ws.append(row)  # a row copied from another commune's list
    fix(other, "S-B1", "CCCD/CMND đúng", "079188000777", verifier="Công an phường Đa Kao")
    other.save(folder / "other-commune.xlsx")

    stale = Sheet(src)
    fix(stale, "S-STALE", "CCCD/CMND đúng", "079190000444")
    stale.save(folder / "stale.xlsx")
    # The subject's data moves on after the list was issued (as a new ledger export would do).
    DeltaTable.forPath(spark, cfg.table_path("subjects")).update(
        F.col("subject_id") == "S-STALE", {"subject_version": F.lit("0000000000000000")}
    )

    (folder / "notes.xlsx").write_text("not a workbook at all", encoding="utf-8")
    headless = Sheet(src)
    headless.ws.delete_rows(1)
    headless.save(folder / "79-760-26734 (lost header).xlsx")

    ingest_returned(spark, cfg, str(folder))
    return folder


@pytest.fixture(scope="module")
def round_trip(spark, cfg, issued, tmp_path_factory):
    """Corrections filled in with openpyxl, the file re-saved by LibreOffice (when installed), ingested."""
    root = tmp_path_factory.mktemp("returned")
    sheet = Sheet(issued / TAN_DINH)
    fix(sheet, "S-MISSING", "CCCD/CMND đúng", "079190000111")
    fix(sheet, "S-LOSTZERO", "CCCD/CMND đúng", 79070000444)  # Excel made the typed ID a number
    fix(sheet, "S-NAME", "Họ tên đúng", "Đỗ Thị Mai")
    sheet.cell("S-NAME", "Số CCCD/CMND").value = 79072000555  # a read-only ID turned into a number
    fix(sheet, "S-DOB", "Ngày sinh đúng", dt.datetime(1960, 6, 6))
    fix(sheet, "S-GENDER", "Giới tính đúng", "Nữ")
    sheet.cell("S-GENDER", "Ghi chú").value = "Đã đối chiếu CSDL dân cư"
    filled = sheet.save(root / "filled" / "79-760-26734.xlsx")
    used_libreoffice = shutil.which("soffice") is not None
    if used_libreoffice:
        returned = soffice_resave(filled, root / "libreoffice", root / "lo-profile")
    else:
        returned = filled
    ingest_returned(spark, cfg, str(returned.parent))
    return returned, used_libreoffice


# --- the workbook file itself (no Spark) ----------------------------------------------------------------


def review_row(**over):
    row = dict(
        list_id="DS-26734-abc", province_code="79", district_code="760", commune_code="26734", row_number=1,
        subject_id="S1", subject_version="v1", error_codes=["ID_MALFORMED"], full_name="Nguyễn Văn An",
        dob_date=dt.date(1985, 3, 5), dob_precision="DAY", dob_raw="05/03/1985", gender="Nam",
        id_number="079085001234", nationality="VN", passport_number=None, phone="0912345678",
        problem="• Sai định dạng", sug_id=None, sug_name=None, sug_dob_date=None, sug_dob_precision=None,
        sug_gender=None, sug_basis=None,
    )  # fmt: skip
    return {**row, **over}


def write_small(path: Path, rows: list[dict], secret: bytes) -> Path:
    info = xlsx.ListInfo("DS-26734-abc", "79", "760", "26734", dt.datetime(2024, 5, 1, 8, 0))
    xlsx.write_review_workbook(path, info, rows, secret=secret)
    return path


def read_back(path: Path, secret: bytes) -> list[dict]:
    return [
        dict(zip(xlsx.RETURNED_FIELDS, t, strict=True))
        for t in xlsx.read_returned_workbook(str(path), path.read_bytes(), secret=secret, file_sha256="x")
    ]


def test_row_key_signature_detects_any_change(secret):
    key = xlsx.make_row_key(secret, "DS-1-abc", "S79-00012345", "0123456789abcdef")
    assert xlsx.parse_row_key(secret, key) == xlsx.RowKey("DS-1-abc", "S79-00012345", "0123456789abcdef")
    assert xlsx.parse_row_key(secret, key.replace("S79-00012345", "S79-00012346")) is None
    assert xlsx.parse_row_key(b"another secret", key) is None
    assert xlsx.parse_row_key(secret, "DS-1-abc|S79-00012345") is None


def test_values_starting_like_formulas_are_written_as_text(tmp_path, secret):
    rows = [
        review_row(row_number=i + 1, subject_id=f"S{i}", full_name=v)
        for i, v in enumerate(['=HYPERLINK("http://x.invalid","bấm")', "+84 912", "-1", "@SUM(A1)"])
    ]
    path = write_small(tmp_path / "f.xlsx", rows, secret)
    ws = load_workbook(path)[xlsx.DATA_SHEET]
    names = [(ws.cell(r, 3).value, ws.cell(r, 3).data_type) for r in range(2, 6)]
    assert names == [
        ('=HYPERLINK("http://x.invalid","bấm")', "s"),
        ("+84 912", "s"),
        ("-1", "s"),
        ("@SUM(A1)", "s"),
    ]
    with zipfile.ZipFile(path) as z:
        assert "<f>" not in z.read("xl/worksheets/sheet1.xml").decode()


def test_fast_row_writer_gives_the_same_workbook_as_openpyxl(tmp_path, secret, monkeypatch):
    rows = [
        review_row(row_number=1, subject_id="S1", full_name=" Lê  <Văn> & Cường\x01", phone=None),
        review_row(row_number=2, subject_id="S2", dob_date=dt.date(1985, 3, 1), dob_precision="MONTH"),
        review_row(row_number=3, subject_id="S3", dob_date=dt.date(1900, 1, 1), dob_precision="DAY"),
    ]
    fast = write_small(tmp_path / "fast.xlsx", rows, secret)
    monkeypatch.setattr(xlsx, "FAST_XML", False)
    slow = write_small(tmp_path / "openpyxl.xlsx", rows, secret)

    def cells(path):
        wb = load_workbook(path)
        return [
            (ws.title, c.coordinate, c.value, c.data_type, c.number_format, c.protection.locked, c.font.b)
            for ws in wb.worksheets
            for row in ws.iter_rows()
            for c in row
        ]

    assert cells(fast) == cells(slow)


def test_reader_tolerates_what_spreadsheet_programs_and_people_do(tmp_path, secret):
    rows = [
        review_row(row_number=1, subject_id="S1", id_number="079085001234"),
        review_row(row_number=2, subject_id="S2", full_name="Trần Thị Bình"),
        review_row(row_number=3, subject_id="S3", full_name="Lê Văn Cường"),
    ]
    path = write_small(tmp_path / "t.xlsx", rows, secret)
    wb = load_workbook(path)
    ws = wb[xlsx.DATA_SHEET]
    ws.move_range("A4:W4", rows=2)  # S3 moved down: a blank row between
    ws.move_range("A2:W2", rows=5)  # S1 re-sorted to the bottom
    ws["F7"] = 79085001234  # read-only ID now a number (leading zero lost)
    ws["P7"] = 79085001234  # typed ID became a number
    ws["R7"] = 31111  # a date pasted as its serial number
    ws["S7"] = "Nữ"
    ws["U7"] = "Công an xã"
    ws["V3"] = "gia đình đã chuyển đi"  # a note only
    ws["T6"] = "Hàn Quốc / M12345678"
    extra = wb.create_sheet("Ghi chép")
    extra["A1"] = "sổ tay của thôn"
    wb.save(path)
    got = {r["key_subject_id"]: r for r in read_back(path, secret)}
    assert set(got) == {"S1", "S2", "S3"}  # blank rows skipped, the extra sheet ignored
    s1 = got["S1"]
    assert s1["problems"] == []
    assert s1["found"]["id_number"] == "79085001234"  # compared with the manifest, zeros aside
    assert s1["fixes"] == {"id_number": "079085001234", "date_of_birth": "1985-03-05", "gender": "Nữ"}
    assert s1["verified_by"] == "Công an xã"
    assert got["S2"]["note"] == "gia đình đã chuyển đi" and got["S2"]["fixes"] == {}
    assert got["S3"]["fixes"] == {"nationality": "Hàn Quốc", "passport_number": "M12345678"}
    assert all(r["file_list_id"] == "DS-26734-abc" and r["file_commune"] == "26734" for r in got.values())


def test_restore_id_gives_back_the_leading_zero():
    assert xlsx.restore_id(79085001234) == "079085001234"
    assert xlsx.restore_id(79085001234.0) == "079085001234"
    assert xlsx.restore_id(25123456) == "025123456"
    assert xlsx.restore_id("079085001234") == "079085001234"
    assert xlsx.restore_id(1234567890) == "1234567890"  # 10 digits: left alone, rejected later


def test_a_file_that_is_not_a_workbook_is_one_file_problem(secret):
    [row] = list(xlsx.read_returned_workbook("/x/a.xlsx", b"PK not really", secret=secret, file_sha256="x"))
    assert row[0] == "file" and row[17] == [(xlsx.NOT_A_WORKBOOK, None)] and "a.xlsx" in row[18]


# --- export ---------------------------------------------------------------------------------------------


def test_one_workbook_per_commune_with_subjects_to_review(spark, cfg, issued):
    files = sorted(p.relative_to(issued).as_posix() for p in issued.rglob("*.xlsx"))
    assert files == [TAN_DINH, DA_KAO]  # 26740 has nobody to review
    manifest = delta_io.read(spark, cfg, "review_manifest")
    by_commune = {
        r["commune_code"]: sorted(r["s"])
        for r in manifest.groupBy("commune_code").agg(F.collect_list("subject_id").alias("s")).collect()
    }
    assert by_commune == {
        "26734": sorted(s for s, o in SUBJECTS.items() if "commune_code" not in o and s != "S-OK"),
        "26737": ["S-B1", "S-CONC-B"],
    }
    lists = delta_io.read(spark, cfg, "review_lists").select("commune_code", "file", "n_rows").collect()
    assert sorted(tuple(r) for r in lists) == [("26734", TAN_DINH, 11), ("26737", DA_KAO, 2)]
    index = (issued / "workbooks" / "index.csv").read_text(encoding="utf-8-sig").splitlines()
    assert index[0].startswith("Mã tỉnh,Tỉnh/Thành phố,Mã huyện")
    assert [line.split(",")[5] for line in index[1:]] == ["Phường Tân Định", "Phường Đa Kao"]


def test_workbook_is_built_for_excel_and_libreoffice(issued):
    sheet = Sheet(issued / TAN_DINH)
    ws = sheet.ws
    for header in ("Mã đối tượng", "Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD/CMND", "Vấn đề cần xử lý",
                   "CCCD/CMND đúng", "Họ tên đúng", "Ngày sinh đúng", "Giới tính đúng",
                   "Quốc tịch / Số hộ chiếu", "Người xác minh", "Ghi chú"):  # fmt: skip
        assert header in sheet.col
    id_cell = sheet.cell("S-NAME", "Số CCCD/CMND")
    assert (id_cell.value, id_cell.data_type, id_cell.number_format) == ("079072000555", "s", "@")
    dob = sheet.cell("S-NAME", "Ngày sinh")
    assert dob.value == dt.datetime(1972, 2, 2) and dob.number_format == "DD/MM/YYYY"
    assert sheet.cell("S-DOB", "Ngày sinh").value == "1960"  # a year alone stays a year
    [gender] = [dv for dv in ws.data_validations.dataValidation if dv.type == "list"]
    assert gender.formula1 == '"Nam,Nữ"'
    assert ws.freeze_panes == "D2" and ws.auto_filter.ref == "A1:W12"
    assert ws.protection.sheet and not ws.protection.autoFilter and not ws.protection.sort
    assert sheet.cell("S-NAME", "Họ và tên").protection.locked
    for header in ("CCCD/CMND đúng", "Ngày sinh đúng", "Giới tính đúng", "Người xác minh", "Ghi chú"):
        letter = ws.cell(1, sheet.col[header]).column_letter
        assert ws.column_dimensions[letter].protection.locked is False, header
    assert ws.column_dimensions["C"].width == 26
    assert "Không có số CCCD/CMND" in sheet.cell("S-MISSING", "Vấn đề cần xử lý").value
    assert sheet.cell("S-NAME", "Gợi ý: Họ tên").value == "Đỗ Thị Mai"  # the register's spelling
    summary = sheet.wb[xlsx.SUMMARY_SHEET]
    assert ("Xã/Phường/Thị trấn", "26734 Phường Tân Định") in list(summary.iter_rows(values_only=True))


def test_formula_like_ledger_values_reach_the_workbook_as_text(issued):
    sheet = Sheet(issued / TAN_DINH)
    name = sheet.cell("S-FORMULA", "Họ và tên")
    assert (name.value, name.data_type) == ('=HYPERLINK("http://x.invalid","bấm")', "s")
    assert sheet.cell("S-FORMULA", "Số CCCD/CMND").data_type == "s"
    assert sheet.cell("S-FORMULA", "Số điện thoại").value == "+84912345678"


def test_reexport_of_the_same_classification_changes_nothing(spark, cfg, issued):
    tables = ("review_manifest", "review_lists")
    before = versions(spark, cfg, *tables)
    mtimes = {p: p.stat().st_mtime_ns for p in issued.rglob("*.xlsx")}
    (issued / "workbooks" / "index.csv").unlink()  # forces the full path, not the skip
    run_step(spark, cfg)
    assert versions(spark, cfg, *tables) == before
    assert {p: p.stat().st_mtime_ns for p in issued.rglob("*.xlsx")} == mtimes
    assert (issued / "workbooks" / "index.csv").exists()


def test_export_without_the_secret_stops_with_one_sentence(spark, cfg, monkeypatch):
    monkeypatch.delenv("VAXCLEAN_HMAC_SECRET")
    with pytest.raises(VaxcleanError, match="VAXCLEAN_HMAC_SECRET"):
        run_step(spark, cfg)


# --- ingest: what must be rejected -------------------------------------------------------------------------


def test_tampered_row_key_is_rejected(spark, cfg, bad_batch):
    assert ("S-TAMPER", "BAD_SIGNATURE", "Khoá dòng (không sửa)") in rejects_of(spark, cfg, "tampered.xlsx")
    assert corrections_of(spark, cfg, "S-TAMPER") == {}


def test_row_without_a_key_belongs_to_no_list(spark, cfg, bad_batch):
    assert (None, "NO_ROW_KEY", "Khoá dòng (không sửa)") in rejects_of(spark, cfg, "tampered.xlsx")


def test_edited_read_only_cell_is_rejected(spark, cfg, bad_batch):
    assert ("S-EDIT", "READ_ONLY_EDITED", "Họ và tên") in rejects_of(spark, cfg, "edited.xlsx")
    assert corrections_of(spark, cfg, "S-EDIT") == {}


def test_invalid_corrected_id_is_rejected(spark, cfg, bad_batch):
    assert ("S-BADID", "INVALID_ID", "CCCD/CMND đúng") in rejects_of(spark, cfg, "edited.xlsx")


def test_row_of_another_commune_is_rejected(spark, cfg, bad_batch):
    assert rejects_of(spark, cfg, "other-commune.xlsx") == [
        ("S-B1", "OTHER_COMMUNE", "Khoá dòng (không sửa)")
    ]
    assert corrections_of(spark, cfg, "S-B1") == {}


def test_stale_row_is_rejected(spark, cfg, bad_batch):
    assert rejects_of(spark, cfg, "stale.xlsx") == [("S-STALE", "STALE", "Khoá dòng (không sửa)")]


def test_unreadable_files_are_rejected_whole_and_the_batch_carries_on(spark, cfg, bad_batch):
    assert rejects_of(spark, cfg, "notes.xlsx") == [(None, "NOT_A_WORKBOOK", None)]
    assert rejects_of(spark, cfg, "79-760-26734 (lost header).xlsx") == [(None, "NO_HEADER", None)]
    reasons = delta_io.read(spark, cfg, "correction_rejects").filter(F.col("reason_code") == "NO_HEADER")
    assert "79-760-26734 (lost header).xlsx" in reasons.first()["reason"]
    files = delta_io.read(spark, cfg, "returned_files").count()
    assert files == 6  # every file of the batch was read and recorded


# --- ingest: the round trip --------------------------------------------------------------------------------


@pytest.mark.slow
def test_round_trip_through_libreoffice_verifies_the_corrected_subjects(spark, cfg, round_trip):
    returned, used_libreoffice = round_trip
    if not used_libreoffice:
        pytest.skip("LibreOffice (soffice) is not installed: apt-get install libreoffice-calc")
    saved = load_workbook(returned, read_only=True)
    meta, problem = xlsx._read_meta(saved, SECRET.encode())  # the signed list properties survived
    assert problem is None and meta["commune_code"] == "26734"
    checks = {r["subject_id"]: r["status"] for r in delta_io.read(spark, cfg, "subject_checks").collect()}
    assert {s: checks[s] for s in ROUND_TRIP} == dict.fromkeys(ROUND_TRIP, "VERIFIED")
    assert checks["S-TAMPER"] == "NEEDS_REVIEW"
    assert corrections_of(spark, cfg, "S-GENDER") == {"gender": "Nữ", "note": "Đã đối chiếu CSDL dân cư"}
    out = Path(cfg.out)
    verify = load_workbook(out / "verification/79/79-760-26734-xac-minh.xlsx")[xlsx.VERIFY_SHEET]
    status = {r[1]: (r[5], r[7]) for r in verify.iter_rows(min_row=2, values_only=True)}
    assert status["S-NAME"] == ("Cần rà soát", "Đã xác minh")
    assert status["S-TAMPER"] == ("Cần rà soát", "Cần rà soát")
    platform = (out / "platform-updates/79/79-760-26734.csv").read_text(encoding="utf-8-sig").splitlines()
    assert platform[0].startswith("Mã đối tượng,Họ và tên,Ngày sinh,Giới tính,Số CCCD/CMND")
    assert "S-NAME,Đỗ Thị Mai,02/02/1972,Nữ,079072000555,VN,,Họ tên,Công an phường Tân Định" in platform


def test_id_typed_as_a_number_gets_its_leading_zero_back(spark, cfg, round_trip):
    assert corrections_of(spark, cfg, "S-LOSTZERO") == {"id_number": "079070000444"}
    assert corrections_of(spark, cfg, "S-NAME") == {"full_name": "Đỗ Thị Mai"}  # its ID cell was a number


def test_ingesting_the_same_files_twice_changes_nothing(spark, cfg, round_trip):
    tables = ("subject_corrections", "correction_rejects", "returned_files", "subjects", "subject_checks")
    before = versions(spark, cfg, *tables)
    returned, _ = round_trip
    ingest_returned(spark, cfg, str(returned.parent))
    assert versions(spark, cfg, *tables) == before


def test_a_resaved_copy_of_an_ingested_file_adds_no_correction(spark, cfg, round_trip, tmp_path):
    tables = ("subject_corrections", "subjects", "subject_checks")
    before = versions(spark, cfg, *tables)
    returned, _ = round_trip
    copy = load_workbook(returned)
    copy.save(tmp_path / "copy of the list.xlsx")  # other bytes, same content
    ingest_returned(spark, cfg, str(tmp_path))
    assert versions(spark, cfg, *tables) == before
    [row] = (
        delta_io.read(spark, cfg, "returned_files")
        .filter(F.col("source_file").endswith("copy of the list.xlsx"))
        .collect()
    )
    assert (row["accepted"], row["already_recorded"], row["rejected"]) == (0, len(ROUND_TRIP), 0)


def test_two_communes_ingested_at_the_same_time_both_land(spark, cfg, issued, tmp_path):
    jobs = []
    for subject_id, src, name in (("S-CONC-A", TAN_DINH, "a"), ("S-CONC-B", DA_KAO, "b")):
        sheet = Sheet(issued / src)
        fix(sheet, subject_id, "CCCD/CMND đúng", "079190000555")
        sheet.save(tmp_path / name / Path(src).name)
        jobs.append(tmp_path / name)
    errors = run_at_once(lambda folder: ingest_returned(spark, cfg, str(folder), reclassify=False), jobs)
    assert errors == []
    assert corrections_of(spark, cfg, "S-CONC-A") == {"id_number": "079190000555"}
    assert corrections_of(spark, cfg, "S-CONC-B") == {"id_number": "079190000555"}


def test_a_commit_that_loses_a_race_is_retried(monkeypatch):
    from delta.exceptions import ConcurrentAppendException

    monkeypatch.setattr("vaxclean.delta_io.time.sleep", lambda s: None)
    attempts = []

    def commit():
        attempts.append(1)
        if len(attempts) < 3:
            raise ConcurrentAppendException(message="files were added to partition province_code=79")
        return "landed"

    assert delta_io.retry_on_conflict(commit, what="merge subject_corrections") == "landed"
    assert len(attempts) == 3


def test_ingest_without_an_issued_list_says_so(spark, config, tmp_path):
    cfg = config.with_overrides(warehouse=str(tmp_path / "empty"), out=str(tmp_path / "out"))
    with pytest.raises(VaxcleanError, match="export-workbooks"):
        ingest_returned(spark, cfg, str(tmp_path))


def test_blank_workbook_without_our_header_is_no_header(tmp_path, secret):
    wb = Workbook()
    wb.active["A1"] = "Họ và tên"
    wb.save(tmp_path / "79-760-26734.xlsx")
    [row] = read_back(tmp_path / "79-760-26734.xlsx", secret)
    assert row["kind"] == "file" and row["problems"] == [(xlsx.NO_HEADER, None)]


def test_env_secret_is_never_written_into_the_workbook(issued):
    for path in issued.rglob("*.xlsx"):
        with zipfile.ZipFile(path) as z:
            assert not any(SECRET.encode() in z.read(n) for n in z.namelist())
