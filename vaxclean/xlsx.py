"""Review workbooks in openpyxl: write one commune's list, read a returned one.

Pure Python, no Spark: these functions run inside Spark executors (``mapPartitions``), one commune's
rows at a time, and in tests and the benchmark on plain dicts.

A review workbook (``Danh sách`` sheet) has one header row, one row per subject, read-only columns
locked by sheet protection and correction columns left open, and a last column with the **row key**:
``<list id>|<subject id>|<subject version>|<signature>``, the signature an HMAC-SHA256 (first 128
bits, hex) over the three values under the secret from the environment. Custom document properties
(``vaxclean_list_id``, ``vaxclean_commune_code`` …) carry the list id and the commune codes, signed
the same way, so a returned file says whose list it is even when renamed. docs/review-loop.md
describes the layout for people.

What the spreadsheet programs do to a file is undone on reading (numbers back to ID text, serials
and datetimes back to dates); what matters for trust (the row key, the read-only values) is
returned as found, for the ingest job to compare with the issue manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import itertools
import os
import re
import unicodedata
import uuid
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from copy import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.compat import safe_string
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel, to_excel
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation

#: Part of every list id: a new layout issues new lists (and rewrites every file).
LAYOUT_VERSION = "1"

DATA_SHEET = "Danh sách"
SUMMARY_SHEET = "Tổng hợp"
META_PREFIX = "vaxclean_"
META_KEYS = ("list_id", "province_code", "district_code", "commune_code")
VERIFY_SHEET = "Danh sách xác minh"

DATE_FORMAT = "DD/MM/YYYY"
MONTH_FORMAT = "MM/YYYY"
TEXT_FORMAT = "@"


@dataclass(frozen=True)
class Col:
    """One column of the review sheet: internal key, Vietnamese header, width, kind, editable."""

    key: str
    header: str
    width: float
    kind: str  # int | text | id | date | long | percent | gender | key
    editable: bool = False


COLUMNS: tuple[Col, ...] = (
    Col("row_number", "STT", 6, "int"),
    Col("subject_id", "Mã đối tượng", 16, "id"),
    Col("full_name", "Họ và tên", 26, "text"),
    Col("date_of_birth", "Ngày sinh", 12, "date"),
    Col("gender", "Giới tính", 9, "text"),
    Col("id_number", "Số CCCD/CMND", 16, "id"),
    Col("nationality", "Quốc tịch", 11, "text"),
    Col("passport_number", "Số hộ chiếu", 13, "id"),
    Col("phone", "Số điện thoại", 13, "id"),
    Col("problem", "Vấn đề cần xử lý", 50, "long"),
    Col("sug_id", "Gợi ý: Số CCCD/CMND", 16, "id"),
    Col("sug_name", "Gợi ý: Họ tên", 24, "text"),
    Col("sug_dob", "Gợi ý: Ngày sinh", 12, "date"),
    Col("sug_gender", "Gợi ý: Giới tính", 9, "text"),
    Col("sug_basis", "Gợi ý: Căn cứ", 30, "long"),
    Col("fix_id_number", "CCCD/CMND đúng", 16, "id", True),
    Col("fix_full_name", "Họ tên đúng", 26, "text", True),
    Col("fix_date_of_birth", "Ngày sinh đúng", 13, "date", True),
    Col("fix_gender", "Giới tính đúng", 10, "gender", True),
    Col("fix_nationality_passport", "Quốc tịch / Số hộ chiếu", 22, "text", True),
    Col("verified_by", "Người xác minh", 22, "text", True),
    Col("note", "Ghi chú", 30, "text", True),
    Col("row_key", "Khoá dòng (không sửa)", 34, "key"),
)
HEADERS = {c.key: c.header for c in COLUMNS}
#: Read-only values compared with the issue manifest on return (STT may be renumbered).
CHECKED_KEYS = tuple(c.key for c in COLUMNS if not c.editable and c.kind not in ("int", "key"))
#: Of those, the ones a spreadsheet program may have turned into numbers (leading zeros lost).
DIGIT_KEYS = tuple(c.key for c in COLUMNS if c.key in CHECKED_KEYS and c.kind == "id")
#: Correction columns (what a returned row may change), in sheet order.
FIX_KEYS = tuple(c.key for c in COLUMNS if c.editable and c.key not in ("verified_by", "note"))
#: Identity fields (ledger column names) a correction may set, and the column each comes from.
FIELD_SOURCES = {
    "id_number": "fix_id_number",
    "full_name": "fix_full_name",
    "date_of_birth": "fix_date_of_birth",
    "gender": "fix_gender",
    "nationality": "fix_nationality_passport",
    "passport_number": "fix_nationality_passport",
}
#: The read-only column holding each field's value at issue (the correction's "old value").
FIELD_ISSUED = {
    "id_number": "id_number",
    "full_name": "full_name",
    "date_of_birth": "date_of_birth",
    "gender": "gender",
    "nationality": "nationality",
    "passport_number": "passport_number",
}
#: A returned sheet must still have these headers to be read at all.
REQUIRED_KEYS = ("subject_id", *CHECKED_KEYS[1:5], *FIX_KEYS, "verified_by", "row_key")

# Fields of the review rows the writer takes (built by transforms.workbooks.with_list_ids).
REVIEW_FIELDS = (
    "list_id", "province_code", "district_code", "commune_code", "row_number", "subject_id",
    "subject_version", "error_codes", "full_name", "dob_date", "dob_precision", "dob_raw", "gender",
    "id_number", "nationality", "passport_number", "phone", "problem", "sug_id", "sug_name",
    "sug_dob_date", "sug_dob_precision", "sug_gender", "sug_basis",
)  # fmt: skip

# What the writer returns, one tuple per row issued plus one per file (kind "file").
WRITTEN_FIELDS = (
    "kind", "list_id", "province_code", "district_code", "commune_code", "file", "file_sha256",
    "status", "n_rows", "issued_at", "subject_id", "subject_version", "row_number", "error_codes",
    "issued_values",
)  # fmt: skip

# What the reader returns: one tuple per non-blank returned row, or one per rejected file.
RETURNED_FIELDS = (
    "kind", "source_file", "file_sha256", "sheet", "source_row", "file_list_id", "file_province",
    "file_district", "file_commune", "saved_at", "key_list_id", "key_subject_id",
    "key_subject_version", "found", "fixes", "verified_by", "note", "problems", "detail",
)  # fmt: skip

# Problems found while reading (Python side); the ingest transform adds the ones that need Delta.
NOT_A_WORKBOOK = "NOT_A_WORKBOOK"
NO_HEADER = "NO_HEADER"
UNKNOWN_LIST = "UNKNOWN_LIST"
BAD_LIST_SIGNATURE = "BAD_LIST_SIGNATURE"
NO_ROW_KEY = "NO_ROW_KEY"
BAD_SIGNATURE = "BAD_SIGNATURE"
FORMULA = "FORMULA"

_SAFE = re.compile(r"[^0-9A-Za-z]")
_FILE_NAME = re.compile(r"(?P<p>[0-9A-Za-z_]+)-(?P<d>[0-9A-Za-z_]+)-(?P<c>[0-9A-Za-z_]+)\.xlsx$")
_PASSPORT = re.compile(r"^(?=.*\d)[A-Za-z0-9]{5,20}$")
_FORMULA_START = ("=", "+", "-", "@")
GENDER_LABEL = {"M": "Nam", "F": "Nữ", "O": "Khác"}


# --- values -------------------------------------------------------------------------------------


def canon_text(value: object) -> str | None:
    """Text as compared: NFC, runs of whitespace (non-breaking spaces too) to one space, trimmed."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = value if isinstance(value, str) else str(value)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    text = " ".join(text.split())
    if ILLEGAL_CHARACTERS_RE.search(text):  # control characters cannot be stored in a workbook
        text = ILLEGAL_CHARACTERS_RE.sub("", text)
    return text or None


