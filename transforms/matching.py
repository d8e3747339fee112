"""Register matching: suggest the register person a subject with an unusable ID probably is.

Fills ``match_suggestions`` (data contract, section 3) in plain PySpark with built-in functions.
The design, the weights and the measured quality are in ``docs/matching.md``; in short:

* **Blocking** (:func:`block_candidates`): each subject and each register person emit block keys
  (residence + birth year, name + birth year, ID repair keys); a pair is compared only when they
  share a key, and a key held by more than ``max_block_size`` register people is dropped (skew:
  Nguyễn, common given names, big communes).
* **Scoring** (:func:`suggest_matches`): Fellegi-Sunter evidence in bits per field (names with
  term-frequency weights from the register, birth date at the register's precision, gender,
  residence, ID digits), turned into a posterior over the subject's candidates. Candidates of one
  subject compete, so a score of 0.8 or more for rank 1 leaves at most 0.2 for rank 2.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vaxclean import schemas

#: Subjects that get suggestions: their own ID does not lead to their own register entry.
TARGET_CODES = ("ID_MISSING", "ID_MALFORMED", "ID_NOT_FOUND", "ID_SHARED")

#: A block key held by more register people than this is dropped (docs/matching.md, "Skew").
MAX_BLOCK_SIZE = 300

#: ``name_frequencies``: share of the register whose family (first) or given (last) name token,
#: diacritics folded, is ``token``.
NAME_FREQUENCIES = T.StructType(
    [
        T.StructField("part", T.StringType(), False),  # family | given
        T.StructField("token", T.StringType(), False),
        T.StructField("frequency", T.DoubleType(), False),
    ]
)

#: ``match_quality``: one row of counts and rates against a ground truth.
MATCH_QUALITY = T.StructType(
    [
        T.StructField("subjects_to_match", T.LongType(), False),
        T.StructField("in_register", T.LongType(), False),  # with a true personal_id
        T.StructField("rank1_claims", T.LongType(), False),
        T.StructField("top1_correct", T.LongType(), False),
        T.StructField("top3_correct", T.LongType(), False),
        T.StructField("top1_precision", T.DoubleType(), False),  # correct rank 1 / rank-1 claims
        T.StructField("top1_recall", T.DoubleType(), False),  # correct rank 1 / in_register
        T.StructField("top3_recall", T.DoubleType(), False),  # true person at rank <= 3 / in_register
    ]
)

#: ``candidate_stats``: one row per blocking rule plus an ``all`` row for the union of rules.
CANDIDATE_STATS = T.StructType(
    [
        T.StructField("rule", T.StringType(), False),
        T.StructField("subjects", T.LongType(), False),  # target subjects with at least one key of the rule
        T.StructField("subjects_with_candidates", T.LongType(), False),
        T.StructField("pairs", T.LongType(), False),  # candidate comparisons
        T.StructField("comparisons_per_subject_mean", T.DoubleType(), True),
        T.StructField("comparisons_per_subject_max", T.LongType(), True),
        T.StructField("largest_block", T.LongType(), True),  # register people in the largest kept block
        T.StructField("blocks_dropped", T.LongType(), False),
        T.StructField("subjects_lost_block", T.LongType(), False),  # had a key of a dropped block
    ]
)

# --- evidence weights ------------------------------------------------------------------------------
# Each comparison level has m = P(level | same person) and u = P(level | two random people); its
# weight is log2(m / u) bits. u comes from the register where it depends on the data (name
# frequencies, residence and birth-date concentration); the fixed values below are documented in
# docs/matching.md, "Scoring".
M_FAMILY, M_GIVEN = 0.95, 0.93
BITS_NAME_PART_FUZZY = 1.0  # one edit away (typo), long enough for an edit to mean something
BITS_FAMILY_DISAGREE = -5.0  # log2(0.03 / 0.95)
BITS_GIVEN_DISAGREE = -5.0
BITS_MIDDLE = {"equal": 1.2, "partial": 0.0, "disagree": -3.3}  # log2(.8/.35), log2(.1/.1), log2(.05/.5)
BITS_REORDERED_PENALTY = -4.0  # same tokens in another order: family/given weights less 4 bits
BITS_DIACRITICS = {"agree": 0.85, "disagree": -3.0}  # both typed with diacritics: log2(.9/.5), log2(.06/.5)
M_DOB = {"exact": 0.88, "swapped": 0.03, "year": 0.05, "year_pm1": 0.02}
BITS_DOB_DISAGREE = -5.6  # log2(0.02 / 1)
BITS_GENDER = {"agree": 0.96, "disagree": -4.6}  # log2(.97/.5), log2(.02/.5)
M_RESIDENCE = {"commune": 0.80, "district": 0.08, "province": 0.05}
BITS_RESIDENCE_NONE = -3.3  # log2(0.1 / 1)
BITS_ID = {"exact": 13.0, "one_digit": 10.0, "transposed": 9.0, "two_digits": 2.0, "disagree": -3.0}
BITS_ID_PREFIX_PER_DIGIT, BITS_ID_PREFIX_MAX = 3.0, 9.0  # scientific notation: digits beyond the 5th


def _empty_strings() -> Column:
    return F.array().cast("array<string>")


# --- column helpers ---------------------------------------------------------------------------------


def with_name_parts(df: DataFrame) -> DataFrame:
    """Add ``tokens`` (of ``name_fold``), ``family`` (first), ``given`` (last), ``middle`` (the rest)."""
    tokens = F.col("tokens")
    n = F.size(tokens)
    return df.withColumn(
        "tokens", F.coalesce(F.split(F.trim(F.col("name_fold")), r"\s+"), _empty_strings())
    ).select(
        "*",
        F.when(n >= 1, F.element_at(tokens, 1)).alias("family"),
        F.when(n >= 2, F.element_at(tokens, -1)).alias("given"),
        F.when(n >= 3, F.array_join(F.slice(tokens, 2, n - 2), " ")).otherwise("").alias("middle"),
    )


SCI = r"^([0-9])[.,]?([0-9]*)[eE]\+?([0-9]{1,2})$"


def with_id_repair(df: DataFrame, id_col: str, *, usable: Column) -> DataFrame:
    """Add ``id_repaired``, ``id_prefix`` and ``id_prefix_alt``: what a malformed ID most probably was.

    ``id_repaired`` (12 or 9 digits, else null): separators removed (``079 085 001 234``,
    ``079.085.001.234``); the leading zeros Excel dropped restored (10 or 11 → 12 digits, as
    provinces 001-009 lose two; 7 or 8 → 9); scientific notation decoded when its mantissa holds
    every digit (``7.9085001234E+10``).

    ``id_prefix``: a shorter mantissa only gives the leading digits, rounded: ``7.9085E+10`` →
    ``079085``; ``id_prefix_alt`` takes its last digit one lower (``7.9086E+10`` may come from
    ``79085 6…``). All three are null where ``usable`` is false. Built in stages so each regular
    expression is evaluated once per row.
    """
    s = F.regexp_replace(F.trim(F.col(id_col)), r"\s", "")
    staged = df.withColumn("_id", F.when(usable, s)).select(
        "*",
        F.col("_id").rlike(SCI).alias("_is_sci"),
        F.concat(F.regexp_extract("_id", SCI, 1), F.regexp_extract("_id", SCI, 2)).alias("_mant"),
        (F.regexp_extract("_id", SCI, 3).try_cast("int") + 1).alias("_ndig"),
    )
    mant, ndig = F.col("_mant"), F.col("_ndig")
    digits = F.when(F.col("_is_sci"), F.when(F.length(mant) >= ndig, F.rpad(mant, ndig, "0"))).otherwise(
        F.regexp_replace("_id", r"[^0-9]", "")
    )
    lead = F.when(ndig.isin(12, 9), F.lit("")).when(ndig.isin(11, 8), F.lit("0")).when(ndig.isin(10, 7), "00")
    short = F.col("_is_sci") & (F.length(mant) < ndig)
    mant_down = F.lpad((mant.try_cast("long") - 1).cast("string"), F.length(mant), "0")
    staged = staged.select(
        "*",
        digits.alias("_digits"),
        F.when(short, F.concat(lead, mant)).alias("id_prefix"),
        F.when(short, F.concat(lead, mant_down)).alias("id_prefix_alt"),
    )
    d = F.col("_digits")
    repaired = (
        F.when(F.length(d).isin(12, 9), d)
        .when(F.length(d).isin(10, 11), F.lpad(d, 12, "0"))
        .when(F.length(d).isin(7, 8), F.lpad(d, 9, "0"))
    )
    return staged.withColumn("id_repaired", repaired).drop("_id", "_is_sci", "_mant", "_ndig", "_digits")


def id_birth_year(id12: Column) -> Column:
    """Birth year a 12-digit CCCD encodes (digit 4: century and gender, digits 5-6: year)."""
    century = F.substring(id12, 4, 1).try_cast("int")
    return F.when(
        (F.length(id12) == 12) & century.between(0, 5),
        F.lit(1900) + F.floor(century / 2) * 100 + F.substring(id12, 5, 2).try_cast("int"),
    ).cast("int")


def _without_group(id_col: Column, group: int, n_groups: int) -> Column:
    """The ID with the ``group``-th block of 3 digits removed: equal for IDs one typo apart."""
    parts = [F.substring(id_col, 3 * g + 1, 3) for g in range(n_groups) if g != group]
    return F.concat(*parts)


def _id_keys(id_col: Column, *, prefix: str) -> list[Column]:
    """ID block keys: the ID itself and, for typos, the ID with each 3-digit group removed."""
    keys = [F.struct(F.lit(f"{prefix}_exact").alias("rule"), id_col.alias("key"))]
    for length in (12, 9):
        n_groups = length // 3
        for g in range(n_groups):
            key = F.when(F.length(id_col) == length, _without_group(id_col, g, n_groups))
            keys.append(
                F.struct(
                    F.lit(f"{prefix}_typo{length}").alias("rule"), F.concat(F.lit(f"{g}:"), key).alias("key")
                )
            )
    return keys


def _hamming(a: Column, b: Column) -> Column:
    """Positions where two equal-length strings differ (null when lengths differ)."""
    diff = F.zip_with(F.split(a, ""), F.split(b, ""), lambda x, y: F.when(x != y, 1).otherwise(0))
    return F.when(F.length(a) == F.length(b), F.aggregate(diff, F.lit(0), lambda acc, x: acc + x))


def _same_digits(a: Column, b: Column) -> Column:
    return F.array_sort(F.split(a, "")) == F.array_sort(F.split(b, ""))


def _log2(x: Column | float) -> Column:
    return F.log2(x if isinstance(x, Column) else F.lit(x))


# --- inputs -----------------------------------------------------------------------------------------


def _check_columns(df: DataFrame, schema: T.StructType, what: str) -> None:
    missing = [c for c in schema.fieldNames() if c not in df.columns]
    if missing:
        raise ValueError(f"suggest_matches: {what} lacks column(s) {', '.join(missing)}")


def select_targets(subjects: DataFrame, checks: DataFrame) -> DataFrame:
    """Subjects whose codes call for a suggestion, with their blocking and comparison fields.

    For an ``ID_SHARED`` subject the typed ID is someone else's: it gives no ID keys, no ID
    evidence, and its register person (``exclude_personal_id``) is never suggested.
    """
    codes = checks.select("subject_id", "error_codes", "matched_personal_id")
    wanted = F.array(*[F.lit(c) for c in TARGET_CODES])
    s = subjects.join(codes, on="subject_id", how="inner").filter(F.arrays_overlap("error_codes", wanted))
    shared = F.array_contains("error_codes", "ID_SHARED")
    usable_id = ~shared & (F.coalesce(F.col("id_status"), F.lit("MISSING")) != "MISSING")
    s = s.select(
        "subject_id",
        F.when(shared, F.col("matched_personal_id")).alias("exclude_personal_id"),
        "name_key",
        "name_fold",
        F.coalesce(F.col("name_is_mojibake"), F.lit(False)).alias("name_is_mojibake"),
        "dob_date",
        "dob_precision",
        F.when(F.col("gender").isin("M", "F"), F.col("gender")).alias("gender"),
        "province_code",
        "district_code",
        "commune_code",
        "id_clean",
        usable_id.alias("_usable_id"),
    )
    return with_id_repair(with_name_parts(s), "id_clean", usable=F.col("_usable_id")).drop(
        "id_clean", "_usable_id"
    )


def _prepare_register(register: DataFrame) -> DataFrame:
    return with_name_parts(
        register.select(
            "personal_id",
            "old_id_number",
            "name_key",
            "name_fold",
            "dob_date",
            "dob_precision",
            "gender",
            "province_code",
            "district_code",
            "commune_code",
        )
    )


def compute_name_frequencies(register: DataFrame) -> DataFrame:
    """``NAME_FREQUENCIES`` from the register: how common each family and given name token is."""
    parts = (
        with_name_parts(register.select("name_fold"))
        .select(
            F.explode(
                F.array(
                    F.struct(F.lit("family").alias("part"), F.col("family").alias("token")),
                    F.struct(F.lit("given").alias("part"), F.col("given").alias("token")),
                )
            ).alias("p")
        )
        .select("p.part", "p.token")
    )
    total = Window.partitionBy("part")
    return (
        parts.filter(F.col("token").isNotNull())
        .groupBy("part", "token")
        .agg(F.count(F.lit(1)).alias("n"))
        .select("part", "token", (F.col("n") / F.sum("n").over(total)).cast("double").alias("frequency"))
    )


def _register_params(register: DataFrame) -> DataFrame:
    """One row of register-wide figures: its size and the u-probabilities that depend on it.

    ``u_x`` = probability that two random register people agree on x = sum of squared shares.
    """

    day = F.when(F.col("dob_precision") == "DAY", F.col("dob_date"))
    month = F.when(F.col("dob_precision").isin("DAY", "MONTH"), F.trunc("dob_date", "month"))
    dims = {
        "all": F.lit(""),
        "commune": F.col("commune_code"),
        "district": F.col("district_code"),
        "province": F.col("province_code"),
        "day": day,
        "month": month,
        "year": F.year("dob_date"),
    }
    values = register.select(
        F.explode(
            F.array(
                *[F.struct(F.lit(d).alias("dim"), c.cast("string").alias("value")) for d, c in dims.items()]
            )
        )
    ).select("col.dim", "col.value")
    per_dim = (
        values.filter(F.col("value").isNotNull())
        .groupBy("dim", "value")
        .agg(F.count(F.lit(1)).alias("_n"))
        .groupBy("dim")
        .agg(F.sum(F.col("_n") * F.col("_n")).alias("ss"), F.sum("_n").alias("total"))
    )
    params = per_dim.agg(
        F.max(F.when(F.col("dim") == "all", F.col("total"))).alias("n_register"),
        *[F.max(F.when(F.col("dim") == d, F.col("ss"))).alias(f"ss_{d}") for d in dims if d != "all"],
    )
    n2 = F.col("n_register").cast("double") * F.col("n_register")
    # A floor of 1/n² keeps a u of zero (one value in the whole register) from dividing by zero.
    floor = 1.0 / n2

    def u(name: str) -> Column:
        return F.greatest(F.coalesce(F.col(name), F.lit(0)) / n2, floor)

    return params.select(
        "n_register",
        u("ss_commune").alias("u_commune"),
        u("ss_district").alias("u_district"),
        u("ss_province").alias("u_province"),
        u("ss_day").alias("u_day"),
        u("ss_month").alias("u_month"),
        u("ss_year").alias("u_year"),
    )


# --- blocking ---------------------------------------------------------------------------------------


def _year_keys(years: Column, rule: str, *parts: Column) -> Column:
    """One key per birth year: ``rule`` + parts + year (null when a part is null)."""
    return F.transform(
        years,
        lambda y: F.struct(
            F.lit(rule).alias("rule"), F.concat_ws("|", *parts, y.cast("string")).alias("key")
        ),
    )


def _keep_complete(keys: Column, *parts: Column) -> Column:
    """Drop the keys when one of their parts is null (``concat_ws`` would skip it silently)."""
    complete = F.lit(True)
    for p in parts:
        complete = complete & p.isNotNull()
    return F.when(complete, keys).otherwise(F.array().cast("array<struct<rule:string,key:string>>"))


def _block_keys(id_cols: list[Column], years: Column, id_prefixes: list[Column]) -> Column:
    """Every block key of a row (subject or register person) as ``array<struct<rule, key>>``."""
    fam_given = F.concat_ws(" ", F.col("family"), F.col("given"))
    residence_and_names = F.concat(
        _keep_complete(
            _year_keys(years, "commune_year_gender", F.col("commune_code"), F.col("gender")),
            F.col("commune_code"),
            F.col("gender"),
        ),
        _keep_complete(_year_keys(years, "district_year", F.col("district_code")), F.col("district_code")),
        _keep_complete(_year_keys(years, "name_year", F.col("name_fold")), F.col("name_fold")),
        _keep_complete(_year_keys(years, "family_given_year", fam_given), F.col("given")),
        _keep_complete(
            F.array(
                F.struct(
                    F.lit("name_province").alias("rule"),
                    F.concat_ws("|", F.col("name_fold"), F.col("province_code")).alias("key"),
                )
            ),
            F.col("name_fold"),
            F.col("province_code"),
        ),
    )
    id_keys = [k for c in id_cols for k in _id_keys(c, prefix="id")]
    prefix_keys = [
        F.struct(
            F.lit("id_prefix_given").alias("rule"),
            F.when(F.length(p) >= 6, F.concat_ws("|", F.substring(p, 1, 6), F.col("given"))).alias("key"),
        )
        for p in id_prefixes
    ]
    everything = F.concat(residence_and_names, F.array(*id_keys, *prefix_keys))
    return F.array_distinct(F.filter(everything, lambda k: k["key"].isNotNull() & (k["key"] != "")))


def _subject_keys(targets: DataFrame) -> DataFrame:
    # Birth years to block on: the typed date's, and the one a 12-digit ID encodes (when it differs).
    years = F.array_distinct(
        F.array_compact(F.array(F.year("dob_date"), id_birth_year(F.col("id_repaired"))))
    )
    keys = _block_keys(
        [F.col("id_repaired")],
        F.col("_years"),
        [F.coalesce("id_prefix", "id_repaired"), F.col("id_prefix_alt")],
    )
    return (
        targets.withColumn("_years", years)
        .select("subject_id", "exclude_personal_id", F.explode(keys).alias("k"))
        .select("subject_id", "exclude_personal_id", "k.rule", "k.key")
    )


def _register_keys(reg: DataFrame) -> DataFrame:
    keys = _block_keys(
        [F.col("personal_id"), F.col("old_id_number")], F.col("_years"), [F.col("personal_id")]
    )
    return (
        reg.withColumn("_years", F.array_compact(F.array(F.year("dob_date"))))
        .select("personal_id", F.explode(keys).alias("k"))
        .select("personal_id", "k.rule", "k.key")
    )


def _blocks(targets: DataFrame, register: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Subject keys, and the register people of every block a subject asked for with its size."""
    subject_keys = _subject_keys(targets)
    wanted = subject_keys.select("rule", "key").distinct()
    block = Window.partitionBy("rule", "key")
    register_blocks = (
        _register_keys(_prepare_register(register))
        .join(wanted, on=["rule", "key"], how="inner")
        .withColumn("block_size", F.count(F.lit(1)).over(block))
    )
    return subject_keys, register_blocks


