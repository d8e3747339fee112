"""Match: suggest register people for subjects whose ID is missing, malformed, unknown or shared.

    vaxclean match --config conf/local.yaml --warehouse DIR
    python -m jobs.match --config conf/local.yaml --warehouse DIR

Reads the Delta tables ``subjects``, ``subject_checks`` and ``register`` from the warehouse and
overwrites ``match_suggestions`` (data contract, section 3). The threshold and the number of
suggestions per subject come from the config (``matching.threshold``, ``matching.top_k``); the
method is described in docs/matching.md.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession

from transforms.matching import suggest_matches
from vaxclean import delta_io
from vaxclean.config import Config
from vaxclean.jobkit import argv_or_sys, load, parser, run_main
from vaxclean.logs import StepResult, progress
from vaxclean.spark import get_spark

log = logging.getLogger(__name__)

INPUTS = ("subjects", "subject_checks", "register")
OUTPUT = "match_suggestions"


def read_table(spark: SparkSession, cfg: Config, name: str) -> DataFrame:
    """A Delta table of the warehouse: ``<warehouse>/<name>``."""
    return spark.read.format("delta").load(cfg.table_path(name))


def write_suggestions(df: DataFrame, cfg: Config) -> None:
    """Overwrite ``match_suggestions`` in one Delta commit."""
    df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(cfg.table_path(OUTPUT))


def run_step(spark: SparkSession, cfg: Config) -> list[StepResult]:
    """The match step, as ``vaxclean run`` calls it: read, suggest, write; one progress line."""
    results: list[StepResult] = []
    with progress("match", results) as r:
        # The versions read and the settings: a rerun on the same ones writes nothing.
        inputs: dict[str, object] = {name: delta_io.version(spark, cfg, name) for name in INPUTS}
        inputs["matching"] = {"threshold": cfg.matching.threshold, "top_k": cfg.matching.top_k}
        if delta_io.step_done(spark, cfg, "match", inputs):
            r.note = "inputs unchanged since the last run: nothing to do"
            return results
        subjects, checks, register = (
            delta_io.read(spark, cfg, name, version=inputs[name]) for name in INPUTS
        )
        suggestions = suggest_matches(
            subjects, checks, register, threshold=cfg.matching.threshold, top_k=cfg.matching.top_k
        )
        write_suggestions(suggestions, cfg)
        r.rows = read_table(spark, cfg, OUTPUT).count()
        delta_io.record_step(spark, cfg, "match", inputs, outputs={OUTPUT: r.rows}, rows=r.rows)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    p = parser("vaxclean match", "Suggest register people for subjects whose ID needs help.")
    args = p.parse_args(argv_or_sys(argv))

    def body() -> int:
        cfg = load(args)
        run_step(get_spark(cfg), cfg)
        return 0

    return run_main(body, step="match")


if __name__ == "__main__":
    raise SystemExit(main())
