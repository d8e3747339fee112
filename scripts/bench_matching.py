"""Benchmark and quality check of register matching (issue 5, items 4 and 6).

Two ways to run it:

* **Synthetic, at scale** (default): builds a normalised register of ``--people`` persons and
  ``--subjects`` subjects that all need a suggestion, directly in Spark from ``--seed``, then
  times :func:`transforms.matching.suggest_matches`, reports blocking costs
  (:func:`transforms.matching.candidate_stats`), peak memory, and quality against the known truth::

      python scripts/bench_matching.py --people 1000000 --subjects 100000
      python scripts/bench_matching.py --people 100000 --subjects 10000 --seed 7

* **On a pipeline warehouse**: after ``vaxclean generate`` and ``vaxclean run`` on its output,
  scores the matcher against the generator's ground truth (``truth_subjects.csv``)::

      python scripts/bench_matching.py --warehouse WH --truth OUT/truth_subjects.csv

Quality: top-1 precision = correct rank-1 rows / rank-1 rows; top-1 recall = correct rank-1 rows /
subjects that need a suggestion and are in the register; top-3 recall = those subjects whose
register person is among their rows of rank ≤ 3. Figures are printed, one per line.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from transforms.matching import (
    MAX_BLOCK_SIZE,
    TARGET_CODES,
    candidate_stats,
    match_quality,
    suggest_matches,
)
from vaxclean import schemas
from vaxclean.config import load_config
from vaxclean.spark import get_spark
from vaxclean.synth import names
from vaxclean.synth.reference import Geography

log = logging.getLogger("bench_matching")

ROOT = Path(__file__).resolve().parents[1]
VIET = "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ"
ASCII = "aaaaaaaaaaaaaaaaaeeeeeeeeeeeiiiiiooooooooooooooooouuuuuuuuuuuyyyyyd"

# Shares of the ID problems among subjects that need a suggestion, from the generator's default
# rates (vaxclean/synth/rates.py), plus a few old-CMND cases.
ID_KINDS = (
    ("missing", 0.28),
    ("lost_zero", 0.22),
    ("scientific", 0.09),
    ("separators", 0.09),
    ("typo_not_found", 0.14),
    ("typo_malformed", 0.09),
    ("cmnd_lost_zero", 0.04),
    ("shared", 0.05),
)
NOT_IN_REGISTER = 0.01


# --- synthetic data ------------------------------------------------------------------------------


def _u(seed: int, salt: str) -> Column:
    """A uniform number in [0, 1) from the row id: the same for every partitioning."""
    return F.pmod(F.xxhash64(F.col("id"), F.lit(seed), F.lit(salt)), F.lit(1_000_003)) / F.lit(1_000_003.0)


def _pick(u: Column, items: list[str], weights: list[float]) -> Column:
    """The item whose cumulative-weight interval holds ``u``."""
    total = float(sum(weights))
    cum, acc = [], 0.0
    for w in weights[:-1]:
        acc += w / total
        cum.append(acc)
    index = F.size(F.filter(F.array(*[F.lit(c) for c in cum]), lambda c: c <= u))
    return F.element_at(F.array(*[F.lit(i) for i in items]), index + 1)


def _fold(col: Column) -> Column:
    return F.translate(col, VIET, ASCII)


def _communes(spark: SparkSession) -> tuple[DataFrame, Column]:
    """The 2022 communes numbered within their province, and a map province → number of communes."""
    geo = Geography.load()
    rows = [
        (p, i, c.district_code, c.commune_code)
        for p in geo.provinces
        for i, c in enumerate(geo.communes.get(p, ()))
    ]
    communes = spark.createDataFrame(rows, "p string, idx int, district_code string, commune_code string")
    counts = F.create_map(
        *[x for p in geo.provinces for x in (F.lit(p), F.lit(len(geo.communes.get(p, ()))))]
    )
    return communes, counts


def synthetic_register(spark: SparkSession, *, people: int, seed: int) -> DataFrame:
    """``schemas.REGISTER`` rows for ids 0..people-1 (ids from ``people`` on are the unregistered)."""
    return _people(spark, spark.range(people), seed=seed).select(*schemas.REGISTER.fieldNames())


def _people(spark: SparkSession, ids: DataFrame, *, seed: int) -> DataFrame:
    geo = Geography.load()
    province = _pick(_u(seed, "province"), list(geo.provinces), [float(w) for w in geo.weights])
    gender = F.when(_u(seed, "gender") < 0.498, "M").otherwise("F")
    age = F.floor(_u(seed, "age") * 86 + 5).cast("int")
    birth = F.date_sub(F.lit("2022-12-31").cast("date"), (age * 365.25 + _u(seed, "day") * 364).cast("int"))
    surname = _pick(_u(seed, "surname"), [s for s, _ in names.SURNAMES], [w for _, w in names.SURNAMES])
    middle_m = _pick(
        _u(seed, "middle"), [m for m, _, _ in names.MIDDLE_MALE], [w for _, w, _ in names.MIDDLE_MALE]
    )
    middle_f = _pick(
        _u(seed, "middle"), [m for m, _, _ in names.MIDDLE_FEMALE], [w for _, w, _ in names.MIDDLE_FEMALE]
    )
    given_m = _pick(_u(seed, "given"), list(names.GIVEN_MALE), [1.0] * len(names.GIVEN_MALE))
    given_f = _pick(_u(seed, "given"), list(names.GIVEN_FEMALE), [1.0] * len(names.GIVEN_FEMALE))
    p = ids.select(
        "id",
        province.alias("p"),
        gender.alias("gender"),
        age.alias("age"),
        birth.alias("birth"),
        F.concat_ws(
            " ",
            surname,
            F.when(gender == "M", middle_m).otherwise(middle_f),
            F.when(gender == "M", given_m).otherwise(given_f),
        ).alias("full_name"),
        _u(seed, "commune").alias("_uc"),
        _u(seed, "precision").alias("_up"),
        F.when(_u(seed, "born_away") < 0.85, F.lit(None)).otherwise(province).alias("_birth_p"),
    )
    communes, counts = _communes(spark)
    p = p.withColumn("idx", F.floor(F.col("_uc") * counts[F.col("p")]).cast("int"))
    p = p.join(F.broadcast(communes), on=["p", "idx"], how="inner")
    birth_p = F.coalesce(F.col("_birth_p"), F.col("p"))
    cg = F.when(F.year("birth") < 2000, 0).otherwise(2) + F.when(F.col("gender") == "F", 1).otherwise(0)
    serial = F.lpad(
        F.pmod(F.xxhash64(F.col("id"), F.lit(seed), F.lit("serial")), F.lit(1_000_000)).cast("string"), 6, "0"
    )
    pid = F.concat(F.lit("0"), birth_p, cg.cast("string"), F.date_format("birth", "yy"), serial)
    cmnd = F.lpad(
        F.pmod(F.xxhash64(F.col("id"), F.lit(seed), F.lit("cmnd")), F.lit(1_000_000_000)).cast("string"),
        9,
        "0",
    )
    precision = (
        F.when((F.col("age") >= 70) & (F.col("_up") < 0.10), "YEAR")
        .when((F.col("age") >= 70) & (F.col("_up") < 0.15), "MONTH")
        .otherwise("DAY")
    )
    dob = F.when(precision == "YEAR", F.trunc("birth", "year")).when(
        precision == "MONTH", F.trunc("birth", "month")
    )
    key = F.lower(F.col("full_name"))
    return p.select(
        "id",
        pid.alias("personal_id"),
        F.when((F.col("age") >= 30) & (_u(seed, "has_cmnd") < 0.15), cmnd).alias("old_id_number"),
        "full_name",
        key.alias("name_key"),
        _fold(key).alias("name_fold"),
        F.coalesce(dob, F.col("birth")).alias("dob_date"),
        precision.alias("dob_precision"),
        "gender",
        F.col("p").alias("province_code"),
        "district_code",
        "commune_code",
        F.lit(None).cast("date").alias("date_of_death"),
        "age",
    ).dropDuplicates(["personal_id"])


def synthetic_subjects(
    spark: SparkSession, register: DataFrame, *, people: int, subjects: int, seed: int
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """``(subjects, checks, truth)``: subjects that all need a suggestion, with injected errors.

    ``truth`` has ``subject_id, true_personal_id`` (null for the ~1 % not in the register).
    """
    share = min(1.0, subjects * (1 - NOT_IN_REGISTER) / people)
    reg = register.withColumn("id", F.xxhash64("personal_id")).filter(_u(seed, "pick") < share)
    outsiders = _people(spark, spark.range(people, people + int(subjects * NOT_IN_REGISTER)), seed=seed + 1)
    outsiders = outsiders.drop("age").withColumn("personal_id", F.lit(None).cast("string"))
    base = (
        reg.select(*outsiders.columns).unionByName(outsiders).withColumn("id", F.xxhash64("name_key", "id"))
    )
    # The person whose ID a "shared" subject carries: any other register person.
    donors = register.select(
        F.pmod(F.xxhash64("personal_id"), F.lit(997)).alias("_slot"), F.col("personal_id").alias("donor_id")
    ).dropDuplicates(["_slot"])

    kind = _pick(_u(seed, "kind"), [k for k, _ in ID_KINDS], [w for _, w in ID_KINDS])
    pid, old = F.col("personal_id"), F.col("old_id_number")
    stripped = F.regexp_replace(pid, "^0+", "")
    typo_pos = F.floor(_u(seed, "typo_pos") * 6 + 7).cast("int")  # in the serial: stays valid
    typo_digit = F.pmod(F.substring(pid, typo_pos, 1).cast("int") + 1 + F.floor(_u(seed, "typo_d") * 8), 10)
    typo = F.concat(
        F.substring(pid, 1, typo_pos - 1), typo_digit.cast("string"), F.substring(pid, typo_pos + 1, 12)
    )
    bad_century = F.concat(F.substring(pid, 1, 3), F.lit("7"), F.substring(pid, 5, 8))
    s = base.withColumn("kind", F.when(pid.isNull(), "missing").otherwise(kind))
    s = s.withColumn(
        "kind",
        F.when(
            (F.col("kind") == "cmnd_lost_zero") & ~F.coalesce(old.startswith("0"), F.lit(False)), "lost_zero"
        ).otherwise(F.col("kind")),
    ).withColumn("_slot", F.pmod(F.col("id"), F.lit(997)))
    s = s.join(F.broadcast(donors), on="_slot", how="left")
    k = F.col("kind")
    typed = (
        F.when(k == "missing", F.lit(""))
        .when(k == "lost_zero", stripped)
        .when(k == "scientific", F.format_string("%.4E", stripped.cast("double")))
        .when(k == "separators", F.concat_ws(" ", *[F.substring(pid, i, 3) for i in (1, 4, 7, 10)]))
        .when(k == "typo_not_found", typo)
        .when(k == "typo_malformed", bad_century)
        .when(k == "cmnd_lost_zero", F.regexp_replace(old, "^0+", ""))
        .when(k == "shared", F.col("donor_id"))
    )
    status = (
        F.when(k == "missing", "MISSING")
        .when(k.isin("typo_not_found", "shared"), "VALID")
        .otherwise("MALFORMED")
    )
    code = (
        F.when(k == "missing", "ID_MISSING")
        .when(k == "typo_not_found", "ID_NOT_FOUND")
        .when(k == "shared", "ID_SHARED")
        .otherwise("ID_MALFORMED")
    )

    # Identity noise (base: the generator's rates) and where people were vaccinated.
    un, ud, ug, ur = (
        _u(seed, "name_noise"),
        _u(seed, "dob_noise"),
        _u(seed, "gender_noise"),
        _u(seed, "moved"),
    )
    fold = F.col("name_fold")
    given_typo = F.concat(F.substring(fold, 1, F.length(fold) - 1), F.lit("x"))
    name_key = (
        F.when(un < 0.03, fold)  # typed without diacritics
        .when(un < 0.045, F.concat(F.lit("¸"), F.col("name_key")))  # mojibake: the key is garbage
        .otherwise(F.col("name_key"))
    )
    name_fold = F.when((un >= 0.045) & (un < 0.055), given_typo).otherwise(fold)
    dob, prec = F.col("dob_date"), F.col("dob_precision")
    swappable = (prec == "DAY") & (F.dayofmonth(dob) <= 12) & (F.dayofmonth(dob) != F.month(dob))
    dob_typed = (
        F.when((ud < 0.01) & swappable, F.make_date(F.year(dob), F.dayofmonth(dob), F.month(dob)))
        .when(ud < 0.025, F.trunc(dob, "year"))
        .when(ud < 0.03, F.lit(None).cast("date"))
        .otherwise(dob)
    )
    prec_typed = (
        F.when((ud < 0.01) & swappable, F.lit("DAY"))
        .when(ud < 0.025, F.lit("YEAR"))
        .when(ud < 0.03, F.lit(None))
        .otherwise(prec)
    )
    gender = F.when(ug < 0.01, F.lit(None)).when(
        ug < 0.02, F.when(F.col("gender") == "M", "F").otherwise("M")
    )
    gender = gender.otherwise(F.col("gender"))
    # 85 % vaccinated in their register commune, 7 % elsewhere in the district, 8 % further away.
    commune = F.when(ur < 0.85, F.col("commune_code")).otherwise(F.concat(F.col("commune_code"), F.lit("x")))
    district = F.when(ur < 0.92, F.col("district_code")).otherwise(
        F.concat(F.col("district_code"), F.lit("x"))
    )
    province = F.when(ur < 0.96, F.col("province_code")).otherwise(F.lit("99"))

    sid = F.concat(F.lit("S"), F.lpad(F.pmod(F.col("id"), F.lit(10**12)).cast("string"), 12, "0"))
    subj = s.select(
        sid.alias("subject_id"),
        province.alias("province_code"),
        district.alias("district_code"),
        commune.alias("commune_code"),
        F.col("full_name").alias("full_name_raw"),
        F.col("full_name").alias("name_display"),
        name_key.alias("name_key"),
        name_fold.alias("name_fold"),
        ((un >= 0.03) & (un < 0.045)).alias("name_is_mojibake"),
        F.lit(None).cast("string").alias("dob_raw"),
        dob_typed.alias("dob_date"),
        prec_typed.alias("dob_precision"),
        F.lit(None).cast("string").alias("gender_raw"),
        gender.alias("gender"),
        typed.alias("id_raw"),
        typed.alias("id_clean"),
        status.alias("id_status"),
        F.lit(None).cast("string").alias("nationality_raw"),
        F.lit("VN").alias("nationality"),
        F.lit(False).alias("is_foreign"),
        F.lit(None).cast("string").alias("passport_number"),
        F.lit(None).cast("string").alias("phone"),
        F.lit(1).alias("n_doses"),
        F.lit(None).cast("timestamp").alias("last_entered_at"),
        F.lit("v1").alias("subject_version"),
        code.alias("_code"),
        F.when(k == "shared", F.col("donor_id")).alias("_matched"),
        F.col("personal_id").alias("true_personal_id"),
        k.alias("kind"),
    ).dropDuplicates(["subject_id"])
    subjects_df = subj.select(*schemas.SUBJECTS.fieldNames())
    checks = subj.select(
        "subject_id",
        "province_code",
        "commune_code",
        F.lit("NEEDS_REVIEW").alias("status"),
        F.array("_code").alias("error_codes"),
        F.col("_matched").alias("matched_personal_id"),
        "district_code",
        "subject_version",
    )
    truth = subj.select("subject_id", "true_personal_id", "kind")
    return subjects_df, checks, truth


def from_generated(spark: SparkSession, cfg, folder: str, tmp: str) -> tuple[DataFrame, ...]:
    """``vaxclean generate`` output normalised and classified by the pipeline's own transforms.

    Reads ``register.csv``, ``ledger.csv`` and ``truth_subjects.csv`` as text (no ingest step), and
    stores the normalised tables under ``tmp`` so the matching time excludes them.
    """
    from transforms.classify import classify_subjects
    from transforms.ledger import build_subjects, normalize_doses, normalize_register

    def raw(name: str) -> DataFrame:
        df = spark.read.option("header", True).option("inferSchema", False).csv(f"{folder}/{name}.csv")
        return df.select(
            "*",
            F.lit(name).alias("source_file"),
            F.monotonically_increasing_id().alias("source_row"),
            F.lit("bench").alias("ingest_run_id"),
        )

    normalize_register(raw("register")).write.parquet(f"{tmp}/register")
    register = spark.read.schema(schemas.REGISTER).parquet(f"{tmp}/register")
    doses = normalize_doses(raw("ledger"), missing_id_tokens=cfg.rules.missing_id_tokens)
    build_subjects(doses).write.parquet(f"{tmp}/subjects")
    subjects = spark.read.schema(schemas.SUBJECTS).parquet(f"{tmp}/subjects")
    classify_subjects(subjects, register).write.parquet(f"{tmp}/checks")
    checks = spark.read.schema(schemas.SUBJECT_CHECKS).parquet(f"{tmp}/checks")
    truth = (
        spark.read.option("header", True)
        .csv(f"{folder}/truth_subjects.csv")
        .select("subject_id", "true_personal_id", F.col("injected").alias("kind"))
    )
    return subjects, checks, register, truth


def write_synthetic(
    spark: SparkSession, tmp: str, *, people: int, subjects: int, seed: int
) -> tuple[DataFrame, ...]:
    """``(subjects, checks, register, truth)`` of the synthetic mode, stored under ``tmp``."""
    synthetic_register(spark, people=people, seed=seed).write.parquet(f"{tmp}/register")
    register = spark.read.schema(schemas.REGISTER).parquet(f"{tmp}/register")
    subj, chk, tru = synthetic_subjects(spark, register, people=people, subjects=subjects, seed=seed)
    subj.write.parquet(f"{tmp}/subjects")
    chk.write.parquet(f"{tmp}/checks")
    tru.write.parquet(f"{tmp}/truth")
    return (
        spark.read.schema(schemas.SUBJECTS).parquet(f"{tmp}/subjects"),
        spark.read.schema(schemas.SUBJECT_CHECKS).parquet(f"{tmp}/checks"),
        register,
        spark.read.parquet(f"{tmp}/truth"),
    )


# --- measuring -----------------------------------------------------------------------------------


def needs_match() -> Column:
    return F.arrays_overlap("error_codes", F.array(*[F.lit(c) for c in TARGET_CODES]))


def jvm_peak_rss_mb(spark: SparkSession) -> float | None:
    """Peak resident memory of the Spark JVM (local mode: driver and executors), from /proc."""
    try:
        pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()  # noqa: SLF001
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except Exception:  # noqa: BLE001 - a figure we cannot read is reported as missing
        return None
    return None


def timed_suggestions(
    subjects: DataFrame, checks: DataFrame, register: DataFrame, *, threshold: float, top_k: int, path: str
) -> tuple[DataFrame, float]:
    """Run :func:`suggest_matches`, write it to Parquet at ``path``; the result and the seconds taken."""
    t0 = time.perf_counter()
    suggest_matches(subjects, checks, register, threshold=threshold, top_k=top_k).write.parquet(path)
    seconds = round(time.perf_counter() - t0, 1)
    return subjects.sparkSession.read.parquet(path), seconds


def report(figures: dict[str, object]) -> None:
    for k, v in figures.items():
        print(f"{k:<36} {v:.4f}" if isinstance(v, float) else f"{k:<36} {v}")


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    spark = get_spark(cfg)
    threshold = args.threshold if args.threshold is not None else cfg.matching.threshold
    top_k = args.top_k if args.top_k is not None else cfg.matching.top_k
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="bench_matching_") as tmp:
        if args.generated:
            subjects, checks, register, truth = from_generated(spark, cfg, args.generated, tmp)
        elif args.warehouse:
            read = spark.read.format("delta")
            subjects = read.load(f"{args.warehouse}/subjects")
            checks = read.load(f"{args.warehouse}/subject_checks")
            register = read.load(f"{args.warehouse}/register")
            truth = (
                spark.read.option("header", True)
                .csv(args.truth)
                .select("subject_id", "true_personal_id", F.lit(None).cast("string").alias("kind"))
            )
        else:
            t0 = time.perf_counter()
            subjects, checks, register, truth = write_synthetic(
                spark, tmp, people=args.people, subjects=args.subjects, seed=args.seed
            )
            figures["data_generation_s"] = round(time.perf_counter() - t0, 1)
        figures["register_people"] = register.count()
        figures["subjects"] = subjects.count()
        figures["threshold"] = threshold
        figures["top_k"] = top_k
        figures["max_block_size"] = MAX_BLOCK_SIZE

        suggestions, figures["match_seconds"] = timed_suggestions(
            subjects, checks, register, threshold=threshold, top_k=top_k, path=f"{tmp}/suggestions"
        )
        figures["jvm_peak_rss_mb"] = jvm_peak_rss_mb(spark)
        figures["python_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        figures["suggestion_rows"] = suggestions.count()

        stats = {r["rule"]: r.asDict() for r in candidate_stats(subjects, checks, register).collect()}
        overall = stats.pop("all", {})
        for key in ("comparisons_per_subject_mean", "comparisons_per_subject_max", "largest_block"):
            figures[key] = overall.get(key)
        figures["blocks_dropped"] = overall.get("blocks_dropped")
        figures["subjects_lost_a_block"] = overall.get("subjects_lost_block")
        figures["subjects_without_candidates"] = overall.get("subjects", 0) - overall.get(
            "subjects_with_candidates", 0
        )
        figures.update(match_quality(suggestions, checks, truth).first().asDict())
        if not args.warehouse:
            by_kind = (
                truth.join(checks.filter(needs_match()).select("subject_id"), on="subject_id", how="inner")
                .join(suggestions.filter("rank = 1"), on="subject_id", how="left")
                .groupBy("kind")
                .agg(
                    F.count(F.lit(1)).alias("n"),
                    F.avg((F.col("personal_id") == F.col("true_personal_id")).cast("int")).alias("p"),
                    F.avg(
                        F.coalesce((F.col("personal_id") == F.col("true_personal_id")).cast("int"), F.lit(0))
                    ).alias("r"),
                )
                .orderBy("kind")
                .collect()
            )
            for r in by_kind:
                figures[f"kind {r['kind']}"] = (
                    f"n={r['n']} top1_precision={r['p'] or 0:.4f} top1_recall={r['r']:.4f}"
                )
    report(figures)
    if args.stats_json:
        Path(args.stats_json).write_text(
            json.dumps({"figures": figures, "rules": stats}, default=str, indent=2)
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--people", type=int, default=1_000_000, help="register size (synthetic mode)")
    p.add_argument("--subjects", type=int, default=100_000, help="subjects to match (synthetic mode)")
    p.add_argument("--seed", type=int, default=5, help="synthetic data seed")
    p.add_argument("--config", default=str(ROOT / "conf" / "local.yaml"))
    p.add_argument("--threshold", type=float, help="default: the config's matching.threshold")
    p.add_argument("--top-k", type=int, help="default: the config's matching.top_k")
    p.add_argument("--generated", help="score `vaxclean generate` output (normalised here, no ingest)")
    p.add_argument("--warehouse", help="score a pipeline warehouse instead of synthetic data")
    p.add_argument("--truth", help="truth_subjects.csv of the generated data (with --warehouse)")
    p.add_argument("--stats-json", help="also write every figure and per-rule blocking stats here")
    args = p.parse_args(argv)
    if args.warehouse and not args.truth:
        p.error("--warehouse needs --truth")
    logging.basicConfig(level=logging.WARNING)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
