"""Generate a synthetic country: register, ledger, facility reports, ground truth, manifest.

Two engines produce the same rows for the same options:

* ``local``: plain Python, chunk after chunk, streamed to single files (``register.csv``,
  ``ledger.csv`` …). For tests, demos and anything up to a few hundred thousand people.
* ``spark``: the chunks are generated in parallel by Spark (:mod:`vaxclean.synth.spark_path`) and
  written as folders of part files (``register/``, ``ledger/`` …), which the pipeline reads like
  single files. ``auto`` picks it from :data:`SPARK_THRESHOLD` people on.

Rows are identical between engines; only the file layout and the order of rows differ.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import vaxclean
from vaxclean.synth.chunk import MAX_CHUNKS, ChunkSpec, generate_chunk
from vaxclean.synth.columns import TABLES
from vaxclean.synth.rates import Rates
from vaxclean.synth.truth import TruthRules

log = logging.getLogger(__name__)

SPARK_THRESHOLD = 200_000
DEFAULT_SEED = 20220426
DEFAULT_AS_OF = dt.date(2022, 12, 31)
DEFAULT_CHUNK_SIZE = 5_000
LEDGER_FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class Options:
    """What to generate. ``chunk_size`` is part of the data's identity: keep it fixed to compare runs."""

    people: int
    seed: int = DEFAULT_SEED
    as_of: dt.date = DEFAULT_AS_OF
    rates: Rates = field(default_factory=Rates)
    truth_rules: TruthRules = field(default_factory=TruthRules)
    chunk_size: int = DEFAULT_CHUNK_SIZE
    min_per_chunk: int = 1
    ledger_format: str = "csv"

    def __post_init__(self) -> None:
        if self.people < 1:
            raise ValueError(f"people must be at least 1, got {self.people}")
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {self.chunk_size}")
        if self.ledger_format not in LEDGER_FORMATS:
            raise ValueError(f"ledger_format must be one of {LEDGER_FORMATS}, got {self.ledger_format!r}")
        if self.n_chunks > MAX_CHUNKS:
            raise ValueError(
                f"{self.people} people in chunks of {self.chunk_size} need {self.n_chunks} chunks; "
                f"IDs hold at most {MAX_CHUNKS}: raise chunk_size"
            )

    @property
    def n_chunks(self) -> int:
        return -(-self.people // self.chunk_size)

    def chunk_specs(self) -> list[ChunkSpec]:
        """One spec per chunk; the last chunk holds the remainder."""
        return [
            ChunkSpec(
                seed=self.seed,
                index=i,
                people=min(self.chunk_size, self.people - i * self.chunk_size),
                as_of=self.as_of,
                rates=self.rates,
                truth_rules=self.truth_rules,
                min_per_chunk=self.min_per_chunk,
            )
            for i in range(self.n_chunks)
        ]


def manifest(opts: Options, stats: Counter, *, files: dict[str, str]) -> dict[str, Any]:
    """The manifest: enough to regenerate the data and to run the pipeline on it correctly."""
    truth_rules = dataclasses.asdict(opts.truth_rules)
    truth_rules["campaign_start"] = opts.truth_rules.campaign_start.isoformat()
    truth_rules["booster_min_months"] = {str(k): v for k, v in opts.truth_rules.booster_min_months.items()}
    return {
        "generator": "vaxclean.synth",
        "vaxclean_version": vaxclean.__version__,
        "seed": opts.seed,
        "people": opts.people,
        "chunk_size": opts.chunk_size,
        "chunks": opts.n_chunks,
        "min_per_chunk": opts.min_per_chunk,
        "as_of": opts.as_of.isoformat(),
        "ledger_format": opts.ledger_format,
        "note": "run the pipeline with rules.as_of = as_of: DOSE_DATE_INVALID's truth depends on it",
        "files": files,
        "rates": opts.rates.as_dict(),
        "truth_rules": truth_rules,
        "counts": {k: stats[k] for k in sorted(stats)},
    }


def write_manifest(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")


class _CsvTable:
    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        self.fh = path.open("w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.fh, lineterminator="\n")
        self.writer.writerow(columns)

    def write(self, rows: list[tuple[str, ...]]) -> None:
        self.writer.writerows(rows)

    def close(self) -> None:
        self.fh.close()


class _ParquetTable:
    """A ledger in Parquet without Spark: needs pyarrow (not a vaxclean dependency)."""

    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa, self.columns = pa, columns
        self.schema = pa.schema([(c, pa.string()) for c in columns])
        self.writer = pq.ParquetWriter(str(path), self.schema)

    def write(self, rows: list[tuple[str, ...]]) -> None:
        cols = list(zip(*rows, strict=True)) if rows else [() for _ in self.columns]
        self.writer.write_table(self.pa.table(dict(zip(self.columns, cols, strict=True)), schema=self.schema))

    def close(self) -> None:
        self.writer.close()


def pyarrow_available() -> bool:
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def iter_chunks(opts: Options) -> Iterator:
    """Generate the chunks one after another (the local engine)."""
    for spec in opts.chunk_specs():
        yield generate_chunk(spec)


def generate_local(opts: Options, out: str | os.PathLike[str]) -> dict[str, Any]:
    """Generate with plain Python into single files under ``out``; return the manifest."""
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    ledger_name = f"ledger.{opts.ledger_format}"
    if opts.ledger_format == "parquet" and not pyarrow_available():
        raise RuntimeError("a Parquet ledger without Spark needs pyarrow: install it or use the Spark engine")
    files = {
        "register": "register.csv",
        "ledger": ledger_name,
        "facility_reports": "facility_reports.csv",
        "truth_subjects": "truth_subjects.csv",
        "truth_doses": "truth_doses.csv",
    }
    tables = {}
    for name in ("register", "ledger", "truth_subjects", "truth_doses"):
        kind = _ParquetTable if files[name].endswith(".parquet") else _CsvTable
        tables[name] = kind(out_dir / files[name], TABLES[name])
    stats: Counter = Counter()
    reports: Counter = Counter()
    try:
        for i, result in enumerate(iter_chunks(opts)):
            tables["register"].write(result.register)
            tables["ledger"].write(result.ledger)
            tables["truth_subjects"].write(result.truth_subjects)
            tables["truth_doses"].write(result.truth_doses)
            reports.update(result.reports)
            stats.update(result.stats)
            log.debug("chunk %d/%d written", i + 1, opts.n_chunks)
    finally:
        for table in tables.values():
            table.close()
    report = _CsvTable(out_dir / files["facility_reports"], TABLES["facility_reports"])
    report.write([(*key, str(n)) for key, n in sorted(reports.items())])
    report.close()
    stats["facility_report_rows"] = len(reports)
    stats["doses_reported"] = sum(reports.values())
    data = manifest(opts, stats, files=files)
    write_manifest(out_dir / "manifest.json", data)
    return data


def generate(
    opts: Options,
    out: str | os.PathLike[str],
    *,
    engine: str = "auto",
    spark_factory: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Generate ``opts`` into ``out`` with the chosen engine (``auto``, ``local`` or ``spark``).

    ``spark_factory`` returns a SparkSession; it is called only when the Spark engine runs, so a
    small local run never starts a JVM.
    """
    if engine not in ("auto", "local", "spark"):
        raise ValueError(f"engine must be auto, local or spark, got {engine!r}")
    if engine == "auto":
        wants_spark = opts.people >= SPARK_THRESHOLD or (
            opts.ledger_format == "parquet" and not pyarrow_available()
        )
        engine = "spark" if wants_spark and spark_factory is not None else "local"
    if engine == "local":
        return generate_local(opts, out)
    if spark_factory is None:
        raise ValueError("the Spark engine needs a spark_factory")
    from vaxclean.synth.spark_path import generate_spark

    return generate_spark(opts, str(out), spark_factory())
