"""COVID-19 vaccine products as used in Viet Nam, how sites typed them, and their schedules."""

from __future__ import annotations

import datetime as dt

# canonical product (docs/rules.md) → forms typed at vaccination sites (contract 1.1)
TYPED: dict[str, tuple[str, ...]] = {
    "ASTRAZENECA": ("AstraZeneca", "AstraZeneca", "AstraZeneca", "Vaxzevria"),
    "PFIZER": ("Pfizer", "Pfizer", "Pfizer", "Comirnaty"),
    "MODERNA": ("Moderna", "Moderna", "Spikevax"),
    "VERO_CELL": ("Vero Cell", "Vero Cell", "Sinopharm"),
    "SPUTNIK_V": ("Sputnik V",),
    "ABDALA": ("Abdala",),
    "HAYAT_VAX": ("Hayat-Vax",),
    "JANSSEN": ("Janssen",),
}
# the name a facility uses in its dose report
DISPLAY: dict[str, str] = {
    "ASTRAZENECA": "AstraZeneca",
    "PFIZER": "Pfizer",
    "MODERNA": "Moderna",
    "VERO_CELL": "Vero Cell",
    "SPUTNIK_V": "Sputnik V",
    "ABDALA": "Abdala",
    "HAYAT_VAX": "Hayat-Vax",
    "JANSSEN": "Janssen",
}
BATCH_PREFIX: dict[str, str] = {
    "ASTRAZENECA": "A",
    "PFIZER": "FK",
    "MODERNA": "M",
    "VERO_CELL": "VC",
    "SPUTNIK_V": "SP",
    "ABDALA": "AB",
    "HAYAT_VAX": "HV",
    "JANSSEN": "J",
}

# Days from dose 1 to dose 2 of the primary series that sites actually used: (low, high).
# Every low bound is above the minimum interval of conf/base.yaml by at least two days.
PRIMARY_GAP_DAYS: dict[str, tuple[int, int]] = {
    "ASTRAZENECA": (56, 84),  # 8–12 weeks recommended (minimum 4)
    "PFIZER": (23, 42),
    "MODERNA": (30, 42),
    "VERO_CELL": (23, 35),
    "SPUTNIK_V": (23, 35),
    "ABDALA": (16, 28),
    "HAYAT_VAX": (23, 35),
    "JANSSEN": (90, 180),  # single-dose primary series: dose 2 is already a booster
}
SINGLE_DOSE_PRIMARY = frozenset({"JANSSEN"})

# Dose-1 product mix by period of the campaign (weights), for adults.
ADULT_MIX: tuple[tuple[dt.date, tuple[tuple[str, float], ...]], ...] = (
    # (period start, mix) — a period runs until the next one starts
    (dt.date(2021, 3, 8), (("ASTRAZENECA", 90), ("VERO_CELL", 5), ("SPUTNIK_V", 3), ("MODERNA", 2))),
    (
        dt.date(2021, 7, 1),
        (
            ("ASTRAZENECA", 33),
            ("VERO_CELL", 30),
            ("PFIZER", 22),
            ("MODERNA", 8),
            ("ABDALA", 4),
            ("SPUTNIK_V", 1),
            ("HAYAT_VAX", 1.5),
            ("JANSSEN", 0.5),
        ),
    ),  # fmt: skip
    (dt.date(2022, 1, 1), (("ASTRAZENECA", 30), ("PFIZER", 45), ("MODERNA", 15), ("VERO_CELL", 10))),
)
TEEN_MIX: tuple[tuple[str, float], ...] = (("PFIZER", 90), ("MODERNA", 10))
CHILD_MIX: tuple[tuple[str, float], ...] = (("PFIZER", 70), ("MODERNA", 30))
BOOSTER_MIX: tuple[tuple[str, float], ...] = (("PFIZER", 45), ("MODERNA", 25), ("ASTRAZENECA", 30))
SECOND_BOOSTER_MIX: tuple[tuple[str, float], ...] = (("PFIZER", 60), ("MODERNA", 40))


def adult_mix_at(day: dt.date) -> tuple[tuple[str, float], ...]:
    """The adult dose-1 product mix in force on ``day``."""
    mix = ADULT_MIX[0][1]
    for start, period_mix in ADULT_MIX:
        if day >= start:
            mix = period_mix
    return mix