def _candidate_pairs(
    subject_keys: DataFrame, register_blocks: DataFrame, *, max_block_size: int
) -> DataFrame:
    """``(subject_id, personal_id, rule)`` for every kept block the two share."""
    kept = register_blocks.filter(F.col("block_size") <= max_block_size).drop("block_size")
    return (
        subject_keys.join(kept, on=["rule", "key"], how="inner")
        .filter(~F.col("personal_id").eqNullSafe(F.col("exclude_personal_id")))
        .select("subject_id", "personal_id", "rule")
    )


def block_candidates(
    subjects: DataFrame, checks: DataFrame, register: DataFrame, *, max_block_size: int = MAX_BLOCK_SIZE
) -> DataFrame:
    """Candidate pairs ``(subject_id, personal_id, rules)`` for the subjects that need suggestions.

    A pair is a candidate when subject and register person share a block key of some rule (listed,
    sorted, in ``rules``) whose block holds at most ``max_block_size`` register people. An
    ``ID_SHARED`` subject never gets the register person its typed ID belongs to.
    """
    subject_keys, register_blocks = _blocks(select_targets(subjects, checks), register)
    return _group_pairs(_candidate_pairs(subject_keys, register_blocks, max_block_size=max_block_size))


def _group_pairs(pairs: DataFrame) -> DataFrame:
    return pairs.groupBy("subject_id", "personal_id").agg(F.array_sort(F.collect_set("rule")).alias("rules"))


