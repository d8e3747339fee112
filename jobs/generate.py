"""Generate a synthetic country with ground truth (issue 3): ``vaxclean generate``.

    python -m jobs.generate --people 2000 --seed 1 --out out/synth
    python -m jobs.generate --people 1000000 --out bench-data/1m --engine spark --config conf/local.yaml

Thin wiring only: arguments → :class:`vaxclean.synth.Options` → :func:`vaxclean.synth.generate`.
A Spark session (from ``--config``) is built only when the Spark engine runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import time
from pathlib import Path

from vaxclean.config import load_config
from vaxclean.errors import VaxcleanError
from vaxclean.jobkit import DEFAULT_CONFIG, argv_or_sys, run_main
from vaxclean.logs import setup_logging
from vaxclean.synth import Options, Rates, TruthRules, generate
from vaxclean.synth.generate import DEFAULT_AS_OF, DEFAULT_CHUNK_SIZE, DEFAULT_SEED, LEDGER_FORMATS
from vaxclean.synth.rates import parse_rate_overrides

log = logging.getLogger(__name__)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a yyyy-mm-dd date: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaxclean generate",
        description="Write a synthetic register, ledger, facility reports and their ground truth.",
    )
    parser.add_argument("--people", type=int, required=True, help="people in the register")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"default {DEFAULT_SEED}")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--ledger-format", choices=LEDGER_FORMATS, default="csv", help="ledger file format (default: csv)"
    )
    parser.add_argument("--as-of", type=_date, default=DEFAULT_AS_OF, help="the day the data is exported")
    parser.add_argument(
        "--rate",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one error rate (repeatable), e.g. --rate id_missing=0.05; see docs/synthetic-data.md",
    )
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, help="people per chunk")
    parser.add_argument(
        "--min-per-chunk", type=int, default=1, help="fewest cases of each error kind per chunk (default 1)"
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "local", "spark"),
        default="auto",
        help="local: plain Python, single files; spark: parallel, folders of part files; "
        "auto (default): spark from 200,000 people on",
    )
    parser.add_argument(
        "--config",
        default=None,
        help="config file: its rules drive the ground truth, its spark section the Spark engine "
        f"(default: {DEFAULT_CONFIG} when it exists)",
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING (overrides the config)")
    return parser


def _config_path(given: str | None) -> Path | None:
    """``--config``, else conf/local.yaml from the working folder or the repository, else none."""
    if given:
        return Path(given)
    for candidate in (Path(DEFAULT_CONFIG), Path(__file__).resolve().parents[1] / DEFAULT_CONFIG):
        if candidate.is_file():
            return candidate
    return None


def _run(args: argparse.Namespace) -> int:
    config_path = _config_path(args.config)
    cfg = load_config(config_path) if config_path else None
    setup_logging(args.log_level or (cfg.log_level if cfg else "INFO"))
    try:
        opts = Options(
            people=args.people,
            seed=args.seed,
            as_of=args.as_of,
            rates=Rates().with_overrides(parse_rate_overrides(args.rate)),
            truth_rules=TruthRules.from_config(cfg.rules) if cfg else TruthRules(),
            chunk_size=args.chunk_size,
            min_per_chunk=args.min_per_chunk,
            ledger_format=args.ledger_format,
        )
    except ValueError as exc:
        raise VaxcleanError(str(exc)) from None

    def spark_factory():
        if cfg is None:
            raise VaxcleanError("the Spark engine needs a config: pass --config conf/local.yaml")
        from vaxclean.spark import get_spark

        # Spark's Python workers must run this interpreter, the one vaxclean is installed in.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        return get_spark(cfg)

    started = time.perf_counter()
    data = generate(opts, args.out, engine=args.engine, spark_factory=spark_factory)
    elapsed = time.perf_counter() - started
    counts = data["counts"]
    log.info(
        "%d people, %d subjects, %d ledger rows in %.1f s (%.0f people/s) -> %s",
        opts.people,
        counts.get("subjects", 0),
        counts.get("ledger_rows", 0),
        elapsed,
        opts.people / elapsed if elapsed else 0.0,
        args.out,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv_or_sys(argv))
    return run_main(lambda: _run(args), step="generate")


if __name__ == "__main__":
    sys.exit(main())
