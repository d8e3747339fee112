"""Setup: fetch the Delta Lake jars once into the local cache (``vaxclean setup``), and with
``--class-archive`` build the class-data archive local jobs start from (:mod:`vaxclean.class_archive`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from vaxclean import class_archive
from vaxclean.errors import VaxcleanError
from vaxclean.jars import default_jars_dir, ensure_delta_jars
from vaxclean.logs import setup_logging


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="vaxclean setup", description=__doc__)
    p.add_argument(
        "--jars-dir", help=f"where to keep the jars (default {default_jars_dir()}, or VAXCLEAN_JARS_DIR)"
    )
    p.add_argument(
        "--class-archive",
        action="store_true",
        help="also build a class-data archive of Spark and Delta there (about 90 s, ~200 MB), which "
        "local jobs then map to start faster; built again when Spark, Delta or Java changed",
    )
    args = p.parse_args(list(sys.argv[1:] if argv is None else argv))
    setup_logging("INFO")
    try:
        jars = ensure_delta_jars(args.jars_dir)
    except VaxcleanError as exc:
        print(f"vaxclean setup: error: {exc}", file=sys.stderr)
        return 2
    for jar in jars:
        print(f"delta jar ready: {jar}")
    if args.class_archive:
        folder = Path(jars[0]).parent
        try:
            path, built = class_archive.ensure(folder)
        except OSError as exc:  # a speed-up only: say so, and carry on without it
            print(f"vaxclean setup: warning: {exc}; local jobs start without it", file=sys.stderr)
            return 0
        print(f"class archive {'built' if built else 'ready'}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
