"""``vaxclean``: one command, one subcommand per job. Each job is also ``python -m jobs.<name>``
and runs under ``spark-submit jobs/<name>.py`` with the same flags."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence

COMMANDS = {
    "run": ("jobs.run", "the whole pipeline: ingest, classify, match, review workbooks"),
    "setup": ("jobs.setup", "fetch the Delta Lake jars into the local cache (once, needs Maven Central)"),
    "ingest": ("jobs.ingest", "ingest ledger / register / facility reports into Delta"),
    "classify": ("jobs.classify", "classify subjects and doses, build the signing queue"),
    "match": ("jobs.match", "suggest register persons for missing, malformed, unknown or shared IDs"),
    "export-workbooks": ("jobs.export_workbooks", "write the per-commune review workbooks"),
    "ingest-workbooks": ("jobs.ingest_workbooks", "ingest returned review workbooks as corrections"),
    "daily": ("jobs.daily", "incremental daily verification and signing gate"),
    "report": ("jobs.report", "HTML and Excel progress reports"),
    "generate": ("jobs.generate", "generate synthetic national data with ground truth"),
    "score": ("jobs.score", "score the pipeline's tables against generated ground truth"),
}


def usage() -> str:
    width = max(len(c) for c in COMMANDS)
    lines = ["usage: vaxclean COMMAND [options]   (vaxclean COMMAND --help for its options)", "", "commands:"]
    for name, (module, text) in COMMANDS.items():
        if importlib.util.find_spec(module) is not None:
            lines.append(f"  {name:<{width}}  {text}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if args[0] == "--version":
        from vaxclean import __version__

        print(__version__)
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS or importlib.util.find_spec(COMMANDS[name][0]) is None:
        print(f"vaxclean: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