def _digits_of_number(value: object) -> str | None:
    """An int, or a float without a fraction, as its digits (what Excel made of a typed ID)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return str(int(value))
    return None


def restore_id(value: object) -> str | None:
    """A typed correction ID as text; a number gets back the leading zero a spreadsheet dropped.

    CCCD numbers start with ``0`` (province codes 001–096), so 11 digits become 12; a 9-digit CMND
    that started with ``0`` comes back from 8 digits. Other lengths stay as they are (and fail
    validation with a reason).
    """
    digits = _digits_of_number(value)
    if digits is None:
        return canon_text(value)
    if len(digits) in (8, 11):
        return "0" + digits
    return digits


def date_text(value: object, epoch: dt.datetime | None = None) -> str | None:
    """A date cell as ``yyyy-mm-dd``: datetimes, dates and Excel serials; other text as typed."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 1 <= value < 2958466:
        converted = from_excel(value, epoch) if epoch is not None else from_excel(value)
        if isinstance(converted, dt.datetime):
            return converted.date().isoformat()
    return canon_text(value)


def split_nationality_passport(value: str | None) -> tuple[str | None, str | None]:
    """``Hàn Quốc / M12345678`` → (nationality, passport). One value alone is a passport number
    when it has digits and is 5–20 letters/digits, otherwise a nationality."""
    if not value:
        return None, None
    for sep in ("/", ";", ","):
        if sep in value:
            left, right = value.split(sep, 1)
            return canon_text(left), canon_text(right)
    if _PASSPORT.match(value):
        return None, value
    return value, None


def safe_code(code: str | None, width: int) -> str:
    """A code usable in a file name: letters and digits only, ``x`` repeated when unknown."""
    if not code or not code.strip("_"):
        return "x" * width
    return _SAFE.sub("_", code.strip())


def workbook_relpath(province: str | None, district: str | None, commune: str | None) -> str:
    """``workbooks/<p>/<p>-<d>-<c>.xlsx`` under ``--out``."""
    p, d, c = safe_code(province, 2), safe_code(district, 3), safe_code(commune, 5)
    return f"workbooks/{p}/{p}-{d}-{c}.xlsx"


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --- row keys -------------------------------------------------------------------------------------


def sign(secret: bytes, *parts: str) -> str:
    """HMAC-SHA256 over the parts (unit-separator joined, versioned), first 128 bits in hex."""
    message = "\x1f".join(("v1", *parts)).encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def secret_id(secret: bytes) -> str:
    """A short public fingerprint of the secret: part of the list id, so a new secret re-issues."""
    return sign(secret, "secret-id")[:8]


def make_row_key(secret: bytes, list_id: str, subject_id: str, subject_version: str) -> str:
    signature = sign(secret, "row", list_id, subject_id, subject_version)
    return f"{list_id}|{subject_id}|{subject_version}|{signature}"


@dataclass(frozen=True)
class RowKey:
    list_id: str
    subject_id: str
    subject_version: str


def parse_row_key(secret: bytes, text: str) -> RowKey | None:
    """The row key's values when its signature is right, else None."""
    parts = text.strip().split("|")
    if len(parts) < 4:
        return None
    list_id, version, signature = parts[0], parts[-2], parts[-1]
    subject_id = "|".join(parts[1:-2])
    expected = sign(secret, "row", list_id, subject_id, version)
    if not hmac.compare_digest(expected, signature.lower()):
        return None
    return RowKey(list_id, subject_id, version)


# --- writing a review workbook --------------------------------------------------------------------


@dataclass(frozen=True)
class ListInfo:
    """One commune's list: its id, the codes (and names, when known) and when it was issued."""

    list_id: str
    province_code: str | None
    district_code: str | None
    commune_code: str | None
    issued_at: dt.datetime
    names: tuple[str, str, str] | None = None


_THIN = Side(style="thin", color="BFBFBF")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_EDIT_FILL = PatternFill("solid", start_color="FFF2CC")
_HEAD_FILL = PatternFill("solid", start_color="D9E1F2")
_HEAD_EDIT_FILL = PatternFill("solid", start_color="FFD966")
_LOCKED = Protection(locked=True)
_UNLOCKED = Protection(locked=False)
_WRAP = Alignment(wrap_text=True, vertical="top")
_TOP = Alignment(vertical="top")


def _number_format(col: Col) -> str:
    if col.kind in ("id", "text", "gender", "key", "long"):
        return TEXT_FORMAT
    if col.kind == "date":
        return DATE_FORMAT
    if col.kind == "percent":
        return "0%"
    return "General"


class _StyledCell(Cell):
    """A cell whose style never changes after :meth:`freeze`: its style id is looked up once."""

    __slots__ = ("_sid",)

    def freeze(self) -> _StyledCell:
        self._sid = self.parent.parent._cell_styles.add(self._style)  # noqa: SLF001
        return self

    @property
    def style_id(self) -> int:
        return self._sid


