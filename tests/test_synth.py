"""The synthetic data generator (issue 3): reference data, determinism, IDs, truth, scoring."""

from __future__ import annotations

import csv
import datetime as dt
import filecmp
import glob
import json
from collections import Counter
from pathlib import Path

import pytest

from vaxclean.synth import Options, Rates, TruthRules, generate, score_codes
from vaxclean.synth import columns as C
from vaxclean.synth.chunk import EXPECTED_CODES, NOISE_KINDS, serial_is_issued, unknown_typos
from vaxclean.synth.reference import Geography, province_codes_2022, read_reference
from vaxclean.synth.truth import (
    DOSE_CODES,
    PROVINCE_PREFIXES,
    SUBJECT_CODES,
    add_months,
    classify,
    id_status,
    name_key,
    parse_date,
)

ROOT = Path(__file__).resolve().parents[1]
FILES = ("register.csv", "ledger.csv", "facility_reports.csv", "truth_subjects.csv", "truth_doses.csv")


def read_csv(path: Path | str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def read_folder(path: Path) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for part in sorted(glob.glob(str(path / "*.csv"))):
        with open(part, encoding="utf-8", newline="") as fh:
            rows += [tuple(r) for r in list(csv.reader(fh))[1:]]
    return sorted(rows)


def codes(text: str) -> set[str]:
    return set(text.split("|")) - {""}


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    """2,000 people, default rates: every error kind at least once (one chunk, min_per_chunk=1)."""
    out = tmp_path_factory.mktemp("synth2000")
    manifest = generate(Options(people=2_000, seed=7), out)
    return {
        "manifest": manifest,
        "register": read_csv(out / "register.csv"),
        "ledger": read_csv(out / "ledger.csv"),
        "reports": read_csv(out / "facility_reports.csv"),
        "subjects": read_csv(out / "truth_subjects.csv"),
        "doses": read_csv(out / "truth_doses.csv"),
    }


# --- reference data -------------------------------------------------------------------------------
def test_reference_2022_counts():
    rows = read_reference("admin_units_2022")
    communes = {r["commune_code"] for r in rows if r["commune_code"]}
    assert len({r["province_code"] for r in rows}) == 63
    assert len({r["district_code"] for r in rows}) == 705
    assert 10_500 <= len(communes) <= 10_700 and len(communes) == sum(1 for r in rows if r["commune_code"])
    assert {r["division_version"] for r in rows} == {"2022"}
    assert all(len(r["province_code"]) == 2 and len(r["district_code"]) == 3 for r in rows)
    assert all(len(c) == 5 for c in communes)
    assert {"0" + p for p in province_codes_2022()} == PROVINCE_PREFIXES


def test_reference_2025_counts_and_mapping():
    rows = read_reference("admin_units_2025")
    assert len({r["province_code"] for r in rows}) == 34
    assert len({r["commune_code"] for r in rows}) == len(rows) == 3_321
    assert {r["division_version"] for r in rows} == {"2025"}
    mapping = read_reference("admin_2022_to_2025")
    communes_2022 = {r["commune_code"] for r in read_reference("admin_units_2022") if r["commune_code"]}
    defaults = Counter(r["commune_code_2022"] for r in mapping if r["is_default"] == "true")
    assert set(defaults) == communes_2022 and set(defaults.values()) == {1}
    new_codes = {r["commune_code"] for r in rows}
    assert {r["commune_code_2025"] for r in mapping if r["commune_code_2025"]} <= new_codes
    provinces_2025 = {r["province_code"] for r in rows}
    assert {r["province_code_2025"] for r in mapping} <= provinces_2025


def test_provinces_have_census_population():
    rows = read_reference("provinces_2022")
    assert len(rows) == 63
    total = sum(int(r["population"]) for r in rows)
    assert abs(total - 96_208_984) / 96_208_984 < 0.002  # 2019 census, 1 April 2019
    assert Geography.load().communes["79"][0].facility_code == "79760-TYT01"


def test_columns_are_the_contract_schemas():
    from vaxclean import schemas

    assert schemas.LEDGER_COLUMNS == C.LEDGER_COLUMNS
    assert schemas.REGISTER_COLUMNS == C.REGISTER_COLUMNS
    assert schemas.FACILITY_REPORT_COLUMNS == C.FACILITY_REPORT_COLUMNS


# --- determinism ----------------------------------------------------------------------------------
def test_same_seed_same_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate(Options(people=300, seed=11), a)
    generate(Options(people=300, seed=11), b)
    for name in (*FILES, "manifest.json"):
        assert filecmp.cmp(a / name, b / name, shallow=False), name
    generate(Options(people=300, seed=12), tmp_path / "c")
    assert not filecmp.cmp(a / "ledger.csv", tmp_path / "c" / "ledger.csv", shallow=False)


def test_chunk_is_the_same_whatever_the_total(tmp_path):
    small, large = tmp_path / "small", tmp_path / "large"
    generate(Options(people=200, seed=3, chunk_size=100), small)
    generate(Options(people=350, seed=3, chunk_size=100), large)
    for name in ("register.csv", "ledger.csv", "truth_subjects.csv", "truth_doses.csv"):
        first = (small / name).read_text(encoding="utf-8")
        assert (large / name).read_text(encoding="utf-8").startswith(first), name


def test_sample_is_what_the_generator_writes(tmp_path):
    """sample/ is the bundled demo set: 300 people, seed 20220426, CSV ledger, default rates."""
    sample = ROOT / "sample"
    manifest = json.loads((sample / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["people"], manifest["seed"], manifest["ledger_format"]) == (300, 20220426, "csv")
    generate(Options(people=300, seed=20220426), tmp_path)
    for name in (*FILES, "manifest.json"):
        assert filecmp.cmp(sample / name, tmp_path / name, shallow=False), f"sample/{name} is stale"
    assert sum(p.stat().st_size for p in sample.iterdir()) < 1_000_000


# --- people ---------------------------------------------------------------------------------------
def test_personal_ids_follow_the_cccd_structure(national):
    register = national["register"]
    ids = [r["personal_id"] for r in register]
    assert len(set(ids)) == len(ids) == 2_000
    for r in register:
        pid, year = r["personal_id"], int(r["date_of_birth"][:4])
        assert len(pid) == 12 and pid.isdigit() and pid[:3] in PROVINCE_PREFIXES
        century = 0 if year < 2000 else 2
        assert int(pid[3]) == century + (r["gender"] == "F")
        assert pid[4:6] == f"{year % 100:02d}"
        assert serial_is_issued(pid)
    old = [r["old_id_number"] for r in register if r["old_id_number"]]
    assert old and len(set(old)) == len(old) and all(len(o) == 9 and o.isdigit() for o in old)
    assert all(not serial_is_issued(t) for t in unknown_typos(ids[0]))


def test_people_look_like_the_country(national):
    register = national["register"]
    surnames = Counter(r["full_name"].split()[0] for r in register)
    assert 0.33 < surnames["Nguyễn"] / len(register) < 0.43
    precisions = Counter(len(r["date_of_birth"]) for r in register)
    assert precisions[10] > 0 and (precisions[4] + precisions[7]) > 0  # partial dates for the elderly
    deceased = sum(1 for r in register if r["date_of_death"])
    assert 0.003 < deceased / len(register) < 0.03
    provinces = Counter(r["province_code"] for r in register)
    assert provinces["79"] > provinces["06"]  # Ho Chi Minh City outweighs Bắc Kạn
    facilities = {r["facility_code"] for r in national["ledger"]}
    assert all(len(f) == 11 and f[5:].startswith("-TYT") for f in facilities)


def test_facility_reports_exceed_entered_doses(national):
    counts = national["manifest"]["counts"]
    reported = sum(int(r["doses_administered"]) for r in national["reports"])
    assert reported == counts["doses_reported"] > counts["doses_administered_entered"]
    assert 0.02 < counts["doses_never_entered"] / reported < 0.06


# --- truth ----------------------------------------------------------------------------------------
def test_every_code_of_the_contract_is_in_the_truth(national):
    subject_codes = set().union(*(codes(s["expected_codes"]) for s in national["subjects"]))
    dose_codes = set().union(*(codes(d["expected_codes"]) for d in national["doses"]))
    assert subject_codes == set(SUBJECT_CODES)
    assert dose_codes == set(DOSE_CODES)
    statuses = Counter(s["expected_status"] for s in national["subjects"])
    assert set(statuses) == {"VERIFIED", "FOREIGN", "NEEDS_REVIEW"}
    assert 0.12 < statuses["NEEDS_REVIEW"] / sum(statuses.values()) < 0.30  # about one in five


def test_each_injected_kind_yields_its_code(national):
    seen: Counter = Counter()
    for rows in (national["subjects"], national["doses"]):
        for row in rows:
            for kind in codes(row["injected"]):
                seen[kind] += 1
                assert set(EXPECTED_CODES[kind]) <= codes(row["expected_codes"]), (kind, row)
    assert set(seen) == set(EXPECTED_CODES), set(EXPECTED_CODES) - set(seen)


def test_noise_yields_no_code(national):
    noise_seen: Counter = Counter()
    dose_kinds = {}
    for d in national["doses"]:
        dose_kinds.setdefault(d["subject_id"], set()).update(codes(d["injected"]))
    by_subject: dict[str, list[dict[str, str]]] = {}
    for d in national["doses"]:
        by_subject.setdefault(d["subject_id"], []).append(d)
    for s in national["subjects"]:
        noise_seen.update(codes(s["noise"]))
        injected = codes(s["injected"])
        if injected <= {"old_cmnd_used"}:  # noise only (an old CMND resolves)
            assert s["expected_codes"] == "", s
            assert s["expected_status"] in ("VERIFIED", "FOREIGN"), s
            assert s["expected_matched_personal_id"] == s["true_personal_id"]
        if not dose_kinds[s["subject_id"]]:
            assert all(d["expected_codes"] == "" for d in by_subject[s["subject_id"]]), s
    assert set(NOISE_KINDS) <= set(noise_seen), set(NOISE_KINDS) - set(noise_seen)


def test_signing_truth(national):
    ledger = {r["record_id"]: r for r in national["ledger"]}
    subjects = {s["subject_id"]: s for s in national["subjects"]}
    for d in national["doses"]:
        if ledger[d["record_id"]]["signed_at"]:
            assert d["expected_signable"] == ""
            continue
        status = subjects[d["subject_id"]]["expected_status"]
        signable = status in ("VERIFIED", "FOREIGN") and not d["expected_codes"]
        assert d["expected_signable"] == str(signable).lower()
        assert codes(d["expected_block_reasons"]) == codes(
            subjects[d["subject_id"]]["expected_codes"]
        ) | codes(d["expected_codes"])


def test_truth_rules_defaults_are_the_base_config():
    from vaxclean.config import load_config

    assert TruthRules.from_config(load_config(ROOT / "conf" / "base.yaml").rules) == TruthRules()


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("05/03/1985", (dt.date(1985, 3, 5), "DAY")),
        ("5/3/1985", (dt.date(1985, 3, 5), "DAY")),
        ("03/25/1985", (dt.date(1985, 3, 25), "DAY")),  # d/m fails, m/d parses
        ("1985-03-05", (dt.date(1985, 3, 5), "DAY")),
        ("2021-08-12T15:04:05", (dt.date(2021, 8, 12), "DAY")),
        ("03/1985", (dt.date(1985, 3, 1), "MONTH")),
        ("1985-03", (dt.date(1985, 3, 1), "MONTH")),
        ("1985", (dt.date(1985, 1, 1), "YEAR")),
        ("31111", (dt.date(1985, 3, 5), "DAY")),  # Excel serial
        ("31/02/2021", (None, None)),
        ("", (None, None)),
        ("abc", (None, None)),
    ],
)
def test_parse_date(typed, expected):
    assert parse_date(typed) == expected


