"""Report aggregates (literal DataFrames) and the report files, checked the way a person reads them.

The transform tests compare literal expected rows. The job tests (marked slow: a report run takes
minutes on the shared 2-core machine) write a tiny warehouse (two
versions of ``subject_checks``, so the progress section has something to show), run
``vaxclean report`` in-process, open the HTML in headless Chromium (screenshot + DOM) and re-open
the Excel summary with openpyxl.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from chispa import assert_df_equality
from openpyxl import load_workbook
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs import report as report_job
from transforms.report import (
    REPORT_HEADLINE,
    REPORT_PROGRESS,
    aggregate_counts,
    aggregate_headline,
    aggregate_progress,
    pivot_counts,
)
from vaxclean import delta_io, schemas

V, F_, R = "VERIFIED", "FOREIGN", "NEEDS_REVIEW"

# subject_id, province, commune, status, codes, matched, district
SUBJECTS = [
    ("S79-00000001", "79", "26734", V, [], "079085001234", "760"),
    ("S79-00000002", "79", "26734", R, ["ID_MISSING"], None, "760"),
    ("S79-00000003", "79", "26737", R, ["DOB_MISMATCH", "NAME_MISMATCH"], "079190000111", "760"),
    ("S01-00000004", "01", "00001", F_, [], None, "001"),
    ("S01-00000005", "01", "00001", R, ["ID_MALFORMED"], None, "001"),
]
# record_id, subject_id, codes, province (the dose row's own)
DOSES = [
    ("VN79-0000000001", "S79-00000001", [], "79"),
    ("VN79-0000000002", "S79-00000001", ["DOSE_DUPLICATE"], "79"),
    ("VN48-0000000003", "S79-00000002", [], "48"),  # entered in another province than the subject's
    ("VN01-0000000004", "S01-00000004", [], "01"),
    ("VN01-0000000005", "S01-00000005", ["DOSE_SEQUENCE"], "01"),
]
# record_id → vaccination site
SITES = {
    "VN79-0000000001": "79760-TYT01",
    "VN79-0000000002": "79760-TYT01",
    "VN48-0000000003": "48490-TYT02",
    "VN01-0000000004": "01001-TYT01",
    "VN01-0000000005": "odd-site",  # no province prefix: the dose row's province (01) is used
}
REPORTS = [("79760-TYT01", 3), ("48490-TYT02", 1), ("01001-TYT01", 2)]

COUNTS_SCHEMA = "level string, province_code string, district_code string, commune_code string, entity string, category string, value string, count long"


def subject_checks(spark, rows=SUBJECTS):
    data = [(s, p, c, st, codes, m, d, "v1") for s, p, c, st, codes, m, d in rows]
    return spark.createDataFrame(data, schemas.SUBJECT_CHECKS)


def dose_checks(spark, rows=DOSES):
    return spark.createDataFrame(rows, schemas.DOSE_CHECKS)


def doses(spark):
    return spark.createDataFrame(list(SITES.items()), "record_id string, facility_code string")


def facility_reports(spark):
    return spark.createDataFrame(REPORTS, "facility_code string, doses_administered int")


def counts_where(counts, **eq):
    cond = F.lit(True)
    for k, v in eq.items():
        cond = cond & (F.col(k) == v)
    return counts.filter(cond)


# --- aggregate_counts --------------------------------------------------------------------------


def test_counts_subjects_by_status_per_commune(spark):
    counts = aggregate_counts(subject_checks(spark), dose_checks(spark))
    actual = counts_where(counts, level="commune", entity="subject", category="status")
    expected = spark.createDataFrame(
        [
            ("commune", "79", "760", "26734", "subject", "status", V, 1),
            ("commune", "79", "760", "26734", "subject", "status", R, 1),
            ("commune", "79", "760", "26737", "subject", "status", R, 1),
            ("commune", "01", "001", "00001", "subject", "status", F_, 1),
            ("commune", "01", "001", "00001", "subject", "status", R, 1),
        ],
        COUNTS_SCHEMA,
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_counts_every_code_of_a_subject_per_district(spark):
    counts = aggregate_counts(subject_checks(spark), dose_checks(spark))
    actual = counts_where(counts, level="district", entity="subject", category="error_code")
    expected = spark.createDataFrame(
        [
            ("district", "79", "760", None, "subject", "error_code", "ID_MISSING", 1),
            ("district", "79", "760", None, "subject", "error_code", "DOB_MISMATCH", 1),
            ("district", "79", "760", None, "subject", "error_code", "NAME_MISMATCH", 1),
            ("district", "01", "001", None, "subject", "error_code", "ID_MALFORMED", 1),
        ],
        COUNTS_SCHEMA,
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_counts_national_dose_status_needs_verified_subject_and_no_dose_code(spark):
    counts = aggregate_counts(subject_checks(spark), dose_checks(spark))
    actual = counts_where(counts, level="national", entity="dose").filter(F.col("category") != "error_code")
    expected = spark.createDataFrame(
        [
            ("national", None, None, None, "dose", "total", None, 5),
            ("national", None, None, None, "dose", "status", V, 2),  # VN79-1 (verified) and VN01-4 (foreign)
            ("national", None, None, None, "dose", "status", R, 3),
        ],
        COUNTS_SCHEMA,
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_counts_place_doses_at_their_subjects_residence(spark):
    counts = aggregate_counts(subject_checks(spark), dose_checks(spark))
    actual = counts_where(counts, level="province", entity="dose", category="total")
    expected = spark.createDataFrame(
        [
            ("province", "79", None, None, "dose", "total", None, 3),  # VN48-3 counts in 79, not 48
            ("province", "01", None, None, "dose", "total", None, 2),
        ],
        COUNTS_SCHEMA,
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_counts_missing_place_codes_as_unknown(spark):
    rows = [("S00-00000009", None, None, V, [], "079085001234", None)]
    counts = aggregate_counts(subject_checks(spark, rows), dose_checks(spark, []))
    actual = counts_where(counts, level="commune", entity="subject", category="total")
    expected = spark.createDataFrame(
        [("commune", "__", "__", "__", "subject", "total", None, 1)], COUNTS_SCHEMA
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_pivot_counts_gives_one_wide_row_per_commune(spark):
    counts = aggregate_counts(subject_checks(spark), dose_checks(spark))
    wide = pivot_counts(counts, level="commune")
    cols = ["commune_code", "subjects", "verified", "foreign", "needs_review", "doses", "doses_needs_review",
            "ID_MISSING", "NAME_MISMATCH", "DOSE_DUPLICATE", "DOSE_SEQUENCE"]  # fmt: skip
    expected = spark.createDataFrame(
        [
            ("00001", 2, 0, 1, 1, 2, 1, 0, 0, 0, 1),
            ("26734", 2, 1, 0, 1, 3, 2, 1, 0, 1, 0),
            ("26737", 1, 0, 0, 1, 0, 0, 0, 1, 0, 0),
        ],
        ", ".join(f"{c} {'string' if c == 'commune_code' else 'long'}" for c in cols),
    )
    assert_df_equality(wide.select(*cols), expected, ignore_row_order=True, ignore_nullable=True)


# --- aggregate_headline ------------------------------------------------------------------------


def headline_row(
    level, province, reported, entered, verified, not_matched, people, p_ver, p_for, p_rev, no_id
):
    return (level, province, reported, entered, verified, not_matched, people, p_ver, p_for, p_rev, no_id)


def test_headline_national_figures(spark):
    out = aggregate_headline(subject_checks(spark), dose_checks(spark), doses(spark), facility_reports(spark))
    expected = spark.createDataFrame(
        [headline_row("national", None, 6, 5, 2, 2, 5, 1, 1, 3, 2)], REPORT_HEADLINE
    )
    assert_df_equality(out.filter("level = 'national'"), expected, ignore_nullable=True)


def test_headline_places_doses_at_the_sites_province_and_people_at_home(spark):
    out = aggregate_headline(subject_checks(spark), dose_checks(spark), doses(spark), facility_reports(spark))
    expected = spark.createDataFrame(
        [
            headline_row("province", "79", 3, 2, 1, 0, 3, 1, 0, 2, 1),
            headline_row("province", "48", 1, 1, 0, 1, 0, 0, 0, 0, 0),  # the ID_MISSING subject's dose
            headline_row("province", "01", 2, 2, 1, 1, 2, 0, 1, 1, 1),
        ],
        REPORT_HEADLINE,
    )
    assert_df_equality(
        out.filter("level = 'province'"), expected, ignore_row_order=True, ignore_nullable=True
    )


def test_headline_without_facility_reports_leaves_doses_reported_null(spark):
    out = aggregate_headline(subject_checks(spark), dose_checks(spark), doses(spark), None)
    assert out.filter(F.col("doses_reported").isNotNull()).count() == 0
    assert out.filter("level = 'national'").select("doses_entered").first()[0] == 5


# --- aggregate_progress ------------------------------------------------------------------------


def test_progress_counts_fixed_and_newly_flagged_per_province(spark):
    before = subject_checks(spark)
    after = subject_checks(
        spark,
        [
            ("S79-00000001", "79", "26734", R, ["GENDER_MISMATCH"], "079085001234", "760"),  # newly flagged
            ("S79-00000002", "79", "26734", V, [], "079085009999", "760"),  # fixed
            ("S79-00000003", "79", "26737", R, ["NAME_MISMATCH"], "079190000111", "760"),  # one code fixed
            ("S01-00000004", "01", "00001", F_, [], None, "001"),
            ("S01-00000005", "01", "00001", V, [], "001090000555", "001"),  # fixed
        ],
    )
    expected = spark.createDataFrame(
        [
            # level, province, before, now, fixed, newly, still, gone, codes resolved
            ("national", None, 3, 2, 2, 1, 1, 0, 3),
            ("province", "79", 2, 2, 1, 1, 1, 0, 2),
            ("province", "01", 1, 0, 1, 0, 0, 0, 1),
        ],
        REPORT_PROGRESS,
    )
    assert_df_equality(
        aggregate_progress(before, after), expected, ignore_row_order=True, ignore_nullable=True
    )


def test_progress_counts_subjects_gone_and_new_ones_by_their_province(spark):
    before = subject_checks(spark, SUBJECTS[:2])
    after = subject_checks(
        spark, [SUBJECTS[0], ("S48-00000007", "48", "19999", R, ["ID_NOT_FOUND"], None, "490")]
    )
    expected = spark.createDataFrame(
        [
            ("national", None, 1, 1, 0, 1, 0, 1, 0),
            ("province", "79", 1, 0, 0, 0, 0, 1, 0),  # S79-2 is gone: not "fixed"
            ("province", "48", 0, 1, 0, 1, 0, 0, 0),  # a new subject needing review is newly flagged
        ],
        REPORT_PROGRESS,
    )
    assert_df_equality(
        aggregate_progress(before, after), expected, ignore_row_order=True, ignore_nullable=True
    )


# --- the job and its files ---------------------------------------------------------------------

FIXED_RUN = [  # the second classification: S79-2 and S01-5 fixed by returned review lists
    ("S79-00000001", "79", "26734", V, [], "079085001234", "760"),
    ("S79-00000002", "79", "26734", V, [], "079085009999", "760"),
    ("S79-00000003", "79", "26737", R, ["DOB_MISMATCH", "NAME_MISMATCH"], "079190000111", "760"),
    ("S01-00000004", "01", "00001", F_, [], None, "001"),
    ("S01-00000005", "01", "00001", V, [], "001090000555", "001"),
]


@pytest.fixture(scope="module")
def reported(spark, config, tmp_path_factory):
    """A tiny warehouse, two classifications, then ``vaxclean report`` in-process."""
    base = tmp_path_factory.mktemp("report")
    cfg = config.with_overrides(warehouse=str(base / "wh"), out=str(base / "out"))
    subject_checks(spark).write.format("delta").save(cfg.table_path("subject_checks"))
    subject_checks(spark, FIXED_RUN).write.format("delta").mode("overwrite").save(
        cfg.table_path("subject_checks")
    )
    dose_checks(spark).write.format("delta").save(cfg.table_path("dose_checks"))
    doses(spark).write.format("delta").save(cfg.table_path("doses"))
    facility_reports(spark).write.format("delta").save(cfg.table_path("facility_reports"))
    argv = ["--warehouse", cfg.warehouse, "--out", cfg.out]
    assert report_job.main(argv) == 0
    return cfg, base / "out" / "report", argv


@pytest.mark.slow  # the module's report run: 2-4 min on this shared 2-core machine
def test_report_writes_its_delta_tables(spark, reported):
    cfg, _, _ = reported
    nat = delta_io.read(spark, cfg, "report_headline").filter("level = 'national'").first()
    assert (nat["doses_reported"], nat["doses_entered"], nat["doses_verified"]) == (6, 5, 3)
    progress = delta_io.read(spark, cfg, "report_progress").filter("level = 'national'").first()
    assert (progress["fixed"], progress["newly_flagged"], progress["needs_review_now"]) == (2, 0, 1)
    assert delta_io.read(spark, cfg, "report_counts").filter("level = 'commune'").count() > 0


@pytest.mark.slow  # a second full report run
def test_rerun_leaves_report_tables_at_the_same_version(spark, reported):
    cfg, _, argv = reported
    before = {
        t: delta_io.version(spark, cfg, t) for t in ("report_counts", "report_headline", "report_progress")
    }
    assert report_job.main(argv) == 0
    assert {t: delta_io.version(spark, cfg, t) for t in before} == before


@pytest.mark.slow  # the module's report run: 2-4 min on this shared 2-core machine
def test_since_version_beyond_history_is_one_sentence(reported, capsys):
    _, _, argv = reported
    assert report_job.main([*argv, "--since-version", "7"]) == 2
    err = capsys.readouterr().err
    assert "--since-version 7" in err and "Traceback" not in err


@pytest.mark.slow  # the module's report run: 2-4 min on this shared 2-core machine
def test_report_files_hold_no_personal_data(reported):
    _, folder, _ = reported
    text = (folder / "report.html").read_text(encoding="utf-8")
    wb = load_workbook(folder / "summary.xlsx")
    cells = " ".join(str(c.value) for ws in wb for row in ws.iter_rows() for c in row if c.value is not None)
    for s_id, *_ in SUBJECTS:
        assert s_id not in text and s_id not in cells
    for r_id, *_ in DOSES:
        assert r_id not in text and r_id not in cells
    assert "079085001234" not in text and "079085001234" not in cells


@pytest.mark.slow  # the module's report run: 2-4 min on this shared 2-core machine
def test_summary_xlsx_totals_and_native_charts(reported):
    _, folder, _ = reported
    wb = load_workbook(folder / "summary.xlsx")
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(min_row=2, max_row=10, values_only=True)}
    assert summary["Doses reported by facilities"] == 6
    assert summary["Doses entered in the ledger"] == 5
    assert summary["Doses verified (signable)"] == 3
    assert summary["People needing review"] == 1
    assert summary["People without a valid ID"] == 0
    provinces = {r[0]: r for r in wb["Provinces"].iter_rows(min_row=2, values_only=True)}
    assert provinces["79"][1] == "Thành phố Hồ Chí Minh" and provinces["79"][5] == 3
    # 48 has a vaccination site but no resident: listed with its doses, no people
    assert (provinces["48"][5], provinces["48"][7], provinces["48"][8]) == (0, 1, 1)
    progress = {r[0]: r for r in wb["Progress"].iter_rows(min_row=2, values_only=True)}
    assert progress["Viet Nam"][3] == 2  # fixed
    for sheet in ("Summary", "Provinces", "Error codes", "Progress"):
        assert len(wb[sheet]._charts) == 1, sheet  # noqa: SLF001 - openpyxl has no public accessor


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  document.body.setAttribute('data-images', imgs.length);
  document.body.setAttribute('data-images-loaded', imgs.filter(i => i.complete && i.naturalWidth > 0).length);
});
</script></body>"""


