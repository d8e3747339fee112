"""Classify: normalise the ingested ledger, classify subjects and doses, gate signing.

    vaxclean classify [--warehouse DIR]

Reads ``ledger_raw`` and ``register`` (and ``subject_corrections`` when returned review lists have
been ingested) and writes ``doses``, ``subjects``, ``subject_checks``, ``dose_checks`` and
``signing_queue``. The Delta versions it read are recorded in ``pipeline_runs``; a rerun on the
same versions and settings is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pyspark.sql import SparkSession

from jobs.gate import dose_rules, rules_fingerprint, run_record, write_reports, written_versions
from transforms.classify import build_signing_queue, classify_doses, classify_subjects
from transforms.gate import with_source_versions
from transforms.ledger import build_subjects, normalize_doses
from vaxclean import delta_io
from vaxclean.config import Config
from vaxclean.errors import VaxcleanError
from vaxclean.jobkit import argv_or_sys, load, parser, run_main
from vaxclean.logs import StepResult, progress
from vaxclean.spark import get_spark

log = logging.getLogger(__name__)

CORRECTIONS = "subject_corrections"
GATE_TABLES = ("doses", "subject_checks", "dose_checks", "signing_queue", "facility_daily", "reconciliation")


def input_versions(spark: SparkSession, cfg: Config) -> dict[str, object]:
    versions: dict[str, object] = {
        name: delta_io.version(spark, cfg, name) for name in ("ledger_raw", "register", CORRECTIONS)
    }
    if versions["ledger_raw"] is None or versions["register"] is None:
        raise VaxcleanError(
            f"nothing to classify in {cfg.warehouse}: ingest the ledger and the register first "
            "(vaxclean ingest --ledger PATH --register PATH)"
        )
    versions["rules"] = rules_fingerprint(cfg)
    return versions


def classify(spark: SparkSession, cfg: Config) -> list[StepResult]:
    results: list[StepResult] = []
    inputs = input_versions(spark, cfg)
    if delta_io.step_done(spark, cfg, "classify", inputs):
        with progress("classify", results) as r:
            r.note = "inputs unchanged since the last run: nothing to do"
        return results

    raw = delta_io.read(spark, cfg, "ledger_raw", version=inputs["ledger_raw"])
    register = delta_io.read(spark, cfg, "register", version=inputs["register"])

    with progress("normalise doses", results) as r:
        doses = normalize_doses(raw, missing_id_tokens=cfg.rules.missing_id_tokens)
        delta_io.overwrite(doses, cfg, "doses", partition_column="province_code", skip_if_same=False)
        doses = delta_io.read(spark, cfg, "doses")
        r.rows = doses.count()

    with progress("build subjects", results) as r:
        subjects = build_subjects(doses)
        if inputs[CORRECTIONS] is not None:
            from transforms.corrections import apply_corrections

            corrections = delta_io.read(spark, cfg, CORRECTIONS, version=inputs[CORRECTIONS])
            subjects = apply_corrections(subjects, corrections, missing_id_tokens=cfg.rules.missing_id_tokens)
        delta_io.overwrite(subjects, cfg, "subjects", partition_column="province_code", skip_if_same=False)
        subjects = delta_io.read(spark, cfg, "subjects")
        r.rows = subjects.count()

    with progress("classify subjects", results) as r:
        checks = classify_subjects(subjects, register)
        delta_io.overwrite(
            checks, cfg, "subject_checks", partition_column="province_code", skip_if_same=False
        )
        checks = delta_io.read(spark, cfg, "subject_checks")
        r.rows = checks.count()

    with progress("classify doses", results) as r:
        dose_checks = classify_doses(doses, subjects, checks, register, **dose_rules(cfg))
        delta_io.overwrite(
            dose_checks, cfg, "dose_checks", partition_column="province_code", skip_if_same=False
        )
        dose_checks = delta_io.read(spark, cfg, "dose_checks")
        r.rows = dose_checks.count()

    with progress("signing queue", results) as r:
        read = {name: inputs[name] for name in ("ledger_raw", "register", CORRECTIONS)}
        queue = build_signing_queue(doses, checks, dose_checks).transform(with_source_versions, versions=read)
        delta_io.overwrite(queue, cfg, "signing_queue", partition_column="province_code", skip_if_same=False)
        r.rows = delta_io.read(spark, cfg, "signing_queue").count()

    results.append(write_reports(spark, cfg))
    reports_version = delta_io.version(spark, cfg, "facility_reports")
    outputs = {
        **run_record(cfg, {**read, "facility_reports": reports_version}),
        "wrote": written_versions(spark, cfg, GATE_TABLES),
    }
    delta_io.record_step(spark, cfg, "classify", inputs, outputs=outputs, rows=results[0].rows)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    p = parser("vaxclean classify", "Classify subjects and doses and build the signing queue.")
    args = p.parse_args(argv_or_sys(argv))

    def body() -> int:
        cfg = load(args)
        classify(get_spark(cfg), cfg)
        return 0

    return run_main(body, step="classify")


if __name__ == "__main__":
    raise SystemExit(main())
