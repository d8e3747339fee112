"""Vietnamese and foreign names for synthetic people.

Vietnamese names are written family name first: ``<surname> <middle name> <given name>``.
Surname shares are the published ones (Nguyễn ~38 %, Trần ~11 %, Lê ~9.5 %, Phạm ~7.1 %,
Hoàng/Huỳnh ~5.1 %, Phan ~4.5 %, Vũ/Võ ~3.9 %, Đặng 2.1 %, Bùi 2 %, Đỗ 1.4 %, Hồ 1.3 %,
Ngô 1.3 %, Dương 1 %, Lý 0.5 %); the remaining ~11 % is spread over other common surnames.
Middle names depend on gender and, for ``Văn``/``Thị``, on the generation: both grew rarer for
people born after 1990.
"""

from __future__ import annotations

import random
from itertools import accumulate

SURNAMES: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 38.0), ("Trần", 11.0), ("Lê", 9.5), ("Phạm", 7.1), ("Hoàng", 2.8), ("Huỳnh", 2.3),
    ("Phan", 4.5), ("Vũ", 2.0), ("Võ", 1.9), ("Đặng", 2.1), ("Bùi", 2.0), ("Đỗ", 1.4), ("Hồ", 1.3),
    ("Ngô", 1.3), ("Dương", 1.0), ("Lý", 0.5),
    # the other ~11.3 %
    ("Đinh", 0.8), ("Trương", 0.8), ("Đào", 0.7), ("Mai", 0.6), ("Lương", 0.6), ("Trịnh", 0.6),
    ("Đoàn", 0.6), ("Lâm", 0.5), ("Cao", 0.5), ("Hà", 0.5), ("Tạ", 0.4), ("Tô", 0.4), ("Vương", 0.3),
    ("Châu", 0.3), ("Kiều", 0.3), ("La", 0.3), ("Thái", 0.3), ("Lưu", 0.3), ("Quách", 0.2),
    ("Triệu", 0.2), ("Từ", 0.2), ("Tăng", 0.2), ("Hứa", 0.2), ("Giang", 0.2), ("Phùng", 0.2),
    ("Nông", 0.2), ("Lò", 0.1), ("Mạc", 0.1), ("Thân", 0.1),
)  # fmt: skip

# (name, weight for people born before 1990, weight for people born in 1990 or later)
MIDDLE_MALE: tuple[tuple[str, float, float], ...] = (
    ("Văn", 55, 22), ("Đức", 6, 8), ("Minh", 5, 10), ("Quang", 4, 6), ("Hữu", 5, 4), ("Thanh", 4, 4),
    ("Ngọc", 3, 3), ("Công", 3, 3), ("Xuân", 3, 2), ("Hoàng", 2, 5), ("Duy", 1, 5), ("Gia", 1, 6),
    ("Trọng", 2, 3), ("Bá", 2, 1), ("Đình", 3, 3), ("Thế", 2, 2), ("Quốc", 2, 4), ("Anh", 1, 4),
    ("Bảo", 0, 5), ("Tuấn", 1, 2),
)  # fmt: skip
MIDDLE_FEMALE: tuple[tuple[str, float, float], ...] = (
    ("Thị", 65, 25), ("Ngọc", 5, 9), ("Thanh", 4, 5), ("Thu", 4, 4), ("Kim", 3, 4), ("Minh", 1, 6),
    ("Phương", 2, 5), ("Bảo", 0, 6), ("Hồng", 3, 3), ("Mỹ", 2, 4), ("Khánh", 0, 5), ("Diệu", 1, 3),
    ("Thùy", 2, 4), ("Hoài", 1, 2), ("Bích", 2, 1), ("Tuyết", 1, 1), ("Như", 1, 3), ("Quỳnh", 1, 3),
    ("Hà", 1, 2), ("Hải", 1, 2),
)  # fmt: skip

GIVEN_MALE: tuple[str, ...] = (
    "An", "Anh", "Bảo", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Đức", "Hải", "Hào", "Hiếu", "Hòa",
    "Hoàng", "Hùng", "Huy", "Hưng", "Khang", "Khánh", "Khoa", "Kiên", "Lâm", "Long", "Lộc", "Minh",
    "Nam", "Nghĩa", "Nhân", "Phát", "Phong", "Phúc", "Quân", "Quang", "Sơn", "Tài", "Tâm", "Thái",
    "Thành", "Thắng", "Thịnh", "Thụy", "Tiến", "Toàn", "Trí", "Trung", "Tuấn", "Tùng", "Việt", "Vinh",
    "Vũ",
)  # fmt: skip
GIVEN_FEMALE: tuple[str, ...] = (
    "An", "Anh", "Bích", "Châu", "Chi", "Diệp", "Dung", "Duyên", "Giang", "Hà", "Hạnh", "Hằng",
    "Hiền", "Hoa", "Hòa", "Hồng", "Huệ", "Hương", "Huyền", "Lan", "Liên", "Linh", "Loan", "Mai", "My",
    "Nga", "Ngân", "Ngọc", "Nhung", "Oanh", "Phương", "Quyên", "Quỳnh", "Tâm", "Thảo", "Thanh", "Thu",
    "Thúy", "Thủy", "Trang", "Trinh", "Tuyết", "Uyên", "Vân", "Vy", "Xuân", "Yến",
)  # fmt: skip

