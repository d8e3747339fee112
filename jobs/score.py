"""Score the pipeline's tables against the ground truth of a generated data set.

    vaxclean score --warehouse DIR --truth DIR [--out DIR] [--min-precision 0.99 ...]

Reports precision and recall per error code (subjects and doses), status accuracy, signing-gate
accuracy and, when ``match_suggestions`` exists, suggestion quality (top-1 precision and recall,
top-3 recall over subjects whose true register person is known and whose ID needs a suggestion).
Exits 1 when a figure is below its threshold, so CI can hold the line.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import SparkSession

from vaxclean import delta_io
from vaxclean.config import Config
from vaxclean.errors import InputError
from vaxclean.jobkit import argv_or_sys, load, parser, run_main
from vaxclean.spark import get_spark
from vaxclean.synth.score import score_codes

log = logging.getLogger(__name__)

SUGGESTION_CODES = {"ID_MISSING", "ID_MALFORMED", "ID_NOT_FOUND", "ID_SHARED"}
# Documented thresholds (docs/synthetic-data.md): what CI holds the pipeline to on generated data.
DEFAULTS = {
    "min_code_precision": 0.98,
    "min_code_recall": 0.98,
    "min_status_accuracy": 0.99,
    "min_signing_accuracy": 0.99,
    "min_top1_precision": 0.99,
    "min_top1_recall": 0.95,
    "min_top3_recall": 0.98,
}


def _codes(text: str) -> set[str]:
    return {c for c in (text or "").split("|") if c}


def _read_truth(folder: Path, name: str) -> list[dict[str, str]]:
    """``truth_subjects.csv`` (local generator) or a ``truth_subjects/`` folder of parts (Spark)."""
    single = folder / name
    parts = [single] if single.exists() else sorted((folder / Path(name).stem).glob("*.csv"))
    if not parts:
        raise InputError(f"no {name} (nor a folder of parts) in the truth folder", path=str(folder))
    rows: list[dict[str, str]] = []
    for part in parts:
        with part.open(encoding="utf-8", newline="") as fh:
            rows.extend(csv.DictReader(fh))
    return rows


def suggestion_quality(truth: list[dict[str, str]], suggestions: dict[str, list[tuple[int, str]]]) -> dict:
    """Top-1 precision (of the rank-1 claims made), top-1 recall and top-3 recall."""
    eligible = [t for t in truth if t["true_personal_id"] and _codes(t["expected_codes"]) & SUGGESTION_CODES]
    claims = correct1 = correct3 = 0
    for t in eligible:
        ranked = sorted(suggestions.get(t["subject_id"], []))
        if ranked and ranked[0][0] == 1:
            claims += 1
            correct1 += ranked[0][1] == t["true_personal_id"]
        correct3 += t["true_personal_id"] in {pid for _, pid in ranked[:3]}
    n = len(eligible)
    return {
        "eligible": n,
        "top1_claims": claims,
        "top1_precision": correct1 / claims if claims else 1.0,
        "top1_recall": correct1 / n if n else 1.0,
        "top3_recall": correct3 / n if n else 1.0,
    }


def score(spark: SparkSession, cfg: Config, truth_dir: Path) -> dict:
    truth_subjects = _read_truth(truth_dir, "truth_subjects.csv")
    truth_doses = _read_truth(truth_dir, "truth_doses.csv")
    checks = {
        r["subject_id"]: (r["status"], set(r["error_codes"]))
        for r in delta_io.read(spark, cfg, "subject_checks")
        .select("subject_id", "status", "error_codes")
        .collect()
    }
    dose_codes = {
        r["record_id"]: set(r["error_codes"])
        for r in delta_io.read(spark, cfg, "dose_checks").select("record_id", "error_codes").collect()
    }
    queue = {
        r["record_id"]: bool(r["signable"])
        for r in delta_io.read(spark, cfg, "signing_queue").select("record_id", "signable").collect()
    }
    report: dict = {
        "subjects": score_codes(
            {t["subject_id"]: _codes(t["expected_codes"]) for t in truth_subjects},
            {k: v[1] for k, v in checks.items()},
        ),
        "doses": score_codes({t["record_id"]: _codes(t["expected_codes"]) for t in truth_doses}, dose_codes),
    }
    status_ok = sum(checks.get(t["subject_id"], ("",))[0] == t["expected_status"] for t in truth_subjects)
    report["status_accuracy"] = status_ok / len(truth_subjects) if truth_subjects else 1.0
    unsigned = [t for t in truth_doses if t["expected_signable"] in ("true", "false")]
    signing_ok = sum(queue.get(t["record_id"]) == (t["expected_signable"] == "true") for t in unsigned)
    report["signing_accuracy"] = signing_ok / len(unsigned) if unsigned else 1.0
    report["unsigned_doses"] = len(unsigned)
    if delta_io.exists(spark, cfg.table_path("match_suggestions")):
        suggestions: dict[str, list[tuple[int, str]]] = {}
        for r in delta_io.read(spark, cfg, "match_suggestions").collect():
            suggestions.setdefault(r["subject_id"], []).append((int(r["rank"]), r["personal_id"]))
        report["suggestions"] = suggestion_quality(truth_subjects, suggestions)
    return report


def failures(report: dict, thresholds: dict[str, float]) -> list[str]:
    out = []
    for part in ("subjects", "doses"):
        for code, s in report[part]["per_code"].items():
            if s["precision"] < thresholds["min_code_precision"]:
                out.append(
                    f"{part} {code}: precision {s['precision']:.3f} < {thresholds['min_code_precision']}"
                )
            if s["recall"] < thresholds["min_code_recall"]:
                out.append(f"{part} {code}: recall {s['recall']:.3f} < {thresholds['min_code_recall']}")
    for key in ("status_accuracy", "signing_accuracy"):
        if report[key] < thresholds[f"min_{key}"]:
            out.append(f"{key} {report[key]:.3f} < {thresholds[f'min_{key}']}")
    sug = report.get("suggestions")
    if sug:
        for key in ("top1_precision", "top1_recall", "top3_recall"):
            if sug[key] < thresholds[f"min_{key}"]:
                out.append(f"suggestions {key} {sug[key]:.3f} < {thresholds[f'min_{key}']}")
    return out


def render(report: dict) -> str:
    lines = [f"{'code':<22} {'support':>8} {'precision':>10} {'recall':>8}"]
    for part in ("subjects", "doses"):
        for code, s in report[part]["per_code"].items():
            lines.append(f"{code:<22} {s['support']:>8} {s['precision']:>10.3f} {s['recall']:>8.3f}")
    lines.append(f"status accuracy   {report['status_accuracy']:.4f}")
    lines.append(
        f"signing accuracy  {report['signing_accuracy']:.4f} over {report['unsigned_doses']} unsigned doses"
    )
    sug = report.get("suggestions")
    if sug:
        lines.append(
            f"suggestions       top-1 precision {sug['top1_precision']:.4f}"
            f"  top-1 recall {sug['top1_recall']:.4f}"
            f"  top-3 recall {sug['top3_recall']:.4f}  ({sug['eligible']} subjects)"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = parser("vaxclean score", "Score the pipeline's tables against generated ground truth.")
    p.add_argument("--truth", required=True, help="folder with truth_subjects.csv and truth_doses.csv")
    for key, value in DEFAULTS.items():
        p.add_argument(f"--{key.replace('_', '-')}", type=float, default=value, help=f"default {value}")
    args = p.parse_args(argv_or_sys(argv))

    def body() -> int:
        cfg = load(args)
        report = score(get_spark(cfg), cfg, Path(args.truth))
        print(render(report))
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        (Path(cfg.out) / "score.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
        failed = failures(report, {k: getattr(args, k) for k in DEFAULTS})
        for line in failed:
            print(f"below threshold: {line}")
        return 1 if failed else 0

    return run_main(body, step="score")


if __name__ == "__main__":
    raise SystemExit(main())
