"""What every job entry point shares: common flags, config + session setup, error reporting."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from vaxclean import lock
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
    p.add_argument(
        "--lock-wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="when another job holds the warehouse, wait this long for it (default: stop at once)",
    )
    p.set_defaults(_prog=prog)
    return p


#: Steps that take the warehouse lock shared (docs/reliability.md); also ``ingest`` with --ledger alone
#: and ``export-workbooks`` with --province.
SHARED_STEPS = ("vaxclean ingest-workbooks",)
#: Steps that only read (or write nothing in the warehouse): no lock.
UNLOCKED_STEPS = ("vaxclean score", "vaxclean generate", "vaxclean setup")
_held: list[lock.WarehouseLock] = []


def lock_mode(args: argparse.Namespace) -> str | None:
    """How a job takes the warehouse lock: ``shared``, ``exclusive`` or None (not at all)."""
    prog = getattr(args, "_prog", None)
    if prog is None or prog in UNLOCKED_STEPS:
        return None
    if prog in SHARED_STEPS:
        return lock.SHARED
    ledger_only = getattr(args, "ledger", None) and not getattr(args, "register", None)
    if prog == "vaxclean ingest" and ledger_only and not getattr(args, "reports", None):
        return lock.SHARED
    if prog == "vaxclean export-workbooks" and getattr(args, "province", None):
        return lock.SHARED  # province exports MERGE their own provinces and retry a lost commit
    return lock.EXCLUSIVE


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
    mode = lock_mode(args)
    if mode is not None:
        held = lock.acquire(
            cfg.warehouse, step=args._prog.removeprefix("vaxclean "), mode=mode, wait_seconds=args.lock_wait
        )
        if held is not None:
            _held.append(held)
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
    finally:
        while _held:
            _held.pop().release()


def add_province_flag(p: argparse.ArgumentParser) -> None:
    """``--province 79`` (repeat it, or ``--province 01,79``): limit the job to these provinces."""
    p.add_argument(
        "--province",
        action="append",
        metavar="CODE",
        help="limit the job to these provinces (2-digit GSO codes; repeat or comma-separate); "
        "province jobs can run at the same time on one warehouse",
    )


def provinces(p: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[str, ...] | None:
    """The ``--province`` codes, checked and sorted; None when the flag was not given."""
    if not getattr(args, "province", None):
        return None
    codes = sorted({c.strip() for value in args.province for c in value.split(",") if c.strip()})
    bad = [c for c in codes if not (len(c) == 2 and c.isdigit())]
    if bad or not codes:
        p.error(
            f"--province takes 2-digit province codes such as 01 or 79, not {', '.join(bad) or 'nothing'}"
        )
    return tuple(codes)


def argv_or_sys(argv: Sequence[str] | None) -> list[str]:
    return list(sys.argv[1:] if argv is None else argv)