# Foreigners: (ISO-2, typed nationality variants, family names, male given names, female given
# names, passport format). The passport format is a letter prefix followed by the number of digits
# ("M8" → M12345678). Typed variants are ISO-2, ISO-3 and the Vietnamese (sometimes English)
# country name: the forms docs/rules.md says the pipeline maps to ISO-2 (docs/synthetic-data.md
# lists them all).
FOREIGN: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...], str], ...] = (
    ("KR", ("KR", "KOR", "Hàn Quốc"), ("KIM", "LEE", "PARK", "CHOI", "JUNG"),
     ("MIN JUN", "JI HO", "DO YUN"), ("SEO YEON", "HA EUN", "JI WOO"), "M8"),
    ("CN", ("CN", "CHN", "Trung Quốc", "China"), ("WANG", "LI", "ZHANG", "LIU", "CHEN"),
     ("WEI", "LEI", "YANG"), ("FANG", "JING", "XIU YING"), "E8"),
    ("JP", ("JP", "JPN", "Nhật Bản", "Japan"), ("SATO", "SUZUKI", "TAKAHASHI", "TANAKA", "ITO"),
     ("HARUTO", "SOTA", "REN"), ("YUI", "AOI", "HINA"), "TK7"),
    ("US", ("US", "USA", "Hoa Kỳ", "United States"), ("SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES"),
     ("JOHN", "JAMES", "ROBERT"), ("MARY", "LINDA", "SARAH"), "9"),
    ("FR", ("FR", "FRA", "Pháp", "France"), ("MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT"),
     ("JEAN", "PIERRE", "LUC"), ("MARIE", "SOPHIE", "CAMILLE"), "P8"),
    ("AU", ("AU", "AUS", "Úc", "Australia"), ("TAYLOR", "WILSON", "NGUYEN", "WHITE", "CLARK"),
     ("OLIVER", "JACK", "NOAH"), ("CHARLOTTE", "AMELIA", "ISLA"), "N7"),
    ("DE", ("DE", "DEU", "Đức", "Germany"), ("MULLER", "SCHMIDT", "SCHNEIDER", "FISCHER", "WEBER"),
     ("LUKAS", "FELIX", "JONAS"), ("ANNA", "LENA", "MIA"), "C8"),
)  # fmt: skip
FOREIGN_WEIGHTS: tuple[float, ...] = (35, 25, 15, 10, 5, 5, 5)


class WeightedChoice:
    """Draw from a fixed weighted list with one ``random()`` and a bisection (fast, deterministic)."""

    def __init__(self, items: tuple | list, weights: tuple | list) -> None:
        if len(items) != len(weights) or not items:
            raise ValueError("items and weights must be non-empty and of the same length")
        self.items = tuple(items)
        self.cum = tuple(accumulate(float(w) for w in weights))
        self.total = self.cum[-1]

    def __call__(self, rng: random.Random):
        x = rng.random() * self.total
        lo, hi = 0, len(self.cum) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self.cum[mid] > x:
                hi = mid
            else:
                lo = mid + 1
        return self.items[lo]


_SURNAME = WeightedChoice([s for s, _ in SURNAMES], [w for _, w in SURNAMES])
_MIDDLE = {
    ("M", False): WeightedChoice([m for m, _, _ in MIDDLE_MALE], [w for _, w, _ in MIDDLE_MALE]),
    ("M", True): WeightedChoice([m for m, _, _ in MIDDLE_MALE], [w for _, _, w in MIDDLE_MALE]),
    ("F", False): WeightedChoice([m for m, _, _ in MIDDLE_FEMALE], [w for _, w, _ in MIDDLE_FEMALE]),
    ("F", True): WeightedChoice([m for m, _, _ in MIDDLE_FEMALE], [w for _, _, w in MIDDLE_FEMALE]),
}
_FOREIGN = WeightedChoice(FOREIGN, FOREIGN_WEIGHTS)


def draw_surname(rng: random.Random) -> str:
    return _SURNAME(rng)


def draw_middle_and_given(rng: random.Random, gender: str, birth_year: int) -> tuple[str, str]:
    """A gender-appropriate middle name (generation-dependent) and a different given name."""
    middle = _MIDDLE[(gender, birth_year >= 1990)](rng)
    pool = GIVEN_MALE if gender == "M" else GIVEN_FEMALE
    given = rng.choice(pool)
    while given == middle:
        given = rng.choice(pool)
    return middle, given


def draw_foreign(rng: random.Random):
    """One foreign nationality entry of :data:`FOREIGN`."""
    return _FOREIGN(rng)
