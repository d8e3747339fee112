"""Peer comparison of register matching: ours (PySpark) against Splink 5 (DuckDB) on the same data.

Issue 5, item 5. Needs the optional ``peer`` extra (``pip install -e ".[dev,peer]"``)::

    python scripts/bench_splink.py --people 20000            # generates with seed 20260430
    python scripts/bench_splink.py --data OUT                # reuses `vaxclean generate` output
    python scripts/bench_splink.py --synthetic 2000          # bench_matching.py's harsher synthetic mode

1. The data: ``vaxclean generate`` output (register, ledger, truth), normalised and classified by
   the pipeline's own transforms (``bench_matching.from_generated``), outside both timings.
2. Ours: :func:`transforms.matching.suggest_matches` written to Parquet, timed as
   ``bench_matching.py`` times it (``timed_suggestions``).
3. Splink: the same subjects (those :func:`transforms.matching.select_targets` picks, i.e. the
   ones ours is asked about) and the same register, with the same normalised fields
   (``name_fold``, ``dob_date`` and its precision, ``gender``, residence codes, the repaired ID)
   handed over as Parquet and loaded into DuckDB. Comparisons: folded name (exact with term
   frequencies, reordered tokens, family + given, Levenshtein, Jaro-Winkler), birth date (exact,
   equal at the coarser precision, day/month swapped, one typo, year, year ± 1), gender,
   residence (commune, district, province), ID digits (exact, Levenshtein 1 and 2, scientific
   prefix). Blocking rules mirror ours (residence + birth year, names + year, name + province,
   ID and ID-with-a-group-removed, ID prefix + given name). Parameters as Splink's docs advise for
   link_only: λ from deterministic rules, u by random sampling, m by EM in two sessions. Timed
   from loading the Parquet into DuckDB to the ranked top 3 (training included: ours has no
   training step, its weights are fixed and its frequencies are computed inside the timing).
4. Ranked like ours: per subject the candidates by match probability; rank 1 only when it
   reaches the threshold, else ranks 2..3 (no claim). Quality with ``jobs.score.suggestion_quality``
   (the scorer's definitions: subjects whose true person is in the register and whose expected
   codes call for a suggestion), for ours at the configured threshold, for Splink at 0.5 (fixed in
   advance, the fair figure) and at the threshold with the best top-1 F1 (chosen with the truth:
   an upper bound). Rank-1 claims for subjects who are not in the register at all (wrong by
   definition, and not seen by ``suggestion_quality``) are counted apart ("outsider").

Figures and method: docs/matching.md, "Peer comparison: Splink".
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench_matching import ROOT, from_generated, timed_suggestions, write_synthetic
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.score import SUGGESTION_CODES, _read_truth, suggestion_quality
from transforms.matching import id_birth_year, select_targets, with_name_parts
from vaxclean.config import load_config
from vaxclean.spark import get_spark

log = logging.getLogger("bench_splink")

SEED = 20260430  # used by no test (tests/ use their own small seeds)

# The inputs both sides of Splink share (one row per subject, one per register person).
SPLINK_COLUMNS = (
    "unique_id",
    "name_fold",
    "family",
    "given",
    "dob",
    "dob_precision",
    "birth_year",
    "id_year",
    "gender",
    "province_code",
    "district_code",
    "commune_code",
    "id12",
    "id9",
    "idp6",
    "idp6_alt",
    "id_prefix",
    "id_prefix_alt",
    "exclude_personal_id",
)


# --- inputs --------------------------------------------------------------------------------------


def splink_subjects(subjects: DataFrame, checks: DataFrame) -> DataFrame:
    """Our target subjects with the fields our matcher compares, in Splink's column names."""
    t = select_targets(subjects, checks)
    rid = F.col("id_repaired")
    prefix = F.coalesce(F.col("id_prefix"), rid)
    return t.select(
        F.col("subject_id").alias("unique_id"),
        "name_fold",
        "family",
        "given",
        F.col("dob_date").alias("dob"),
        "dob_precision",
        F.year("dob_date").alias("birth_year"),
        id_birth_year(rid).alias("id_year"),
        "gender",
        "province_code",
        "district_code",
        "commune_code",
        F.when(F.length(rid) == 12, rid).alias("id12"),
        F.when(F.length(rid) == 9, rid).alias("id9"),
        F.when(F.length(prefix) >= 6, F.substring(prefix, 1, 6)).alias("idp6"),
        F.when(F.length("id_prefix_alt") >= 6, F.substring("id_prefix_alt", 1, 6)).alias("idp6_alt"),
        "id_prefix",
        "id_prefix_alt",
        "exclude_personal_id",
    )