def candidate_stats(
    subjects: DataFrame, checks: DataFrame, register: DataFrame, *, max_block_size: int = MAX_BLOCK_SIZE
) -> DataFrame:
    """How much blocking costs (``CANDIDATE_STATS``): comparisons per subject, block sizes, lost blocks.

    One row per rule, and a row ``all`` for the union (the comparisons actually scored).
    """
    targets = select_targets(subjects, checks)
    subject_keys, register_blocks = _blocks(targets, register)
    blocks = register_blocks.select("rule", "key", "block_size").distinct()
    keyed = subject_keys.join(blocks, on=["rule", "key"], how="left")
    pairs = _candidate_pairs(subject_keys, register_blocks, max_block_size=max_block_size)
    all_pairs = pairs.select("subject_id", "personal_id", F.lit("all").alias("rule")).distinct()
    per_subject = (
        pairs.unionByName(all_pairs)
        .groupBy("rule", "subject_id")
        .agg(F.count(F.lit(1)).alias("n"))
        .groupBy("rule")
        .agg(
            F.count(F.lit(1)).alias("subjects_with_candidates"),
            F.sum("n").alias("pairs"),
            F.max("n").alias("comparisons_per_subject_max"),
        )
    )
    dropped = F.col("block_size") > max_block_size
    per_rule_keys = keyed.select("rule", "subject_id", "key", "block_size").unionByName(
        keyed.select(F.lit("all").alias("rule"), "subject_id", "key", "block_size")
    )
    block_side = per_rule_keys.groupBy("rule").agg(
        F.countDistinct("subject_id").alias("subjects"),
        F.max(F.when(~dropped, F.col("block_size"))).alias("largest_block"),
        F.countDistinct(F.when(dropped, F.col("key"))).alias("blocks_dropped"),
        F.countDistinct(F.when(dropped, F.col("subject_id"))).alias("subjects_lost_block"),
    )
    n_targets = targets.agg(F.count(F.lit(1)).alias("n_targets"))
    out = block_side.join(per_subject, on="rule", how="left").crossJoin(n_targets)
    return out.select(
        "rule",
        F.when(F.col("rule") == "all", F.col("n_targets")).otherwise(F.col("subjects")).alias("subjects"),
        F.coalesce("subjects_with_candidates", F.lit(0)).cast("long").alias("subjects_with_candidates"),
        F.coalesce("pairs", F.lit(0)).cast("long").alias("pairs"),
        (
            F.coalesce("pairs", F.lit(0))
            / F.when(F.col("rule") == "all", F.col("n_targets")).otherwise(F.col("subjects"))
        )
        .cast("double")
        .alias("comparisons_per_subject_mean"),
        F.col("comparisons_per_subject_max").cast("long"),
        F.col("largest_block").cast("long"),
        F.col("blocks_dropped").cast("long"),
        F.col("subjects_lost_block").cast("long"),
    )


