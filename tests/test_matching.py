"""Register matching (issue 5): one behaviour per test, on a ten-person register.

Subjects and register rows are built already normalised (the columns ``transforms/normalize.py``
produces), so these tests pin the matcher alone. All subjects are scored once per module.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from transforms.matching import block_candidates, candidate_stats, match_quality, suggest_matches
from vaxclean import schemas

THRESHOLD, TOP_K = 0.80, 3

# personal_id, old_id, full name, name_key, name_fold, dob, precision, gender, province, district, commune
PEOPLE = [
    ("079085001234", None, "Nguyễn Văn An", "1985-03-05", "DAY", "M", "79", "760", "26734"),
    ("001190004567", None, "Trần Thị Bình", "1990-07-12", "DAY", "F", "01", "001", "00004"),
    ("079201000111", None, "Lê Minh Cường", "2001-11-20", "DAY", "M", "79", "760", "26737"),
    ("079212003456", None, "Nguyễn Minh Khôi", "2012-04-09", "DAY", "M", "79", "760", "26734"),
    ("031180009876", "031234567", "Phạm Thị Dung", "1980-02-28", "DAY", "F", "31", "303", "11311"),
    ("079195004321", None, "Võ Thị Hòa", "1995-01-01", "YEAR", "F", "79", "769", "27100"),
    ("079070000001", None, "Nguyễn Văn Nam", "1970-01-15", "DAY", "M", "79", "760", "26734"),
    ("079070000002", None, "Nguyễn Văn Nam", "1970-06-20", "DAY", "M", "79", "760", "26734"),
    ("079088007777", None, "Hoàng Đức Thắng", "1988-09-01", "DAY", "M", "79", "760", "26740"),
    ("079192005555", None, "Đặng Thị Lan", "1992-12-03", "DAY", "F", "79", "760", "26734"),
]

FOLD = str.maketrans(
    "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ",
    "aaaaaaaaaaaaaaaaaeeeeeeeeeeeiiiiiooooooooooooooooouuuuuuuuuuuyyyyyd",
)


def key(name: str) -> str:
    return " ".join(name.lower().split())


def fold(name: str) -> str:
    return key(name).translate(FOLD)


def date(text: str | None) -> dt.date | None:
    """``yyyy-mm-dd``, ``yyyy-mm`` or ``yyyy``; partial dates are stored as their first day."""
    if not text:
        return None
    parts = [int(p) for p in text.split("-")] + [1, 1]
    return dt.date(*parts[:3])


def register_row(pid, old, name, dob, precision, gender, province, district, commune):
    return (
        pid,
        old,
        name,
        key(name),
        fold(name),
        date(dob),
        precision,
        gender,
        province,
        district,
        commune,
        None,
    )


def subject_row(
    sid, name, dob, precision, gender, commune, id_clean, id_status, *, district="760", province="79"
):
    nk = key(name)
    return {
        "subject_id": sid,
        "province_code": province,
        "district_code": district,
        "commune_code": commune,
        "full_name_raw": name,
        "name_display": name,
        "name_key": nk,
        "name_fold": fold(name),
        "name_is_mojibake": False,
        "dob_raw": dob,
        "dob_date": date(dob),
        "dob_precision": precision,
        "gender_raw": gender,
        "gender": gender,
        "id_raw": id_clean,
        "id_clean": id_clean,
        "id_status": id_status,
        "nationality_raw": None,
        "nationality": "VN",
        "is_foreign": False,
        "passport_number": None,
        "phone": None,
        "n_doses": 1,
        "last_entered_at": None,
        "subject_version": "v1",
    }


# subject, codes, matched_personal_id
SUBJECTS = [
    (
        subject_row("S01", "Nguyễn Văn An", "1985-03-05", "DAY", "M", "26734", "", "MISSING"),
        ["ID_MISSING"],
        None,
    ),
    # Hà Nội (001) lost both leading zeros; no birth date, vaccinated far from home.
    (
        subject_row("S02", "Tran Thi Binh", None, None, "F", "26734", "1190004567", "MALFORMED"),
        ["DOB_MISMATCH", "ID_MALFORMED"],
        None,
    ),
    (
        subject_row("S03", "Lê Minh Cường", "2001-11-20", "DAY", "M", "26734", "7.9201E+10", "MALFORMED"),
        ["ID_MALFORMED"],
        None,
    ),
    (
        subject_row("S04", "Phạm Thị Dung", None, None, "F", "26734", "031.180.009.876", "MALFORMED"),
        ["ID_MALFORMED"],
        None,
    ),
    (
        subject_row("S05", "Võ Thị Hòa", None, None, "F", "26734", "079195004322", "VALID"),
        ["ID_NOT_FOUND"],
        None,
    ),
    (
        subject_row("S06", "Phạm Thị Dung", None, None, None, "26734", "31234567", "MALFORMED"),
        ["ID_MALFORMED"],
        None,
    ),
    # A child vaccinated under his father's (S01's register person) ID.
    (
        subject_row("S07", "Nguyễn Minh Khôi", "2012-04-09", "DAY", "M", "26734", "079085001234", "VALID"),
        ["DOB_MISMATCH", "ID_SHARED", "NAME_MISMATCH"],
        "079085001234",
    ),
    # Two register people fit equally: no claim, both listed from rank 2.
    (subject_row("S08", "Nguyen Van Nam", "1970", "YEAR", "M", "26734", "", "MISSING"), ["ID_MISSING"], None),
    (
        subject_row("S09", "Đặng Thị Lan", "1992-12-03", "DAY", "F", "26734", "079192005555", "VALID"),
        [],
        "079192005555",
    ),
]


@pytest.fixture(scope="module")
def register(spark):
    return spark.createDataFrame([register_row(*p) for p in PEOPLE], schemas.REGISTER)


@pytest.fixture(scope="module")
def subjects(spark):
    fields = schemas.SUBJECTS.fieldNames()
    return spark.createDataFrame([tuple(s[f] for f in fields) for s, _, _ in SUBJECTS], schemas.SUBJECTS)


@pytest.fixture(scope="module")
def checks(spark):
    rows = [
        (
            s["subject_id"],
            "79",
            s["commune_code"],
            "VERIFIED" if not codes else "NEEDS_REVIEW",
            codes,
            matched,
            "760",
            "v1",
        )
        for s, codes, matched in SUBJECTS
    ]
    return spark.createDataFrame(rows, schemas.SUBJECT_CHECKS)


@pytest.fixture(scope="module")
def suggestions(subjects, checks, register):
    return suggest_matches(subjects, checks, register, threshold=THRESHOLD, top_k=TOP_K)


@pytest.fixture(scope="module")
def rows(suggestions):
    """``{subject_id: [(rank, personal_id, score), ...]}`` sorted by rank."""
    out: dict[str, list[tuple[int, str, float]]] = {}
    for r in suggestions.collect():
        out.setdefault(r.subject_id, []).append((r.rank, r.personal_id, r.score))
    return {k: sorted(v) for k, v in out.items()}


def top1(rows, subject_id):
    first = rows.get(subject_id, [])[:1]
    return first[0][1] if first and first[0][0] == 1 else None


def test_missing_id_gets_the_right_person_at_rank_1(rows):
    assert top1(rows, "S01") == "079085001234"
    assert rows["S01"][0][2] >= THRESHOLD


def test_lost_leading_zeros_are_restored(rows):
    assert top1(rows, "S02") == "001190004567"


def test_scientific_notation_prefix_finds_the_person(rows):
    assert top1(rows, "S03") == "079201000111"


def test_separators_are_removed(rows):
    assert top1(rows, "S04") == "031180009876"


def test_one_digit_typo_finds_the_person(rows):
    assert top1(rows, "S05") == "079195004321"


def test_old_cmnd_with_lost_zero_finds_its_holder(rows):
    assert top1(rows, "S06") == "031180009876"


def test_child_under_parents_id_gets_own_entry_never_the_parent(rows):
    assert top1(rows, "S07") == "079212003456"
    assert "079085001234" not in {pid for _, pid, _ in rows["S07"]}


def test_low_evidence_subject_gets_no_rank_1_and_ties_rank_by_personal_id(rows):
    assert rows["S08"][0][0] == 2
    assert [(rank, pid) for rank, pid, _ in rows["S08"]] == [(2, "079070000001"), (3, "079070000002")]
    assert rows["S08"][0][2] == rows["S08"][1][2] < THRESHOLD


def test_only_subjects_with_id_codes_get_rows(rows):
    assert "S09" not in rows


def test_rank_1_beats_rank_2_by_the_margin(rows):
    for ranked in rows.values():
        if ranked[0][0] == 1 and len(ranked) > 1:
            assert ranked[0][2] - ranked[1][2] >= 2 * THRESHOLD - 1


def test_output_schema_is_exactly_the_contract(suggestions):
    assert suggestions.schema == schemas.MATCH_SUGGESTIONS


def test_common_surname_block_is_capped(spark, register):
    """Forty Nguyễn Văn Hùng born 1960 in one commune: the block is dropped, the ID key still finds him."""
    crowd = spark.range(40).select(
        F.format_string("079060%06d", F.col("id") + 100).alias("personal_id"),
        F.lit(None).cast("string").alias("old_id_number"),
        F.lit("Nguyễn Văn Hùng").alias("full_name"),
        F.lit("nguyễn văn hùng").alias("name_key"),
        F.lit("nguyen van hung").alias("name_fold"),
        F.date_add(F.lit(dt.date(1960, 1, 1)), F.col("id").cast("int")).alias("dob_date"),
        F.lit("DAY").alias("dob_precision"),
        F.lit("M").alias("gender"),
        F.lit("79").alias("province_code"),
        F.lit("760").alias("district_code"),
        F.lit("26734").alias("commune_code"),
        F.lit(None).cast("date").alias("date_of_death"),
    )
    big = register.unionByName(crowd)
    row = subject_row("S10", "Nguyễn Văn Hùng", "1960-01-08", "DAY", "M", "26734", "079060001107", "VALID")
    subject = spark.createDataFrame([tuple(row[f] for f in schemas.SUBJECTS.fieldNames())], schemas.SUBJECTS)
    check = spark.createDataFrame(
        [("S10", "79", "26734", "NEEDS_REVIEW", ["ID_NOT_FOUND"], None, "760", "v1")], schemas.SUBJECT_CHECKS
    )

    pairs = block_candidates(subject, check, big, max_block_size=10).collect()
    assert len(pairs) <= 10
    assert "079060000107" in {p.personal_id for p in pairs}  # born on day 8: serial 100 + 7
    stats = {r.rule: r for r in candidate_stats(subject, check, big, max_block_size=10).collect()}
    assert stats["all"].largest_block <= 10
    assert stats["all"].blocks_dropped >= 1
    assert stats["all"].subjects_lost_block == 1


@pytest.mark.slow
def test_quality_on_generated_data(spark, config, tmp_path):
    """Issue 5, item 4 on a small generated set: the pipeline's own normalisation, then matching."""
    from transforms.classify import classify_subjects
    from transforms.ledger import build_subjects, normalize_doses, normalize_register
    from vaxclean.synth import Options, generate_local
    from vaxclean.synth.columns import LEDGER_COLUMNS, REGISTER_COLUMNS

    generate_local(Options(people=1500, seed=4242), tmp_path)

    def raw(name: str, columns: tuple[str, ...]):
        schema = T.StructType([T.StructField(c, T.StringType(), True) for c in columns])
        return (
            spark.read.schema(schema)
            .option("header", True)
            .csv(str(tmp_path / f"{name}.csv"))
            .select(
                "*",
                F.lit(name).alias("source_file"),
                F.monotonically_increasing_id().alias("source_row"),
                F.lit("test").alias("ingest_run_id"),
            )
        )

    register = normalize_register(raw("register", REGISTER_COLUMNS)).cache()
    doses = normalize_doses(raw("ledger", LEDGER_COLUMNS), missing_id_tokens=config.rules.missing_id_tokens)
    subjects = build_subjects(doses).cache()
    checks = classify_subjects(subjects, register).cache()
    truth = spark.read.option("header", True).csv(str(tmp_path / "truth_subjects.csv"))

    suggestions = suggest_matches(subjects, checks, register, threshold=THRESHOLD, top_k=TOP_K)
    q = match_quality(suggestions, checks, truth).first()

    assert q.subjects_to_match >= 50
    assert q.top1_precision >= 0.99
    assert q.top1_recall >= 0.95
    assert q.top3_recall >= 0.98