def splink_register(register: DataFrame) -> DataFrame:
    """The register in the same columns (its ID year is its birth year: both keys meet it)."""
    r = with_name_parts(register)
    pid = F.col("personal_id")
    return r.select(
        pid.alias("unique_id"),
        "name_fold",
        "family",
        "given",
        F.col("dob_date").alias("dob"),
        "dob_precision",
        F.year("dob_date").alias("birth_year"),
        F.year("dob_date").alias("id_year"),
        F.when(F.col("gender").isin("M", "F"), F.col("gender")).alias("gender"),
        "province_code",
        "district_code",
        "commune_code",
        F.when(F.length(pid) == 12, pid).alias("id12"),
        F.when(F.length("old_id_number") == 9, F.col("old_id_number")).alias("id9"),
        F.substring(pid, 1, 6).alias("idp6"),
        F.substring(pid, 1, 6).alias("idp6_alt"),
        F.lit(None).cast("string").alias("id_prefix"),
        F.lit(None).cast("string").alias("id_prefix_alt"),
        F.lit(None).cast("string").alias("exclude_personal_id"),
    )


# --- the Splink model ----------------------------------------------------------------------------


def blocking_rules() -> list[str]:
    """Ours, rule for rule (docs/matching.md, "Blocking"); ``id_year`` = the year the ID encodes."""
    rules = []
    for year in ("birth_year", "id_year"):
        rules += [
            f"l.commune_code = r.commune_code and l.{year} = r.{year} and l.gender = r.gender",
            f"l.district_code = r.district_code and l.{year} = r.{year}",
            f"l.name_fold = r.name_fold and l.{year} = r.{year}",
            f"l.family = r.family and l.given = r.given and l.{year} = r.{year}",
        ]
    rules += [
        "l.name_fold = r.name_fold and l.province_code = r.province_code",
        "l.id12 = r.id12",
        "l.id9 = r.id9",
    ]
    # One wrong digit: the ID with one of its 3-digit groups removed (4 keys for 12 digits, 3 for 9).
    for col, groups in (("id12", 4), ("id9", 3)):
        for g in range(groups):
            parts = [f"substr({{s}}.{col}, {3 * i + 1}, 3)" for i in range(groups) if i != g]
            left, right = " || ".join(parts).format(s="l"), " || ".join(parts).format(s="r")
            rules.append(f"{left} = {right}")
    rules += [
        "l.idp6 = r.idp6 and l.given = r.given",
        "l.idp6_alt = r.idp6_alt and l.given = r.given",
    ]
    return rules