# --- scoring ----------------------------------------------------------------------------------------


def _name_bits(freq_family: Column, freq_given: Column, n: Column) -> Column:
    """Evidence from the name: family, given and middle names, their order, and diacritics."""
    s_fam, r_fam = F.col("s_family"), F.col("r_family")
    s_giv, r_giv = F.col("s_given"), F.col("r_given")
    unknown = 1.0 / n  # a token the frequency table does not know is as rare as one person

    def part(s: Column, r: Column, m: float, freq: Column, disagree: float, min_len: int) -> Column:
        agree_bits = _log2(F.lit(m) / F.coalesce(freq, unknown))
        fuzzy = (F.levenshtein(s, r) <= 1) & (F.greatest(F.length(s), F.length(r)) >= min_len)
        return (
            F.when(s.isNull() | r.isNull(), 0.0)
            .when(s == r, agree_bits)
            .when(fuzzy, BITS_NAME_PART_FUZZY)
            .otherwise(disagree)
        )

    family = part(s_fam, r_fam, M_FAMILY, freq_family, BITS_FAMILY_DISAGREE, 4)
    given = part(s_giv, r_giv, M_GIVEN, freq_given, BITS_GIVEN_DISAGREE, 3)
    s_mid, r_mid = F.col("s_middle"), F.col("r_middle")
    # Middle names partly agree when one is left out, one edit apart, or sharing a token.
    shared_token = F.size(F.array_intersect(F.split(s_mid, " "), F.split(r_mid, " "))) > 0
    partial = (s_mid == "") | (r_mid == "") | (F.levenshtein(s_mid, r_mid) <= 1) | shared_token
    middle = (
        F.when(s_mid == r_mid, BITS_MIDDLE["equal"])
        .when(partial, BITS_MIDDLE["partial"])
        .otherwise(BITS_MIDDLE["disagree"])
    )
    # Family name typed last, or given name first: the same tokens in another order.
    reordered = (
        ~((s_fam == r_fam) & (s_giv == r_giv))
        & (F.size("s_tokens") >= 2)
        & (F.array_sort("s_tokens") == F.array_sort("r_tokens"))
    )
    reordered_bits = (
        _log2(F.lit(M_FAMILY) / F.coalesce(freq_family, unknown))
        + _log2(F.lit(M_GIVEN) / F.coalesce(freq_given, unknown))
        + BITS_REORDERED_PENALTY
    )
    # Diacritics only speak when the subject typed them (its key is not its folded form) and the
    # name is not mojibake: then equal folds with different keys are different names (Lê / Lệ).
    typed_diacritics = ~F.col("s_name_is_mojibake") & (F.col("s_name_key") != F.col("s_name_fold"))
    diacritics = (
        F.when(~typed_diacritics | (F.col("s_name_fold") != F.col("r_name_fold")), 0.0)
        .when(F.col("s_name_key") == F.col("r_name_key"), BITS_DIACRITICS["agree"])
        .otherwise(BITS_DIACRITICS["disagree"])
    )
    return F.when(reordered, reordered_bits).otherwise(family + given + middle) + F.coalesce(
        diacritics, F.lit(0.0)
    )


