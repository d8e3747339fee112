"""One chunk of the synthetic country: people, their doses, the errors, the rows and the truth.

A chunk is generated from its own ``random.Random`` seeded by ``(seed, chunk index)`` alone, so
chunk *i* is the same whatever the total size and whichever engine (plain Python or Spark)
generates it. Everything the rules of docs/rules.md compare across subjects stays inside a chunk
by construction, which is what lets the ground truth be computed chunk by chunk:

* a personal ID is ``<prefix><century+gender><yy><serial:6>``; the serial is a fixed bijective
  scramble of ``chunk × 90 + k`` (``k`` < 90 counts people of the same prefix, century, gender and
  year within the chunk), so IDs never collide across chunks and look random. A tenth of the
  serials are never issued: a one-digit typo that must stay *valid but unknown* lands there;
* old CMND numbers likewise scramble the chunk in; parents, children and people registered twice
  are paired inside their chunk.

Steps, in order (each consumes the chunk's random stream in a fixed order):

1. people of the register (age pyramid, province weights, CCCD, old CMND, partial dates, deaths);
2. the clean world: who was vaccinated, when, with what (doses as really given);
3. subjects: one per vaccinated person, plus people registered twice, plus foreigners;
4. errors chosen by quota (:mod:`vaxclean.synth.rates`), world-level ones applied (a dose given
   too early, a death recorded before a dose);
5. dose rows: facility, entry and signing times, then row-level dose errors (duplicates,
   sequence, invalid dates);
6. identity typed on every row: the subject's errors on all its rows, noise row by row;
7. truth: :func:`vaxclean.synth.truth.classify` on the final rows; facility reports.
"""

from __future__ import annotations

import datetime as dt
import operator
import random
from collections import Counter
from dataclasses import dataclass, field

from vaxclean.synth import names, text, vaccines
from vaxclean.synth.columns import LEDGER_COLUMNS, REGISTER_COLUMNS
from vaxclean.synth.names import WeightedChoice
from vaxclean.synth.rates import Rates
from vaxclean.synth.reference import Commune, Geography
from vaxclean.synth.truth import PROVINCE_PREFIXES, TruthRules, add_months, classify

MAX_CHUNKS = 10_000  # serials issued per chunk x chunks must fit in the 6-digit serial
SERIAL_LIMIT = 90  # per (prefix, century+gender, year) and chunk; the rest of the serials stay unissued
SERIAL_MOD, SERIAL_MULT, SERIAL_ADD = 1_000_000, 738_763, 271_828  # MULT is coprime to MOD
SERIAL_INVERSE = pow(SERIAL_MULT, -1, SERIAL_MOD)
CMND_LIMIT = 1_000  # per CMND region code and chunk
CMND_MOD, CMND_MULT, CMND_ADD = 10_000_000, 7_654_321, 1_234_567

# Age structure of Viet Nam (2019 census, 5-year groups, % of the population; approximate).
AGE_GROUPS = (
    (0, 4, 8.1), (5, 9, 8.4), (10, 14, 7.2), (15, 19, 6.6), (20, 24, 6.9), (25, 29, 8.0), (30, 34, 8.1),
    (35, 39, 7.6), (40, 44, 7.2), (45, 49, 6.4), (50, 54, 5.8), (55, 59, 5.1), (60, 64, 4.0),
    (65, 69, 2.9), (70, 74, 1.8), (75, 79, 1.2), (80, 84, 0.9), (85, 89, 0.6), (90, 99, 0.3),
)  # fmt: skip
_AGE = WeightedChoice([(lo, hi) for lo, hi, _ in AGE_GROUPS], [w for _, _, w in AGE_GROUPS])

# Adults' first dose: (from, to, weight) — the campaign peaked from July to December 2021.
ADULT_DOSE1 = (
    (dt.date(2021, 3, 8), dt.date(2021, 6, 30), 6),
    (dt.date(2021, 7, 1), dt.date(2021, 9, 30), 40),
    (dt.date(2021, 10, 1), dt.date(2021, 12, 31), 42),
    (dt.date(2022, 1, 1), dt.date(2022, 6, 30), 10),
    (dt.date(2022, 7, 1), dt.date(2022, 12, 31), 2),
)
_ADULT_DOSE1 = WeightedChoice([(a, b) for a, b, _ in ADULT_DOSE1], [w for _, _, w in ADULT_DOSE1])
TEEN_START, CHILD_START = dt.date(2021, 10, 20), dt.date(2022, 4, 14)
TEEN_BOOSTER_START, SECOND_BOOSTER_START = dt.date(2022, 7, 1), dt.date(2022, 5, 1)
DEATHS_FROM = dt.date(2020, 1, 1)
EXCEL_MIN = dt.date(1927, 5, 18)  # first day whose Excel serial has five digits

MOBILE_PREFIXES = (
    "032", "033", "034", "035", "036", "037", "038", "039", "070", "076", "077", "078", "079", "081",
    "082", "083", "084", "085", "086", "088", "089", "090", "091", "092", "093", "094", "096", "097",
    "098", "099",
)  # fmt: skip
GENDER_TYPED = {"M": ("Nam", "Nam", "nam", "M", "Male"), "F": ("Nữ", "Nữ", "NU", "F", "Female")}
NATIONALITY_VN = WeightedChoice(["", "VN", "Việt Nam", "Viet Nam"], [30, 45, 15, 10])
MISSING_ID_TYPED = ("", "", "0", "khong co", "chua co", "Không có", "Chưa có", "KHONG CO")