def chromium(*args, tmp_path):
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: run bash scripts/install-system-deps.sh (as root)")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.slow  # the module's report run: 2-4 min on this shared 2-core machine
def test_html_report_renders_in_headless_chromium(reported, tmp_path):
    _, folder, _ = reported
    from PIL import Image

    shot = tmp_path / "report.png"
    proc = chromium(
        f"--screenshot={shot}",
        "--window-size=1200,1600",
        (folder / "report.html").as_uri(),
        tmp_path=tmp_path,
    )
    assert shot.exists(), proc.stderr[-2000:]
    with Image.open(shot) as img:
        rgb = img.convert("RGB")
        assert rgb.size == (1200, 1600)
        pixels = list(rgb.getdata())
    non_white = sum(1 for p in pixels if p != (255, 255, 255))
    assert non_white > 0.02 * len(pixels), "the screenshot is (almost) blank"
    assert len(set(pixels)) > 50, "too few colours for a page with charts"


@pytest.mark.slow  # the module's report run: 2-4 min on this shared 2-core machine
def test_html_report_charts_load_and_show_the_right_totals(reported, tmp_path):
    _, folder, _ = reported
    page = (folder / "report.html").read_text(encoding="utf-8")
    # Same page and folder, plus a script that records which images decoded once the page loaded.
    probe = folder / "probe.html"
    probe.write_text(page.replace("</body>", PROBE), encoding="utf-8")
    try:
        proc = chromium("--dump-dom", "--virtual-time-budget=10000", probe.as_uri(), tmp_path=tmp_path)
    finally:
        probe.unlink()
    dom = proc.stdout
    assert "<body" in dom, proc.stderr[-2000:]
    n_imgs = int(re.search(r'data-images="(\d+)"', dom).group(1))
    loaded = int(re.search(r'data-images-loaded="(\d+)"', dom).group(1))
    assert n_imgs >= 4 and loaded == n_imgs  # doses, status, codes, progress, history
    for chart_id in ("chart-doses", "chart-status", "chart-codes", "chart-progress", "chart-history"):
        assert f'id="{chart_id}"' in dom

    def headline(metric):
        row = re.search(rf'<tr id="headline-{metric}">(.*?)</tr>', dom, re.S).group(1)
        return re.findall(r'<td class="n">([^<]*)</td>', row)[0]

    assert headline("doses_reported") == "6"
    assert headline("doses_entered") == "5"
    assert headline("doses_verified") == "3"
    assert headline("doses_not_matched") == "0"
    assert headline("people_needs_review") == "1"
    fixed = re.search(r'<tr id="progress-national">(.*?)</tr>', dom, re.S).group(1)
    assert re.findall(r'<td class="n">([^<]*)</td>', fixed)[2] == "2"  # fixed since version 0
    assert "Thành phố Hồ Chí Minh" in dom