def test_name_key_and_id_status():
    assert name_key("  NGUYỄN  Thị Thuý Hoà ") == name_key("Nguyễn Thị Thúy Hòa")
    assert name_key("Nguye\u0302\u0303n Văn An") == name_key("Nguyễn Văn An")  # NFD
    assert name_key("Nguyen Van An") != name_key("Nguyễn Văn An")
    assert name_key("NguyÔn V¨n An") != name_key("Nguyễn Văn An")
    tokens = TruthRules().missing_id_tokens
    assert id_status(" 079085001234\u00a0", tokens) == ("VALID", "079085001234")
    assert id_status("025123456", tokens)[0] == "VALID"
    assert id_status("Chưa có", tokens)[0] == "MISSING"
    for typed in (
        "79085001234",
        "7.9085E+10",
        "079 085 001 234",
        "079.085.001.234",
        "079485001234",
        "003085001234",
    ):
        assert id_status(typed, tokens)[0] == "MALFORMED", typed
    assert add_months(dt.date(2021, 11, 30), 3) == dt.date(2022, 2, 28)


def test_classify_shared_and_duplicate_ids():
    register = [
        {"personal_id": "079085001234", "old_id_number": "025123456", "full_name": "Lê Văn Bình",
         "date_of_birth": "1985-03-05", "gender": "M", "date_of_death": ""},
    ]  # fmt: skip
    base = {
        "full_name": "Lê Văn Bình", "date_of_birth": "05/03/1985", "gender": "Nam", "id_number": "079085001234",
        "nationality": "", "passport_number": "", "province_code": "79", "district_code": "760",
        "commune_code": "26734", "vaccine": "Pfizer", "dose_number": "1", "vaccination_date": "2021-08-12",
        "entered_at": "2021-08-12T10:00:00", "signed_at": "",
    }  # fmt: skip
    ledger = [
        {**base, "record_id": "VN79-1", "subject_id": "S1"},  # the parent
        {**base, "record_id": "VN79-2", "subject_id": "S2", "full_name": "Lê Minh Khoa",
         "date_of_birth": "2010-06-01"},  # the child, with the parent's ID
        {**base, "record_id": "VN79-3", "subject_id": "S3", "id_number": "025123456"},  # parent again, CMND
    ]  # fmt: skip
    subjects, doses = classify(register, ledger, rules=TruthRules(), as_of=dt.date(2022, 1, 1))
    assert subjects["S2"].codes == ("DOB_MISMATCH", "ID_SHARED", "NAME_MISMATCH")
    assert subjects["S1"].codes == subjects["S3"].codes == ("SUBJECT_DUPLICATE",)
    assert subjects["S3"].matched_personal_id == "079085001234"
    assert doses["VN79-1"].signable is False and doses["VN79-1"].block_reasons == ("SUBJECT_DUPLICATE",)


