"""How often each error and each kind of noise is injected.

Every rate is a share of a *base* population, named in the field's comment. Within a chunk the
generator injects ``round(rate × |base|)`` cases of each kind (stochastically rounded), chosen among
the members of the base the kind can apply to, and at least ``min_per_chunk`` (see
:class:`vaxclean.synth.generate.Options`) when the rate is above zero, so that even a few hundred
people carry every kind. Kinds of one group are exclusive on a subject (one ID problem, one name
problem, one date-of-birth problem, one gender problem, one dose problem).

The defaults give roughly the proportions reported for the national platform in 2022: about one
subject in five with an identity problem, 3.6 % of administered doses never entered.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Rates:
    # --- people and subjects ------------------------------------------------------------------
    foreigners: float = 0.005  # of subjects: foreigners, with no register entry
    foreign_no_passport: float = 0.15  # of foreigners -> FOREIGN_NO_PASSPORT
    duplicate_subject: float = 0.01  # of persons with 2+ doses: registered as two subjects
    parent_id_for_child: float = 0.005  # of Vietnamese subjects: a vaccinated child typed with a parent's ID

    # --- ID number (group "id"; base: Vietnamese subjects) ------------------------------------
    id_missing: float = 0.03  # '', '0', 'khong co', 'chưa có' ... -> ID_MISSING
    id_lost_zero: float = 0.025  # 79085001234 -> ID_MALFORMED
    id_scientific: float = 0.01  # 7.9085E+10 -> ID_MALFORMED
    id_separators: float = 0.01  # 079 085 001 234 / 079.085.001.234 -> ID_MALFORMED
    id_typo_not_found: float = 0.015  # one digit changed, still valid -> ID_NOT_FOUND
    id_typo_malformed: float = 0.01  # one digit changed, now invalid -> ID_MALFORMED
    old_cmnd_used: float = 0.03  # the person's old 9-digit CMND typed: resolves, no code

    # --- name, date of birth, gender (base: Vietnamese subjects; put where the ID resolves) -----
    name_no_diacritics: float = 0.03  # -> NAME_MISMATCH
    name_tcvn3: float = 0.01  # TCVN3 bytes read as Latin-1 -> NAME_MISMATCH
    name_vni: float = 0.005  # VNI-Windows bytes read as Latin-1 -> NAME_MISMATCH
    dob_day_month_swap: float = 0.01  # 03/05/1985 for 5 March -> DOB_MISMATCH
    dob_year_only: float = 0.015  # '1985' against a full register date -> DOB_MISMATCH
    dob_missing: float = 0.005  # -> DOB_MISMATCH
    gender_wrong: float = 0.01  # -> GENDER_MISMATCH
    gender_missing: float = 0.01  # -> GENDER_MISMATCH

    # --- doses (group "dose"; base: subjects) --------------------------------------------------
    dose_duplicate: float = 0.02  # a dose entered twice -> DOSE_DUPLICATE
    dose_sequence: float = 0.01  # dose numbers out of order, missing or out of range -> DOSE_SEQUENCE
    dose_interval_short: float = 0.01  # given before the minimum interval -> DOSE_INTERVAL_SHORT
    dose_date_invalid: float = 0.01  # before campaign, future, after entry, unparsable -> DOSE_DATE_INVALID
    dose_after_death: float = 0.003  # the register records a death before a dose (ID resolves)

    # --- noise: never produces a code (probabilities per ledger row unless said) ---------------
    name_upper: float = 0.08
    name_lower: float = 0.03
    name_extra_spaces: float = 0.05
    name_nfd: float = 0.05
    name_old_tone: float = 0.5  # of rows whose name has a syllable like Hòa / Thúy
    dob_short_format: float = 0.1  # 5/3/1985
    dob_excel_serial: float = 0.03  # 31111
    dob_iso: float = 0.2  # 1985-03-05
    id_whitespace: float = 0.03  # ' 079085001234 ' (also non-breaking spaces)
    earlier_row_error: float = 0.01  # of subjects with 2+ rows: an error on an earlier row only

    # --- platform behaviour -------------------------------------------------------------------
    signed_share: float = 0.5  # of doses of subjects without an injected identity problem
    signed_share_flagged: float = 0.05  # of doses of the others
    never_entered: float = 0.036  # of administered doses: reported by the facility, never entered

    def with_overrides(self, overrides: dict[str, float]) -> Rates:
        """A copy with some rates replaced; unknown names raise ``ValueError`` naming them."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown rate(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        for name, value in overrides.items():
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"rate {name} must be between 0 and 1, got {value}")
        return dataclasses.replace(self, **{k: float(v) for k, v in overrides.items()})

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


def parse_rate_overrides(items: list[str]) -> dict[str, float]:
    """``["id_missing=0.05", "name_tcvn3=0"]`` → ``{"id_missing": 0.05, "name_tcvn3": 0.0}``."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--rate wants NAME=VALUE, got {item!r}")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--rate {name.strip()}: {value!r} is not a number") from None
    return out
