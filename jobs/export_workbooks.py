"""Export: one review workbook per commune with subjects that need review.

    vaxclean export-workbooks [--config conf/local.yaml] [--warehouse DIR] [--out DIR] [--province 79]
    python -m jobs.export_workbooks ...

Reads ``subject_checks``, ``subjects``, ``register`` and (when the match step has run)
``match_suggestions``; writes ``<out>/workbooks/<province>/<province>-<district>-<commune>.xlsx``
(Spark executors, one commune at a time), the national index ``<out>/workbooks/index.csv``, and the
Delta tables ``review_lists`` (one row per list issued) and ``review_manifest`` (one row per row
issued, with the values the row showed). Row keys are signed with the secret in the environment
variable named by ``workbooks.hmac_secret_env`` (``VAXCLEAN_HMAC_SECRET``); without it the export
stops. Re-exporting the same classification writes nothing: same list ids, same files, no new
Delta versions. How the loop works: docs/review-loop.md.

``--province`` (one or several codes) exports only the communes of those provinces and writes
``<out>/workbooks/<province>/index.csv`` for each of them instead of the national index. Province
exports run side by side on one warehouse (shared lock): their MERGEs name their provinces, and a
commit that loses a race with another province's is done again.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import logging
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from transforms.workbooks import (
    REVIEW_LISTS,
    REVIEW_MANIFEST,
    WRITTEN,
    list_rows,
    manifest_rows,
    select_review_rows,
    with_list_ids,
)
from vaxclean import delta_io, xlsx
from vaxclean.config import Config
from vaxclean.errors import VaxcleanError
from vaxclean.jobkit import add_province_flag, argv_or_sys, load, parser, run_main
from vaxclean.jobkit import provinces as province_codes
from vaxclean.logs import StepResult, progress
from vaxclean.spark import get_spark

log = logging.getLogger(__name__)

STEP = "export_workbooks"
LISTS = "review_lists"
MANIFEST = "review_manifest"
SUGGESTIONS = "match_suggestions"
INPUTS = ("subject_checks", "subjects", "register")
INDEX = "workbooks/index.csv"
INDEX_HEADER = (
    "Mã tỉnh", "Tỉnh/Thành phố", "Mã huyện", "Quận/Huyện", "Mã xã", "Xã/Phường/Thị trấn",
    "Mã danh sách", "Tệp", "Số đối tượng", "Ngày lập", "SHA-256",
)  # fmt: skip


def require_secret(cfg: Config) -> bytes:
    """The row-key secret from the environment, or a sentence saying how to provide it."""
    secret = cfg.hmac_secret()
    if not secret:
        raise VaxcleanError(
            f"review workbooks are signed with a secret that is not set: export {cfg.hmac_secret_env} "
            "(production: from the data center's secret store; local demo: scripts/demo.sh sets a "
            "public demo value). Returned workbooks can only be ingested with the same secret."
        )
    return secret.encode("utf-8")


def out_folder(cfg: Config) -> str:
    """``--out`` as an absolute local path: executors write there (a shared mount on a cluster)."""
    if "://" in cfg.out and not cfg.out.startswith("file://"):
        raise VaxcleanError(
            f"--out {cfg.out}: review workbooks are written with plain file I/O by the executors; give "
            "a local folder or a mount every executor sees (NFS, /dbfs/...), not an object-store URI"
        )
    return os.path.abspath(cfg.out.removeprefix("file://"))


@functools.cache
def commune_names() -> dict[str, tuple[str, str, str]]:
    """Province, district and commune names by 2022 commune code (for titles; codes rule)."""
    text = resources.files("vaxclean").joinpath("reference/admin_units_2022.csv").read_text("utf-8")
    return {
        r["commune_code"]: (r["province_name"], r["district_name"], r["commune_name"])
        for r in csv.DictReader(io.StringIO(text))
    }


def known_lists(spark: SparkSession, cfg: Config) -> dict[str, xlsx.KnownList]:
    """Lists already issued (one row each: at most one per commune per classification)."""
    if not delta_io.exists(spark, cfg.table_path(LISTS)):
        return {}
    rows = delta_io.read(spark, cfg, LISTS).select("list_id", "file", "file_sha256", "issued_at").collect()
    return {r["list_id"]: xlsx.KnownList(r["file"], r["file_sha256"], r["issued_at"]) for r in rows}


def _new_rows(spark: SparkSession, cfg: Config, df: DataFrame, name: str, keys: list[str]) -> DataFrame:
    """Rows of ``df`` whose keys are not in table ``name`` yet (all of them when it does not exist)."""
    if not delta_io.exists(spark, cfg.table_path(name)):
        return df
    return df.join(delta_io.read(spark, cfg, name).select(*keys), on=keys, how="left_anti")


def write_index(out_dir: str, lists: list[dict[str, object]], *, name: str = INDEX) -> bool:
    """An index of current lists (CSV, UTF-8 with BOM) at ``<out_dir>/<name>``: the national one by
    default; rewritten only when it changed."""
    names = commune_names()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(INDEX_HEADER)
    for r in sorted(lists, key=lambda r: str(r["file"])):
        p, d, c = names.get(str(r["commune_code"] or ""), ("", "", ""))
        issued = r["issued_at"]
        writer.writerow(
            [
                r["province_code"], p, r["district_code"], d, r["commune_code"], c, r["list_id"], r["file"],
                r["n_rows"], issued.strftime("%Y-%m-%d %H:%M") if isinstance(issued, dt.datetime) else issued,
                r["file_sha256"],
            ]
        )  # fmt: skip
    target = Path(out_dir) / name
    content = "\ufeff" + buffer.getvalue()
    if target.exists() and target.read_text(encoding="utf-8") == content:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(content, encoding="utf-8")
    os.replace(tmp, target)
    return True


def province_index(province: str) -> str:
    return f"workbooks/{province}/index.csv"


def export_workbooks(
    spark: SparkSession, cfg: Config, result: StepResult, *, provinces: Sequence[str] | None = None
) -> None:
    """Write the workbooks, the manifest and the index; fill ``result`` (rows, note).

    ``provinces``: only the communes of these provinces, with one index per province."""
    secret = require_secret(cfg)
    for name in INPUTS:
        if not delta_io.exists(spark, cfg.table_path(name)):
            raise VaxcleanError(
                f"table {name} is missing in {cfg.warehouse}: "
                "run `vaxclean classify` before exporting workbooks"
            )
    out_dir = out_folder(cfg)
    salt = f"{xlsx.LAYOUT_VERSION}:{xlsx.secret_id(secret)}"
    inputs: dict[str, object] = {n: delta_io.version(spark, cfg, n) for n in (*INPUTS, SUGGESTIONS)}
    inputs.update(salt=salt, out=out_dir)
    scope = ",".join(provinces) if provinces else "all"
    indexes = [province_index(p) for p in provinces] if provinces else [INDEX]
    done = delta_io.step_done(spark, cfg, STEP, inputs, scope=scope)
    if done and all((Path(out_dir) / i).exists() for i in indexes):
        result.note = "classification unchanged since the last export: nothing to do"
        return

    checks = delta_io.read(spark, cfg, "subject_checks", version=inputs["subject_checks"])
    subjects = delta_io.read(spark, cfg, "subjects", version=inputs["subjects"])
    register = delta_io.read(spark, cfg, "register", version=inputs["register"])
    suggestions = (
        delta_io.read(spark, cfg, SUGGESTIONS, version=inputs[SUGGESTIONS])
        if inputs[SUGGESTIONS] is not None
        else None
    )
    rows = select_review_rows(checks, subjects, register, suggestions).transform(with_list_ids, salt=salt)
    if provinces:
        rows = rows.filter(F.col("province_code").isin(list(provinces)))

    # One task writes whole communes: rows of a list meet in one partition, in row order.
    partitions = max(1, spark.sparkContext.defaultParallelism * 2)
    ordered = rows.repartition(partitions, "list_id").sortWithinPartitions("list_id", "row_number")
    body = functools.partial(
        xlsx.write_review_partition,
        out_dir=out_dir,
        secret=secret,
        issued_at=dt.datetime.now().replace(microsecond=0),
        known=known_lists(spark, cfg),
        names=commune_names(),
    )
    written = spark.createDataFrame(ordered.rdd.mapPartitions(body), WRITTEN).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    try:
        lists = [
            r.asDict()
            for r in written.filter(F.col("kind") == "file")
            .select(*REVIEW_LISTS.fieldNames(), "status")
            .collect()
        ]
        # Province exports run side by side: the tables are created empty first (a creating
        # overwrite could wipe what a concurrent export just committed), the MERGEs name their
        # provinces, and a commit that loses a race with another province's is done again.
        delta_io.ensure_table(spark, cfg, MANIFEST, REVIEW_MANIFEST, "province_code")
        delta_io.ensure_table(spark, cfg, LISTS, REVIEW_LISTS, "province_code")

        def merge_new(df: DataFrame, name: str, keys: list[str], fields: list[str]) -> None:
            new = _new_rows(spark, cfg, df, name, keys)
            if not new.isEmpty():
                new = new.select(*fields)
                delta_io.insert_new(new, cfg, name, keys=keys, partition_column="province_code")

        delta_io.retry_on_conflict(
            lambda: merge_new(
                manifest_rows(written), MANIFEST, ["list_id", "subject_id"], REVIEW_MANIFEST.fieldNames()
            ),
            what=MANIFEST,
        )
        delta_io.retry_on_conflict(
            lambda: merge_new(list_rows(written), LISTS, ["list_id"], REVIEW_LISTS.fieldNames()), what=LISTS
        )
    finally:
        written.unpersist()
    if provinces:
        for p in provinces:
            write_index(out_dir, [r for r in lists if r["province_code"] == p], name=province_index(p))
    else:
        write_index(out_dir, lists)
    n_written = sum(1 for r in lists if r["status"] == "written")
    result.rows = sum(int(r["n_rows"] or 0) for r in lists)
    result.note = (
        f"{len(lists)} commune list(s): {n_written} written, {len(lists) - n_written} unchanged; "
        f"index {Path(out_dir) / indexes[0]}" + (f" and {len(indexes) - 1} more" if len(indexes) > 1 else "")
    )
    delta_io.record_step(
        spark, cfg, STEP, inputs, outputs={"lists": len(lists)}, rows=result.rows, scope=scope
    )


def run_step(spark: SparkSession, cfg: Config, *, provinces: Sequence[str] | None = None) -> list[StepResult]:
    """The export step as ``vaxclean run`` calls it (after classification and matching)."""
    results: list[StepResult] = []
    with progress("review workbooks", results) as r:
        export_workbooks(spark, cfg, r, provinces=provinces)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    p = parser("vaxclean export-workbooks", "Write the per-commune review workbooks and their index.")
    add_province_flag(p)
    args = p.parse_args(argv_or_sys(argv))
    only = province_codes(p, args)

    def body() -> int:
        cfg = load(args)
        run_step(get_spark(cfg), cfg, provinces=only)
        return 0

    return run_main(body, step="export-workbooks")


if __name__ == "__main__":
    raise SystemExit(main())