class _Styles:
    """The styles of one workbook, each built once (openpyxl hashes every style object it is given).

    Per data column there is one cell object per style variant, reused for every row: openpyxl's
    write-only sheet serialises a row as soon as it is appended, so a cell can be refilled for the
    next row. This is what openpyxl does for unstyled values, and keeps styled rows as cheap as
    plain ones (no style lookups, no type sniffing per cell).
    """

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self._made: dict[tuple[Any, ...], Any] = {}
        self.cells: dict[tuple[str, str], Cell] = {}
        for col in COLUMNS:
            variants = [("", _number_format(col))]
            if col.kind == "date":
                variants += [("month", MONTH_FORMAT), ("text", TEXT_FORMAT)]
            for variant, fmt in variants:
                arr = self.style(fmt, wrap=col.kind == "long", editable=col.editable, small=col.kind == "key")
                self.cells[(col.key, variant)] = _StyledCell(ws, row=1, column=1, style_array=arr).freeze()
        self.head = self.style(TEXT_FORMAT, head=True)
        self.head_edit = self.style(TEXT_FORMAT, head=True, editable=True)
        self.text = self.style(TEXT_FORMAT, border=False)
        self.number = self.style("General", border=False)
        self.bold = self.style(TEXT_FORMAT, border=False, bold=True)
        self.wrap = self.style(TEXT_FORMAT, border=False, wrap=True)

    def style(
        self,
        fmt: str,
        *,
        wrap: bool = False,
        editable: bool = False,
        small: bool = False,
        head: bool = False,
        border: bool = True,
        bold: bool = False,
        size: int | None = None,
    ) -> Any:
        """The style array for this combination (built on first use)."""
        spec = (fmt, wrap, editable, small, head, border, bold, size)
        if spec not in self._made:
            cell = Cell(self.ws, row=1, column=1)
            cell.number_format = fmt
            if border:
                cell.border = _BORDER
            if head:
                cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
                cell.font = Font(bold=True)
                cell.fill = _HEAD_EDIT_FILL if editable else _HEAD_FILL
                cell.protection = _LOCKED
            else:
                cell.alignment = _WRAP if wrap else _TOP
                cell.protection = _UNLOCKED if editable else _LOCKED
                if editable:
                    cell.fill = _EDIT_FILL
            if small:
                cell.font = Font(color="808080", size=8)
            elif bold or size:
                cell.font = Font(bold=bold, size=size)
            self._made[spec] = cell._style  # noqa: SLF001
        return self._made[spec]

    def fill(self, key: str, value: object, variant: str = "") -> Cell:
        """The reusable cell of column ``key`` holding ``value`` (text is always text)."""
        return _set(self.cells[(key, variant)], value)

    def new(self, value: object, style: Any | None = None) -> Cell:
        """A one-off cell (headers, summary, meta), text or number style by default."""
        if style is None:
            style = self.text if isinstance(value, str) else self.number
        return _set(Cell(self.ws, row=1, column=1, style_array=style), value)


def _set(cell: Cell, value: object) -> Cell:
    # Bypasses openpyxl's type sniffing, which would turn a string starting with "=" into a formula.
    cell._value = value  # noqa: SLF001
    if isinstance(value, str):
        cell.data_type = "s"
    elif isinstance(value, (dt.date, dt.datetime)):
        cell.data_type = "d"
    else:
        cell.data_type = "n"
    return cell


def _cells_to_row(cells: Sequence[Cell | None], row_idx: int) -> Iterator[Cell]:
    """Replacement for ``WriteOnlyWorksheet._values_to_row``: rows are given as ready cells."""
    for col_idx, cell in enumerate(cells, start=1):
        if cell is None or cell._value is None:  # noqa: SLF001
            continue
        cell.row = row_idx
        cell.column = col_idx
        yield cell


#: Write rows as ready-made XML (see :func:`_fast_sheet`); tests switch it off to compare.
FAST_XML = True
_LETTERS = tuple(get_column_letter(i) for i in range(1, 128))


def _row_xml(cells: Sequence[Cell | None], row_idx: int, epoch: dt.datetime) -> str:
    """One ``<row>`` of SpreadsheetML, exactly as openpyxl's own cell writer would serialise it
    (inline strings, numbers, dates as serials, the cell's style id)."""
    r = str(row_idx)
    parts = [f'<row r="{r}">']
    for i, cell in enumerate(cells):
        if cell is None:
            continue
        value = cell._value  # noqa: SLF001
        if value is None:
            continue
        sid = cell.style_id
        head = f'<c r="{_LETTERS[i]}{r}" s="{sid}"' if sid else f'<c r="{_LETTERS[i]}{r}"'
        if value == "":
            parts.append(f'{head} t="inlineStr"/>')  # as openpyxl writes an empty string
        elif isinstance(value, str):
            stripped = value.strip()
            space = ' xml:space="preserve"' if stripped and stripped != value else ""
            parts.append(f'{head} t="inlineStr"><is><t{space}>{xml_escape(value)}</t></is></c>')
        elif isinstance(value, bool):
            parts.append(f'{head} t="b"><v>{int(value)}</v></c>')
        elif isinstance(value, (dt.date, dt.datetime)):
            parts.append(f'{head} t="n"><v>{safe_string(to_excel(value, epoch))}</v></c>')
        else:
            parts.append(f'{head} t="n"><v>{safe_string(value)}</v></c>')
    parts.append("</row>")
    return "".join(parts)


def _fast_sheet(wb: Workbook, title: str) -> Any:
    """A write-only sheet whose ``append`` takes prepared :class:`Cell` objects (or None).

    openpyxl (pinned at 3.1.5) serialises every cell through ElementTree, which is most of the cost
    of writing a sheet. Once the sheet's head (columns, panes) is written, its row writer is
    replaced by one that emits each row as a ready string into the same XML stream; where the
    stream does not offer that (another et_xmlfile), openpyxl's own writer is used. The tests
    check that both give the same workbook.
    """
    ws = wb.create_sheet(title)
    ws._values_to_row = lambda cells, row_idx: cells  # noqa: SLF001 - rows are lists of ready cells
    open_writer = ws._get_writer  # noqa: SLF001

    def get_writer() -> None:
        if ws._writer is not None:  # noqa: SLF001
            return
        open_writer()
        writer = ws._writer  # noqa: SLF001
        fallback = writer.write_row
        epoch = wb.epoch

        def write_row(xf: Any, cells: Sequence[Cell | None], row_idx: int) -> None:
            emit = getattr(xf, "_file", None) if FAST_XML else None
            if emit is None:
                fallback(xf, _cells_to_row(cells, row_idx), row_idx)
            else:
                emit(_row_xml(cells, row_idx, epoch))

        writer.write_row = write_row

    ws._get_writer = get_writer  # noqa: SLF001
    return ws