def _precision_rank(col: Column) -> Column:
    """DAY 3 > MONTH 2 > YEAR 1 (null for anything else)."""
    return F.when(col == "DAY", 3).when(col == "MONTH", 2).when(col == "YEAR", 1)


def _dob_bits() -> Column:
    """Evidence from the birth date, compared at the register's precision."""
    s, r = F.col("s_dob_date"), F.col("r_dob_date")
    rp = F.coalesce(F.col("r_dob_precision"), F.lit("DAY"))
    precise_enough = _precision_rank(F.col("s_dob_precision")) >= _precision_rank(rp)
    same = (
        F.when(rp == "DAY", s == r)
        .when(rp == "MONTH", F.trunc(s, "month") == F.trunc(r, "month"))
        .otherwise(F.year(s) == F.year(r))
    )
    u_exact = (
        F.when(rp == "DAY", F.col("u_day")).when(rp == "MONTH", F.col("u_month")).otherwise(F.col("u_year"))
    )
    both_days = (F.col("s_dob_precision") == "DAY") & (rp == "DAY")
    swapped = (
        both_days
        & (F.dayofmonth(s) != F.month(s))
        & (F.year(s) == F.year(r))
        & (F.month(s) == F.dayofmonth(r))
        & (F.dayofmonth(s) == F.month(r))
    )
    year_gap = F.abs(F.year(s) - F.year(r))
    return (
        F.when(s.isNull() | r.isNull(), 0.0)
        .when(precise_enough & same, _log2(F.lit(M_DOB["exact"]) / u_exact))
        .when(swapped, _log2(F.lit(M_DOB["swapped"]) / F.col("u_day")))
        .when(year_gap == 0, _log2(F.lit(M_DOB["year"]) / F.col("u_year")))
        .when(year_gap == 1, _log2(F.lit(M_DOB["year_pm1"]) / (F.col("u_year") * 2)))
        .otherwise(BITS_DOB_DISAGREE)
    )