# --- scoring, rates, job --------------------------------------------------------------------------
def test_score_codes():
    expected = {"a": {"ID_MISSING"}, "b": {"NAME_MISMATCH", "DOB_MISMATCH"}, "c": set()}
    actual = {"a": {"ID_MISSING"}, "b": {"NAME_MISMATCH"}, "c": {"DOB_MISMATCH"}, "d": set()}
    result = score_codes(expected, actual)
    assert result["per_code"]["ID_MISSING"]["precision"] == result["per_code"]["ID_MISSING"]["recall"] == 1.0
    assert result["per_code"]["DOB_MISMATCH"] == {
        "tp": 0, "fp": 1, "fn": 1, "support": 1, "precision": 0.0, "recall": 0.0, "f1": 0.0,
    }  # fmt: skip
    assert result["micro"]["tp"] == 2 and result["micro"]["fp"] == 1 and result["micro"]["fn"] == 1
    assert result["exact_match"] == 0.5 and result["keys"] == 4 and result["extra_keys"] == 1


def test_rates_are_overridable():
    assert Rates().with_overrides({"id_missing": 0.2}).id_missing == 0.2
    with pytest.raises(ValueError, match="unknown rate"):
        Rates().with_overrides({"nope": 0.1})


def test_generate_job(tmp_path, capsys):
    from jobs.generate import main

    out = tmp_path / "job"
    assert main(["--people", "40", "--seed", "5", "--out", str(out), "--rate", "id_missing=0.5"]) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["rates"]["id_missing"] == 0.5 and manifest["people"] == 40
    assert main(["--people", "40", "--out", str(out), "--rate", "bogus=1"]) == 2
    assert "unknown rate" in capsys.readouterr().err


@pytest.mark.slow
def test_spark_engine_writes_the_same_rows(spark, tmp_path):
    opts = Options(people=240, seed=9, chunk_size=80)
    generate(opts, tmp_path / "local", engine="local")
    manifest = generate(opts, tmp_path / "spark", engine="spark", spark_factory=lambda: spark)
    for table in ("register", "ledger", "truth_subjects", "truth_doses", "facility_reports"):
        local = sorted(tuple(r.values()) for r in read_csv(tmp_path / "local" / f"{table}.csv"))
        assert read_folder(tmp_path / "spark" / table) == local, table
    local_manifest = json.loads((tmp_path / "local" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"] == local_manifest["counts"]
