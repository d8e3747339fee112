"""What every job entry point shares: common flags, config + session setup, error reporting."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from vaxclean.config import Config, load_config
from vaxclean.errors import VaxcleanError
from vaxclean.logs import scrub, setup_logging

log = logging.getLogger(__name__)

DEFAULT_CONFIG = "conf/local.yaml"


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--config", default=DEFAULT_CONFIG, help="YAML config (default: %(default)s)")
    p.add_argument("--warehouse", help="folder or URI of the Delta tables (overrides the config)")
    p.add_argument("--out", help="folder for workbooks and reports (overrides the config)")
    p.add_argument("--log-level", help="DEBUG, INFO, WARNING (overrides the config)")
    p.add_argument(
        "--as-of", help="yyyy-mm-dd: the day the run treats as today (rules.as_of; default: the run's date)"
    )
    return p


def load(args: argparse.Namespace) -> Config:
    config_path = Path(args.config)
    if not config_path.exists() and not config_path.is_absolute():
        # Let jobs run from any folder (spark-submit's working dir is not the repo).
        candidate = Path(__file__).resolve().parents[1] / args.config
        if candidate.exists():
            config_path = candidate
    cfg = load_config(config_path).with_overrides(
        warehouse=args.warehouse, out=getattr(args, "out", None), as_of=getattr(args, "as_of", None)
    )
    setup_logging(args.log_level or cfg.log_level)
    return cfg


def run_main(body: Callable[[], int | None], *, step: str) -> int:
    """Run a job body: a known error prints one sentence (exit 2), anything else one line (exit 1)."""
    try:
        return int(body() or 0)
    except VaxcleanError as exc:
        print(f"vaxclean {step}: error: {scrub(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"vaxclean {step}: interrupted; Delta tables are at their last committed version", file=sys.stderr
        )
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no stack trace for users
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        log.debug("step %s failed", step, exc_info=True)
        print(
            f"vaxclean {step}: failed: {type(exc).__name__}: {scrub(first)[:500]} "
            "(no table was left half-written; rerun with --log-level DEBUG for details)",
            file=sys.stderr,
        )
        return 1


def argv_or_sys(argv: Sequence[str] | None) -> list[str]:
    return list(sys.argv[1:] if argv is None else argv)