def comparisons():
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    name = cl.CustomComparison(
        output_column_name="name_fold",
        comparison_levels=[
            cll.NullLevel("name_fold"),
            cll.ExactMatchLevel("name_fold", term_frequency_adjustments=True),
            cll.CustomLevel(
                "list_sort(string_split(name_fold_l, ' ')) = list_sort(string_split(name_fold_r, ' '))",
                label_for_charts="same tokens, another order",
            ),
            cll.CustomLevel(
                "family_l = family_r and given_l = given_r", label_for_charts="family and given equal"
            ),
            cll.LevenshteinLevel("name_fold", 1),
            cll.LevenshteinLevel("name_fold", 2),
            cll.JaroWinklerLevel("name_fold", 0.92),
            cll.JaroWinklerLevel("name_fold", 0.85),
            cll.ElseLevel(),
        ],
    )
    both_day = "dob_precision_l = 'DAY' and dob_precision_r = 'DAY'"
    coarser_equal = (
        "(dob_precision_l = 'YEAR' or dob_precision_r = 'YEAR') and year(dob_l) = year(dob_r)"
        " or (dob_precision_l = 'MONTH' or dob_precision_r = 'MONTH')"
        " and date_trunc('month', dob_l) = date_trunc('month', dob_r)"
    )
    dob = cl.CustomComparison(
        output_column_name="dob",
        comparison_levels=[
            cll.NullLevel("dob"),
            cll.CustomLevel(f"dob_l = dob_r and {both_day}", label_for_charts="exact (day precision)"),
            cll.CustomLevel(f"({coarser_equal})", label_for_charts="equal at the coarser precision"),
            cll.CustomLevel(
                f"{both_day} and year(dob_l) = year(dob_r)"
                " and day(dob_l) = month(dob_r) and month(dob_l) = day(dob_r)",
                label_for_charts="day and month swapped",
            ),
            cll.CustomLevel(
                f"{both_day} and levenshtein(strftime(dob_l, '%Y%m%d'), strftime(dob_r, '%Y%m%d')) <= 1",
                label_for_charts="one digit off",
            ),
            cll.CustomLevel("year(dob_l) = year(dob_r)", label_for_charts="same year"),
            cll.CustomLevel("abs(year(dob_l) - year(dob_r)) = 1", label_for_charts="year +-1"),
            cll.ElseLevel(),
        ],
    )
    residence = cl.CustomComparison(
        output_column_name="residence",
        comparison_levels=[
            cll.CustomLevel("province_code_l is null or province_code_r is null").configure(
                is_null_level=True
            ),
            cll.CustomLevel("commune_code_l = commune_code_r", label_for_charts="same commune"),
            cll.CustomLevel("district_code_l = district_code_r", label_for_charts="same district"),
            cll.CustomLevel("province_code_l = province_code_r", label_for_charts="same province"),
            cll.ElseLevel(),
        ],
    )
    no_id = "(id12_{s} is null and id9_{s} is null and id_prefix_{s} is null)"
    prefix = " or ".join(
        f"starts_with(id12_{a}, {p}_{b})"
        for a, b in (("l", "r"), ("r", "l"))
        for p in ("id_prefix", "id_prefix_alt")
    )
    ids = cl.CustomComparison(
        output_column_name="id_digits",
        comparison_levels=[
            cll.CustomLevel(f"{no_id.format(s='l')} or {no_id.format(s='r')}").configure(is_null_level=True),
            cll.CustomLevel("id12_l = id12_r or id9_l = id9_r", label_for_charts="exact"),
            cll.CustomLevel(
                "levenshtein(id12_l, id12_r) <= 1 or levenshtein(id9_l, id9_r) <= 1",
                label_for_charts="Levenshtein <= 1",
            ),
            cll.CustomLevel(
                "levenshtein(id12_l, id12_r) <= 2 or levenshtein(id9_l, id9_r) <= 2",
                label_for_charts="Levenshtein <= 2",
            ),
            cll.CustomLevel(prefix, label_for_charts="scientific-notation prefix"),
            cll.ElseLevel(),
        ],
    )
    return [name, dob, cl.ExactMatch("gender"), residence, ids]