def _gender_bits() -> Column:
    s, r = F.col("s_gender"), F.col("r_gender")
    return (
        F.when(s.isNull() | r.isNull(), 0.0)
        .when(s == r, BITS_GENDER["agree"])
        .otherwise(BITS_GENDER["disagree"])
    )


def _residence_bits() -> Column:
    """Evidence from where the subject was vaccinated against the register's permanent residence."""

    def same(level: str) -> Column:
        return F.col(f"s_{level}_code") == F.col(f"r_{level}_code")

    u_district_only = F.greatest(F.col("u_district") - F.col("u_commune"), F.col("u_commune"))
    u_province_only = F.greatest(F.col("u_province") - F.col("u_district"), F.col("u_district"))
    return (
        F.when(F.col("s_province_code").isNull() | F.col("r_province_code").isNull(), 0.0)
        .when(same("commune"), _log2(F.lit(M_RESIDENCE["commune"]) / F.col("u_commune")))
        .when(same("district"), _log2(F.lit(M_RESIDENCE["district"]) / u_district_only))
        .when(same("province"), _log2(F.lit(M_RESIDENCE["province"]) / u_province_only))
        .otherwise(BITS_RESIDENCE_NONE)
    )


def _id_bits() -> Column:
    """Evidence from the typed ID's digits against the person's personal_id and old CMND."""

    def against(target: Column) -> Column:
        rid = F.col("s_id_repaired")
        h = _hamming(rid, target)
        return (
            F.when(rid.isNull() | target.isNull() | h.isNull(), None)
            .when(h == 0, BITS_ID["exact"])
            .when(h == 1, BITS_ID["one_digit"])
            .when((h == 2) & _same_digits(rid, target), BITS_ID["transposed"])
            .when(h == 2, BITS_ID["two_digits"])
            .otherwise(BITS_ID["disagree"])
        )

    def prefix_bits(p: Column) -> Column:
        matches = F.startswith(F.col("r_personal_id"), p) | F.startswith(
            F.coalesce(F.col("r_old_id_number"), F.lit("")), p
        )
        digits_beyond = F.greatest(F.length(p) - 5, F.lit(0))
        return F.when(
            p.isNotNull(),
            F.when(
                matches, F.least(digits_beyond * BITS_ID_PREFIX_PER_DIGIT, F.lit(BITS_ID_PREFIX_MAX))
            ).otherwise(BITS_ID["disagree"]),
        )

    by_id = F.greatest(against(F.col("r_personal_id")), against(F.col("r_old_id_number")))
    by_prefix = F.greatest(prefix_bits(F.col("s_id_prefix")), prefix_bits(F.col("s_id_prefix_alt")))
    return F.coalesce(by_id, by_prefix, F.lit(0.0))


