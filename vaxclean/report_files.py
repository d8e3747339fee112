"""Render the report aggregates as files: ``report.html`` (PNG charts inside) and ``summary.xlsx``.

Input is :class:`ReportData`: small, already aggregated rows collected from the ``report_*``
tables (counts only, no personal data). Charts are matplotlib ``Figure`` objects rendered to PNG
by the Agg renderer (no pyplot, no display, no global backend switch, so notebooks keep theirs)
and embedded in the HTML as base64 PNGs, so the report is one file that reads
offline and can be mailed as it is. The Excel summary carries native openpyxl charts over its own
data cells, so officials can restyle or copy them in Excel or LibreOffice.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

Row = Mapping[str, Any]

HEADLINE_LABELS = {
    "doses_reported": "Doses reported by facilities",
    "doses_entered": "Doses entered in the ledger",
    "doses_verified": "Doses verified (signable)",
    "doses_not_matched": "Doses not yet matched to the register",
    "people": "People in the ledger",
    "people_verified": "People verified against the register",
    "people_foreign": "Foreigners with a passport",
    "people_needs_review": "People needing review",
    "people_without_valid_id": "People without a valid ID",
}
PROGRESS_LABELS = {
    "needs_review_before": "Needing review before",
    "needs_review_now": "Needing review now",
    "fixed": "Fixed",
    "newly_flagged": "Newly flagged",
    "still_needs_review": "Still needing review",
    "gone": "No longer in the ledger",
    "codes_resolved": "Error codes resolved",
}
STATUS_COLOURS = {"verified": "#2e7d32", "foreign": "#1565c0", "needs_review": "#e65100"}


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows; rows are plain mappings of column → value."""

    generated_at: str
    as_of: str
    subject_checks_version: int
    headline: Sequence[Row]  # report_headline rows: the national one (province_code None) and provinces
    provinces: Sequence[Row]  # pivot_counts(level="province")
    communes: Sequence[Row]  # pivot_counts(level="commune")
    national_codes: Mapping[str, Mapping[str, int]]  # {"subject": {code: n}, "dose": {code: n}}
    progress: Sequence[Row] = ()  # report_progress rows, empty when there is no earlier version
    progress_from_version: int | None = None
    history: Sequence[Row] = ()  # version, timestamp, status, count
    notes: Sequence[str] = field(default_factory=tuple)

    @property
    def national(self) -> Row:
        return next(r for r in self.headline if r["province_code"] is None)

    @property
    def province_headline(self) -> list[Row]:
        return sorted((r for r in self.headline if r["province_code"] is not None), key=_province_key)


def _province_key(row: Row) -> str:
    return str(row["province_code"])


PROVINCE_COLUMNS = (
    "subjects", "verified", "foreign", "needs_review", "people_without_valid_id",
    "doses_reported", "doses_entered", "doses_verified", "doses_not_matched",
)  # fmt: skip


def province_table(data: ReportData) -> list[dict[str, Any]]:
    """One row per province with residents or doses: status counts (residence) + headline figures.

    A province can have doses given there but no resident in the ledger (and the reverse), so the
    rows are the union of both sources; a figure a source does not have is 0 (``doses_reported``
    stays None when no facility reports were ingested).
    """
    status = {r["province_code"]: r for r in data.provinces}
    head = {r["province_code"]: r for r in data.province_headline}
    rows = []
    for code in sorted(set(status) | set(head)):
        s, h = status.get(code, {}), head.get(code, {})
        row: dict[str, Any] = {"province_code": code}
        for key in PROVINCE_COLUMNS:
            value = s.get(key, h.get(key))
            row[key] = value if value is not None or key == "doses_reported" else 0
        if not h:
            row["doses_reported"] = None if data.national.get("doses_reported") is None else 0
        rows.append(row)
    return rows


# --- place names -----------------------------------------------------------------------------