def test_report_without_classification_is_one_sentence(tmp_path, capsys):
    assert report_job.main(["--warehouse", str(tmp_path / "empty"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no subject_checks table" in err and "Traceback" not in err


@pytest.mark.slow  # the module's report run: 2-4 min on this shared 2-core machine
def test_report_counts_schema_is_stable(spark, reported):
    cfg, _, _ = reported
    counts = delta_io.read(spark, cfg, "report_counts")
    assert [f.name for f in counts.schema] == [
        "level", "province_code", "district_code", "commune_code", "entity", "category", "value", "count",
    ]  # fmt: skip
    assert counts.schema["count"].dataType == T.LongType()


@pytest.mark.slow
def test_report_on_the_demo_data_agrees_with_the_sample_files(demo_warehouse, tmp_path):
    """Headline totals against counts taken straight from sample/*.csv with the csv module."""
    import csv
    import shutil

    root = Path(__file__).resolve().parents[1] / "sample"
    with open(root / "ledger.csv", encoding="utf-8", newline="") as fh:
        ledger = list(csv.DictReader(fh))
    with open(root / "facility_reports.csv", encoding="utf-8", newline="") as fh:
        reported = sum(int(r["doses_administered"]) for r in csv.DictReader(fh))
    people = len({r["subject_id"] for r in ledger})
    # The report writes its tables into the warehouse: a copy, the demo's is the kill and cluster
    # tests' reference (tests/conftest.py).
    warehouse = shutil.copytree(demo_warehouse.warehouse, tmp_path / "wh")
    argv = ["--warehouse", str(warehouse), "--out", str(tmp_path), "--as-of", "2022-12-31"]
    assert report_job.main(argv) == 0
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")

    def headline(metric):
        row = re.search(rf'<tr id="headline-{metric}">(.*?)</tr>', page, re.S).group(1)
        return re.findall(r'<td class="n">([^<]*)</td>', row)[0]

    assert headline("doses_entered") == f"{len(ledger):,}"
    assert headline("doses_reported") == f"{reported:,}"
    assert headline("people") == f"{people:,}"
    summary = {
        r[0]: r[1]
        for r in load_workbook(tmp_path / "report" / "summary.xlsx")["Summary"].iter_rows(
            min_row=2, max_row=10, values_only=True
        )
    }
    assert summary["Doses entered in the ledger"] == len(ledger)
    assert summary["People in the ledger"] == people
    assert 0 < summary["People needing review"] < people
