"""Benchmark the whole pipeline on a generated set: generation, every step, and the score.

    .venv/bin/python scripts/bench_pipeline.py --people 100000          # the docs' figures
    .venv/bin/python scripts/bench_pipeline.py --people 2000 --keep     # a quick look

Generates ``--people`` people with a seed the tests never use (``--seed``), runs ``vaxclean run``'s
steps in this process on ``local[2]`` (Delta on local disk), then scores the tables against the
generator's ground truth. Prints the generation time, one progress line per step, the total, and
the score table; exits 1 when a score is below the documented thresholds (jobs/score.py).
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobs.run import run  # noqa: E402
from jobs.score import DEFAULTS, failures, render, score  # noqa: E402
from vaxclean.config import load_config  # noqa: E402
from vaxclean.spark import get_spark  # noqa: E402
from vaxclean.synth import Options, generate  # noqa: E402

UNUSED_SEED = 20260430  # tests use 20220426 (the sample) and small fixed seeds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--people", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=UNUSED_SEED)
    p.add_argument("--config", default=str(ROOT / "conf" / "local.yaml"))
    p.add_argument("--work", default=None, help="default: bench-data/pipeline-<people>")
    p.add_argument("--keep", action="store_true", help="keep data, warehouse and workbooks")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("VAXCLEAN_HMAC_SECRET", "benchmark-only-secret")
    work = Path(args.work or ROOT / "bench-data" / f"pipeline-{args.people}")
    shutil.rmtree(work, ignore_errors=True)
    data = work / "data"

    started = time.perf_counter()
    manifest = generate(Options(people=args.people, seed=args.seed), data, engine="local")
    gen_s = time.perf_counter() - started
    counts = manifest["counts"]
    print(
        f"generate   {args.people:>10,} people {gen_s:8.1f} s  {args.people / gen_s:,.0f} people/s; "
        f"{counts['subjects']:,} subjects, {counts['ledger_rows']:,} ledger rows (seed {args.seed})",
        flush=True,
    )

    cfg = load_config(args.config).with_overrides(
        warehouse=str(work / "warehouse"), out=str(work / "out"), as_of=str(manifest["as_of"])
    )
    started = time.perf_counter()
    spark = get_spark(cfg)
    session_s = time.perf_counter() - started
    print(f"spark session {session_s:.1f} s ({spark.sparkContext.master})", flush=True)

    started = time.perf_counter()
    results = run(
        spark,
        cfg,
        ledger=str(data / "ledger.csv"),
        register=str(data / "register.csv"),
        reports=str(data / "facility_reports.csv"),
    )
    run_s = time.perf_counter() - started
    print(f"pipeline total {run_s:.1f} s for {counts['ledger_rows']:,} ledger rows "
          f"({counts['ledger_rows'] / run_s:,.0f} rows/s); steps:")  # fmt: skip
    for r in results:
        print("  " + r.line())

    started = time.perf_counter()
    report = score(spark, cfg, data)
    print(f"score {time.perf_counter() - started:.1f} s\n{render(report)}")
    failed = failures(report, DEFAULTS)
    for line in failed:
        print(f"below threshold: {line}")
    print(f"finished {dt.datetime.now():%Y-%m-%d %H:%M}; load average {os.getloadavg()[0]:.1f}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