def score_candidates(
    targets: DataFrame,
    candidates: DataFrame,
    register: DataFrame,
    *,
    name_frequencies: DataFrame | None = None,
) -> DataFrame:
    """Score candidate pairs: ``subject_id, personal_id, bits, score`` with every evidence column.

    ``bits`` is the log2 likelihood ratio "same person" against "two random people"; ``score`` is
    the posterior that this candidate is the subject's register person, with prior odds of one in
    the register's size and the subject's other candidates competing for the same posterior mass.
    """
    freqs = name_frequencies if name_frequencies is not None else compute_name_frequencies(register)
    fam = freqs.filter(F.col("part") == "family").select(
        F.col("token").alias("r_family"), F.col("frequency").alias("freq_family")
    )
    giv = freqs.filter(F.col("part") == "given").select(
        F.col("token").alias("r_given"), F.col("frequency").alias("freq_given")
    )
    params = _register_params(register)
    s = targets.select(*[F.col(c).alias(c if c == "subject_id" else f"s_{c}") for c in targets.columns])
    reg = _prepare_register(register)
    r = reg.select(*[F.col(c).alias(c if c == "personal_id" else f"r_{c}") for c in reg.columns]).withColumn(
        "r_personal_id", F.col("personal_id")
    )
    pairs = (
        candidates.join(s, on="subject_id", how="inner")
        .join(r, on="personal_id", how="inner")
        .join(F.broadcast(fam), on="r_family", how="left")
        .join(F.broadcast(giv), on="r_given", how="left")
        .crossJoin(F.broadcast(params))
    )
    n = F.col("n_register").cast("double")
    evidence = {
        "name_bits": _name_bits(F.col("freq_family"), F.col("freq_given"), n),
        "dob_bits": _dob_bits(),
        "gender_bits": _gender_bits(),
        "residence_bits": _residence_bits(),
        "id_bits": _id_bits(),
    }
    scored = pairs.select(
        "subject_id", "personal_id", "rules", "n_register", *[c.alias(k) for k, c in evidence.items()]
    )
    bits = sum((F.col(k) for k in evidence), F.lit(0.0))
    scored = scored.withColumn("bits", bits)
    per_subject = Window.partitionBy("subject_id")
    # Posterior over "candidate i", "another candidate" and "nobody we compared" (prior mass n).
    # Shift by the subject's best bits so 2^bits never overflows.
    top = F.max("bits").over(per_subject)
    weight = F.pow(F.lit(2.0), F.col("bits") - F.col("_top"))
    scored = scored.withColumn("_top", top).withColumn("_w", weight)
    total = F.sum("_w").over(per_subject) + n * F.pow(F.lit(2.0), -F.col("_top"))
    return scored.withColumn("score", F.round(F.col("_w") / total, 6)).drop("_top", "_w", "n_register")