def _dob_value(date: dt.date | None, precision: str | None, raw: str | None) -> tuple[object, str]:
    """The value written for a birth date and its style variant: a real date at day or month
    precision, the year as text, or the text as typed when it could not be read."""
    if date is not None and precision == "DAY":
        return date, ""
    if date is not None and precision == "MONTH":
        return date, "month"
    if date is not None and precision == "YEAR":
        return str(date.year), "text"
    return canon_text(raw), "text"


def _issued(value: object) -> str | None:
    """The canonical text of a written value (what a returned cell is compared with)."""
    if isinstance(value, (dt.date, dt.datetime)):
        return date_text(value)
    return canon_text(value)


def review_values(row: Mapping[str, Any], *, secret: bytes) -> tuple[dict[str, object], dict[str, str]]:
    """The values written in one review row's read-only columns, and the date style variants."""
    dob, dob_variant = _dob_value(row["dob_date"], row["dob_precision"], row["dob_raw"])
    sug_dob, sug_variant = _dob_value(row["sug_dob_date"], row["sug_dob_precision"], None)
    values: dict[str, object] = {
        "row_number": row["row_number"],
        "subject_id": canon_text(row["subject_id"]),
        "full_name": canon_text(row["full_name"]),
        "date_of_birth": dob,
        "gender": canon_text(row["gender"]),
        "id_number": canon_text(row["id_number"]),
        "nationality": canon_text(row["nationality"]),
        "passport_number": canon_text(row["passport_number"]),
        "phone": canon_text(row["phone"]),
        "problem": row["problem"],
        "sug_id": canon_text(row["sug_id"]),
        "sug_name": canon_text(row["sug_name"]),
        "sug_dob": sug_dob,
        "sug_gender": GENDER_LABEL.get(row["sug_gender"] or "", row["sug_gender"]),
        "sug_basis": row["sug_basis"],
        "row_key": make_row_key(secret, row["list_id"], row["subject_id"], row["subject_version"]),
    }
    return values, {"date_of_birth": dob_variant, "sug_dob": sug_variant}


_READ_ONLY = tuple(c.key for c in COLUMNS if not c.editable)
_POSITION = {c.key: i for i, c in enumerate(COLUMNS)}
# Read-only values that need canonicalising before they go to the manifest (the rest already are).
_RECANON = ("date_of_birth", "sug_dob", "problem", "sug_basis", "sug_gender")
_AS_IS = tuple(k for k in CHECKED_KEYS if k not in _RECANON)


def review_cells(
    row: Mapping[str, Any], styles: _Styles, *, secret: bytes
) -> tuple[list[Cell | None], dict[str, str | None]]:
    """The cells of one review row and the canonical values issued in its read-only columns.

    Correction cells are not written: empty, they take the column's style (unlocked, text or date
    format, yellow), so a row costs what a plain row costs.
    """
    values, variants = review_values(row, secret=secret)
    cells: list[Cell | None] = [None] * len(COLUMNS)
    for key in _READ_ONLY:
        cells[_POSITION[key]] = styles.fill(key, values[key], variants.get(key, ""))
    issued = {key: values[key] for key in _AS_IS}
    for key in _RECANON:
        issued[key] = _issued(values[key])
    return cells, issued