# Kinds, by group. Each maps to the code(s) it must produce (empty: noise, no code).
ID_KINDS = (
    "id_missing", "id_lost_zero", "id_scientific", "id_separators", "id_typo_not_found",
    "id_typo_malformed", "old_cmnd_used",
)  # fmt: skip
NAME_KINDS = ("name_no_diacritics", "name_tcvn3", "name_vni")
DOB_KINDS = ("dob_day_month_swap", "dob_year_only", "dob_missing")
GENDER_KINDS = ("gender_wrong", "gender_missing")
DOSE_KINDS = (
    "dose_duplicate",
    "dose_sequence",
    "dose_interval_short",
    "dose_date_invalid",
    "dose_after_death",
)
EXPECTED_CODES: dict[str, tuple[str, ...]] = {
    "id_missing": ("ID_MISSING",),
    "id_lost_zero": ("ID_MALFORMED",),
    "id_scientific": ("ID_MALFORMED",),
    "id_separators": ("ID_MALFORMED",),
    "id_typo_not_found": ("ID_NOT_FOUND",),
    "id_typo_malformed": ("ID_MALFORMED",),
    "old_cmnd_used": (),
    "name_no_diacritics": ("NAME_MISMATCH",),
    "name_tcvn3": ("NAME_MISMATCH",),
    "name_vni": ("NAME_MISMATCH",),
    "dob_day_month_swap": ("DOB_MISMATCH",),
    "dob_year_only": ("DOB_MISMATCH",),
    "dob_missing": ("DOB_MISMATCH",),
    "gender_wrong": ("GENDER_MISMATCH",),
    "gender_missing": ("GENDER_MISMATCH",),
    "parent_id_for_child": ("NAME_MISMATCH", "DOB_MISMATCH", "ID_SHARED"),
    "duplicate_subject": ("SUBJECT_DUPLICATE",),
    "foreign_no_passport": ("FOREIGN_NO_PASSPORT",),
    "dose_duplicate": ("DOSE_DUPLICATE",),
    "dose_sequence": ("DOSE_SEQUENCE",),
    "dose_interval_short": ("DOSE_INTERVAL_SHORT",),
    "dose_date_invalid": ("DOSE_DATE_INVALID",),
    "dose_after_death": ("DOSE_AFTER_DEATH",),
}
NOISE_KINDS = (
    "name_upper", "name_lower", "name_extra_spaces", "name_nfd", "name_old_tone", "dob_short_format",
    "dob_excel_serial", "dob_iso", "id_whitespace", "earlier_row_error", "parent_of_shared_id",
)  # fmt: skip


@dataclass(frozen=True)
class ChunkSpec:
    """Everything a chunk depends on. Chunk ``index`` holds ``people`` register people."""

    seed: int
    index: int
    people: int
    as_of: dt.date
    rates: Rates = field(default_factory=Rates)
    truth_rules: TruthRules = field(default_factory=TruthRules)
    min_per_chunk: int = 1


@dataclass
class ChunkResult:
    """The rows of one chunk, as tuples in the column order of :mod:`vaxclean.synth.columns`."""

    register: list[tuple[str, ...]]
    ledger: list[tuple[str, ...]]
    truth_subjects: list[tuple[str, ...]]
    truth_doses: list[tuple[str, ...]]
    reports: Counter  # (facility_code, report_date, vaccine) -> doses administered
    stats: Counter


class Person:
    __slots__ = (
        "idx", "pid", "old_id", "surname", "middle", "given", "gender", "birth", "precision", "commune",
        "death", "age",
    )  # fmt: skip

    @property
    def full_name(self) -> str:
        return f"{self.surname} {self.middle} {self.given}"


class Foreigner:
    __slots__ = ("iso", "typed_nationality", "name", "gender", "birth", "commune", "passport")


class Dose:
    """A dose as really given (``date``, ``product``), then its row as typed."""

    __slots__ = (
        "date", "product", "number", "facility", "entered", "signed", "batch", "typed_date",
        "typed_number", "typed_vaccine", "record_id", "subject", "kinds",
    )  # fmt: skip

    def __init__(self, date: dt.date, product: str, number: int) -> None:
        self.date, self.product, self.number = date, product, number
        self.facility = self.entered = self.signed = self.batch = None
        self.typed_date = self.typed_number = self.typed_vaccine = self.record_id = None
        self.subject = None
        self.kinds: list[str] = []


class Subject:
    __slots__ = ("sid", "person", "foreigner", "doses", "kinds", "noise", "shared_id_of", "phone", "typed_id")

    def __init__(self, person: Person | None, foreigner: Foreigner | None, doses: list[Dose]) -> None:
        self.sid = ""
        self.person, self.foreigner, self.doses = person, foreigner, doses
        self.kinds: list[str] = []
        self.noise: list[str] = []
        self.shared_id_of: Person | None = None
        self.phone = ""
        self.typed_id = ""

    @property
    def commune(self) -> Commune:
        return self.person.commune if self.person is not None else self.foreigner.commune

    def group_kind(self, group: tuple[str, ...]) -> str | None:
        return next((k for k in self.kinds if k in group), None)


