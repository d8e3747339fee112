"""Benchmark the synthetic data generator: people per second at a given size.

    .venv/bin/python scripts/bench_generate.py                      # 1,000,000 people, Spark engine
    .venv/bin/python scripts/bench_generate.py --people 100000 --engine local

Prints one line per measurement. Session start-up is timed apart from generation; the output goes
to ``bench-data/`` (git-ignored) and is deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import shutil
import sys
import time
from pathlib import Path

from vaxclean.synth import Options, generate
from vaxclean.synth.chunk import ChunkSpec, generate_chunk

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--engine", choices=("local", "spark"), default="spark")
    parser.add_argument("--ledger-format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--config", default=str(ROOT / "conf" / "local.yaml"))
    parser.add_argument("--out", default=None, help="default: bench-data/generate-<people>")
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    out = Path(args.out or ROOT / "bench-data" / f"generate-{args.people}")

    # one chunk in this process: the pure-Python cost per person on one core
    generate_chunk(ChunkSpec(seed=1, index=0, people=200, as_of=dt.date(2022, 12, 31)))  # warm caches
    cpu = time.process_time()
    generate_chunk(ChunkSpec(seed=1, index=1, people=5_000, as_of=dt.date(2022, 12, 31)))
    cpu = time.process_time() - cpu
    print(f"one chunk, one core: {5_000 / cpu:,.0f} people/s of CPU time ({cpu:.2f} s for 5,000)")

    spark_factory = None
    if args.engine == "spark":
        from vaxclean.config import load_config
        from vaxclean.spark import get_spark

        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        started = time.perf_counter()
        spark = get_spark(load_config(args.config))
        print(f"spark session: {time.perf_counter() - started:.1f} s ({spark.sparkContext.master})")
        spark_factory = lambda: spark  # noqa: E731 - the session already exists

    opts = Options(people=args.people, ledger_format=args.ledger_format)
    started = time.perf_counter()
    manifest = generate(opts, out, engine=args.engine, spark_factory=spark_factory)
    elapsed = time.perf_counter() - started
    counts = manifest["counts"]
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(
        f"{args.engine} engine, {args.people:,} people ({opts.n_chunks} chunks): {elapsed:.1f} s, "
        f"{args.people / elapsed:,.0f} people/s, {counts['ledger_rows'] / elapsed:,.0f} ledger rows/s; "
        f"{counts['subjects']:,} subjects, {counts['ledger_rows']:,} ledger rows, {size / 1e6:,.0f} MB"
    )
    if not args.keep:
        shutil.rmtree(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
