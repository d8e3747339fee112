"""Ground truth: a small, independent, pure-Python reading of ``docs/rules.md``.

The generator never decides a code itself. It writes the rows, then this module classifies the
*final* rows exactly as docs/rules.md says the pipeline must, and that is the truth the pipeline
is scored against. It shares no code with the pipeline (Spark) or with the rest of the generator,
so a mistake in one is not silently repeated in the other.

Where docs/rules.md leaves a detail open, the choice made here is written next to the code and
collected in docs/synthetic-data.md ("Ground truth: readings of docs/rules.md").
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# Contract section 2: the 63 birth-province prefixes of a CCCD.
PROVINCE_PREFIXES = frozenset(
    (
        "001", "002", "004", "006", "008", "010", "011", "012", "014", "015", "017", "019", "020", "022",
        "024", "025", "026", "027", "030", "031", "033", "034", "035", "036", "037", "038", "040", "042",
        "044", "045", "046", "048", "049", "051", "052", "054", "056", "058", "060", "062", "064", "066",
        "067", "068", "070", "072", "074", "075", "077", "079", "080", "082", "083", "084", "086", "087",
        "089", "091", "092", "093", "094", "095", "096",
    )
)  # fmt: skip

SUBJECT_CODES = (
    "ID_MISSING", "ID_MALFORMED", "ID_NOT_FOUND", "NAME_MISMATCH", "DOB_MISMATCH",
    "GENDER_MISMATCH", "ID_SHARED", "SUBJECT_DUPLICATE", "FOREIGN_NO_PASSPORT",
)  # fmt: skip
DOSE_CODES = (
    "DOSE_DUPLICATE", "DOSE_SEQUENCE", "DOSE_INTERVAL_SHORT", "DOSE_DATE_INVALID", "DOSE_AFTER_DEATH",
)  # fmt: skip

VERIFIED, FOREIGN, NEEDS_REVIEW = "VERIFIED", "FOREIGN", "NEEDS_REVIEW"
DAY, MONTH, YEAR = "DAY", "MONTH", "YEAR"
_RANK = {YEAR: 1, MONTH: 2, DAY: 3}


@dataclass(frozen=True)
class TruthRules:
    """The ``rules`` section of the config that the truth depends on (defaults: conf/base.yaml)."""

    campaign_start: dt.date = dt.date(2021, 3, 8)
    missing_id_tokens: tuple[str, ...] = (
        "", "0", "khong co", "chua co", "khong", "ko co", "k co", "none", "null", "n/a", "-", "x",
    )  # fmt: skip
    min_interval_days: Mapping[str, int] = field(
        default_factory=lambda: {
            "ASTRAZENECA": 28,
            "PFIZER": 21,
            "SPUTNIK_V": 21,
            "VERO_CELL": 21,
            "HAYAT_VAX": 21,
            "MODERNA": 28,
            "ABDALA": 14,
            "JANSSEN": 56,
        }  # fmt: skip
    )
    default_min_interval_days: int = 21
    booster_min_months: Mapping[int, int] = field(default_factory=lambda: {3: 3, 4: 4})

    @classmethod
    def from_config(cls, rules) -> TruthRules:
        """From a :class:`vaxclean.config.Rules` (duck-typed: only its attributes are read)."""
        return cls(
            campaign_start=rules.campaign_start,
            missing_id_tokens=tuple(rules.missing_id_tokens),
            min_interval_days=dict(rules.min_interval_days),
            default_min_interval_days=int(rules.default_min_interval_days),
            booster_min_months={int(k): int(v) for k, v in rules.booster_min_months.items()},
        )


# --- normalisation ------------------------------------------------------------------------------
_OLD_TO_NEW_TONE = {
    "oà": "òa", "oá": "óa", "oả": "ỏa", "oã": "õa", "oạ": "ọa",
    "oè": "òe", "oé": "óe", "oẻ": "ỏe", "oẽ": "õe", "oẹ": "ọe",
    "uỳ": "ùy", "uý": "úy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy",
}  # fmt: skip


def fold(text: str) -> str:
    """Lower case without diacritics (``Chưa có`` → ``chua co``)."""
    text = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def name_key(text: str | None) -> str:
    """NFC, lower case, whitespace collapsed and trimmed, old tone placement made new."""
    words = unicodedata.normalize("NFC", text or "").lower().split()
    return " ".join(w[:-2] + _OLD_TO_NEW_TONE[w[-2:]] if w[-2:] in _OLD_TO_NEW_TONE else w for w in words)


_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_YMD_TIME = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?")
_YM = re.compile(r"(\d{4})-(\d{1,2})")
_MY = re.compile(r"(\d{1,2})/(\d{4})")
_Y = re.compile(r"\d{4}")
_SERIAL = re.compile(r"\d{5}")
_EXCEL_EPOCH = dt.date(1899, 12, 30)  # 1900 date system, serials above 60


def _day(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def parse_date(text: str | None) -> tuple[dt.date | None, str | None]:
    """``(date, precision)`` for every format of docs/rules.md; ``(None, None)`` when unparsable.

    A MONTH date is stored as the first of the month, a YEAR date as 1 January.
    """
    t = (text or "").strip()
    if m := _DMY.fullmatch(t):
        a, b, y = int(m[1]), int(m[2]), int(m[3])
        d = _day(y, b, a) or _day(y, a, b)  # d/m/yyyy before m/d/yyyy
        return (d, DAY) if d else (None, None)
    if (m := _YMD.fullmatch(t)) or (m := _YMD_TIME.fullmatch(t)):
        d = _day(int(m[1]), int(m[2]), int(m[3]))
        return (d, DAY) if d else (None, None)
    if (m := _YM.fullmatch(t)) or (m := _MY.fullmatch(t)):
        y, mo = (int(m[1]), int(m[2])) if "-" in t else (int(m[2]), int(m[1]))
        return (dt.date(y, mo, 1), MONTH) if 1 <= mo <= 12 and y >= 1 else (None, None)
    if _Y.fullmatch(t):
        return (dt.date(int(t), 1, 1), YEAR) if int(t) >= 1 else (None, None)
    if _SERIAL.fullmatch(t):
        return _EXCEL_EPOCH + dt.timedelta(days=int(t)), DAY
    return None, None


def parse_timestamp(text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat((text or "").strip())
    except ValueError:
        return None


_GENDER = {"nam": "M", "m": "M", "male": "M", "nữ": "F", "nu": "F", "f": "F", "female": "F"}
_GENDER.update({"khác": "O", "khac": "O", "other": "O"})


def norm_gender(text: str | None) -> str | None:
    return _GENDER.get(unicodedata.normalize("NFC", (text or "").strip()).lower())


_NATIONALITY = {v: "VN" for v in ("", "vn", "vnm", "việt nam", "viet nam", "vietnam")}
for _iso, _forms in {
    "KR": ("kr", "kor", "hàn quốc", "han quoc", "korea", "south korea"),
    "CN": ("cn", "chn", "trung quốc", "trung quoc", "china"),
    "JP": ("jp", "jpn", "nhật bản", "nhat ban", "japan"),
    "US": ("us", "usa", "hoa kỳ", "hoa ky", "mỹ", "united states"),
    "FR": ("fr", "fra", "pháp", "phap", "france"),
    "AU": ("au", "aus", "úc", "uc", "australia"),
    "DE": ("de", "deu", "đức", "duc", "germany"),
}.items():
    _NATIONALITY.update({f: _iso for f in _forms})


def norm_nationality(text: str | None) -> str | None:
    """ISO-2; ``None`` for unknown text (docs/rules.md: treated as Vietnamese)."""
    return _NATIONALITY.get(unicodedata.normalize("NFC", (text or "").strip()).lower())


_VACCINE = {
    "astrazeneca": "ASTRAZENECA", "vaxzevria": "ASTRAZENECA", "pfizer": "PFIZER", "comirnaty": "PFIZER",
    "moderna": "MODERNA", "spikevax": "MODERNA", "vero cell": "VERO_CELL", "sinopharm": "VERO_CELL",
    "sputnik v": "SPUTNIK_V", "abdala": "ABDALA", "hayat-vax": "HAYAT_VAX", "janssen": "JANSSEN",
}  # fmt: skip


def norm_vaccine(text: str | None) -> str | None:
    return _VACCINE.get(" ".join((text or "").lower().split()))


def id_status(text: str | None, missing_tokens: Iterable[str]) -> tuple[str, str]:
    """``(status, trimmed id)`` with status ``MISSING``, ``MALFORMED`` or ``VALID``.

    ``missing_tokens`` are compared folded (lower case, no diacritics); pass a frozenset of folded
    tokens to skip folding them on every call.
    """
    t = (text or "").strip()  # str.strip() also removes non-breaking spaces
    tokens = missing_tokens if isinstance(missing_tokens, frozenset) else {fold(x) for x in missing_tokens}
    if fold(t) in tokens:
        return "MISSING", t
    if re.fullmatch(r"[0-9]{9}", t) or (
        re.fullmatch(r"[0-9]{12}", t) and t[:3] in PROVINCE_PREFIXES and t[3] in "0123"
    ):
        return "VALID", t
    return "MALFORMED", t


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar months later, the day clamped to the month's length (Spark's ``add_months``)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _dob_matches(typed: tuple[dt.date | None, str | None], reg: tuple[dt.date | None, str | None]) -> bool:
    (td, tp), (rd, rp) = typed, reg
    if td is None or rd is None or _RANK[tp] < _RANK[rp]:
        return False
    if rp == YEAR:
        return td.year == rd.year
    if rp == MONTH:
        return (td.year, td.month) == (rd.year, rd.month)
    return td == rd


def _before_birth(day: dt.date, dob: tuple[dt.date | None, str | None]) -> bool:
    bd, bp = dob
    if bd is None:
        return False
    if bp == YEAR:
        return day.year < bd.year
    if bp == MONTH:
        return (day.year, day.month) < (bd.year, bd.month)
    return day < bd


# --- results ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SubjectTruth:
    subject_id: str
    status: str
    codes: tuple[str, ...]
    matched_personal_id: str | None
    province_code: str
    district_code: str
    commune_code: str


@dataclass(frozen=True)
class DoseTruth:
    record_id: str
    subject_id: str
    codes: tuple[str, ...]
    signable: bool | None  # None for a signed dose (not in the signing queue)
    block_reasons: tuple[str, ...]


def _latest(rows: Sequence[Mapping[str, str]]) -> Mapping[str, str]:
    """The identity row: latest ``entered_at``, then highest ``record_id`` (docs/rules.md)."""
    return max(rows, key=lambda r: (parse_timestamp(r["entered_at"]) or dt.datetime.min, r["record_id"]))


def classify(
    register_rows: Iterable[Mapping[str, str]],
    ledger_rows: Iterable[Mapping[str, str]],
    *,
    rules: TruthRules,
    as_of: dt.date,
) -> tuple[dict[str, SubjectTruth], dict[str, DoseTruth]]:
    """Classify every subject and every dose of ``ledger_rows`` against ``register_rows``.

    Rows are mappings with the contract's column names and text values. Every subject of the
    ledger must be complete in ``ledger_rows`` and every register person it may resolve to in
    ``register_rows`` (the generator guarantees both per chunk).
    """
    register: dict[str, Mapping[str, str]] = {}
    by_old_id: dict[str, list[str]] = defaultdict(list)
    for person in register_rows:
        register[person["personal_id"]] = person
        if person.get("old_id_number"):
            by_old_id[person["old_id_number"]].append(person["personal_id"])

    rows_by_subject: dict[str, list[Mapping[str, str]]] = defaultdict(list)
    for row in ledger_rows:
        rows_by_subject[row["subject_id"]].append(row)

    # 1. subjects, one by one
    missing_tokens = frozenset(fold(t) for t in rules.missing_id_tokens)
    codes: dict[str, set[str]] = {}
    matched: dict[str, str | None] = {}
    foreign: dict[str, bool] = {}
    identity: dict[str, Mapping[str, str]] = {}
    for sid, rows in rows_by_subject.items():
        row = identity[sid] = _latest(rows)
        found: set[str] = set()
        pid = None
        nationality = norm_nationality(row["nationality"])
        foreign[sid] = nationality is not None and nationality != "VN"
        if foreign[sid]:
            if not (row["passport_number"] or "").strip():
                found.add("FOREIGN_NO_PASSPORT")
        else:
            status, typed_id = id_status(row["id_number"], missing_tokens)
            if status == "MISSING":
                found.add("ID_MISSING")
            elif status == "MALFORMED":
                found.add("ID_MALFORMED")
            elif typed_id in register:
                pid = typed_id
            elif typed_id in by_old_id:
                pid = min(by_old_id[typed_id])
            else:
                found.add("ID_NOT_FOUND")
            if pid is not None:
                person = register[pid]
                if name_key(row["full_name"]) != name_key(person["full_name"]):
                    found.add("NAME_MISMATCH")
                if not _dob_matches(parse_date(row["date_of_birth"]), parse_date(person["date_of_birth"])):
                    found.add("DOB_MISMATCH")
                gender = norm_gender(row["gender"])
                if gender is None or gender != norm_gender(person["gender"]):
                    found.add("GENDER_MISMATCH")
        codes[sid], matched[sid] = found, pid

    # 2. subjects that resolve to the same person
    by_person: dict[str, list[str]] = defaultdict(list)
    for sid, pid in matched.items():
        if pid is not None:
            by_person[pid].append(sid)
    for sids in by_person.values():
        if len(sids) < 2:
            continue
        agrees = {s for s in sids if not codes[s] & {"NAME_MISMATCH", "DOB_MISMATCH"}}
        for s in sids:
            if {"NAME_MISMATCH", "DOB_MISMATCH"} <= codes[s] and agrees - {s}:
                codes[s].add("ID_SHARED")
            if s in agrees and agrees - {s}:
                codes[s].add("SUBJECT_DUPLICATE")

    subjects: dict[str, SubjectTruth] = {}
    for sid, found in codes.items():
        status = NEEDS_REVIEW if found else (FOREIGN if foreign[sid] else VERIFIED)
        row = identity[sid]
        subjects[sid] = SubjectTruth(
            subject_id=sid,
            status=status,
            codes=tuple(sorted(found)),
            matched_personal_id=matched[sid],
            province_code=(row["province_code"] or "").strip(),
            district_code=(row["district_code"] or "").strip(),
            commune_code=(row["commune_code"] or "").strip(),
        )

    # 3. doses, per subject
    doses: dict[str, DoseTruth] = {}
    for sid, rows in rows_by_subject.items():
        dob = parse_date(identity[sid]["date_of_birth"])
        pid = matched[sid]
        death, _ = parse_date(register[pid].get("date_of_death")) if pid else (None, None)
        parsed = []
        for row in rows:
            vdate, vprec = parse_date(row["vaccination_date"])
            if vprec != DAY:  # a vaccination date must name a day
                vdate = None
            raw_number = (row["dose_number"] or "").strip()
            number = int(raw_number) if raw_number.isdigit() else None
            entered = parse_timestamp(row["entered_at"])
            parsed.append((row, vdate, number, entered, norm_vaccine(row["vaccine"])))
        # nulls first, like an ascending Spark sort
        parsed.sort(
            key=lambda p: (
                (p[1] is not None, p[1] or dt.date.min),
                (p[2] is not None, p[2] or 0),
                (p[3] is not None, p[3] or dt.datetime.min),
                p[0]["record_id"],
            )
        )
        dose_codes: dict[str, set[str]] = {p[0]["record_id"]: set() for p in parsed}
        seen: set[tuple[dt.date, str]] = set()
        for row, vdate, _number, entered, product in parsed:
            found = dose_codes[row["record_id"]]
            if vdate is not None and product is not None:
                if (vdate, product) in seen:
                    found.add("DOSE_DUPLICATE")
                seen.add((vdate, product))
            if (
                vdate is None
                or vdate < rules.campaign_start
                or vdate > as_of
                or (entered is not None and vdate > entered.date())
                or _before_birth(vdate, dob)
            ):
                found.add("DOSE_DATE_INVALID")
            if death is not None and vdate is not None and death < vdate:
                found.add("DOSE_AFTER_DEATH")
        previous = None
        for row, vdate, number, _entered, product in parsed:
            found = dose_codes[row["record_id"]]
            if found & {"DOSE_DUPLICATE", "DOSE_DATE_INVALID"}:
                continue
            # "not greater than the previous dose's": a previous dose without a number is no reference
            not_greater = previous is not None and previous[1] is not None and number is not None
            if number is None or not 1 <= number <= 4 or (not_greater and number <= previous[1]):
                found.add("DOSE_SEQUENCE")
            if previous is not None and number == 2:
                minimum = rules.min_interval_days.get(previous[2] or "", rules.default_min_interval_days)
                short = (vdate - previous[0]).days < minimum
            elif previous is not None and number in rules.booster_min_months:
                short = vdate < add_months(previous[0], rules.booster_min_months[number])
            else:
                short = False
            if short:
                found.add("DOSE_INTERVAL_SHORT")
            previous = (vdate, number, product)
        subject = subjects[sid]
        for row, *_ in parsed:
            found = dose_codes[row["record_id"]]
            unsigned = not (row.get("signed_at") or "").strip()
            doses[row["record_id"]] = DoseTruth(
                record_id=row["record_id"],
                subject_id=sid,
                codes=tuple(sorted(found)),
                signable=(subject.status in (VERIFIED, FOREIGN) and not found) if unsigned else None,
                block_reasons=tuple(sorted(set(subject.codes) | found)) if unsigned else (),
            )
    return subjects, doses