_CHOICES: dict[tuple[tuple[str, float], ...], WeightedChoice] = {}


def _choice(mix: tuple[tuple[str, float], ...]) -> WeightedChoice:
    if mix not in _CHOICES:
        _CHOICES[mix] = WeightedChoice([m for m, _ in mix], [w for _, w in mix])
    return _CHOICES[mix]


_ledger_tuple = operator.itemgetter(*LEDGER_COLUMNS)


def _quota(rng: random.Random, rate: float, base: int, minimum: int) -> int:
    """``rate × base`` stochastically rounded, at least ``minimum`` when the rate is above zero."""
    if rate <= 0 or base <= 0:
        return 0
    x = rate * base
    k = int(x) + (rng.random() < x - int(x))
    return max(k, minimum)


def _pick(rng: random.Random, pool: list, k: int) -> list:
    return rng.sample(pool, min(k, len(pool))) if k > 0 and pool else []


def _uniform_date(rng: random.Random, lo: dt.date, hi: dt.date) -> dt.date:
    return lo + dt.timedelta(days=rng.randint(0, (hi - lo).days))


def _offset(key: str) -> int:
    # a different starting point for every key, so that serials do not repeat across keys
    return (int(key) * 104_729 + SERIAL_ADD) % SERIAL_MOD


def id_serial(key: str, chunk: int, k: int) -> str:
    """The serial of the ``k``-th person of ``key`` (first six digits of the ID) in ``chunk``.

    A bijection of ``chunk × 90 + k`` for each key, so unique, and random-looking.
    """
    return f"{(SERIAL_MULT * (chunk * SERIAL_LIMIT + k) + _offset(key)) % SERIAL_MOD:06d}"


def serial_is_issued(pid: str) -> bool:
    """Whether some chunk issues this 12-digit ID (the inverse of :func:`id_serial`)."""
    n = (int(pid[6:]) - _offset(pid[:6])) * SERIAL_INVERSE % SERIAL_MOD
    return n < SERIAL_LIMIT * MAX_CHUNKS


def unknown_typos(pid: str) -> list[str]:
    """Every one-digit change of the serial of ``pid`` that no register person can hold."""
    out = []
    offset = _offset(pid[:6])
    for pos in range(6, 12):
        for digit in "0123456789":
            if digit != pid[pos]:
                typo = pid[:pos] + digit + pid[pos + 1 :]
                if (int(typo[6:]) - offset) * SERIAL_INVERSE % SERIAL_MOD >= SERIAL_LIMIT * MAX_CHUNKS:
                    out.append(typo)
    return out


def _fmt_dmy(d: dt.date) -> str:
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


