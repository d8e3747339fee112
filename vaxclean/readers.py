"""Reading the outside world's files: the ledger export, the register snapshot, facility reports.

Every value arrives as text. Headers are mapped to the contract's names through the column map in
config; a file is checked at the boundary (readable, header known, required columns present)
before Spark reads it, and the check names the file and the column. Rows whose field count does
not match the header are not dropped: they come back separately with a reason, to be kept in a
rejects table.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vaxclean.config import InputSpec
from vaxclean.errors import InputError, InputErrors

log = logging.getLogger(__name__)

CORRUPT = "_corrupt_record"
REJECTS = T.StructType(
    [
        T.StructField("source_file", T.StringType(), False),
        T.StructField("source_row", T.LongType(), False),
        T.StructField("reason", T.StringType(), False),
        T.StructField("raw_line", T.StringType(), True),
        T.StructField("ingest_run_id", T.StringType(), False),
    ]
)


@dataclass(frozen=True)
class InputBatch:
    """What was read: clean rows (contract columns as text + lineage), rejected rows, a fingerprint."""

    rows: DataFrame
    rejects: DataFrame
    files: tuple[str, ...]
    run_id: str


def _header_key(name: str) -> str:
    return unicodedata.normalize("NFC", name.replace("\ufeff", "")).strip().lower()


def list_input_files(path: str) -> list[Path]:
    """A file, or every CSV/Parquet file below a folder (hidden files and Spark markers skipped)."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(
            f
            for f in p.rglob("*")
            if f.is_file()
            and not any(part.startswith((".", "_")) for part in f.relative_to(p).parts)
            and f.suffix.lower() in {".csv", ".parquet", ".txt"}
        )
        if not files:
            raise InputError("the folder holds no .csv or .parquet file", path=str(p))
        return files
    raise InputError("no such file or folder", path=str(p))


def fingerprint(files: list[Path]) -> str:
    """A run id that is the same for the same input files (name, size and content hash)."""
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode())
        h = hashlib.sha256()
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        digest.update(h.digest())
    return digest.hexdigest()[:16]


def map_header(header: list[str], spec: InputSpec, *, path: str) -> list[str]:
    """Contract names for a file's header, in the file's order; raise on unknown or missing names."""
    lookup = {_header_key(alias): col for col, aliases in spec.column_map.items() for alias in aliases}
    unknown = sum(1 for name in header if _header_key(name) and _header_key(name) not in lookup)
    if unknown * 2 > len(header):
        # Most likely a data row (the header row is missing): never echo its cells, they are a person.
        raise InputError(
            f"the first row is not a header ({unknown} of {len(header)} cells are no known column name): "
            "is the header row missing?",
            path=path,
            row=1,
        )
    mapped: list[str] = []
    for name in header:
        key = _header_key(name)
        if not key:
            raise InputError("a header cell is empty", path=path, column=f"#{len(mapped) + 1}")
        col = lookup.get(key)
        if col is None:
            raise InputError(
                "unknown header: add it to the column map in conf/ if it is a new name for a known column",
                path=path,
                column=name.strip(),
            )
        if col in mapped:
            raise InputError(f"two headers map to {col!r}", path=path, column=name.strip())
        mapped.append(col)
    for col in spec.required:
        if col not in mapped:
            raise InputError("required column is missing", path=path, column=col)
    return mapped


