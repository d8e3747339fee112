"""Builders for literal test rows in the contract's raw (text) formats."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from vaxclean import schemas

LEDGER_DEFAULTS = {
    "full_name": "Nguyễn Văn An",
    "date_of_birth": "05/03/1985",
    "gender": "Nam",
    "id_number": "079085001234",
    "nationality": "VN",
    "passport_number": "",
    "phone": "0912345678",
    "province_code": "79",
    "district_code": "760",
    "commune_code": "26734",
    "facility_code": "79760-TYT01",
    "vaccine": "Pfizer",
    "dose_number": "1",
    "vaccination_date": "12/08/2021",
    "batch_number": "A1234",
    "entered_at": "2021-08-12T15:04:05",
    "signed_at": "",
}

REGISTER_DEFAULTS = {
    "old_id_number": "",
    "province_code": "79",
    "district_code": "760",
    "commune_code": "26734",
    "date_of_death": "",
}


def ledger_rows(spark: SparkSession, rows: list[dict[str, str]]) -> DataFrame:
    """``ledger_raw``-shaped rows: every value text, lineage filled in, defaults for what is not given."""
    data = []
    for i, given in enumerate(rows):
        row = {**LEDGER_DEFAULTS, **given}
        row.setdefault("record_id", f"{row['subject_id']}-{i}")
        data.append(tuple(row.get(c) for c in schemas.LEDGER_COLUMNS) + ("test.csv", i + 2, "test-run"))
    return spark.createDataFrame(data, schemas.LEDGER_RAW)


def register_rows(spark: SparkSession, rows: list[dict[str, str]]) -> DataFrame:
    data = []
    for i, given in enumerate(rows):
        row = {**REGISTER_DEFAULTS, **given}
        data.append(tuple(row.get(c) for c in schemas.REGISTER_COLUMNS) + ("register.csv", i + 2, "test-run"))
    return spark.createDataFrame(data, schemas.REGISTER_RAW)


def with_own_ids(
    cases: list[dict[str, str]], register: list[dict[str, str]], *, first: int
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Give every subject that types no ID a register person of its own with the default identity
    (IDs ``079085<first>``, ``079085<first + 1>``, ...), so that cases never meet as duplicate
    subjects of one person. Returns the ledger rows and ``register`` plus those persons."""
    sids = sorted({c["subject_id"] for c in cases if "id_number" not in c and c["subject_id"]})
    ids = {sid: f"079085{first + i:06d}" for i, sid in enumerate(sids)}
    persons = [
        dict(personal_id=pid, full_name="Nguyễn Văn An", date_of_birth="1985-03-05", gender="M")
        for pid in ids.values()
    ]
    rows = [{**c, "id_number": ids[c["subject_id"]]} if c["subject_id"] in ids else c for c in cases]
    return rows, list(register) + persons


def run_at_once(
    job: Callable[[object], object], args: Iterable[object], *, timeout: float = 900
) -> list[BaseException]:
    """Run ``job(arg)`` for every arg in its own thread, all at once (one Spark session, concurrent
    Delta commits); return the exceptions they raised, for the test to assert on."""
    errors: list[BaseException] = []

    def guarded(arg: object) -> None:
        try:
            job(arg)
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(arg,)) for arg in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return errors


def as_multiset(df: DataFrame) -> Counter[str]:
    """The rows as a multiset of JSON lines (arrays and nested rows are not hashable as they come).

    For sample-sized tables: both sides of a comparison are collected and compared in Python, two
    Spark jobs a table instead of four ``exceptAll`` jobs, and a difference shows as its rows only.
    """
    return Counter(json.dumps(r.asDict(recursive=True), sort_keys=True, default=str) for r in df.collect())


def table_versions(warehouse: Path) -> dict[str, int]:
    """Every Delta table's current version, checked from its log alone.

    A table is consistent when its commit files are numbered 0..n without a gap, each is whole JSON
    lines, and every data file live at version n (added and not removed) exists.
    """
    versions: dict[str, int] = {}
    for log in sorted(warehouse.glob("*/_delta_log")):
        commits = sorted(log.glob("[0-9]" * 20 + ".json"))
        if not commits:
            continue  # data files of a first write that never committed: not a table yet
        numbers = [int(c.stem) for c in commits]
        assert numbers == list(range(len(numbers))), f"{log}: commit files {numbers}"
        live: set[str] = set()
        for commit in commits:
            for line in commit.read_text(encoding="utf-8").splitlines():
                action = json.loads(line)  # a torn commit file would fail here
                if "add" in action:
                    live.add(action["add"]["path"])
                elif "remove" in action:
                    live.discard(action["remove"]["path"])
        table = log.parent
        missing = [p for p in live if not (table / p).exists()]
        assert not missing, f"{table.name}: live data files missing: {missing[:3]}"
        versions[table.name] = numbers[-1]
    return versions
