"""No personal data in logs: the sample pipeline at DEBUG, and error messages about bad files.

Every full ID number, full name and full birth date of sample/ledger.csv and sample/register.csv is
looked for in everything a run prints (stdout, stderr: Python logging, Spark's JVM log, the progress
lines, the summary), in every log file it leaves, and in the Delta transaction logs of its tables;
none may appear.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
import unicodedata
from pathlib import Path

import pytest

from jobs import ingest as ingest_job

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample"


def _norm(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def personal_values() -> dict[str, set[str]]:
    """What must never be printed: IDs (as typed and digits only), full names, full birth dates."""
    ids: set[str] = set()
    names: set[str] = set()
    dates: set[str] = set()
    with (SAMPLE / "ledger.csv").open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            raw = row["id_number"].strip()
            digits = re.sub(r"\D", "", raw)
            if len(digits) >= 9 and "E" not in raw.upper():
                ids.update({raw, digits})
            name = " ".join(row["full_name"].split())
            if len(name.split()) >= 2:
                names.add(_norm(name))
            dob = row["date_of_birth"].strip()
            m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", dob)
            if m:
                dates.update({dob, f"{m[3]}-{int(m[2]):02d}-{int(m[1]):02d}"})
            elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", dob):
                dates.add(dob)
    with (SAMPLE / "register.csv").open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            ids.update(v for v in (row["personal_id"], row["old_id_number"]) if len(v) >= 9)
            names.add(_norm(row["full_name"]))
            if len(row["date_of_birth"]) == 10:
                y, mo, d = row["date_of_birth"].split("-")
                dates.update({row["date_of_birth"], f"{d}/{mo}/{y}"})
    return {"id": ids, "name": names, "date": dates}


def leaks(text: str, values: dict[str, set[str]]) -> list[tuple[str, str]]:
    folded = _norm(text)
    found = [("id", v) for v in values["id"] if re.search(rf"(?<!\d){re.escape(v)}(?!\d)", text)]
    found += [("name", v) for v in values["name"] if v in folded]
    found += [("date", v) for v in values["date"] if v in text]
    return sorted(found)


def test_the_scan_finds_what_it_looks_for():
    values = personal_values()
    some_id, some_name, some_date = (sorted(values[k])[0] for k in ("id", "name", "date"))
    line = f"12:00:00 DEBUG x: subject {some_id} {some_name.title()} born {some_date}"
    assert {kind for kind, _ in leaks(line, values)} == {"id", "name", "date"}
    assert leaks("ingest ledger 579 rows 1.0 s (2 province(s), 0 rejected row(s))", values) == []


def test_error_about_a_file_without_header_shows_no_personal_data(spark, tmp_path, capfd):
    """A ledger export that lost its header row (its first row is a person, name first), and one
    with a Windows-1258 byte deep inside."""
    lines = (SAMPLE / "ledger.csv").read_text(encoding="utf-8-sig").splitlines()
    with (SAMPLE / "ledger.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))[:40]
    order = ["full_name", "date_of_birth", "id_number"] + [
        c for c in rows[0] if c not in ("full_name", "date_of_birth", "id_number")
    ]
    headerless = tmp_path / "export.csv"
    with headerless.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([[r[c] for c in order] for r in rows])
    late_cp1258 = tmp_path / "late.csv"
    late_cp1258.write_bytes(
        ("\n".join(lines[:700]) + "\n").encode("utf-8") + lines[1].encode("utf-8")[:-3] + b"\xd1\n"
    )
    for path in (headerless, late_cp1258):
        status = ingest_job.main(
            ["--ledger", str(path), "--warehouse", str(tmp_path / "wh"), "--log-level", "DEBUG"]
        )
        out, err = capfd.readouterr()
        assert status == 2
        assert str(path) in err
        assert leaks(out + err, personal_values()) == []


@pytest.mark.slow
def test_sample_pipeline_at_debug_logs_no_personal_data(cli_debug_run):
    """The whole sample pipeline at ``--log-level DEBUG`` (tests/conftest.py ``cli_debug_run``)."""
    run, tmp_path = cli_debug_run
    assert run.returncode == 0, run.stderr[-3000:]
    # The handler was live (INFO lines); at DEBUG it would pass every record the code emits.
    assert " INFO vaxclean." in run.stderr
    texts = [run.stdout, run.stderr]
    log_files = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".log", ".out", ".err")]
    texts += [p.read_text(encoding="utf-8", errors="replace") for p in log_files]
    assert leaks("\n".join(texts), personal_values()) == []


@pytest.mark.slow
def test_delta_transaction_logs_hold_no_personal_data(cli_debug_run, spark):
    """Delta keeps per-file min/max statistics in each table's ``_delta_log`` (JSON commits, checksum
    files, Parquet checkpoints): with them on, they hold names, IDs and birth dates as plain text.
    conf/base.yaml turns column statistics off for the tables the pipeline creates."""
    run, tmp_path = cli_debug_run
    assert run.returncode == 0, run.stderr[-3000:]
    logs = sorted((tmp_path / "wh").glob("*/_delta_log"))
    assert {"ledger_raw", "register", "subjects", "subject_checks"} <= {d.parent.name for d in logs}
    lines: list[str] = []
    # (Hidden ``.*.crc`` files are the local file system's binary checksums of these files.)
    for f in (p for d in logs for p in sorted(d.rglob("*")) if p.is_file() and not p.name.startswith(".")):
        if f.suffix == ".parquet":  # a checkpoint
            lines += spark.read.parquet(str(f)).toJSON().collect()
        else:  # commits (JSON lines) and checksum files (one JSON object)
            lines += f.read_text(encoding="utf-8").splitlines()
    # Every string in them, with the statistics (a JSON document inside a string) opened up, so that
    # a name written with \uXXXX escapes is found too.
    texts = list(_strings([json.loads(line) for line in lines if line.strip()]))
    assert any("numRecords" in t for t in texts)  # the statistics that are kept: row counts
    assert leaks("\n".join(texts), personal_values()) == []


def _strings(value: object):
    if isinstance(value, str):
        yield value
        if value.startswith("{"):
            with contextlib.suppress(ValueError):  # a string that only starts like JSON
                yield from _strings(json.loads(value))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif value is not None:
        yield str(value)