_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE compound file: .xls, encrypted .xlsx


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 without a BOM: text where every other byte is zero."""
    sample = head[:512]
    return len(sample) >= 8 and (
        sample[1::2].count(0) > len(sample) // 4 or sample[0::2].count(0) > len(sample) // 4
    )


def _csv_header(path: Path) -> list[str]:
    try:
        with path.open("rb") as fh:
            head = fh.read(1 << 16)
    except OSError as exc:
        raise InputError(f"cannot open it ({exc.strerror})", path=str(path)) from None
    if not head.strip():
        raise InputError("the file is empty", path=str(path))
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_utf16(head):
        raise InputError("the file is UTF-16; export it as UTF-8 CSV", path=str(path))
    if head.startswith(b"PK\x03\x04"):
        raise InputError(
            "the file is a zip or Excel .xlsx workbook, not CSV: save it as CSV UTF-8", path=str(path)
        )
    if head.startswith(_CFB_MAGIC):
        raise InputError(
            "the file is an Excel .xls (or other Office) file, not CSV: save it as CSV UTF-8", path=str(path)
        )
    if b"\x00" in head:
        raise InputError("the file is binary, not a CSV text file", path=str(path))
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # A cut multi-byte character at the end of the sample is fine; anything earlier is not.
        if exc.start < len(head) - 4:
            raise InputError(
                f"not UTF-8 text (byte {exc.start}); export it as UTF-8 CSV", path=str(path), row=1
            ) from None
        text = head[: exc.start].decode("utf-8-sig")
    first = next(csv.reader(io.StringIO(text)), None)
    if not first:
        raise InputError("no header row", path=str(path), row=1)
    if len(first) == 1 and (";" in first[0] or "\t" in first[0]):
        raise InputError("the file is not comma separated (found ';' or a tab)", path=str(path), row=1)
    return first


def _with_row_numbers(df: DataFrame, *, first_row: int) -> DataFrame:
    """Add ``source_row``: the record's position in its file (row 1 = header for CSV).

    Row numbers come from the partition index and the position inside the partition, computed in
    the JVM: one small count job, no Python round trip per row.
    """
    df = df.withColumn("_pid", F.spark_partition_id()).withColumn("_mid", F.monotonically_increasing_id())
    counts = sorted((r["_pid"], r["count"]) for r in df.groupBy("_pid").count().collect())
    offsets: list[object] = []
    running = 0
    for pid, n in counts:
        offsets += [F.lit(pid), F.lit(running)]
        running += n
    offset = F.create_map(*offsets)[F.col("_pid")] if offsets else F.lit(0)
    row = F.col("_mid") - F.shiftleft(F.col("_pid").cast("long"), 33) + offset + F.lit(first_row)
    return df.withColumn("source_row", row.cast("long")).drop("_pid", "_mid")


def _read_csv(spark: SparkSession, path: Path, spec: InputSpec) -> tuple[DataFrame, list[str]]:
    header = _csv_header(path)
    mapped = map_header(header, spec, path=str(path))
    schema = T.StructType([T.StructField(c, T.StringType(), True) for c in mapped])
    df = (
        spark.read.option("header", True)
        .option("encoding", "UTF-8")
        .option("multiLine", True)
        .option("escape", '"')
        .option("mode", "PERMISSIVE")
        .option("ignoreLeadingWhiteSpace", False)
        .option("ignoreTrailingWhiteSpace", False)
        .option("emptyValue", "")
        .schema(schema)
        .csv(str(path))
    )
    df = _with_row_numbers(df, first_row=2)
    bad = ragged_records(path, len(mapped))
    if bad:
        lookup = F.create_map(*[x for row, n in sorted(bad.items()) for x in (F.lit(row), F.lit(n))])
        n_fields = lookup[F.col("source_row")]
        raw = F.to_json(F.struct(*[F.col(f"`{c}`") for c in mapped]))
        df = df.withColumn(
            CORRUPT, F.when(n_fields.isNotNull(), F.format_string("%d fields: %s", n_fields, raw))
        )
    else:
        df = df.withColumn(CORRUPT, F.lit(None).cast("string"))
    return df, mapped


MAX_RAGGED = 100_000


def ragged_records(path: Path, n_fields: int) -> dict[int, int]:
    """Record numbers (header = 1) whose field count differs from the header's, with their count.

    Spark's CSV reader pads short rows with nulls and drops surplus fields without saying so, so the
    count is checked here, streaming, with the same RFC 4180 rules (quoted fields may hold commas and
    newlines). A file where more than ``MAX_RAGGED`` records are ragged is refused as a whole.
    """
    bad: dict[int, int] = {}
    record = 1
    with path.open(encoding="utf-8-sig", newline="", errors="strict") as fh:
        reader = csv.reader(fh)
        try:
            next(reader, None)
            for row in reader:
                if not row:  # blank lines are skipped by Spark too, and do not count as records
                    continue
                record += 1
                if len(row) != n_fields:
                    bad[record] = len(row)
                    if len(bad) > MAX_RAGGED:
                        raise InputError(
                            f"more than {MAX_RAGGED:,} rows do not have the header's {n_fields} fields: "
                            "is the delimiter or quoting broken?",
                            path=str(path),
                            row=record,
                        )
        except UnicodeDecodeError:
            # Spark would read such bytes as U+FFFD without a word: refuse the file instead.
            raise InputError(
                "not UTF-8 text (Windows-1258 or another legacy code page?); export it as UTF-8 CSV",
                path=str(path),
                row=record + 1,
            ) from None
        except csv.Error:
            # A field over csv.field_size_limit(): a quote that is never closed swallows the rest of
            # the file into one field, which would hide every later row inside one reject.
            raise InputError(
                f"a field is longer than {csv.field_size_limit():,} characters: "
                "is a quote left open (the rest of the file would be one field)?",
                path=str(path),
                row=record + 1,
            ) from None
    return bad


def check_file(path: Path, spec: InputSpec) -> None:
    """The checks of a whole file that need no Spark: readable, header known, not header-only."""
    if path.suffix.lower() == ".parquet":
        try:
            size = path.stat().st_size
            with path.open("rb") as fh:
                start = fh.read(4)
                fh.seek(max(0, size - 4))
                end = fh.read(4)
        except OSError as exc:
            raise InputError(f"cannot open it ({exc.strerror})", path=str(path)) from None
        if size < 12 or start != b"PAR1" or end != b"PAR1":
            raise InputError(
                "not a Parquet file (no PAR1 marker); export Parquet or CSV UTF-8", path=str(path)
            )
        return
    map_header(_csv_header(path), spec, path=str(path))
    if path.stat().st_size <= 1 << 16:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
        if sum(1 for row in csv.reader(io.StringIO(text)) if row) < 2:
            raise InputError("the file has a header row but no data rows", path=str(path), row=2)


def check_input_files(files: list[Path], spec: InputSpec) -> None:
    """Check every file before Spark reads any: one line per unusable file, nothing written."""
    problems: list[InputError] = []
    for f in files:
        try:
            check_file(f, spec)
        except InputError as exc:
            problems.append(exc)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise InputErrors(problems)


def _read_parquet(spark: SparkSession, path: Path, spec: InputSpec) -> tuple[DataFrame, list[str]]:
    try:
        df = spark.read.parquet(str(path))
        names = df.columns
    except Exception:  # noqa: BLE001 - Spark's AnalysisException text is long; one sentence is enough
        raise InputError("not a readable Parquet file", path=str(path)) from None
    mapped = map_header(names, spec, path=str(path))
    df = df.select(
        *[F.col(f"`{src}`").cast("string").alias(dst) for src, dst in zip(names, mapped, strict=True)],
        F.lit(None).cast("string").alias(CORRUPT),
    )
    return _with_row_numbers(df, first_row=1), mapped


def input_fingerprint(path: str, spec: InputSpec) -> str:
    """The ``fingerprint`` of a file or folder's input files, after the checks that need no Spark
    (so a file of the wrong kind is named before a large one is hashed)."""
    files = list_input_files(path)
    check_input_files(files, spec)
    return fingerprint(files)


def read_input(
    spark: SparkSession,
    path: str,
    spec: InputSpec,
    *,
    columns: tuple[str, ...],
    kind: str,
    run_id: str | None = None,
) -> InputBatch:
    """Read a file or folder of CSV/Parquet into contract columns (text) with lineage columns.

    ``run_id``: the files' ``fingerprint`` when the caller has it already (it hashed them to decide
    whether to read them at all); otherwise computed here."""
    files = list_input_files(path)
    check_input_files(files, spec)
    run_id = run_id or fingerprint(files)
    good: DataFrame | None = None
    bad: DataFrame | None = None
    for f in files:
        if f.suffix.lower() == ".parquet":
            df, mapped = _read_parquet(spark, f, spec)
        else:
            df, mapped = _read_csv(spark, f, spec)
        df = df.withColumn("source_file", F.lit(str(f))).withColumn("ingest_run_id", F.lit(run_id))
        n_fields = len(mapped)
        ok = df.filter(F.col(CORRUPT).isNull()).select(
            *[(F.col(c) if c in mapped else F.lit(None).cast("string")).alias(c) for c in columns],
            "source_file",
            "source_row",
            "ingest_run_id",
        )
        rejected = df.filter(F.col(CORRUPT).isNotNull()).select(
            "source_file",
            "source_row",
            F.lit(f"row does not have the header's {n_fields} fields (ragged row or broken quoting)").alias(
                "reason"
            ),
            F.col(CORRUPT).alias("raw_line"),
            "ingest_run_id",
        )
        good = ok if good is None else good.unionByName(ok)
        bad = rejected if bad is None else bad.unionByName(rejected)
        log.info("%s: reading %s (%d columns mapped)", kind, f.name, n_fields)
    assert good is not None and bad is not None
    return InputBatch(rows=good, rejects=bad, files=tuple(str(f) for f in files), run_id=run_id)
