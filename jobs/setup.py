"""Setup: fetch the Delta Lake jars once into the local cache (``vaxclean setup``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vaxclean.errors import VaxcleanError
from vaxclean.jars import default_jars_dir, ensure_delta_jars
from vaxclean.logs import setup_logging


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="vaxclean setup", description=__doc__)
    p.add_argument(
        "--jars-dir", help=f"where to keep the jars (default {default_jars_dir()}, or VAXCLEAN_JARS_DIR)"
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
