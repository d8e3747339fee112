"""The whole pipeline in one command (the data center's entry point, data contract section 4).

    vaxclean run --config conf/local.yaml --ledger PATH --register PATH --warehouse DIR --out DIR

Steps: ingest register → ingest ledger (→ ingest facility reports) → classify → match → review
workbooks. Each step prints a progress line (rows, seconds, rows/s) and is also a job of its own;
the run ends with a summary of the tables it left.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.classify import classify
from jobs.ingest import ingest_facility_reports, ingest_ledger, ingest_register
from vaxclean import delta_io
from vaxclean.config import Config
from vaxclean.jobkit import argv_or_sys, load, parser, run_main
from vaxclean.logs import StepResult
from vaxclean.readers import check_input_files, list_input_files
from vaxclean.spark import get_spark

log = logging.getLogger(__name__)

# Steps built on top of the foundation, each a module with ``run_step(spark, cfg) -> list[StepResult]``.
LATER_STEPS = ("jobs.match", "jobs.export_workbooks")


def summary(spark: SparkSession, cfg: Config) -> str:
    """A short table: subjects by status, doses with codes, signable doses."""
    lines = ["", "summary"]
    checks = delta_io.read(spark, cfg, "subject_checks")
    for row in checks.groupBy("status").count().orderBy("status").collect():
        lines.append(f"  subjects {row['status']:<13} {row['count']:>12,}")
    dose_checks = delta_io.read(spark, cfg, "dose_checks")
    flagged = dose_checks.filter(F.size("error_codes") > 0).count()
    lines.append(f"  doses with a dose code  {flagged:>12,} of {dose_checks.count():,}")
    queue = delta_io.read(spark, cfg, "signing_queue")
    signable = queue.filter("signable").count()
    lines.append(f"  unsigned doses signable {signable:>12,} of {queue.count():,}")
    lines.append(f"  tables in {cfg.warehouse}")
    return "\n".join(lines)


def run(
    spark: SparkSession, cfg: Config, *, ledger: str, register: str, reports: str | None
) -> list[StepResult]:
    results = [ingest_register(spark, cfg, register), ingest_ledger(spark, cfg, ledger)]
    if reports:
        results.append(ingest_facility_reports(spark, cfg, reports))
    results += classify(spark, cfg)
    for module_name in LATER_STEPS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        if hasattr(module, "run_step"):
            results += module.run_step(spark, cfg)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    p = parser("vaxclean run", "Run the whole pipeline: ingest, classify, match, review workbooks.")
    p.add_argument("--ledger", required=True, help="ledger export: a CSV/Parquet file or a folder of them")
    p.add_argument("--register", required=True, help="register snapshot: a CSV/Parquet file or a folder")
    p.add_argument("--reports", help="facility dose reports (optional)")
    args = p.parse_args(argv_or_sys(argv))

    def body() -> int:
        cfg = load(args)
        # Every input is found and its header checked before Spark starts: a wrong path or an
        # unknown column stops the run in seconds, not after the register has been ingested.
        for path, spec in (
            (args.register, cfg.register),
            (args.ledger, cfg.ledger),
            (args.reports, cfg.facility_reports),
        ):
            if path:
                check_input_files(list_input_files(path), spec)
        spark = get_spark(cfg)
        run(spark, cfg, ledger=args.ledger, register=args.register, reports=args.reports)
        print(summary(spark, cfg))
        return 0

    return run_main(body, step="run")


if __name__ == "__main__":
    raise SystemExit(main())