def _atomic_save(wb: Workbook, path: Path) -> str:
    """Save next to the target under a temporary name, then rename over it; return its sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        wb.save(tmp)
        digest = sha256_file(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return digest


def _setup_data_sheet(ws: Any, styles: _Styles) -> None:
    for i, col in enumerate(COLUMNS, start=1):
        dim = ws.column_dimensions[get_column_letter(i)]
        dim.width = col.width
        if col.editable:
            # Cells not written (empty corrections, rows typed below) take the column's style:
            # unlocked, yellow, text (IDs keep their zeros) or date format.
            dim._style = copy(styles.style(_number_format(col), editable=True))  # noqa: SLF001
    ws.freeze_panes = "D2"  # header row, and STT / Mã đối tượng / Họ và tên stay in view
    ws.protection.sheet = True
    # Filtering, sorting and resizing stay allowed on the protected sheet.
    ws.protection.autoFilter = False
    ws.protection.sort = False
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    ws.append([styles.new(col.header, styles.head_edit if col.editable else styles.head) for col in COLUMNS])


def _finish_data_sheet(ws: Any, n_rows: int) -> None:
    last = get_column_letter(len(COLUMNS))
    ws.auto_filter.ref = f"A1:{last}{n_rows + 1}"
    gender = get_column_letter(next(i for i, c in enumerate(COLUMNS, 1) if c.key == "fix_gender"))
    dv = DataValidation(
        type="list",
        formula1='"Nam,Nữ"',
        allow_blank=True,
        showErrorMessage=True,
        showInputMessage=True,
        errorTitle="Giới tính",
        error="Chọn Nam hoặc Nữ",
        promptTitle="Giới tính đúng",
        prompt="Chọn Nam hoặc Nữ",
    )
    dv.add(f"{gender}2:{gender}{max(n_rows, 1) + 1}")
    ws.data_validations.append(dv)
    dob = get_column_letter(next(i for i, c in enumerate(COLUMNS, 1) if c.key == "fix_date_of_birth"))
    hint = DataValidation(
        type="date",
        operator="greaterThan",
        formula1="1",
        allow_blank=True,
        showErrorMessage=False,
        showInputMessage=True,
        promptTitle="Ngày sinh đúng",
        prompt="Nhập ngày/tháng/năm, ví dụ 05/03/1985",
    )
    hint.add(f"{dob}2:{dob}{max(n_rows, 1) + 1}")
    ws.data_validations.append(hint)


def _write_meta(wb: Workbook, info: ListInfo, *, secret: bytes) -> None:
    """The list's id and commune as signed custom document properties (Excel and LibreOffice keep
    them: File > Properties > Custom), so a renamed file still says whose list it is."""
    codes = (info.list_id, info.province_code or "", info.district_code or "", info.commune_code or "")
    values = dict(zip(META_KEYS, codes, strict=True))
    values.update(
        issued_at=info.issued_at.isoformat(timespec="seconds"),
        layout_version=LAYOUT_VERSION,
        signature=sign(secret, "list", *codes),
    )
    for key, value in values.items():
        wb.custom_doc_props.append(StringProperty(name=META_PREFIX + key, value=value))


PROBLEM_LABELS = {
    "ID_MISSING": "Không có số CCCD/CMND",
    "ID_MALFORMED": "Sai định dạng số CCCD/CMND",
    "ID_NOT_FOUND": "Số CCCD/CMND không có trong CSDL quốc gia về dân cư",
    "NAME_MISMATCH": "Sai họ tên",
    "DOB_MISMATCH": "Sai ngày tháng năm sinh",
    "GENDER_MISMATCH": "Sai giới tính",
    "ID_SHARED": "Dùng số CCCD/CMND của người khác",
    "SUBJECT_DUPLICATE": "Một người có nhiều mã đối tượng",
    "FOREIGN_NO_PASSPORT": "Người nước ngoài chưa có số hộ chiếu",
}

INSTRUCTIONS = (
    "1. Tổ công tác Đề án 06 thôn/ấp rà soát từng dòng ở trang «Danh sách»: đọc cột «Vấn đề cần xử lý» "
    "và «Gợi ý».",
    "2. Chỉ điền vào các cột màu vàng (CCCD/CMND đúng, Họ tên đúng, Ngày sinh đúng, Giới tính đúng, "
    "Quốc tịch / Số hộ chiếu, Người xác minh, Ghi chú). Thông tin đã đúng thì để trống.",
    "3. Công an xã/phường đối chiếu với Cơ sở dữ liệu quốc gia về dân cư, ghi tên người xác minh "
    "vào cột «Người xác minh» rồi ký và bàn giao danh sách cho Trạm Y tế.",
    "4. Không sửa, không xoá các cột khác và cột «Khoá dòng»; được phép lọc, sắp xếp cả dòng. "
    "Số CCCD/CMND ghi đủ 12 (hoặc 9) chữ số, ngày sinh dạng ngày/tháng/năm, người nước ngoài ghi "
    "«quốc tịch / số hộ chiếu».",
    "5. Trả lại nguyên tệp này (định dạng .xlsx) để cập nhật; kết quả xem ở «danh sách xác minh».",
)


def _write_summary(
    wb: Workbook, info: ListInfo, styles: _Styles, counts: Mapping[str, int], n_rows: int
) -> None:
    """The summary sheet: whose list, how many subjects per problem, how to fill it in, signatures."""
    ws = _fast_sheet(wb, SUMMARY_SHEET)
    ws.column_dimensions["A"].width = 46
    ws.column_dimensions["B"].width = 90
    names = info.names or ("", "", "")
    lines: list[tuple[str, object, Any]] = [
        (
            "DANH SÁCH ĐỐI TƯỢNG TIÊM CHỦNG COVID-19 SAI THÔNG TIN",
            "làm sạch dữ liệu theo Đề án 06",
            styles.bold,
        ),
        ("Tỉnh/Thành phố", f"{info.province_code or ''} {names[0]}".strip(), None),
        ("Quận/Huyện", f"{info.district_code or ''} {names[1]}".strip(), None),
        ("Xã/Phường/Thị trấn", f"{info.commune_code or ''} {names[2]}".strip(), None),
        ("Mã danh sách", info.list_id, None),
        ("Ngày lập", info.issued_at.strftime("%d/%m/%Y %H:%M"), None),
        ("Số đối tượng cần rà soát", n_rows, styles.bold),
    ]
    lines += [
        (f"{label} ({code})", counts[code], None)
        for code, label in PROBLEM_LABELS.items()
        if counts.get(code)
    ]
    lines += [
        ("Hướng dẫn", "\n".join(INSTRUCTIONS), styles.wrap),
        (
            "Người lập danh sách (Trạm Y tế), ký, ghi rõ họ tên",
            "Công an xã/phường xác nhận, ký, ghi rõ họ tên",
            styles.bold,
        ),
    ]
    for label, value, style in lines:
        ws.append([styles.new(label, styles.bold if style is not None else None), styles.new(value, style)])
    ws.protection.sheet = True


def write_review_workbook(
    path: str | os.PathLike[str], info: ListInfo, rows: Iterable[Mapping[str, Any]], *, secret: bytes
) -> tuple[str, list[tuple[Mapping[str, Any], dict[str, str | None]]]]:
    """Write one commune's review workbook atomically; return its sha256 and, per row, the row and
    the canonical values issued in its read-only columns (for the issue manifest).

    ``rows`` carry :data:`REVIEW_FIELDS` and come in ``row_number`` order.
    """
    wb = Workbook(write_only=True)
    ws = _fast_sheet(wb, DATA_SHEET)
    styles = _Styles(ws)
    _setup_data_sheet(ws, styles)
    issued: list[tuple[Mapping[str, Any], dict[str, str | None]]] = []
    counts: dict[str, int] = {}
    for row in rows:
        cells, values = review_cells(row, styles, secret=secret)
        ws.append(cells)
        issued.append((row, values))
        for code in row["error_codes"] or ():
            counts[code] = counts.get(code, 0) + 1
    _finish_data_sheet(ws, len(issued))
    _write_summary(wb, info, styles, counts, len(issued))
    _write_meta(wb, info, secret=secret)
    wb.properties.title = f"Danh sách rà soát {info.list_id}"
    wb.properties.creator = "vaxclean"
    wb.properties.created = info.issued_at
    digest = _atomic_save(wb, Path(path))
    return digest, issued


def _with_first(items: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """The first item, and an iterator over all items (the first included)."""
    it = iter(items)
    first = next(it)
    return first, itertools.chain([first], it)


@dataclass(frozen=True)
class KnownList:
    """A list already in ``review_lists``: where its file is and what it looked like."""

    file: str
    file_sha256: str
    issued_at: dt.datetime


def write_review_partition(
    rows: Iterable[Sequence[Any]],
    *,
    out_dir: str,
    secret: bytes,
    issued_at: dt.datetime,
    known: Mapping[str, KnownList],
    names: Mapping[str, tuple[str, str, str]],
) -> Iterator[tuple[Any, ...]]:
    """Spark ``mapPartitions`` body: rows (:data:`REVIEW_FIELDS` order) sorted by list id and row
    number → one workbook per list, yielding :data:`WRITTEN_FIELDS` tuples.

    A list already issued whose file is still there, unchanged, is not rewritten (status
    ``unchanged``, no row tuples: its rows are in the manifest already).
    """
    dicts = (dict(zip(REVIEW_FIELDS, r, strict=True)) for r in rows)
    for list_id, group in itertools.groupby(dicts, key=lambda r: r["list_id"]):
        first, members = _with_first(group)
        relpath = workbook_relpath(first["province_code"], first["district_code"], first["commune_code"])
        target = Path(out_dir) / relpath
        seen = known.get(list_id)
        codes = (first["province_code"], first["district_code"], first["commune_code"])
        if seen is not None and target.exists() and sha256_file(target) == seen.file_sha256:
            n = sum(1 for _ in members)
            yield (
                "file",
                list_id,
                *codes,
                relpath,
                seen.file_sha256,
                "unchanged",
                n,
                seen.issued_at,
                *([None] * 5),
            )
            continue
        when = seen.issued_at if seen is not None else issued_at
        info = ListInfo(list_id, *codes, issued_at=when, names=names.get(first["commune_code"] or ""))
        digest, issued = write_review_workbook(target, info, members, secret=secret)
        for row, values in issued:
            yield (
                "row", list_id, *codes, relpath, digest, "written", None, when, row["subject_id"],
                row["subject_version"], row["row_number"], list(row["error_codes"] or ()), values,
            )  # fmt: skip
        yield ("file", list_id, *codes, relpath, digest, "written", len(issued), when, *([None] * 5))


# --- reading a returned workbook ------------------------------------------------------------------


def _header_key(value: object) -> str:
    text = canon_text(value) or ""
    return text.casefold()


_BY_HEADER = {_header_key(c.header): c for c in COLUMNS}


def _find_header(rows: list[tuple[Any, ...]]) -> tuple[int, dict[str, int]] | None:
    """The header row among the first rows of a sheet: (index, column key → position)."""
    for i, row in enumerate(rows):
        found: dict[str, int] = {}
        for j, cell in enumerate(row):
            col = _BY_HEADER.get(_header_key(getattr(cell, "value", None)))
            if col is not None and col.key not in found:
                found[col.key] = j
        if "row_key" in found and "subject_id" in found:
            return i, found
    return None


def _read_meta(wb: Any, secret: bytes) -> tuple[dict[str, str] | None, str | None]:
    """The signed list description in the custom document properties: (values, problem)."""
    values = {
        p.name.removeprefix(META_PREFIX): "" if p.value is None else str(p.value)
        for p in wb.custom_doc_props
        if p.name.startswith(META_PREFIX)
    }
    if not values:
        return None, None
    codes = [values.get(k, "") for k in META_KEYS]
    if not hmac.compare_digest(sign(secret, "list", *codes), values.get("signature", "")):
        return None, BAD_LIST_SIGNATURE
    return values, None


def _file_row(source_file: str, sha: str, saved_at: dt.datetime | None, code: str, detail: str) -> tuple:
    return ("file", source_file, sha, None, None, None, None, None, None, saved_at, None, None, None,
            None, None, None, None, [(code, None)], detail)  # fmt: skip


def _cell_text(cell: Any, col: Col, epoch: dt.datetime | None) -> str | None:
    value = getattr(cell, "value", None)
    if value is None:
        return None
    if col.kind == "date":
        return date_text(value, epoch)
    if col.kind == "id":
        digits = _digits_of_number(value)
        return digits if digits is not None else canon_text(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return date_text(value)
    return canon_text(value)


def _is_formula(cell: Any) -> bool:
    return getattr(cell, "data_type", None) == "f"


_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: A returned list is a few MB of XML; more than this unpacked is a zip bomb, not a list.
MAX_UNZIPPED = 256 << 20
#: A part this large that compresses better than this ratio is padding, not cells.
MAX_RATIO, RATIO_FROM = 100, 16 << 20


def container_problem(name: str, content: bytes) -> str | None:
    """Why the bytes cannot be a returned .xlsx list, before openpyxl parses anything; None if fine.

    Sizes come from the zip directory; Python's zipfile never inflates a part beyond its declared
    size, so checking the declared sizes bounds what reading the workbook can unpack.
    """
    if not content:
        return f"{name}: tệp rỗng (0 byte)"
    if content.startswith(_CFB_MAGIC):
        if "EncryptedPackage".encode("utf-16-le") in content:
            return f"{name}: tệp được đặt mật khẩu (mã hoá): bỏ mật khẩu rồi lưu lại dạng .xlsx"
        return f"{name}: tệp Excel 97-2003 (.xls) hoặc tệp Office cũ: lưu lại dạng Sổ làm việc Excel (.xlsx)"
    if not content.startswith(b"PK"):
        return f"{name}: không phải tệp Excel .xlsx (tệp văn bản/CSV đổi tên?): lưu lại dạng .xlsx"
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as z:
            parts = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return f"{name}: không phải tệp Excel .xlsx đọc được (tệp nén hỏng hoặc bị cắt)"
    unzipped = sum(p.file_size for p in parts)
    bomb = [
        p for p in parts if p.file_size > RATIO_FROM and p.file_size > MAX_RATIO * max(p.compress_size, 1)
    ]
    if unzipped > MAX_UNZIPPED or bomb:
        return (
            f"{name}: tệp giải nén ra {unzipped / (1 << 20):,.0f} MB, bất thường với một danh sách: không đọc"
        )
    if any(p.filename.lower().endswith("vbaproject.bin") for p in parts):
        return f"{name}: tệp có macro (.xlsm): lưu lại dạng Sổ làm việc Excel (.xlsx) không có macro"
    return None


def read_returned_workbook(
    source_file: str,
    content: bytes,
    *,
    secret: bytes,
    file_sha256: str,
    modified: dt.datetime | None = None,
) -> Iterator[tuple[Any, ...]]:
    """Read a returned review workbook into :data:`RETURNED_FIELDS` tuples.

    Every sheet whose header row (within its first 20 rows) has the row-key and subject-id columns
    is read; other sheets are ignored. Blank rows are skipped; every other row comes back, with the
    problems found here (no row key, bad signature, a formula in a correction cell). A file that is
    not an .xlsx workbook, has no such sheet, or cannot be tied to a list comes back as one ``file``
    tuple naming the problem.
    """
    name = os.path.basename(source_file)
    problem = container_problem(name, content)
    if problem is not None:
        yield _file_row(source_file, file_sha256, modified, NOT_A_WORKBOOK, problem)
        return
    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError) as exc:
        detail = f"{name}: không phải tệp Excel .xlsx đọc được ({type(exc).__name__})"
        yield _file_row(source_file, file_sha256, modified, NOT_A_WORKBOOK, detail)
        return
    try:
        saved_at = wb.properties.modified or modified
        meta, meta_problem = _read_meta(wb, secret)
        if meta_problem:
            detail = f"{name}: thông tin danh sách (thuộc tính tệp) đã bị sửa"
            yield _file_row(source_file, file_sha256, saved_at, meta_problem, detail)
            return
        if meta is not None:
            file_codes = tuple(meta.get(k) or None for k in META_KEYS)
        else:
            m = _FILE_NAME.search(name)
            if m is None:
                detail = (
                    f"{name}: không xác định được danh sách của xã/phường nào "
                    "(mất thuộc tính tệp và tên tệp đã bị đổi)"
                )
                yield _file_row(source_file, file_sha256, saved_at, UNKNOWN_LIST, detail)
                return
            file_codes = (None, m["p"], m["d"], m["c"])
        epoch = wb.epoch
        sheets_read = 0
        missing_best: list[str] | None = None
        out: list[tuple[Any, ...]] = []
        for ws in wb.worksheets:
            ws.reset_dimensions()
            rows = ws.iter_rows()
            head_rows = list(itertools.islice(rows, 20))
            found = _find_header(head_rows)
            if found is None:
                continue
            header_at, positions = found
            missing = [HEADERS[k] for k in REQUIRED_KEYS if k not in positions]
            if missing:
                if missing_best is None or len(missing) < len(missing_best):
                    missing_best = missing
                continue
            sheets_read += 1
            body = itertools.chain(head_rows[header_at + 1 :], rows)
            for offset, row in enumerate(body):
                excel_row = header_at + 2 + offset
                parsed = _parse_row(row, positions, epoch, secret)
                if parsed is None:
                    continue
                key, found_values, fixes, verified_by, note, problems = parsed
                out.append(
                    (
                        "row",
                        source_file,
                        file_sha256,
                        ws.title,
                        excel_row,
                        *file_codes,
                        saved_at,
                        key.list_id if key else None,
                        key.subject_id if key else None,
                        key.subject_version if key else None,
                        found_values,
                        fixes,
                        verified_by,
                        note,
                        problems,
                        None,
                    )  # fmt: skip
                )
        if sheets_read == 0:
            if missing_best:
                detail = f"{name}: dòng tiêu đề thiếu cột {', '.join(missing_best)}"
            else:
                detail = f"{name}: không tìm thấy dòng tiêu đề của danh sách rà soát"
            yield _file_row(source_file, file_sha256, saved_at, NO_HEADER, detail)
            return
        yield from out
    finally:
        wb.close()


def _parse_row(
    row: tuple[Any, ...], positions: Mapping[str, int], epoch: dt.datetime | None, secret: bytes
) -> tuple[RowKey | None, dict, dict, str | None, str | None, list[tuple[str, str | None]]] | None:
    """One returned row: (key, read-only values found, corrections, verifier, note, problems);
    None for a blank row."""

    def cell(key: str) -> Any:
        j = positions.get(key)
        return row[j] if j is not None and j < len(row) else None

    if all(getattr(c, "value", None) in (None, "") for c in row):
        return None
    problems: list[tuple[str, str | None]] = []
    raw_key = canon_text(getattr(cell("row_key"), "value", None))
    key = None
    if raw_key is None:
        problems.append((NO_ROW_KEY, HEADERS["row_key"]))
    else:
        key = parse_row_key(secret, raw_key)
        if key is None:
            problems.append((BAD_SIGNATURE, HEADERS["row_key"]))
    by_key = {c.key: c for c in COLUMNS}
    found = {k: _cell_text(cell(k), by_key[k], epoch) for k in CHECKED_KEYS if k in positions}
    fixes: dict[str, str | None] = {}
    for k in FIX_KEYS:
        c = cell(k)
        if _is_formula(c):
            problems.append((FORMULA, HEADERS[k]))
            continue
        value = getattr(c, "value", None)
        if k == "fix_id_number":
            fixes["id_number"] = restore_id(value)
        elif k == "fix_date_of_birth":
            fixes["date_of_birth"] = date_text(value, epoch)
        elif k == "fix_full_name":
            fixes["full_name"] = canon_text(value)
        elif k == "fix_gender":
            fixes["gender"] = canon_text(value)
        else:
            fixes["nationality"], fixes["passport_number"] = split_nationality_passport(canon_text(value))
    fixes = {k: v for k, v in fixes.items() if v is not None}
    verified_by = canon_text(getattr(cell("verified_by"), "value", None))
    note = canon_text(getattr(cell("note"), "value", None))
    return key, found, fixes, verified_by, note, problems


def read_returned_partition(files: Iterable[Sequence[Any]], *, secret: bytes) -> Iterator[tuple[Any, ...]]:
    """Spark ``mapPartitions`` body over ``(path, sha256, modificationTime, content)`` rows."""
    for path, sha, modified, content in files:
        yield from read_returned_workbook(
            path, bytes(content), secret=secret, file_sha256=sha, modified=modified
        )


# --- verification lists (danh sách xác minh) ---------------------------------------------------------

VERIFY_COLUMNS: tuple[Col, ...] = (
    Col("row_number", "STT", 6, "int"),
    Col("subject_id", "Mã đối tượng", 16, "id"),
    Col("full_name", "Họ và tên", 26, "text"),
    Col("date_of_birth", "Ngày sinh", 12, "date"),
    Col("id_number", "Số CCCD/CMND", 16, "id"),
    Col("status_before", "Trạng thái khi lập danh sách", 18, "text"),
    Col("problem_before", "Vấn đề khi lập danh sách", 40, "long"),
    Col("status_after", "Trạng thái hiện nay", 18, "text"),
    Col("problem_after", "Vấn đề còn lại", 40, "long"),
    Col("fields_corrected", "Thông tin đã cập nhật", 30, "long"),
    Col("verified_by", "Người xác minh", 22, "text"),
    Col("rejected", "Dòng bị từ chối (lý do)", 50, "long"),
)
VERIFY_FIELDS = (
    "province_code", "district_code", "commune_code", "row_number", "subject_id", "full_name",
    "dob_date", "dob_precision", "dob_raw", "id_number", "status_before", "problem_before",
    "status_after", "problem_after", "fields_corrected", "verified_by", "rejected",
)  # fmt: skip
PLATFORM_HEADERS = (
    "Mã đối tượng", "Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD/CMND", "Quốc tịch", "Số hộ chiếu",
    "Thông tin đã cập nhật", "Người xác minh",
)  # fmt: skip
PLATFORM_FIELDS = (
    "subject_id", "full_name", "dob_text", "gender", "id_number", "nationality", "passport_number",
    "fields_corrected", "verified_by",
)  # fmt: skip


def verification_relpath(province: str | None, district: str | None, commune: str | None) -> str:
    p, d, c = safe_code(province, 2), safe_code(district, 3), safe_code(commune, 5)
    return f"verification/{p}/{p}-{d}-{c}-xac-minh.xlsx"


def platform_relpath(province: str | None, district: str | None, commune: str | None) -> str:
    p, d, c = safe_code(province, 2), safe_code(district, 3), safe_code(commune, 5)
    return f"platform-updates/{p}/{p}-{d}-{c}.csv"


def write_verification_workbook(
    path: str | os.PathLike[str],
    codes: tuple[str | None, str | None, str | None],
    rows: Iterable[Mapping[str, Any]],
    *,
    names: tuple[str, str, str] | None,
    made_at: dt.datetime,
) -> int:
    """The commune's verification list: every subject it was asked to review, status before/after."""
    wb = Workbook(write_only=True)
    ws = _fast_sheet(wb, VERIFY_SHEET)
    for i, col in enumerate(VERIFY_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = col.width
    ws.freeze_panes = "D2"
    styles = _Styles(ws)
    ws.append([styles.new(col.header, styles.head) for col in VERIFY_COLUMNS])
    templates: dict[tuple[str, str], Cell] = {}
    for col in VERIFY_COLUMNS:
        for variant, fmt in (("", _number_format(col)), ("month", MONTH_FORMAT), ("text", TEXT_FORMAT)):
            arr = styles.style(fmt, wrap=col.kind == "long")
            templates[(col.key, variant)] = _StyledCell(ws, row=1, column=1, style_array=arr).freeze()
    n = 0
    for row in rows:
        n += 1
        dob, dob_variant = _dob_value(row["dob_date"], row["dob_precision"], row["dob_raw"])
        cells = []
        for col in VERIFY_COLUMNS:
            if col.key == "date_of_birth":
                cells.append(_set(templates[(col.key, dob_variant)], dob))
            elif col.key == "row_number":
                cells.append(_set(templates[(col.key, "")], n))
            else:
                cells.append(_set(templates[(col.key, "")], row.get(col.key)))
        ws.append(cells)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(VERIFY_COLUMNS))}{n + 1}"
    info = _fast_sheet(wb, SUMMARY_SHEET)
    info.column_dimensions["A"].width = 40
    info.column_dimensions["B"].width = 50
    names = names or ("", "", "")
    for label, value in (
        ("DANH SÁCH XÁC MINH THÔNG TIN ĐỐI TƯỢNG TIÊM CHỦNG COVID-19", None),
        ("Tỉnh/Thành phố", f"{codes[0] or ''} {names[0]}".strip()),
        ("Quận/Huyện", f"{codes[1] or ''} {names[1]}".strip()),
        ("Xã/Phường/Thị trấn", f"{codes[2] or ''} {names[2]}".strip()),
        ("Ngày lập", made_at.strftime("%d/%m/%Y %H:%M")),
        ("Số đối tượng", n),
    ):
        info.append([styles.new(label, styles.bold), styles.new(value)])
    wb.properties.creator = "vaxclean"
    _atomic_save(wb, Path(path))
    return n


