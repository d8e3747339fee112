"""Benchmark the review-workbook writer (issue 4, item 5).

    .venv/bin/python scripts/bench_workbooks.py                      # writer vs plain openpyxl
    .venv/bin/python scripts/bench_workbooks.py --people 20000       # + export of a generated set

1. **Writer vs plain openpyxl, per core.** The same synthetic review rows, cut into commune lists of
   ``--rows-per-list`` rows, are written (a) by ``vaxclean.xlsx.write_review_workbook`` (styles,
   protection, validation, summary and signed row keys) and (b) by plain openpyxl ``write_only``
   (``ws.append`` of the same values, nothing else), alternately, ``--repeat`` times, in this one
   process. Rates are rows per CPU-second of this process (``time.process_time``): one core, and
   robust to other work on the machine. The target is a ratio of at least 0.8.
2. **All workbooks of a generated set** (``--people N``): ``vaxclean generate`` (when
   ``--data`` has no ledger yet), ingest, classify and match into ``--warehouse``, then the export
   step is timed (Spark executors write the workbooks in parallel).

Figures go to docs/review-loop.md, section "Benchmark".
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from openpyxl import Workbook

from vaxclean import xlsx

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"]
MIDDLE = ["Văn", "Thị", "Minh", "Ngọc", "Thanh", "Đức", "Hữu", "Quang"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Hoa", "Lan", "Mai", "Nam", "Phương", "Quân", "Tâm", "Tuấn"]
CODES = ["ID_MISSING", "ID_MALFORMED", "ID_NOT_FOUND", "NAME_MISMATCH", "DOB_MISMATCH", "GENDER_MISMATCH"]
TEXT = "• Sai định dạng số CCCD/CMND (CCCD đủ 12 chữ số, CMND 9 chữ số): ghi lại số đúng."


def synthetic_rows(n: int, per_list: int, seed: int) -> list[list[dict[str, object]]]:
    """``n`` review rows in lists of ``per_list``, shaped like ``transforms.workbooks`` output."""
    rnd = random.Random(seed)
    lists: list[list[dict[str, object]]] = []
    for start in range(0, n, per_list):
        commune = f"{26734 + len(lists):05d}"
        list_id = f"DS-{commune}-{rnd.getrandbits(48):012x}"
        rows = []
        for i in range(min(per_list, n - start)):
            born = dt.date(1940, 1, 1) + dt.timedelta(days=rnd.randrange(0, 25000))
            name = f"{rnd.choice(FAMILY)} {rnd.choice(MIDDLE)} {rnd.choice(GIVEN)}"
            sug = rnd.random() < 0.6  # a suggestion for most rows, as matching gives
            rows.append(
                dict(
                    list_id=list_id, province_code="79", district_code="760", commune_code=commune,
                    row_number=i + 1, subject_id=f"S79-{start + i:08d}",
                    subject_version=f"{rnd.getrandbits(64):016x}", error_codes=[rnd.choice(CODES)],
                    full_name=name, dob_date=born, dob_precision="DAY", dob_raw=born.strftime("%d/%m/%Y"),
                    gender=rnd.choice(["Nam", "Nữ", ""]), id_number=f"{rnd.randrange(10**10, 10**11)}",
                    nationality="VN", passport_number=None, phone=f"09{rnd.randrange(10**7, 10**8)}",
                    problem=TEXT, sug_id=f"0{rnd.randrange(10**10, 10**11)}" if sug else None,
                    sug_name=name if sug else None, sug_dob_date=born if sug else None,
                    sug_dob_precision="DAY" if sug else None, sug_gender="M" if sug else None,
                    sug_basis="Tìm theo họ tên, ngày sinh (độ tin cậy 93%)" if sug else None,
                )
            )  # fmt: skip
        lists.append(rows)
    return lists


def write_ours(lists: list[list[dict[str, object]]], folder: Path, secret: bytes) -> None:
    for rows in lists:
        first = rows[0]
        info = xlsx.ListInfo(
            str(first["list_id"]), "79", "760", str(first["commune_code"]), dt.datetime(2024, 5, 1, 8, 0)
        )
        xlsx.write_review_workbook(folder / f"{first['commune_code']}.xlsx", info, rows, secret=secret)


PLAIN_KEYS = (
    "row_number", "subject_id", "full_name", "dob_date", "gender", "id_number", "nationality",
    "passport_number", "phone", "problem", "sug_id", "sug_name", "sug_dob_date", "sug_gender", "sug_basis",
)  # fmt: skip


def write_plain(lists: list[list[dict[str, object]]], folder: Path) -> None:
    """Plain openpyxl write-only: a header and the same values appended, nothing else."""
    for rows in lists:
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("Danh sách")
        ws.append([c.header for c in xlsx.COLUMNS])
        for r in rows:
            ws.append([r[k] for k in PLAIN_KEYS] + [None] * 7 + [f"{r['list_id']}|{r['subject_id']}"])
        wb.save(folder / f"{rows[0]['commune_code']}.xlsx")


def bench_writer(n: int, per_list: int, repeat: int) -> tuple[float, float]:
    lists = synthetic_rows(n, per_list, seed=1)
    secret = b"bench-secret"
    best = {"vaxclean": 0.0, "plain": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            for name in ("vaxclean", "plain"):
                folder = Path(tmp) / f"{name}-{i}"
                folder.mkdir()
                started = time.process_time()
                write_ours(lists, folder, secret) if name == "vaxclean" else write_plain(lists, folder)
                rate = n / (time.process_time() - started)
                best[name] = max(best[name], rate)
                shutil.rmtree(folder)
    return best["vaxclean"], best["plain"]


def bench_export(people: int, data: Path, warehouse: Path, out: Path) -> None:
    """Generate (if needed), ingest, classify, match, then time the export of every workbook."""
    os.environ.setdefault("VAXCLEAN_HMAC_SECRET", "bench-secret")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from jobs import generate
    from jobs.classify import classify
    from jobs.export_workbooks import run_step
    from jobs.ingest import ingest_ledger, ingest_register
    from vaxclean import delta_io
    from vaxclean.config import load_config
    from vaxclean.spark import get_spark

    if not (data / "ledger.csv").exists():
        generate.main(["--people", str(people), "--out", str(data), "--seed", "1"])
    cfg = load_config(Path(__file__).resolve().parents[1] / "conf" / "local.yaml").with_overrides(
        warehouse=str(warehouse), out=str(out)
    )
    spark = get_spark(cfg)
    ingest_register(spark, cfg, str(data / "register.csv"))
    ingest_ledger(spark, cfg, str(data / "ledger.csv"))
    classify(spark, cfg)
    try:
        from jobs import match

        match.run_step(spark, cfg)
    except ImportError:
        pass
    lists = cfg.table_path("review_lists")
    if delta_io.exists(spark, lists):  # time a first export, not the no-op rerun
        shutil.rmtree(lists)
        shutil.rmtree(cfg.table_path("review_manifest"), ignore_errors=True)
        shutil.rmtree(out / "workbooks", ignore_errors=True)
    started = time.perf_counter()
    [result] = run_step(spark, cfg)
    seconds = time.perf_counter() - started
    print(
        f"export of a {people:,}-person set: {result.rows:,} review rows in {seconds:.1f} s "
        f"(master {spark.sparkContext.master}, {os.cpu_count()} CPU(s)); {result.note}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=20000, help="review rows written by each writer")
    p.add_argument("--rows-per-list", type=int, default=100, help="rows per commune list")
    p.add_argument("--repeat", type=int, default=3, help="alternating runs; the best of each is kept")
    p.add_argument("--people", type=int, help="also time the export of a generated set of this size")
    p.add_argument("--data", default="bench-data/workbooks/data", help="generated set (made if missing)")
    p.add_argument("--warehouse", default="bench-data/workbooks/warehouse")
    p.add_argument("--out", default="bench-data/workbooks/out")
    args = p.parse_args(argv)
    ours, plain = bench_writer(args.rows, args.rows_per_list, args.repeat)
    print(f"writer, {args.rows:,} rows in lists of {args.rows_per_list} (best of {args.repeat}, per core):")
    print(f"  vaxclean review workbook   {ours:>10,.0f} rows/s")
    print(f"  plain openpyxl write_only  {plain:>10,.0f} rows/s")
    print(f"  ratio                      {ours / plain:>10.2f}  (target >= 0.80)")
    if args.people:
        bench_export(args.people, Path(args.data), Path(args.warehouse), Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