def rank_suggestions(scored: DataFrame, *, threshold: float, top_k: int) -> DataFrame:
    """Keep the ``top_k`` best candidates per subject, ranked by score desc then personal_id.

    Rank 1 is a claim: it is given only when the best score reaches ``threshold``. A subject whose
    best candidate stays below it keeps its candidates at ranks 2..``top_k`` (no rank 1 row).
    """
    order = Window.partitionBy("subject_id").orderBy(F.col("score").desc(), F.col("personal_id").asc())
    best = Window.partitionBy("subject_id")
    ranked = scored.select(
        "subject_id",
        "personal_id",
        "score",
        F.row_number().over(order).alias("_n"),
        (F.max("score").over(best) >= F.lit(threshold)).alias("_claim"),
    )
    rank = F.when(F.col("_claim"), F.col("_n")).otherwise(F.col("_n") + 1)
    return (
        ranked.select(
            "subject_id",
            "personal_id",
            F.coalesce(F.col("score").cast("double"), F.lit(0.0)).alias("score"),
            rank.cast("int").alias("rank"),
        )
        .filter(F.col("rank") <= top_k)
        .select(*schemas.MATCH_SUGGESTIONS.fieldNames())
    )


def suggest_matches(
    subjects: DataFrame,
    checks: DataFrame,
    register: DataFrame,
    *,
    threshold: float,
    top_k: int,
    name_frequencies: DataFrame | None = None,
) -> DataFrame:
    """``match_suggestions``: up to ``top_k`` register people per subject whose ID needs help.

    Assumes normalised ``subjects`` (``schemas.SUBJECTS``), their ``checks``
    (``schemas.SUBJECT_CHECKS``) and the normalised ``register`` (``schemas.REGISTER``). Only
    subjects with ``ID_MISSING``, ``ID_MALFORMED``, ``ID_NOT_FOUND`` or ``ID_SHARED`` get rows.
    ``name_frequencies`` (``NAME_FREQUENCIES``) defaults to the register's own.

    ``score`` is the posterior probability that the row's person is the subject (docs/matching.md).
    Rank 1 is emitted only when its score reaches ``threshold``; it then beats rank 2 by at least
    ``2 * threshold - 1`` because candidates share one posterior. Below the threshold the subject
    gets no rank 1: its best candidates are listed at ranks 2..``top_k``.
    """
    if not 0.5 <= threshold <= 1.0:
        raise ValueError(f"suggest_matches: threshold must be in [0.5, 1], got {threshold}")
    if top_k < 1:
        raise ValueError(f"suggest_matches: top_k must be at least 1, got {top_k}")
    _check_columns(subjects, schemas.SUBJECTS, "subjects")
    _check_columns(checks, schemas.SUBJECT_CHECKS, "checks")
    _check_columns(register, schemas.REGISTER, "register")
    targets = select_targets(subjects, checks)
    subject_keys, register_blocks = _blocks(targets, register)
    candidates = _group_pairs(_candidate_pairs(subject_keys, register_blocks, max_block_size=MAX_BLOCK_SIZE))
    scored = score_candidates(targets, candidates, register, name_frequencies=name_frequencies)
    return rank_suggestions(scored, threshold=threshold, top_k=top_k)


def match_quality(suggestions: DataFrame, checks: DataFrame, truth: DataFrame) -> DataFrame:
    """``MATCH_QUALITY``: how well ``suggestions`` find each subject's true register person.

    ``truth`` has ``subject_id`` and ``true_personal_id`` (null or empty when the person is not in
    the register). Counted over the subjects whose ``checks`` call for a suggestion. A rate with
    nothing to count (no claim, nobody in the register) is 1.0.
    """
    wanted = F.arrays_overlap("error_codes", F.array(*[F.lit(c) for c in TARGET_CODES]))
    targets = (
        checks.filter(wanted)
        .select("subject_id")
        .join(truth.select("subject_id", "true_personal_id"), on="subject_id", how="inner")
    )
    right = F.col("personal_id") == F.col("true_personal_id")
    per_subject = (
        targets.join(suggestions.select("subject_id", "personal_id", "rank"), on="subject_id", how="left")
        .groupBy("subject_id", "true_personal_id")
        .agg(
            F.max(F.coalesce((F.col("rank") == 1).cast("int"), F.lit(0))).alias("claimed"),
            F.max(F.coalesce(((F.col("rank") == 1) & right).cast("int"), F.lit(0))).alias("top1"),
            F.max(F.coalesce(((F.col("rank") <= 3) & right).cast("int"), F.lit(0))).alias("top3"),
        )
    )
    in_register = F.coalesce(F.col("true_personal_id"), F.lit("")) != ""
    totals = per_subject.agg(
        F.count(F.lit(1)).alias("subjects_to_match"),
        F.coalesce(F.sum(in_register.cast("long")), F.lit(0)).alias("in_register"),
        F.coalesce(F.sum("claimed").cast("long"), F.lit(0)).alias("rank1_claims"),
        F.coalesce(F.sum("top1").cast("long"), F.lit(0)).alias("top1_correct"),
        F.coalesce(F.sum("top3").cast("long"), F.lit(0)).alias("top3_correct"),
    )

    def rate(num: str, den: str) -> Column:
        return F.when(F.col(den) > 0, F.col(num) / F.col(den)).otherwise(F.lit(1.0)).cast("double")

    return totals.select(
        "*",
        rate("top1_correct", "rank1_claims").alias("top1_precision"),
        rate("top1_correct", "in_register").alias("top1_recall"),
        rate("top3_correct", "in_register").alias("top3_recall"),
    ).select(*MATCH_QUALITY.fieldNames())