def _fmt_ts(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S")


class _ChunkBuilder:
    def __init__(self, spec: ChunkSpec) -> None:
        if not 0 <= spec.index < MAX_CHUNKS:
            raise ValueError(f"chunk index {spec.index} out of range: at most {MAX_CHUNKS} chunks")
        self.spec = spec
        self.rates = spec.rates
        self.as_of = spec.as_of
        self.end_of_day = dt.datetime.combine(spec.as_of, dt.time(23, 59, 59))
        self.rng = random.Random(f"vaxclean-synth/{spec.seed}/{spec.index}")
        self.geo = Geography.load()
        self.province = WeightedChoice(self.geo.provinces, self.geo.weights)
        self.cmnd_code = {p: f"{i % 38 + 1:02d}" for i, p in enumerate(self.geo.provinces)}
        self.serials: Counter = Counter()
        self.cmnd_serials: Counter = Counter()
        self.stats: Counter = Counter()
        self.people: list[Person] = []
        self.subjects: list[Subject] = []

    # --- 1. people ------------------------------------------------------------------------------
    def _commune_in(self, province: str) -> Commune:
        return self.rng.choice(self.geo.communes[province])

    def make_people(self) -> None:
        rng, as_of = self.rng, self.as_of
        chunk = self.spec.index
        for idx in range(self.spec.people):
            p = Person()
            p.idx = idx
            p.gender = "M" if rng.random() < 0.498 else "F"
            residence = self.province(rng)
            p.commune = self._commune_in(residence)
            birth_province = residence if rng.random() < 0.85 else self.province(rng)
            prefix = "0" + birth_province
            while True:
                lo, hi = _AGE(rng)
                p.age = rng.randint(lo, hi)
                p.birth = as_of - dt.timedelta(days=int(p.age * 365.25) + rng.randint(0, 364))
                century = 0 if p.birth.year < 2000 else 2
                key = (prefix, century + (p.gender == "F"), p.birth.year % 100)
                if self.serials[key] < SERIAL_LIMIT:
                    break
            serial = self.serials[key]
            self.serials[key] += 1
            head = f"{prefix}{key[1]}{key[2]:02d}"
            p.pid = head + id_serial(head, chunk, serial)
            p.old_id = ""
            if p.age >= 30 and rng.random() < 0.15:
                code = self.cmnd_code[birth_province]
                if self.cmnd_serials[code] < CMND_LIMIT:
                    m = chunk * CMND_LIMIT + self.cmnd_serials[code]
                    p.old_id = f"{code}{(CMND_MULT * m + CMND_ADD * int(code)) % CMND_MOD:07d}"
                    self.cmnd_serials[code] += 1
            p.precision = "DAY"
            if p.age >= 70:
                r = rng.random()
                p.precision = "YEAR" if r < 0.10 else ("MONTH" if r < 0.15 else "DAY")
            p.surname = names.draw_surname(rng)
            p.middle, p.given = names.draw_middle_and_given(rng, p.gender, p.birth.year)
            death_p = 0.005 if p.age < 60 else 0.02 if p.age < 70 else 0.05 if p.age < 80 else 0.12
            p.death = None
            if as_of > DEATHS_FROM and rng.random() < death_p:
                died = max(_uniform_date(rng, DEATHS_FROM, as_of), p.birth + dt.timedelta(days=1))
                p.death = min(died, as_of)
            self.people.append(p)

    # --- 2. the clean world ---------------------------------------------------------------------
    def course(self, age: int, death: dt.date | None, always: bool = False) -> list[Dose]:
        """The doses a person really received, numbered 1…n, all on or before the as-of date."""
        rng = self.rng
        if age >= 18:
            if not always and rng.random() >= 0.93:
                return []
            lo, hi = _ADULT_DOSE1(rng)
            d1 = _uniform_date(rng, lo, hi)
            mix = vaccines.adult_mix_at(d1)
        elif 12 <= age <= 17:
            if rng.random() >= 0.88:
                return []
            d1, mix = _uniform_date(rng, TEEN_START, dt.date(2022, 3, 31)), vaccines.TEEN_MIX
        elif 5 <= age <= 11:
            if rng.random() >= 0.6:
                return []
            d1, mix = _uniform_date(rng, CHILD_START, dt.date(2022, 10, 31)), vaccines.CHILD_MIX
        else:
            return []
        product = _choice(mix)(rng)
        plan = [(d1, product)]
        if product in vaccines.SINGLE_DOSE_PRIMARY:
            if rng.random() < 0.5:
                plan.append((d1 + dt.timedelta(days=rng.randint(90, 180)), self._mix(vaccines.BOOSTER_MIX)))
        elif rng.random() < (0.96 if age >= 18 else 0.9):
            lo_gap, hi_gap = vaccines.PRIMARY_GAP_DAYS[product]
            plan.append((d1 + dt.timedelta(days=rng.randint(lo_gap, hi_gap)), product))
        if len(plan) == 2 and age >= 12 and rng.random() < (0.6 if age >= 18 else 0.4):
            d3 = add_months(plan[1][0], 3) + dt.timedelta(days=rng.randint(5, 150))
            if age < 18:
                d3 = max(d3, TEEN_BOOSTER_START + dt.timedelta(days=rng.randint(0, 60)))
            plan.append((d3, self._mix(vaccines.BOOSTER_MIX)))
            if age >= 18 and rng.random() < (0.45 if age >= 50 else 0.15):
                d4 = add_months(d3, 4) + dt.timedelta(days=rng.randint(5, 120))
                d4 = max(d4, SECOND_BOOSTER_START + dt.timedelta(days=rng.randint(0, 60)))
                plan.append((d4, self._mix(vaccines.SECOND_BOOSTER_MIX)))
        doses = []
        for number, (day, prod) in enumerate(plan, start=1):
            if day > self.as_of or (death is not None and day >= death):
                break
            doses.append(Dose(day, prod, number))
        return doses

    def _mix(self, mix: tuple[tuple[str, float], ...]) -> str:
        return _choice(mix)(self.rng)

    # --- 3. subjects ----------------------------------------------------------------------------
    def make_subjects(self) -> None:
        rng, rates, minimum = self.rng, self.rates, self.spec.min_per_chunk
        for p in self.people:
            doses = self.course(p.age, p.death)
            if doses:
                self.subjects.append(Subject(p, None, doses))
        vietnamese = list(self.subjects)

        # a person registered twice: the doses split between two subjects
        pool = [s for s in vietnamese if len(s.doses) >= 2]
        for s in _pick(rng, pool, _quota(rng, rates.duplicate_subject, len(pool), minimum)):
            cut = rng.randint(1, len(s.doses) - 1)
            twin = Subject(s.person, None, s.doses[cut:])
            s.doses = s.doses[:cut]
            s.kinds.append("duplicate_subject")
            twin.kinds.append("duplicate_subject")
            if s.person.old_id and rng.random() < 0.5:
                twin.kinds.append("old_cmnd_used")  # registered once with the CCCD, once with the CMND
            self.subjects.append(twin)

        # a vaccinated child typed with the ID of a parent who is vaccinated too
        taken = {id(s) for s in self.subjects if s.kinds}
        children = [s for s in vietnamese if 5 <= s.person.age <= 17 and id(s) not in taken]
        adults = [s for s in vietnamese if 25 <= s.person.age <= 65 and id(s) not in taken]
        for child in _pick(rng, children, _quota(rng, rates.parent_id_for_child, len(vietnamese), minimum)):
            age = child.person.age
            parents = [a for a in adults if age + 18 <= a.person.age <= age + 45 and id(a) not in taken]
            if not parents:
                continue
            parent = rng.choice(parents)
            taken.update((id(child), id(parent)))
            kid, adult = child.person, parent.person
            kid.commune = adult.commune
            if adult.gender == "M":
                kid.surname = adult.surname
            while (
                text.strip_diacritics(kid.full_name).lower() == text.strip_diacritics(adult.full_name).lower()
            ):
                kid.given = rng.choice(names.GIVEN_MALE if kid.gender == "M" else names.GIVEN_FEMALE)
            child.kinds.append("parent_id_for_child")
            child.shared_id_of = adult
            parent.noise.append("parent_of_shared_id")

        # foreigners: no register entry, identified by passport
        count = _quota(rng, rates.foreigners, len(self.subjects), minimum)
        foreigners = []
        for k in range(count):
            f = Foreigner()
            f.iso, typed, families, male, female, passport = names.draw_foreign(rng)
            f.typed_nationality = rng.choice(typed)
            f.gender = "M" if rng.random() < 0.6 else "F"
            f.name = f"{rng.choice(families)} {rng.choice(male if f.gender == 'M' else female)}"
            age = rng.randint(20, 65)
            f.birth = self.as_of - dt.timedelta(days=int(age * 365.25) + rng.randint(0, 364))
            r = rng.random()
            province = "79" if r < 0.4 else "01" if r < 0.65 else self.province(rng)
            f.commune = self._commune_in(province)
            prefix = passport.rstrip("0123456789")
            digits = int(passport[len(prefix) :])
            f.passport = prefix + f"{self.spec.index:04d}{k:04d}{rng.randint(0, 10**9):09d}"[-digits:]
            doses = self.course(age, None, always=True)
            subject = Subject(None, f, doses)
            foreigners.append(subject)
            self.subjects.append(subject)
        for s in _pick(rng, foreigners, _quota(rng, rates.foreign_no_passport, len(foreigners), minimum)):
            s.kinds.append("foreign_no_passport")
            s.foreigner.passport = ""

    # --- 4. errors chosen by quota, world-level ones applied ------------------------------------
    def choose_errors(self) -> None:
        rng, rates, minimum = self.rng, self.rates, self.spec.min_per_chunk
        vietnamese = [s for s in self.subjects if s.person is not None]
        free = [s for s in vietnamese if not s.kinds and "parent_of_shared_id" not in s.noise]
        base = len(vietnamese)
        for kind in ID_KINDS:
            pool = [s for s in free if not s.kinds and (kind != "old_cmnd_used" or s.person.old_id)]
            for s in _pick(rng, pool, _quota(rng, getattr(rates, kind), base, minimum)):
                s.kinds.append(kind)
        resolvable = [s for s in free if s.group_kind(ID_KINDS) in (None, "old_cmnd_used")]
        for group in (NAME_KINDS, DOB_KINDS):
            for kind in group:
                pool = [s for s in resolvable if s.group_kind(group) is None and self._eligible(s, kind)]
                for s in _pick(rng, pool, _quota(rng, getattr(rates, kind), base, minimum)):
                    s.kinds.append(kind)
        for kind in GENDER_KINDS:  # gender errors do not disturb the shared-ID or duplicate patterns
            pool = [
                s
                for s in vietnamese
                if s.group_kind(ID_KINDS) in (None, "old_cmnd_used")
                and "parent_id_for_child" not in s.kinds
                and s.group_kind(GENDER_KINDS) is None
            ]
            for s in _pick(rng, pool, _quota(rng, getattr(rates, kind), base, minimum)):
                s.kinds.append(kind)

        everyone = [s for s in self.subjects if s.doses]
        for kind in DOSE_KINDS:
            pool = [s for s in everyone if s.group_kind(DOSE_KINDS) is None and self._eligible(s, kind)]
            for s in _pick(rng, pool, _quota(rng, getattr(rates, kind), len(self.subjects), minimum)):
                s.kinds.append(kind)
                if kind == "dose_interval_short":
                    self._give_too_early(s)
                elif kind == "dose_after_death":
                    last = s.doses[-1]
                    last.kinds.append(kind)
                    death = last.date - dt.timedelta(days=rng.randint(1, 30))
                    s.person.death = max(death, s.person.birth + dt.timedelta(days=1))

        pool = [s for s in everyone if len(s.doses) >= 2 and not s.kinds and not s.noise]
        for s in _pick(rng, pool, _quota(rng, rates.earlier_row_error, len(pool), minimum)):
            s.noise.append("earlier_row_error")

    def _eligible(self, s: Subject, kind: str) -> bool:
        p = s.person
        if kind in ("name_no_diacritics", "name_tcvn3"):
            # non-ASCII in an NFC Vietnamese name means diacritics (or đ), and TCVN3 changes them all
            return not p.full_name.isascii()
        if kind == "name_vni":
            return any(c not in "íìÍÌ" for c in p.full_name if not c.isascii())  # VNI keeps í and ì
        if kind == "dob_day_month_swap":
            return p.precision == "DAY" and p.birth.day != p.birth.month and p.birth.day <= 12
        if kind == "dob_year_only":
            return p.precision != "YEAR"
        if kind == "dose_interval_short":
            return len(s.doses) >= 2
        if kind == "dose_after_death":
            return (
                p is not None
                and p.death is None
                and not s.kinds
                and "parent_of_shared_id" not in s.noise
                and p.birth < s.doses[-1].date - dt.timedelta(days=31)
            )
        return True

    def _give_too_early(self, s: Subject) -> None:
        """Move one dose (not the subject's first) below its minimum interval: it really was early."""
        rng, rules = self.rng, self.spec.truth_rules
        j = rng.randint(1, len(s.doses) - 1)
        prev, dose = s.doses[j - 1], s.doses[j]
        if dose.number == 2:
            minimum = rules.min_interval_days.get(prev.product, rules.default_min_interval_days)
            gap = rng.randint(max(7, minimum // 2), max(7, minimum - 3))
        else:
            gap = rng.randint(30, rules.booster_min_months.get(dose.number, 3) * 28 - 10)
        dose.date = prev.date + dt.timedelta(days=gap)
        dose.kinds.append("dose_interval_short")

    # --- 5. dose rows ---------------------------------------------------------------------------
    def make_dose_rows(self) -> list[Dose]:
        rng, rates, as_of = self.rng, self.rates, self.as_of
        rows: list[Dose] = []
        for s in self.subjects:
            flagged = any(EXPECTED_CODES[k] for k in s.kinds if k not in DOSE_KINDS)
            signed_share = rates.signed_share_flagged if flagged else rates.signed_share
            home = s.commune
            for d in s.doses:
                d.subject = s
                if rng.random() < 0.85:
                    d.facility = home.facility_code
                else:
                    d.facility = rng.choice(self.geo.by_district[home.district_code]).facility_code
                r = rng.random()
                lag = (
                    0
                    if r < 0.65
                    else 1
                    if r < 0.80
                    else rng.randint(2, 7)
                    if r < 0.95
                    else rng.randint(8, 30)
                )
                day = min(d.date + dt.timedelta(days=lag), as_of)
                d.entered = dt.datetime.combine(day, dt.time(7)) + dt.timedelta(seconds=rng.randint(0, 57599))
                d.signed = None
                if rng.random() < signed_share:
                    signed = d.entered + dt.timedelta(days=rng.randint(1, 90), seconds=rng.randint(0, 36000))
                    d.signed = signed if signed <= self.end_of_day else None
                d.batch = f"{vaccines.BATCH_PREFIX[d.product]}{rng.randint(1000, 99999)}"
                d.typed_vaccine = rng.choice(vaccines.TYPED[d.product])
                d.typed_number = str(d.number)
                d.typed_date = _fmt_dmy(d.date) if rng.random() < 0.6 else d.date.isoformat()
                rows.append(d)
        copies = []
        for s in self.subjects:
            kind = s.group_kind(DOSE_KINDS)
            if kind == "dose_duplicate":
                copies.append(self._duplicate(rng.choice(s.doses)))
            elif kind == "dose_sequence":
                self._break_sequence(s)
            elif kind == "dose_date_invalid":
                self._break_date(rng.choice(s.doses))
        return rows + copies

    def _duplicate(self, d: Dose) -> Dose:
        copy = Dose(d.date, d.product, d.number)
        copy.subject, copy.facility, copy.batch = d.subject, d.facility, d.batch
        entered = d.entered + dt.timedelta(days=self.rng.randint(1, 20), seconds=self.rng.randint(0, 3600))
        copy.entered = entered if entered <= self.end_of_day else d.entered
        copy.signed = None
        copy.typed_vaccine = self.rng.choice(vaccines.TYPED[d.product])
        copy.typed_number, copy.typed_date = d.typed_number, d.typed_date
        copy.kinds = ["dose_duplicate"]
        return copy

    def _break_sequence(self, s: Subject) -> None:
        rng, doses = self.rng, s.doses
        variant = rng.choice(
            ("swap", "repeat", "missing", "out_of_range") if len(doses) >= 2 else ("missing", "out_of_range")
        )
        last = doses[-1]
        if variant == "swap":
            doses[-2].typed_number, last.typed_number = last.typed_number, doses[-2].typed_number
        elif variant == "repeat":
            last.typed_number = doses[-2].typed_number
        elif variant == "missing":
            last.typed_number = ""
        else:
            last.typed_number = rng.choice(("0", "5"))
        last.kinds.append("dose_sequence")

    def _break_date(self, d: Dose) -> None:
        rng = self.rng
        variant = rng.choice(("before_campaign", "future", "after_entry", "unparsable"))
        if variant == "before_campaign":
            day = d.date.replace(year=2020, day=min(d.date.day, 28))
        elif variant == "future":
            day = d.date.replace(year=d.date.year + 10, day=min(d.date.day, 28))
        elif variant == "after_entry":
            day = d.entered.date() + dt.timedelta(days=rng.randint(2, 30))
        else:
            day = None
        if day is None:
            d.typed_date = rng.choice(("", "31/02/2021", "2021-02-30", "00/00/0000"))
        else:
            d.typed_date = _fmt_dmy(day) if "/" in d.typed_date else day.isoformat()
        d.kinds.append("dose_date_invalid")

    # --- 6. identity typed on every row ---------------------------------------------------------
    def typed_id(self, s: Subject) -> str:
        rng, p = self.rng, s.person
        kind = s.group_kind(ID_KINDS)
        pid = s.shared_id_of.pid if s.shared_id_of is not None else p.pid
        if kind == "old_cmnd_used":
            return p.old_id
        if kind == "id_missing":
            return rng.choice(MISSING_ID_TYPED)
        if kind == "id_lost_zero":
            return pid[1:]
        if kind == "id_scientific":
            return f"{int(pid):.4E}"
        if kind == "id_separators":
            sep = rng.choice((" ", "."))
            return sep.join((pid[0:3], pid[3:6], pid[6:9], pid[9:12]))
        if kind == "id_typo_not_found":
            typos = unknown_typos(pid)
            if typos:
                return rng.choice(typos)
            # about 1 ID in 300 has no one-digit typo that stays unknown: make it malformed instead
            s.kinds[s.kinds.index(kind)] = kind = "id_typo_malformed"
        if kind == "id_typo_malformed":
            if rng.random() < 0.5:
                return pid[:3] + str(rng.randint(4, 9)) + pid[4:]
            digits = [c for c in "0123456789" if pid[:2] + c not in PROVINCE_PREFIXES]
            return pid[:2] + rng.choice(digits) + pid[3:]
        return pid

    def typed_name(self, s: Subject, kind: str | None) -> str:
        rng, rates = self.rng, self.rates
        name = s.person.full_name
        if kind == "name_tcvn3":
            return text.tcvn3_mojibake(name)
        if kind == "name_vni":
            return text.vni_mojibake(name)
        if text.can_use_old_tone(name) and rng.random() < rates.name_old_tone:
            name = text.old_tone_placement(name)
            s.noise.append("name_old_tone")
        if kind == "name_no_diacritics":
            name = text.strip_diacritics(name)
        r = rng.random()
        if r < rates.name_upper:
            name = name.upper()
            s.noise.append("name_upper")
        elif r < rates.name_upper + rates.name_lower:
            name = name.lower()
            s.noise.append("name_lower")
        if rng.random() < rates.name_nfd:
            name = text.to_nfd(name)
            s.noise.append("name_nfd")
        if rng.random() < rates.name_extra_spaces:
            words = name.split(" ")
            i = rng.randrange(len(words))
            words[i] = rng.choice((words[i] + " ", " " + words[i]))
            name = " ".join(words)
            s.noise.append("name_extra_spaces")
        return name

    def typed_dob(self, s: Subject, kind: str | None) -> str:
        rng, rates, p = self.rng, self.rates, s.person
        b = p.birth
        if kind == "dob_missing":
            return ""
        if kind == "dob_year_only":
            return str(b.year)
        if kind == "dob_day_month_swap":
            return f"{b.month:02d}/{b.day:02d}/{b.year}"
        if p.precision == "YEAR":
            return rng.choice((str(b.year), f"01/01/{b.year}"))
        if p.precision == "MONTH":
            return rng.choice(
                (f"{b.month:02d}/{b.year}", f"{b.year}-{b.month:02d}", f"01/{b.month:02d}/{b.year}")
            )
        r = rng.random()
        if r < rates.dob_excel_serial and b >= EXCEL_MIN:
            s.noise.append("dob_excel_serial")
            return str((b - dt.date(1899, 12, 30)).days)
        r -= rates.dob_excel_serial
        if 0 <= r < rates.dob_short_format:
            s.noise.append("dob_short_format")
            return f"{b.day}/{b.month}/{b.year}"
        r -= rates.dob_short_format
        if 0 <= r < rates.dob_iso:
            s.noise.append("dob_iso")
            return b.isoformat()
        return _fmt_dmy(b)

    def typed_gender(self, s: Subject, kind: str | None) -> str:
        gender = s.person.gender
        if kind == "gender_missing":
            return ""
        if kind == "gender_wrong":
            return (
                "Khác"
                if self.rng.random() < 0.1
                else self.rng.choice(GENDER_TYPED["F" if gender == "M" else "M"])
            )
        return self.rng.choice(GENDER_TYPED[gender])

    def phone(self) -> str:
        rng = self.rng
        number = rng.choice(MOBILE_PREFIXES)[1:] + f"{rng.randint(0, 9_999_999):07d}"
        r = rng.random()
        return "0" + number if r < 0.8 else "+84" + number if r < 0.9 else number

    def identity(self, s: Subject, latest: bool, earlier_error: bool) -> dict[str, str]:
        """The identity typed on one row of subject ``s``."""
        rng, rates = self.rng, self.rates
        c = s.commune
        out = {
            "phone": s.phone,
            "province_code": c.province_code,
            "district_code": c.district_code,
            "commune_code": c.commune_code,
        }
        if s.foreigner is not None:
            f = s.foreigner
            out.update(
                full_name=f.name,
                date_of_birth=_fmt_dmy(f.birth),
                gender=rng.choice(("M", "F", "Male", "Female")[f.gender == "F" :: 2]),
                id_number="",
                nationality=f.typed_nationality,
                passport_number=f.passport,
            )
            return out
        name_kind = s.group_kind(NAME_KINDS)
        if earlier_error and not latest:
            name_kind = "name_no_diacritics"
        typed_id = s.typed_id
        if typed_id and rng.random() < rates.id_whitespace:
            typed_id = rng.choice((" ", "\u00a0")) + typed_id + rng.choice(("", " ", "\u00a0"))
            s.noise.append("id_whitespace")
        out.update(
            full_name=self.typed_name(s, name_kind),
            date_of_birth=self.typed_dob(s, s.group_kind(DOB_KINDS)),
            gender=self.typed_gender(s, s.group_kind(GENDER_KINDS)),
            id_number=typed_id,
            nationality=NATIONALITY_VN(rng),
            passport_number="",
        )
        return out

    # --- everything -----------------------------------------------------------------------------
    def build(self) -> ChunkResult:
        spec, rng = self.spec, self.rng
        self.make_people()
        self.make_subjects()
        self.choose_errors()
        rows = self.make_dose_rows()

        chunk = f"{spec.index:04d}"
        for k, s in enumerate(self.subjects):
            s.sid = f"S{s.commune.province_code}-{chunk}{k:04d}"
            s.phone = self.phone()
            if s.person is not None:
                s.typed_id = self.typed_id(s)
        for k, d in enumerate(rows):
            d.record_id = f"VN{d.facility[:2]}-{chunk}{k:06d}"
        by_subject: dict[int, list[Dose]] = {}
        for d in rows:
            by_subject.setdefault(id(d.subject), []).append(d)

        ledger: list[tuple[str, ...]] = []
        for s in self.subjects:
            own = by_subject.get(id(s), [])
            if not own:
                continue
            latest = max(own, key=lambda d: (d.entered, d.record_id))
            earlier_error = "earlier_row_error" in s.noise
            for d in own:
                row = self.identity(s, d is latest, earlier_error)
                row.update(
                    record_id=d.record_id,
                    subject_id=s.sid,
                    facility_code=d.facility,
                    vaccine=d.typed_vaccine,
                    dose_number=d.typed_number,
                    vaccination_date=d.typed_date,
                    batch_number=d.batch,
                    entered_at=_fmt_ts(d.entered),
                    signed_at=_fmt_ts(d.signed) if d.signed else "",
                )
                ledger.append(_ledger_tuple(row))

        register = [
            (
                p.pid,
                p.old_id,
                p.full_name,
                p.birth.isoformat()[: {"DAY": 10, "MONTH": 7, "YEAR": 4}[p.precision]],
                p.gender,
                p.commune.province_code,
                p.commune.district_code,
                p.commune.commune_code,
                p.death.isoformat() if p.death else "",
            )
            for p in self.people
        ]
        subjects, doses = classify(
            (dict(zip(REGISTER_COLUMNS, r, strict=True)) for r in register),
            [dict(zip(LEDGER_COLUMNS, r, strict=True)) for r in ledger],
            rules=spec.truth_rules,
            as_of=spec.as_of,
        )

        truth_subjects, truth_doses = [], []
        stats = self.stats
        for s in self.subjects:
            if id(s) not in by_subject:
                continue
            t = subjects[s.sid]
            truth_subjects.append(
                (
                    s.sid,
                    t.status,
                    "|".join(t.codes),
                    s.person.pid if s.person is not None else "",
                    t.matched_personal_id or "",
                    t.province_code,
                    t.commune_code,
                    "|".join(sorted(k for k in s.kinds if k not in DOSE_KINDS)),
                    "|".join(sorted(set(s.noise))),
                )
            )
            stats[f"status:{t.status}"] += 1
            stats.update(f"subject_code:{c}" for c in t.codes)
            stats.update(f"kind:{k}" for k in s.kinds)
            stats.update(f"noise:{k}" for k in set(s.noise))
        for d in rows:
            t = doses[d.record_id]
            truth_doses.append(
                (
                    d.record_id,
                    t.subject_id,
                    "|".join(t.codes),
                    "" if t.signable is None else str(t.signable).lower(),
                    "|".join(t.block_reasons),
                    "|".join(sorted(d.kinds)),
                )
            )
            stats.update(f"dose_code:{c}" for c in t.codes)
            if t.signable is not None:
                stats["doses_unsigned"] += 1
                stats["doses_signable"] += t.signable

        reports: Counter = Counter()
        extra = (
            self.rates.never_entered / (1 - self.rates.never_entered) if self.rates.never_entered < 1 else 0
        )
        for s in self.subjects:
            for d in s.doses:
                key = (d.facility, d.date.isoformat(), vaccines.DISPLAY[d.product])
                reports[key] += 1
                if rng.random() < extra:
                    reports[key] += 1
                    stats["doses_never_entered"] += 1
                stats["doses_administered_entered"] += 1
        stats["register_rows"] += len(register)
        stats["register_deceased"] += sum(1 for p in self.people if p.death)
        stats["register_with_old_cmnd"] += sum(1 for p in self.people if p.old_id)
        stats["subjects"] += len(truth_subjects)
        stats["subjects_foreign"] += sum(1 for s in self.subjects if s.foreigner is not None and s.doses)
        stats["ledger_rows"] += len(ledger)
        return ChunkResult(register, ledger, truth_subjects, truth_doses, reports, stats)


def generate_chunk(spec: ChunkSpec) -> ChunkResult:
    """Generate chunk ``spec.index``: the same rows for the same spec, on any machine or engine."""
    return _ChunkBuilder(spec).build()