def run_splink(tmp: str, *, u_pairs: float, seed: int) -> tuple[dict[str, list[tuple[float, str]]], dict]:
    """Train and predict; every subject's candidates as ``(match_probability, personal_id)``."""
    import duckdb
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads TO {os.cpu_count() or 2}")
    for name in ("subjects", "register"):
        con.execute(f"CREATE TABLE {name}_in AS SELECT * FROM read_parquet('{tmp}/splink_{name}/*.parquet')")
    db_api = DuckDBAPI(con)
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=blocking_rules(),
        additional_columns_to_retain=["exclude_personal_id"],
        retain_matching_columns=False,
    )
    subjects = db_api.register("subjects_in", dataset_display_name="subjects")
    register = db_api.register("register_in", dataset_display_name="register")
    linker = Linker([subjects, register], settings, log_level=logging.WARNING)
    timings["splink_load_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(
        ["l.name_fold = r.name_fold and l.dob = r.dob", "l.id12 = r.id12"], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed)
    timings["splink_u_s"] = time.perf_counter() - t1
    # m by EM in two sessions, each blocked on fields whose m the other session estimates.
    t_em = time.perf_counter()
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name_fold"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    timings["splink_em_s"] = time.perf_counter() - t_em
    timings["splink_train_s"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    pred = linker.inference.predict()
    rows = con.execute(
        f"""
        SELECT CASE WHEN source_dataset_l = 'subjects' THEN unique_id_l ELSE unique_id_r END AS sid,
               CASE WHEN source_dataset_l = 'subjects' THEN unique_id_r ELSE unique_id_l END AS pid,
               match_probability,
               coalesce(exclude_personal_id_l, exclude_personal_id_r) AS excluded
        FROM {pred.physical_name}
        """
    ).fetchall()
    candidates: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for sid, pid, p, excluded in rows:
        if pid != excluded:  # as ours: an ID_SHARED subject never gets the ID's owner
            candidates[sid].append((float(p), pid))
    for c in candidates.values():
        c.sort(key=lambda x: (-x[0], x[1]))
    timings["splink_predict_s"] = time.perf_counter() - t2
    timings["splink_pairs"] = len(rows)
    timings["splink_seconds"] = time.perf_counter() - t0
    return candidates, timings


# --- ranking and quality -------------------------------------------------------------------------


def ranked(
    candidates: dict[str, list[tuple[float, str]]], threshold: float
) -> dict[str, list[tuple[int, str]]]:
    """Our output rule: ranks 1..3 when the best reaches ``threshold``, else ranks 2..3 (no claim)."""
    out = {}
    for sid, c in candidates.items():
        if c[0][0] >= threshold:
            out[sid] = [(i + 1, pid) for i, (_, pid) in enumerate(c[:3])]
        else:
            out[sid] = [(i + 2, pid) for i, (_, pid) in enumerate(c[:2])]
    return out


def f1(q: dict) -> float:
    p, r = q["top1_precision"], q["top1_recall"]
    return 2 * p * r / (p + r) if p + r else 0.0


def best_thresholds(
    candidates: dict[str, list[tuple[float, str]]], truth: list[dict]
) -> tuple[float, float, dict]:
    """The lowest and highest thresholds (0.5 or a top-1 probability seen) with the best top-1 F1,
    and the quality at the highest (the most cautious of them)."""
    tops = sorted({c[0][0] for c in candidates.values()} | {0.5})
    scored = [(t, suggestion_quality(truth, ranked(candidates, t))) for t in tops]
    best = max(f1(q) for _, q in scored)
    at_best = [(t, q) for t, q in scored if f1(q) == best]
    return at_best[0][0], at_best[-1][0], at_best[-1][1]


def outsider_claims(suggestions: dict[str, list[tuple[int, str]]], outsiders: set[str]) -> int:
    """Rank-1 claims for subjects whose person is not in the register: wrong by definition.

    ``suggestion_quality`` does not see them (it counts subjects whose true person is known).
    """
    return sum(1 for sid in outsiders if any(rank == 1 for rank, _ in suggestions.get(sid, [])))


def row(label: str, q: dict, outsiders: int, seconds: float) -> str:
    return (
        f"{label:<34} {q['top1_precision']:>10.4f} {q['top1_recall']:>10.4f} {q['top3_recall']:>10.4f}"
        f" {q['top1_claims']:>7} {outsiders:>9} {seconds:>9.1f}"
    )


# --- main ----------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    data = args.data
    tmp = args.work or tempfile.mkdtemp(prefix="bench_splink_")
    if not data and not args.synthetic:
        from jobs.generate import main as generate

        data = args.out or f"{tmp}/generated"
        t0 = time.perf_counter()
        rc = generate(
            ["--people", str(args.people), "--seed", str(args.seed), "--out", data, "--engine", "local"]
        )
        if rc:
            return rc
        print(
            f"generated {args.people} people (seed {args.seed}) in {time.perf_counter() - t0:.1f} s: {data}"
        )
    cfg = load_config(args.config)
    spark = get_spark(cfg)
    threshold = args.threshold if args.threshold is not None else cfg.matching.threshold
    top_k = cfg.matching.top_k
    # Normalised inputs (outside both timings).
    if args.synthetic:
        subjects, checks, register, truth_df = write_synthetic(
            spark, tmp, people=args.people, subjects=args.synthetic, seed=args.seed
        )
        truth = [
            {
                "subject_id": r["subject_id"],
                "true_personal_id": r["true_personal_id"] or "",
                "expected_codes": "|".join(r["error_codes"]),
            }
            for r in truth_df.join(checks, on="subject_id").collect()
        ]
        data = f"bench_matching synthetic mode, {args.people} people, {args.synthetic} subjects"
    else:
        truth = _read_truth(Path(data), "truth_subjects.csv")
        subjects, checks, register, _ = from_generated(spark, cfg, data, tmp)
    splink_subjects(subjects, checks).write.parquet(f"{tmp}/splink_subjects")
    splink_register(register).write.parquet(f"{tmp}/splink_register")
    n_targets = spark.read.parquet(f"{tmp}/splink_subjects").count()
    target_ids = {r[0] for r in spark.read.parquet(f"{tmp}/splink_subjects").select("unique_id").collect()}
    n_register = register.count()

    # Ours.
    suggestions, ours_s = timed_suggestions(
        subjects, checks, register, threshold=threshold, top_k=top_k, path=f"{tmp}/suggestions"
    )
    ours: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for r in suggestions.select("subject_id", "rank", "personal_id").collect():
        ours[r["subject_id"]].append((int(r["rank"]), r["personal_id"]))
    ours_q = suggestion_quality(truth, ours)

    # Splink.
    candidates, timings = run_splink(tmp, u_pairs=args.u_pairs, seed=args.seed)
    outsiders = {t["subject_id"] for t in truth if not t["true_personal_id"]} & target_ids
    splink_05 = suggestion_quality(truth, ranked(candidates, 0.5))
    splink_at_ours = suggestion_quality(truth, ranked(candidates, threshold))
    best_lo, best_hi, splink_best = best_thresholds(candidates, truth)
    out_05, out_at_ours, out_best = (
        outsider_claims(ranked(candidates, t), outsiders) for t in (0.5, threshold, best_hi)
    )
    splink_s = timings["splink_seconds"]

    # The scorer's subjects (suggestion_quality): true person known, expected codes need a suggestion.
    eligible = {
        t["subject_id"]
        for t in truth
        if t["true_personal_id"] and set(t["expected_codes"].split("|")) & SUGGESTION_CODES
    }
    missing = len(eligible - target_ids)
    print()
    print(f"data                               {data}")
    print(f"register people                    {n_register}")
    print(f"subjects matched (ours = Splink's) {n_targets}")
    print(f"subjects scored (eligible)         {len(eligible)} ({missing} not flagged by our classifier)")
    print(f"Splink candidate pairs             {timings['splink_pairs']}")
    print(
        f"Splink time: load {timings['splink_load_s']:.1f} s, train {timings['splink_train_s']:.1f} s"
        f" (lambda + u sampling {timings['splink_u_s']:.1f} s, EM {timings['splink_em_s']:.1f} s),"
        f" predict + rank {timings['splink_predict_s']:.1f} s"
    )
    print(f"subjects not in the register       {len(outsiders)} (any rank-1 claim for them is wrong)")
    print()
    print(
        f"{'':<34} {'top1 prec':>10} {'top1 rec':>10} {'top3 rec':>10} {'claims':>7} {'outsider':>9}"
        f" {'seconds':>9}"
    )
    print(row(f"ours (threshold {threshold})", ours_q, outsider_claims(ours, outsiders), ours_s))
    print(row("Splink, threshold 0.5 (fair)", splink_05, out_05, splink_s))
    print(row(f"Splink, threshold {threshold}", splink_at_ours, out_at_ours, splink_s))
    print(row("Splink, best-F1 threshold (oracle)", splink_best, out_best, splink_s))
    print(f"best-F1 thresholds                 {best_lo:.6g} .. {best_hi:.6g}")
    print(f"time Splink / ours                 {splink_s / ours_s:.2f}")
    if not args.work:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--people", type=int, default=20_000, help="register size to generate (default 20000)")
    p.add_argument("--seed", type=int, default=SEED, help=f"generator seed (default {SEED})")
    p.add_argument("--data", help="reuse this `vaxclean generate` output instead of generating")
    p.add_argument(
        "--synthetic",
        type=int,
        metavar="SUBJECTS",
        help="use bench_matching.py's harsher synthetic mode with this many subjects instead",
    )
    p.add_argument("--out", help="keep the generated data here (default: a temporary folder)")
    p.add_argument("--work", help="keep the intermediate Parquet here (default: a temporary folder)")
    p.add_argument("--config", default=str(ROOT / "conf" / "local.yaml"))
    p.add_argument("--threshold", type=float, help="ours; default: the config's matching.threshold")
    p.add_argument("--u-pairs", type=float, default=1e7, help="Splink's u sampling pairs (default 1e7)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