@cache
def province_names() -> dict[str, str]:
    """GSO 2022 province code → name (``vaxclean/reference/provinces_2022.csv``)."""
    path = resources.files("vaxclean") / "reference" / "provinces_2022.csv"
    with path.open(encoding="utf-8") as fh:
        return {r["province_code"]: r["province_name"] for r in csv.DictReader(fh)}


@cache
def commune_names() -> dict[str, tuple[str, str]]:
    """GSO 2022 commune code → (district name, commune name)."""
    path = resources.files("vaxclean") / "reference" / "admin_units_2022.csv"
    with path.open(encoding="utf-8") as fh:
        return {r["commune_code"]: (r["district_name"], r["commune_name"]) for r in csv.DictReader(fh)}


def province_label(code: str | None) -> str:
    if code is None:
        return "Viet Nam"
    return f"{code} {province_names().get(code, '(unknown province)')}"


# --- charts ----------------------------------------------------------------------------------


def _fig(height: float) -> tuple[Figure, Any]:
    # Figure() without pyplot: no global backend state, nothing to close; savefig renders with Agg.
    fig = Figure(figsize=(9, height), dpi=100)
    ax = fig.add_subplot()
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.5 subjects
    return fig, ax


def chart_status_by_province(provinces: Sequence[Row]) -> Figure:
    """Stacked horizontal bars: subjects verified / foreign / needing review, per province."""
    rows = sorted(provinces, key=lambda r: r["province_code"], reverse=True)
    fig, ax = _fig(max(2.5, 0.28 * len(rows) + 1.2))
    labels = [province_label(r["province_code"]) for r in rows]
    left = [0] * len(rows)
    for key, colour in STATUS_COLOURS.items():
        values = [int(r[key]) for r in rows]
        ax.barh(labels, values, left=left, color=colour, label=key.replace("_", " "))
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlabel("subjects")
    ax.set_title("Subjects by status and province")
    ax.legend(loc="lower right", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return fig


def chart_error_codes(national_codes: Mapping[str, Mapping[str, int]]) -> Figure:
    """Horizontal bars: subjects and doses per error code, nationally."""
    items = [(c, n, "subject") for c, n in national_codes.get("subject", {}).items()]
    items += [(c, n, "dose") for c, n in national_codes.get("dose", {}).items()]
    items.sort(key=lambda t: t[1])
    fig, ax = _fig(max(2.5, 0.3 * len(items) + 1.2))
    colours = ["#6a1b9a" if kind == "subject" else "#00838f" for _, _, kind in items]
    ax.barh([c for c, _, _ in items], [n for _, n, _ in items], color=colours)
    for i, (_, n, _) in enumerate(items):
        ax.text(n, i, f" {n:,}", va="center", fontsize=8)
    ax.set_xlabel("subjects (purple) / doses (teal) carrying the code")
    ax.set_title("Error codes, Viet Nam")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig


def chart_doses(national: Row) -> Figure:
    """Bars: doses reported, entered, verified, not yet matched to the register."""
    keys = ["doses_reported", "doses_entered", "doses_verified", "doses_not_matched"]
    keys = [k for k in keys if national.get(k) is not None]
    values = [int(national[k]) for k in keys]
    fig, ax = _fig(3.2)
    bars = ax.bar([HEADLINE_LABELS[k].replace(" ", "\n", 2) for k in keys], values, color="#37474f")
    ax.bar_label(bars, labels=[f"{v:,}" for v in values], fontsize=8)
    ax.set_title("Doses: reported, entered, verified")
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return fig


def chart_progress(progress: Sequence[Row]) -> Figure:
    """Grouped bars per province: subjects fixed and newly flagged since the earlier version."""
    rows = sorted((r for r in progress if r["province_code"] is not None), key=_province_key, reverse=True)
    fig, ax = _fig(max(2.5, 0.3 * len(rows) + 1.2))
    ys = list(range(len(rows)))
    ax.barh(
        [y + 0.2 for y in ys], [int(r["fixed"]) for r in rows], height=0.4, color="#2e7d32", label="fixed"
    )
    ax.barh(
        [y - 0.2 for y in ys],
        [int(r["newly_flagged"]) for r in rows],
        height=0.4,
        color="#c62828",
        label="newly flagged",
    )
    ax.set_yticks(ys, [province_label(r["province_code"]) for r in rows], fontsize=7)
    ax.set_xlabel("subjects")
    ax.set_title("Since the previous version: fixed and newly flagged, per province")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def chart_history(history: Sequence[Row]) -> Figure:
    """Lines: subjects per status over the versions of ``subject_checks``."""
    versions = sorted({int(r["version"]) for r in history})
    fig, ax = _fig(3.0)
    for status, colour in (("VERIFIED", "#2e7d32"), ("FOREIGN", "#1565c0"), ("NEEDS_REVIEW", "#e65100")):
        by_version = {int(r["version"]): int(r["count"]) for r in history if r["status"] == status}
        ax.plot(versions, [by_version.get(v, 0) for v in versions], marker="o", color=colour, label=status)
    ax.set_xticks(versions)
    ax.set_xlabel("subject_checks version")
    ax.set_ylabel("subjects")
    ax.set_title("Subjects by status across runs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def charts(data: ReportData) -> dict[str, tuple[str, bytes]]:
    """Chart id → (title, PNG bytes), in the order the report shows them."""
    out = {
        "chart-doses": ("Doses: reported, entered, verified", png_bytes(chart_doses(data.national))),
        "chart-status": (
            "Subjects by status and province",
            png_bytes(chart_status_by_province(data.provinces)),
        ),
        "chart-codes": ("Error codes", png_bytes(chart_error_codes(data.national_codes))),
    }
    if data.progress:
        out["chart-progress"] = ("Fixed since the previous version", png_bytes(chart_progress(data.progress)))
    if len({r["version"] for r in data.history}) > 1:
        out["chart-history"] = ("Subjects by status across runs", png_bytes(chart_history(data.history)))
    return out


# --- HTML ------------------------------------------------------------------------------------

CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 2em auto; max-width: 1000px; color: #212121; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; } th { background: #eceff1; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.headline td.n { font-size: 1.2em; font-weight: bold; }
img { max-width: 100%; display: block; margin: 0.5em 0; }
.note { color: #555; font-size: 0.85em; }
"""


def _num(value: Any) -> str:
    return "–" if value is None else f"{int(value):,}"


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], *, css: str = "", ids: Sequence[str] = ()
) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        row_id = f' id="{html.escape(ids[i])}"' if i < len(ids) else ""
        cells = "".join(
            f'<td class="n">{_num(v)}</td>'
            if isinstance(v, int) or v is None
            else f"<td>{html.escape(str(v))}</td>"
            for v in row
        )
        body.append(f"<tr{row_id}>{cells}</tr>")
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def render_html(data: ReportData, chart_pngs: Mapping[str, tuple[str, bytes]]) -> str:
    """The report page: headline, charts (embedded PNGs), provinces, communes to visit, progress."""
    nat = data.national
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>vaxclean report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>COVID-19 vaccination records: cleanup report</h1>",
        f'<p class="note">Generated {html.escape(data.generated_at)}; rules as of {html.escape(data.as_of)}; '
        f"subject_checks version {data.subject_checks_version}. Counts only: this report holds no personal "
        "data.</p>",
        "<h2>Headline, Viet Nam</h2>",
        _table(
            ["figure", "count"],
            [[HEADLINE_LABELS[k], nat[k]] for k in HEADLINE_LABELS],
            css="headline",
            ids=[f"headline-{k}" for k in HEADLINE_LABELS],
        ),
    ]
    for chart_id, (title, png) in chart_pngs.items():
        b64 = base64.b64encode(png).decode("ascii")
        parts.append(f'<img id="{chart_id}" alt="{html.escape(title)}" src="data:image/png;base64,{b64}">')
    parts.append("<h2>Provinces</h2>")
    provinces = province_table(data)
    parts.append(
        _table(
            ["province", "people", "verified", "foreign", "needs review", "without valid ID",
             "doses reported", "doses entered", "doses verified", "doses not matched"],
            [[province_label(r["province_code"]), *[r[k] for k in PROVINCE_COLUMNS]] for r in provinces],
            ids=[f"province-{r['province_code']}" for r in provinces],
        )
    )  # fmt: skip
    parts.append(
        '<p class="note">People are counted where they live; doses (reported, entered, verified, '
        "not matched) where they were given, by the site's province.</p>"
    )
    top = sorted(data.communes, key=lambda r: (-int(r["needs_review"]), str(r["commune_code"])))[:20]
    top = [r for r in top if int(r["needs_review"]) > 0]
    parts.append(f"<h2>Communes with the most people to review (top {len(top)})</h2>")
    names = commune_names()
    parts.append(
        _table(
            [
                "province",
                "district",
                "commune",
                "people",
                "needs review",
                "ID missing",
                "ID malformed",
                "ID not found",
            ],
            [
                [
                    province_label(r["province_code"]),
                    names.get(r["commune_code"], ("", ""))[0] or r["district_code"],
                    f"{r['commune_code']} {names.get(r['commune_code'], ('', ''))[1]}".strip(),
                    r["subjects"],
                    r["needs_review"],
                    r["ID_MISSING"],
                    r["ID_MALFORMED"],
                    r["ID_NOT_FOUND"],
                ]
                for r in top
            ],
        )
    )
    parts.append("<h2>Progress since the previous run</h2>")
    if data.progress:
        nat_p = next(r for r in data.progress if r["province_code"] is None)
        parts.append(
            f"<p>Compared with subject_checks version {data.progress_from_version} "
            f"(time travel): {nat_p['fixed']:,} subjects fixed, {nat_p['newly_flagged']:,} newly flagged.</p>"
        )
        rows = [
            nat_p,
            *sorted((r for r in data.progress if r["province_code"] is not None), key=_province_key),
        ]
        parts.append(
            _table(
                ["province", *PROGRESS_LABELS.values()],
                [[province_label(r["province_code"]), *[r[k] for k in PROGRESS_LABELS]] for r in rows],
                ids=[f"progress-{r['province_code'] or 'national'}" for r in rows],
            )
        )
    else:
        parts.append("<p>No earlier version of subject_checks to compare with: this is the first run.</p>")
    parts.extend(f'<p class="note">{html.escape(n)}</p>' for n in data.notes)
    parts.append(
        '<p class="note">Definitions: verified = Vietnamese, ID found in the population register, '
        "no error code; a dose is verified when its subject is verified (or a foreigner with a passport) "
        "and the dose has no error code; not matched = the subject's ID is missing, malformed, not found "
        "or someone else's; "
        "without a valid ID = ID missing or malformed.</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts)


# --- Excel -----------------------------------------------------------------------------------


def _write_rows(ws: Any, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    ws.append(list(headers))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(list(row))
    for i, h in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(h) + 2))
    ws.freeze_panes = "A2"


def _bar(title: str, *, horizontal: bool = False, stacked: bool = False, y_title: str = "") -> BarChart:
    chart = BarChart()
    chart.type = "bar" if horizontal else "col"
    chart.title = title
    chart.y_axis.title = y_title
    if stacked:
        chart.grouping = "stacked"
        chart.overlap = 100
    chart.width, chart.height = 18, 10
    return chart


def build_workbook(data: ReportData) -> Workbook:
    """``summary.xlsx``: Summary, Provinces, Error codes, Communes, Progress; native bar charts."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    nat = data.national
    _write_rows(ws, ["Figure", "Count"], [[HEADLINE_LABELS[k], nat[k]] for k in HEADLINE_LABELS])
    ws.column_dimensions["A"].width = 42
    ws.append([])
    ws.append([f"Generated {data.generated_at}; rules as of {data.as_of}; counts only, no personal data."])
    chart = _bar("Doses: reported, entered, verified, not matched", y_title="doses")
    chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=5), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=5))
    ws.add_chart(chart, "D2")

    ws = wb.create_sheet("Provinces")
    headers = [
        "Province code", "Province", "Verified", "Foreign", "Needs review", "People",
        "Without valid ID", "Doses reported", "Doses entered", "Doses verified", "Doses not matched",
    ]  # fmt: skip
    rows = [
        [r["province_code"], province_names().get(r["province_code"], ""), r["verified"], r["foreign"],
         r["needs_review"], r["subjects"], *[r[k] for k in PROVINCE_COLUMNS[4:]]]
        for r in province_table(data)
    ]  # fmt: skip
    _write_rows(ws, headers, rows)
    ws.column_dimensions["B"].width = 28
    n = len(rows)
    if n:
        chart = _bar("Subjects by status", horizontal=True, stacked=True, y_title="subjects")
        chart.add_data(Reference(ws, min_col=3, max_col=5, min_row=1, max_row=n + 1), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=2, min_row=2, max_row=n + 1))
        chart.height = max(10, 0.5 * n)
        ws.add_chart(chart, "M2")

    ws = wb.create_sheet("Error codes")
    code_rows = [[c, "subject", k] for c, k in data.national_codes.get("subject", {}).items()]
    code_rows += [[c, "dose", k] for c, k in data.national_codes.get("dose", {}).items()]
    _write_rows(ws, ["Error code", "Counted on", "Count"], code_rows)
    ws.column_dimensions["A"].width = 24
    if code_rows:
        chart = _bar("Error codes, Viet Nam", horizontal=True, y_title="subjects or doses")
        chart.add_data(Reference(ws, min_col=3, min_row=1, max_row=len(code_rows) + 1), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=len(code_rows) + 1))
        ws.add_chart(chart, "E2")

    ws = wb.create_sheet("Communes")
    names = commune_names()
    code_cols = [k for k in (data.communes[0] if data.communes else {}) if k.isupper()]
    _write_rows(
        ws,
        ["Province code", "District code", "Commune code", "District", "Commune", "People", "Verified",
         "Foreign", "Needs review", "Doses", "Doses needing review", *code_cols],
        [
            [r["province_code"], r["district_code"], r["commune_code"],
             *names.get(r["commune_code"], ("", "")), r["subjects"], r["verified"], r["foreign"],
             r["needs_review"], r["doses"], r["doses_needs_review"], *[r[c] for c in code_cols]]
            for r in data.communes
        ],
    )  # fmt: skip
    ws.auto_filter.ref = ws.dimensions

    ws = wb.create_sheet("Progress")
    if data.progress:
        # Provinces first, the national total last (the chart covers the provinces only).
        rows = sorted((r for r in data.progress if r["province_code"] is not None), key=_province_key)
        rows += [r for r in data.progress if r["province_code"] is None]
        _write_rows(
            ws,
            ["Province", *PROGRESS_LABELS.values()],
            [[province_label(r["province_code"]), *[r[k] for k in PROGRESS_LABELS]] for r in rows],
        )
        ws.column_dimensions["A"].width = 30
        if len(rows) > 1:
            chart = _bar(f"Since subject_checks version {data.progress_from_version}", horizontal=True)
            chart.add_data(
                Reference(ws, min_col=4, max_col=5, min_row=1, max_row=len(rows)), titles_from_data=True
            )
            chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=len(rows)))
            ws.add_chart(chart, "J2")
    else:
        ws.append(["No earlier version of subject_checks to compare with: this is the first run."])
    return wb


def write_report(out_dir: str | Path, data: ReportData) -> dict[str, Path]:
    """Write ``report.html`` and ``summary.xlsx`` into ``out_dir``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html_path, xlsx_path = out / "report.html", out / "summary.xlsx"
    html_path.write_text(render_html(data, charts(data)), encoding="utf-8")
    build_workbook(data).save(xlsx_path)
    return {"html": html_path, "xlsx": xlsx_path}
