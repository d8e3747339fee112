"""Benchmark: the daily incremental run against the full classify, in one process (issue 6).

    .venv/bin/python scripts/bench_daily.py --people 50000 --shares 0.01,0.05,0.2

1. ``vaxclean generate`` writes a synthetic country (register, ledger, facility reports) into
   ``--work``/data (reused when it is already there for the same people and seed).
2. The ledger is split by ``entered_at``: the newest ``max(shares)`` of the rows are held back; the
   rest is the "base" ledger. The held-back rows, oldest first, are the days: a day of share ``s``
   holds ``s`` × (all rows) of them (new rows only, as a day of data entry brings).
3. Full run: ``ingest`` of register, base ledger and reports, then ``classify`` (timed separately).
4. For each share: the warehouse after step 3 is copied, and ``daily --ledger DAY`` runs on the copy.

Printed per line: rows, seconds, and the daily/full ratios (against classify alone, and against
ingest + classify, which is what a full re-run of the day's complete export costs). All timings are
wall time on whatever else the machine is doing; run the whole script again to compare.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's code, not whatever the venv's editable install points at

from jobs import generate as generate_job  # noqa: E402
from jobs.classify import classify  # noqa: E402
from jobs.daily import daily  # noqa: E402
from jobs.ingest import ingest_facility_reports, ingest_ledger, ingest_register  # noqa: E402
from vaxclean.config import load_config  # noqa: E402
from vaxclean.logs import setup_logging  # noqa: E402
from vaxclean.spark import get_spark  # noqa: E402

log = logging.getLogger("bench_daily")


def split_ledger(ledger: Path, out: Path, shares: list[float]) -> tuple[int, dict[float, tuple[str, int]]]:
    """Write ``base.csv`` and one ``day-<share>.csv`` per share; return base rows and day files."""
    with ledger.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    at = header.index("entered_at")
    rows.sort(key=lambda r: (r[at].strip() or "0000", r[0]))
    held = round(max(shares) * len(rows))
    base, later = rows[: len(rows) - held], rows[len(rows) - held :]

    def write(path: Path, part: list[list[str]]) -> str:
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(part)
        return str(path)

    write(out / "base.csv", base)
    days = {}
    for share in shares:
        n = round(share * len(rows))
        days[share] = (write(out / f"day-{share:g}.csv", later[:n]), n)
    return len(base), days


def timed(label: str, fn) -> float:
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    print(f"{label:<34} {seconds:>8.1f} s", flush=True)
    return seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--people", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--shares", default="0.01,0.05,0.2", help="day sizes as shares of the ledger")
    p.add_argument("--work", default=None, help="work folder (default bench-data/daily-<people>)")
    p.add_argument("--config", default=str(ROOT / "conf" / "local.yaml"))
    args = p.parse_args(argv)
    shares = sorted(float(s) for s in args.shares.split(","))
    work = Path(args.work or ROOT / "bench-data" / f"daily-{args.people}")
    data = work / "data"
    setup_logging("WARNING")

    manifest = data / "manifest.json"
    fresh = manifest.exists() and json.loads(manifest.read_text())["people"] == args.people
    if not fresh:
        # The local engine writes single files, which split_ledger reads (the Spark engine, the
        # default from 200,000 people on, writes folders of part files).
        argv_gen = [
            "--people",
            str(args.people),
            "--seed",
            str(args.seed),
            "--out",
            str(data),
            "--engine",
            "local",
        ]
        timed("generate", lambda: generate_job.main([*argv_gen, "--config", args.config]))
    as_of = json.loads(manifest.read_text())["as_of"]
    base_rows, days = split_ledger(data / "ledger.csv", work, shares)

    cfg0 = load_config(args.config)
    full = cfg0.with_overrides(warehouse=str(work / "wh-full"), out=str(work / "out"), as_of=as_of)
    shutil.rmtree(full.warehouse, ignore_errors=True)
    spark = get_spark(full)
    t_ingest = timed("full: ingest register+ledger+reports", lambda: (
        ingest_register(spark, full, str(data / "register.csv")),
        ingest_ledger(spark, full, str(work / "base.csv")),
        ingest_facility_reports(spark, full, str(data / "facility_reports.csv")),
    ))  # fmt: skip
    t_classify = timed(f"full: classify ({base_rows:,} rows)", lambda: classify(spark, full))

    figures = {"people": args.people, "base_rows": base_rows, "ingest_s": t_ingest, "classify_s": t_classify}
    for share, (path, n) in days.items():
        wh = work / f"wh-day-{share:g}"
        shutil.rmtree(wh, ignore_errors=True)
        shutil.copytree(full.warehouse, wh)
        cfg = full.with_overrides(warehouse=str(wh))
        t = timed(
            f"daily: {share:.0%} day ({n:,} new rows)",
            lambda cfg=cfg, path=path: daily(spark, cfg, ledger=path),
        )
        t_rerun = timed("daily: same day again", lambda cfg=cfg, path=path: daily(spark, cfg, ledger=path))
        figures[f"daily_{share:g}"] = {"rows": n, "seconds": t, "rerun_seconds": t_rerun}
        print(
            f"  ratio daily/classify {t / t_classify:.2f}   daily/(ingest+classify) "
            f"{t / (t_ingest + t_classify):.2f}",
            flush=True,
        )
    print(json.dumps(figures, indent=2))
    (work / "figures.json").write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
