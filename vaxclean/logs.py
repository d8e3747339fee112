"""Logging that never shows personal data, and the per-step progress line.

Log messages should only ever carry counts, codes and masked values; as a second line of defence
a filter on the handler scrubs anything that looks like an ID number or a date from every record
(and from exception text) before it is written.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_LONG_DIGITS = re.compile(r"(?<![\w.])(\d{2})\d{5,10}(\d{2})(?![\w])")
_DATE = re.compile(r"\b(\d{1,2}[/.-]\d{1,2}[/.-]\d{4}|\d{4}-\d{2}-\d{2})\b")


def mask_id(value: str | None) -> str:
    """``079085001234`` → ``07********34``; short or empty values become ``***``."""
    if not value:
        return "∅"
    value = value.strip()
    if len(value) <= 4:
        return "***"
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


def mask_name(value: str | None) -> str:
    """``Nguyễn Văn An`` → ``N. V. A.``: initials only."""
    if not value:
        return "∅"
    return " ".join(part[0] + "." for part in value.split())


def scrub(text: str) -> str:
    """Mask ID-like digit runs and dates inside free text (a safety net for log lines)."""
    text = _LONG_DIGITS.sub(lambda m: m.group(1) + "*" * (len(m.group(0)) - 4) + m.group(2), text)
    return _DATE.sub("<date>", text)


class PersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.exc_info = None
            record.exc_text = None
            record.msg = f"{record.msg} ({type(exc).__name__}: {scrub(str(exc))})"
        return True


def setup_logging(level: str = "INFO") -> None:
    """Log to stderr through the personal-data filter; py4j and Spark's Python side stay quiet."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_vaxclean", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._vaxclean = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(PersonalDataFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("py4j", "pyspark"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@dataclass
class StepResult:
    step: str
    rows: int = 0
    seconds: float = 0.0
    note: str = ""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        extra = f" ({self.note})" if self.note else ""
        return (
            f"{self.step:<20} {self.rows:>12,} rows {self.seconds:>8.1f} s {self.rate:>12,.0f} rows/s{extra}"
        )


@contextmanager
def progress(step: str, results: list[StepResult] | None = None) -> Iterator[StepResult]:
    """Time a step; the body sets ``.rows`` (and maybe ``.note``); prints the progress line."""
    result = StepResult(step)
    start = time.perf_counter()
    yield result
    result.seconds = time.perf_counter() - start
    print(result.line(), flush=True)
    if results is not None:
        results.append(result)