def _dob_text(date: dt.date | None, precision: str | None, raw: str | None) -> str:
    if date is None:
        return canon_text(raw) or ""
    if precision == "YEAR":
        return f"{date.year:04d}"
    if precision == "MONTH":
        return f"{date.month:02d}/{date.year:04d}"
    return f"{date.day:02d}/{date.month:02d}/{date.year:04d}"


def write_platform_csv(path: str | os.PathLike[str], rows: Iterable[Mapping[str, Any]]) -> int:
    """The health station's import file: UTF-8 with BOM (Excel opens it as UTF-8), one subject a row."""
    import csv

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    n = 0
    try:
        with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(PLATFORM_HEADERS)
            for row in rows:
                values = [row.get(f) for f in PLATFORM_FIELDS]
                writer.writerow([_csv_safe(v) for v in values])
                n += 1
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return n


def _csv_safe(value: object) -> str:
    """CSV cells opened in a spreadsheet: a leading = + - @ would be a formula; prefix a quote."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def write_verification_partition(
    rows: Iterable[Sequence[Any]],
    *,
    out_dir: str,
    made_at: dt.datetime,
    names: Mapping[str, tuple[str, str, str]],
) -> Iterator[tuple[str, int]]:
    """Spark ``mapPartitions`` body: verification rows (:data:`VERIFY_FIELDS` plus the platform
    fields and a ``corrected`` flag) sorted by commune and row number → one verification workbook
    and one platform-update CSV per commune; yields (file, rows)."""
    fields = (*VERIFY_FIELDS, "gender", "nationality", "passport_number", "corrected")
    dicts = (dict(zip(fields, r, strict=True)) for r in rows)
    for codes, group in itertools.groupby(
        dicts, key=lambda r: (r["province_code"], r["district_code"], r["commune_code"])
    ):
        members = list(group)
        rel = verification_relpath(*codes)
        n = write_verification_workbook(
            Path(out_dir) / rel, codes, members, names=names.get(codes[2] or ""), made_at=made_at
        )
        yield rel, n
        updates = [
            {**r, "dob_text": _dob_text(r["dob_date"], r["dob_precision"], r["dob_raw"])}
            for r in members
            if r["corrected"]
        ]
        rel_csv = platform_relpath(*codes)
        yield rel_csv, write_platform_csv(Path(out_dir) / rel_csv, updates)
