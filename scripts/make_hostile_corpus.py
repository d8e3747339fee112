"""Write the hostile-input corpus of tests/test_hostile.py into tests/hostile/ (deterministic).

    .venv/bin/python scripts/make_hostile_corpus.py [--out tests/hostile]

Every file is small and synthetic (no real person), and the same bytes come out on every run:
workbook parts get fixed zip timestamps and a fixed ``modified`` property, pseudo-random bytes come
from a seeded generator. The returned review workbooks are signed with ``CORPUS_SECRET``, a public,
test-only value; ``review_manifest.json`` holds what the two lists issued (the test loads it as the
``review_manifest`` the checks compare against). What each file must produce is the table in
tests/test_hostile.py.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import random
import shutil
import struct
import sys
import unicodedata
import zipfile
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.packaging.custom import CustomPropertyList

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.helpers is not an installed package

from tests.helpers import LEDGER_DEFAULTS  # noqa: E402
from vaxclean import schemas, xlsx  # noqa: E402

CORPUS_SECRET = b"hostile-corpus-secret-public-test-only"
ISSUED_AT = dt.datetime(2024, 5, 1, 8, 0)
FIXED_ZIP_TIME = (2024, 5, 2, 9, 0, 0)
FIXED_MODIFIED = "2024-05-02T09:00:00Z"

# The ledger row the unit tests use (tests/helpers.py), with its record and subject id.
LEDGER_ROW = {"record_id": "VN79-0000000001", "subject_id": "S79-00000001", **LEDGER_DEFAULTS}
REGISTER_ROW = {
    "personal_id": "079085001234",
    "old_id_number": "",
    "full_name": "Nguyễn Văn An",
    "date_of_birth": "1985-03-05",
    "gender": "M",
    "province_code": "79",
    "district_code": "760",
    "commune_code": "26734",
    "date_of_death": "",
}


def ledger_rows(n: int, *, prefix: str, province: str = "79", **over: str) -> list[dict[str, str]]:
    return [
        {
            **LEDGER_ROW,
            "record_id": f"{prefix}-{i:06d}",
            "subject_id": f"S{province}-{prefix}-{i:04d}",
            "province_code": province,
            **over,
        }
        for i in range(1, n + 1)
    ]


def csv_text(header: list[str], rows: list[list[str]], *, delimiter: str = ",", newline: str = "\n") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=newline)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def cp1258(text: str) -> bytes:
    """Windows-1258 bytes: base letters precomposed, the tone mark as a separate combining byte."""
    out = b""
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            tone = "".join(c for c in parts if c in _TONES)
            rest = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONES))
            out += (rest + tone).encode("cp1258")
    return out


def table(rows: list[dict[str, str]], cols: tuple[str, ...] | list[str]) -> list[list[str]]:
    return [[r.get(c, "") for c in cols] for r in rows]


# --- a minimal OLE compound file (CFB), enough to look like .xls / an encrypted .xlsx --------------------


def cfb(streams: dict[str, bytes]) -> bytes:
    """A version-3 compound file holding ``streams`` (each padded to 4096 bytes: no mini stream)."""
    sector = 512
    data = {
        name: body.ljust(max(4096, len(body) + -len(body) % sector), b"\0") for name, body in streams.items()
    }
    # Layout: sector 0 = FAT, sector 1 = directory, then each stream's sectors.
    fat: list[int] = [0xFFFFFFFD, 0xFFFFFFFE]
    starts: dict[str, int] = {}
    body = b""
    for name, content in data.items():
        n = len(content) // sector
        starts[name] = len(fat)
        fat += [len(fat) + i + 1 for i in range(n - 1)] + [0xFFFFFFFE]
        body += content
    assert len(fat) <= 128, "one FAT sector only"
    fat_bytes = struct.pack("<128I", *(fat + [0xFFFFFFFF] * (128 - len(fat))))

    def entry(
        name: str, kind: int, start: int, size: int, child: int = 0xFFFFFFFF, right: int = 0xFFFFFFFF
    ) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0"
        return (
            raw.ljust(64, b"\0")
            + struct.pack("<HBB", len(raw), kind, 1)
            + struct.pack("<III", 0xFFFFFFFF, right, child)
            + b"\0" * 16
            + b"\0" * 4
            + b"\0" * 16
            + struct.pack("<IIi", start, size, 0)
        )

    names = list(data)
    entries = [entry("Root Entry", 5, 0xFFFFFFFE, 0, child=1)]
    for i, name in enumerate(names):
        right = i + 2 if i + 1 < len(names) else 0xFFFFFFFF
        entries.append(entry(name, 2, starts[name], len(streams[name]), right=right))
    directory = b"".join(entries).ljust(sector, b"\0")
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
        + struct.pack("<109I", 0, *([0xFFFFFFFF] * 108))
    )
    assert len(header) == sector
    return header + fat_bytes + directory + body


# --- workbooks --------------------------------------------------------------------------------------------

LIST_A = xlsx.ListInfo("DS-26734-corpus", "79", "760", "26734", ISSUED_AT)
LIST_B = xlsx.ListInfo("DS-26737-corpus", "79", "760", "26737", ISSUED_AT)
SUBJECTS_A = ["S79-A1", "S79-A2", "S79-A3", "S79-A4"]
SUBJECTS_B = ["S79-B1"]
NAMES = {
    "S79-A1": "Trần Thị Bình",
    "S79-A2": "Lê Văn Cường",
    "S79-A3": "Phạm Thị Dung",
    "S79-A4": "Hoàng Văn Em",
    "S79-B1": "Võ Thị Giang",
}


def review_row(info: xlsx.ListInfo, i: int, subject_id: str) -> dict[str, object]:
    return dict(
        list_id=info.list_id, province_code=info.province_code, district_code=info.district_code,
        commune_code=info.commune_code, row_number=i, subject_id=subject_id,
        subject_version=f"v{subject_id[-2:].lower()}00000000000"[:16], error_codes=["ID_MISSING"],
        full_name=NAMES[subject_id], dob_date=dt.date(1990, 1, i), dob_precision="DAY",
        dob_raw=f"0{i}/01/1990",
        gender="Nữ", id_number="", nationality="VN", passport_number=None, phone="0912345678",
        problem="• Không có số CCCD/CMND", sug_id=None, sug_name=None, sug_dob_date=None,
        sug_dob_precision=None, sug_gender=None, sug_basis=None,
    )  # fmt: skip


def normalise_zip(path: Path) -> None:
    """Fixed timestamps and ``modified`` property: the same workbook gives the same bytes."""
    with zipfile.ZipFile(path) as z:
        parts = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in parts:
            if name == "docProps/core.xml":
                text = body.decode()
                start = text.find("<dcterms:modified")
                if start >= 0:
                    end = text.find("</dcterms:modified>", start) + len("</dcterms:modified>")
                    text = (
                        text[:start]
                        + f'<dcterms:modified xsi:type="dcterms:W3CDTF">{FIXED_MODIFIED}</dcterms:modified>'
                        + text[end:]
                    )
                body = text.encode()
            info = zipfile.ZipInfo(name, FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, body)
    path.write_bytes(buf.getvalue())


class Returned:
    """An issued list opened for editing, as a commune clerk would."""

    def __init__(self, issued: Path):
        self.wb = load_workbook(issued)
        self.ws = self.wb[xlsx.DATA_SHEET]
        self.col = {c.value: c.column for c in self.ws[1] if c.value}

    def row_of(self, subject_id: str) -> int:
        for r in range(2, self.ws.max_row + 1):
            if self.ws.cell(r, self.col["Mã đối tượng"]).value == subject_id:
                return r
        raise KeyError(subject_id)

    def set(self, subject_id: str, header: str, value: object) -> None:
        self.ws.cell(self.row_of(subject_id), self.col[header]).value = value

    def fix_id(self, subject_id: str, value: object, verifier: str = "Công an phường") -> None:
        self.set(subject_id, "CCCD/CMND đúng", value)
        self.set(subject_id, "Người xác minh", verifier)

    def save(self, path: Path) -> Path:
        self.wb.save(path)
        normalise_zip(path)
        return path


def make_workbooks(out: Path, issued_dir: Path) -> list[dict[str, object]]:
    """The returned workbooks; return the manifest rows of the two lists issued."""
    manifest: list[dict[str, object]] = []
    lists = {}
    for info, subjects in ((LIST_A, SUBJECTS_A), (LIST_B, SUBJECTS_B)):
        path = issued_dir / f"{info.province_code}-{info.district_code}-{info.commune_code}.xlsx"
        rows = [review_row(info, i + 1, s) for i, s in enumerate(subjects)]
        _, issued = xlsx.write_review_workbook(path, info, rows, secret=CORPUS_SECRET)
        normalise_zip(path)
        lists[info.commune_code] = path
        for row, values in issued:
            manifest.append(
                {
                    "list_id": row["list_id"],
                    "province_code": row["province_code"],
                    "district_code": row["district_code"],
                    "commune_code": row["commune_code"],
                    "subject_id": row["subject_id"],
                    "subject_version": row["subject_version"],
                    "row_number": row["row_number"],
                    "issued_values": {k: (None if v is None else str(v)) for k, v in values.items()},
                }
            )
    a, b = lists["26734"], lists["26737"]

    good = Returned(a)
    good.fix_id("S79-A1", "079190000111")
    good.save(out / "w01-good.xlsx")

    (out / "w02-renamed-csv.xlsx").write_text(
        "Mã đối tượng,CCCD/CMND đúng\nS79-A1,079190000111\n", encoding="utf-8"
    )
    rng = random.Random(9)
    biff = b"\x09\x08\x10\x00\x00\x06\x05\x00" + bytes(rng.getrandbits(8) for _ in range(600))
    (out / "w03-old-excel.xls").write_bytes(cfb({"Workbook": biff}))
    info = b"\x04\x00\x04\x00\x40\x00\x00\x00" + b'<?xml version="1.0"?><encryption/>'
    package = struct.pack("<Q", 6000) + bytes(rng.getrandbits(8) for _ in range(6000))
    (out / "w04-password.xlsx").write_bytes(cfb({"EncryptionInfo": info, "EncryptedPackage": package}))

    macro = Returned(a)
    macro.fix_id("S79-A1", "079190000111")
    path = macro.save(out / "w05-macro.xlsm")
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("xl/vbaProject.bin", FIXED_ZIP_TIME), b"\xd0\xcf\x11\xe0fake vba project")

    formula = Returned(a)
    formula.fix_id("S79-A2", '=TEXT(79190000222,"000000000000")')
    formula.save(out / "w06-formula.xlsx")

    merged = Returned(a)
    merged.fix_id("S79-A2", "079190000222")
    merged.fix_id("S79-A3", "079190000333")
    merged.fix_id("S79-A4", "079190000444")
    ver = merged.ws.cell(1, merged.col["Người xác minh"]).column_letter
    name = merged.ws.cell(1, merged.col["Họ và tên"]).column_letter
    r2, r3, r4 = (merged.row_of(s) for s in ("S79-A2", "S79-A3", "S79-A4"))
    merged.ws.merge_cells(f"{ver}{r2}:{ver}{r3}")  # S79-A3 loses its verifier under the merge
    merged.ws.merge_cells(f"{name}{r3}:{name}{r4}")  # S79-A4 loses its read-only name
    merged.save(out / "w07-merged-cells.xlsx")

    missing = Returned(a)
    del missing.wb[xlsx.DATA_SHEET]
    missing.save(out / "w08-missing-sheet.xlsx")

    bomb = out / "w09-zip-bomb.xlsx"
    shutil.copyfile(out / "w01-good.xlsx", bomb)
    with zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED) as z:
        info_pad = zipfile.ZipInfo("xl/worksheets/sheet9.xml", FIXED_ZIP_TIME)
        info_pad.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info_pad, b" " * (200 << 20), compresslevel=9)

    edited = Returned(a)
    edited.fix_id("S79-A2", "079190000222")
    key = edited.ws.cell(edited.row_of("S79-A2"), edited.col["Khoá dòng (không sửa)"])
    key.value = key.value.replace("S79-A2", "S79-A9")  # the key now names another subject
    edited.save(out / "w10-edited-key.xlsx")

    other = Returned(a)
    foreign = Returned(b)
    other.ws.append([c.value for c in foreign.ws[foreign.row_of("S79-B1")]])
    other.fix_id("S79-B1", "079190000555")
    other.save(out / "w11-other-commune.xlsx")

    relabelled = Returned(a)
    for prop in relabelled.wb.custom_doc_props:
        if prop.name == "vaxclean_commune_code":
            prop.value = "26737"
    relabelled.fix_id("S79-A1", "079190000111")
    relabelled.save(out / "w12-bad-list-signature.xlsx")

    anonymous = Returned(a)
    anonymous.wb.custom_doc_props = CustomPropertyList()
    anonymous.fix_id("S79-A1", "079190000111")
    anonymous.save(out / "w13 returned list (copy).xlsx")

    (out / "w14-empty.xlsx").write_bytes(b"")
    whole = (out / "w01-good.xlsx").read_bytes()
    (out / "w15-truncated.xlsx").write_bytes(whole[: len(whole) // 2])

    by_hand = Returned(a)
    r = by_hand.ws.max_row + 1
    by_hand.ws.cell(r, by_hand.col["Họ và tên"]).value = "Người Thêm Tay"
    by_hand.ws.cell(r, by_hand.col["CCCD/CMND đúng"]).value = "079190000666"
    by_hand.ws.cell(r, by_hand.col["Người xác minh"]).value = "Công an phường"
    by_hand.save(out / "w16-no-row-key.xlsx")

    typed_over = Returned(a)
    typed_over.fix_id("S79-A3", "079190000333")
    typed_over.set("S79-A3", "Họ và tên", "Phạm Thị Dũng")
    typed_over.save(out / "w17-read-only-edited.xlsx")

    invalid = Returned(a)
    invalid.fix_id("S79-A4", "79190000")
    invalid.save(out / "w18-invalid-id.xlsx")

    not_issued = Returned(a)
    not_issued.fix_id("S79-A2", "079190000222")
    key = not_issued.ws.cell(not_issued.row_of("S79-A2"), not_issued.col["Khoá dòng (không sửa)"])
    key.value = xlsx.make_row_key(CORPUS_SECRET, "DS-26734-never", "S79-A2", "va200000000000")
    not_issued.save(out / "w19-not-issued.xlsx")

    foreign_key = out / "w20-other-secret.xlsx"
    other_secret = issued_dir / "other-secret" / "79-760-26734.xlsx"
    xlsx.write_review_workbook(
        other_secret, LIST_A, [review_row(LIST_A, 1, "S79-A1")], secret=b"someone else's secret"
    )
    forged = Returned(other_secret)
    forged.fix_id("S79-A1", "079190000111")
    forged.save(foreign_key)

    unverified = Returned(a)
    unverified.set("S79-A2", "CCCD/CMND đúng", "079190000222")  # no "Người xác minh"
    unverified.save(out / "w21-no-verifier.xlsx")

    (out / "~$w01-good.xlsx").write_bytes(b"\x0bExcel owner lock file")
    return manifest


# --- ledger and register files -------------------------------------------------------------------------


def make_ledger(out: Path) -> None:
    cols = list(schemas.LEDGER_COLUMNS)
    base = table(ledger_rows(3, prefix="X"), cols)

    def write(name: str, text: str, encoding: str = "utf-8") -> None:
        (out / name).write_bytes(cp1258(text) if encoding == "cp1258" else text.encode(encoding))

    short = [c for c in cols if c != "vaccination_date"]
    write("l01-missing-column.csv", csv_text(short, table(ledger_rows(2, prefix="X"), short)))
    renamed = [("ngay tiem" if c == "vaccination_date" else c) for c in cols]
    write("l02-renamed-column.csv", csv_text(renamed, base))
    write("l03-semicolon.csv", csv_text(cols, base, delimiter=";"))
    write("l04-tab.csv", csv_text(cols, base, delimiter="\t"))
    write("l05-utf16-bom.csv", csv_text(cols, base), "utf-16")
    write("l06-utf16-no-bom.csv", csv_text(cols, base), "utf-16-le")
    vn_header = [("họ và tên" if c == "full_name" else c) for c in cols]
    write("l07-windows-1258.csv", csv_text(vn_header, base), "cp1258")
    many = table(ledger_rows(700, prefix="W"), cols)
    many[650][cols.index("full_name")] = "Nguyễn Thị Ánh"
    head = csv_text(cols, many[:650])
    tail = csv_text(cols, many[650:]).split("\n", 1)[1]
    (out / "l08-windows-1258-late.csv").write_bytes(head.encode("utf-8") + cp1258(tail))
    write("l09-empty.csv", "")
    write("l10-blank-lines.csv", "\n\n  \n")
    write("l11-header-only.csv", csv_text(cols, []))
    huge = table(ledger_rows(4, prefix="H"), cols)
    huge[1][cols.index("full_name")] = "A" * 200_000
    write("l12-huge-field.csv", csv_text(cols, huge))
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr(zipfile.ZipInfo("[Content_Types].xml", FIXED_ZIP_TIME), "<Types/>")
    (out / "l13-xlsx-named-csv.csv").write_bytes(zipped.getvalue())
    (out / "l14-xls-named-csv.csv").write_bytes(cfb({"Workbook": b"\x09\x08" + b"\0" * 100}))
    dup_header = [("ho_ten" if c == "full_name" else c) for c in cols] + ["họ và tên"]
    write("l15-duplicate-header.csv", csv_text(dup_header, [r + ["x"] for r in base]))
    write("l16-trailing-comma-header.csv", csv_text([*cols, ""], [r + [""] for r in base]))
    write("l17-text-named-parquet.parquet", csv_text(cols, base))
    (out / "l18-binary.csv").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)))
    write("l19-no-header.csv", csv_text(base[0], base[1:]))  # the header row was lost: a person first

    # Files whose good rows land and whose bad rows go to ledger_rejects (read by Spark).
    bom = table(ledger_rows(2, prefix="BOM"), cols)
    (out / "l20-bom.csv").write_bytes(csv_text(cols, bom).encode("utf-8-sig"))
    write("l21-crlf.csv", csv_text(cols, table(ledger_rows(2, prefix="CRLF"), cols), newline="\r\n"))
    nl = table(ledger_rows(3, prefix="NL"), cols)
    nl[1][cols.index("full_name")] = "Nguyễn Văn\nXuống Dòng"
    nl[2][cols.index("batch_number")] = 'A1, "lô" 2\r\nghi chú'
    write("l22-embedded-newline.csv", csv_text(cols, nl))
    dup = table(ledger_rows(3, prefix="DUP"), cols)
    dup[2][0] = dup[0][0]  # row 4 repeats row 2's record_id
    write("l23-duplicate-record-ids.csv", csv_text(cols, dup))
    empty_id = table(ledger_rows(3, prefix="NOID"), cols)
    empty_id[1][0] = "  "
    write("l24-empty-record-id.csv", csv_text(cols, empty_id))
    ragged = csv_text(cols, table(ledger_rows(3, prefix="RAG"), cols))
    lines = ragged.splitlines()
    lines.insert(2, "RAG-short,S79-RAG-9,too,few,fields")
    lines.append(",".join(table(ledger_rows(1, prefix="RAGLONG"), cols)[0] + ["surplus"]))
    write("l25-ragged.csv", "\n".join(lines) + "\n")


def make_register(out: Path) -> None:
    cols = list(schemas.REGISTER_COLUMNS)
    people = [
        {**REGISTER_ROW, "personal_id": f"0791900{i:05d}", "full_name": f"Người Số {i}"} for i in range(1, 4)
    ]
    base = table(people, cols)

    def write(name: str, text: str, encoding: str = "utf-8") -> None:
        (out / name).write_bytes(cp1258(text) if encoding == "cp1258" else text.encode(encoding))

    short = [c for c in cols if c != "personal_id"]
    write("r01-missing-personal-id.csv", csv_text(short, table(people, short)))
    write("r02-renamed-column.csv", csv_text([("so_cccd" if c == "personal_id" else c) for c in cols], base))
    write("r03-semicolon.csv", csv_text(cols, base, delimiter=";"))
    write("r04-utf16.csv", csv_text(cols, base), "utf-16")
    write("r05-windows-1258.csv", csv_text(cols, base), "cp1258")
    write("r06-empty.csv", "")
    write("r07-header-only.csv", csv_text(cols, []))
    huge = [list(r) for r in base]
    huge[0][cols.index("full_name")] = "B" * 150_000
    write("r08-huge-field.csv", csv_text(cols, huge))
    (out / "r09-bom.csv").write_bytes(csv_text(cols, base).encode("utf-8-sig"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "tests" / "hostile"))
    args = p.parse_args(argv)
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    for sub in ("ledger", "register", "workbooks"):
        (out / sub).mkdir(parents=True)
    make_ledger(out / "ledger")
    make_register(out / "register")
    scratch = out / ".issued"
    manifest = make_workbooks(out / "workbooks", scratch)
    shutil.rmtree(scratch)
    (out / "review_manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    n = sum(1 for f in out.rglob("*") if f.is_file() and f.suffix != ".json")
    print(f"{n} hostile files in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
