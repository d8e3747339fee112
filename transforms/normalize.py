"""Column helpers that normalise the text fields of the dose ledger and the population register.

Every helper takes a column (or a column name) and returns a column; all of them are built from
Spark's built-in functions only (no Python UDF), never raise under ANSI mode, and keep null as null
unless their docstring says otherwise. The rules they implement are in ``docs/rules.md``; the input
forms they accept are the ones listed in the data contract, section 1.1.

Spark has no Unicode ``normalize`` function, so the Vietnamese-specific parts (NFD -> NFC, diacritic
folding, legacy-encoding repair) are chains of built-in replacements generated at import time from
Python's :mod:`unicodedata` and the tables in :mod:`transforms.legacy_encodings`.
"""

from __future__ import annotations

import csv
import itertools
import unicodedata
from collections.abc import Callable, Sequence
from importlib import resources

from pyspark.sql import Column
from pyspark.sql import functions as F

from transforms.legacy_encodings import (
    TCVN3_TABLE,
    TONE_MARKS,
    VIETNAMESE_LETTERS,
    VIETNAMESE_LOWER,
    VIETNAMESE_UPPER,
    VNI_TABLE,
    compose,
)

# The 63 province codes that open a 12-digit CCCD / CMND (data contract, section 2).
PROVINCE_CODES = (
    "001", "002", "004", "006", "008", "010", "011", "012", "014", "015", "017", "019", "020",
    "022", "024", "025", "026", "027", "030", "031", "033", "034", "035", "036", "037", "038",
    "040", "042", "044", "045", "046", "048", "049", "051", "052", "054", "056", "058", "060",
    "062", "064", "066", "067", "068", "070", "072", "074", "075", "077", "079", "080", "082",
    "083", "084", "086", "087", "089", "091", "092", "093", "094", "095", "096",
)  # fmt: skip

ID_MISSING = "MISSING"
ID_MALFORMED = "MALFORMED"
ID_VALID = "VALID"

# What a spreadsheet or a keyboard puts around a value: ASCII whitespace (Java's \s), the
# non-breaking spaces, the zero-width space and the byte-order mark.
_SPACE = "\\s\u00a0\u2007\u202f\u200b\ufeff\u3000"
_COMBINING = "[\u0300-\u036f]"

_L = "".join(VIETNAMESE_LOWER)
_U = "".join(VIETNAMESE_UPPER)
_LOWER_CLASS = f"a-z{_L}"
_UPPER_CLASS = f"A-Z{_U}"


def _col(col: Column | str) -> Column:
    return F.col(col) if isinstance(col, str) else col


def _let(value: Column, body: Callable[[Column], Column]) -> Column:
    """``body(value)`` with ``value`` computed once and passed in as a lambda variable.

    Without it, a helper that uses its input in three places copies the whole input expression
    three times, and composed helpers (name_display = tone(spaces(nfc(repair(...))))) grow
    multiplicatively until Spark spends minutes analysing the plan.
    """
    return F.transform(F.array(value), body)[0]


def _bind(col: Column | str, body: Callable[[Column], Column]) -> Column:
    """``body`` applied to ``col``: directly for a column name (a column reference costs nothing to
    repeat), through :func:`_let` for an expression (which would be copied and evaluated again)."""
    return body(F.col(col)) if isinstance(col, str) else _let(col, body)


def _sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _pairs_sql(pairs: Sequence[tuple[str, str]]) -> str:
    """A SQL literal ``array(named_struct('s', search, 'r', replacement), ...)``.

    Built once at import as text, so a helper costs one call into the JVM however long the list.
    """
    return (
        "array("
        + ", ".join(f"named_struct('s', {_sql_string(a)}, 'r', {_sql_string(b)})" for a, b in pairs)
        + ")"
    )


def _replace_all(col: Column, pairs_sql: str) -> Column:
    """Replace each literal search string by its replacement, in the order of ``pairs_sql``.

    A fold over a literal array rather than a nested ``replace(replace(...))``: the lists here have
    up to ~200 pairs, and a tree that deep overflows the JVM stack when Spark analyses the plan.
    """
    return F.aggregate(F.expr(pairs_sql), col, lambda acc, p: F.replace(acc, p["s"], p["r"]))


def _regexp_replace_all(col: Column, pairs_sql: str) -> Column:
    """Like :func:`_replace_all`, with Java regular expressions as search strings."""
    return F.aggregate(F.expr(pairs_sql), col, lambda acc, p: F.regexp_replace(acc, p["s"], p["r"]))


# --- whitespace -------------------------------------------------------------------------------


def trim_all(col: Column | str) -> Column:
    """Trim whitespace of every kind (incl. U+00A0, tabs, BOM) from both ends; empty -> null."""
    return F.nullif(F.regexp_replace(_col(col), f"^[{_SPACE}]+|[{_SPACE}]+$", ""), F.lit(""))


def collapse_spaces(col: Column) -> Column:
    """Every run of whitespace becomes one space, then trimmed; empty -> null."""
    return trim_all(F.regexp_replace(col, f"[{_SPACE}]+", " "))


# --- Unicode: NFC and diacritics ---------------------------------------------------------------


def _equivalent_forms(letter: str) -> set[str]:
    """The decomposed and partly composed spellings that NFC turns into ``letter``.

    ``ấ`` is ``a + U+0302 + U+0301`` in NFD, but keyboards also produce ``â + U+0301``; ``ậ`` may
    arrive with its two marks in either order. Each spelling is a (possibly precomposed) head
    followed by combining marks.
    """
    decomposed = unicodedata.normalize("NFD", letter)
    base, marks = decomposed[0], decomposed[1:]
    forms = set()
    for order in itertools.permutations(marks):
        for k in range(len(order)):
            head = unicodedata.normalize("NFC", base + "".join(order[:k]))
            form = head + "".join(order[k:])
            if len(head) == 1 and form != letter and unicodedata.normalize("NFC", form) == letter:
                forms.add(form)
    return forms


# (decomposed spelling, precomposed letter), longest first so that a three-character spelling is
# composed before its two-character prefix could be.
_NFC_PAIRS = _pairs_sql(
    sorted(
        {(form, letter) for letter in VIETNAMESE_LETTERS for form in _equivalent_forms(letter)},
        key=lambda p: (-len(p[0]), p[0]),
    )
)


def nfc_vietnamese(col: Column | str) -> Column:
    """Compose decomposed (NFD) Vietnamese letters into their precomposed (NFC) form.

    Covers every letter of the Vietnamese alphabet, upper and lower case, in NFD and in the
    partly composed spellings some keyboards produce (``ơ`` + combining acute). Rows without a
    combining mark skip the replacement chain.
    """
    return _bind(col, lambda c: F.when(c.rlike(_COMBINING), _replace_all(c, _NFC_PAIRS)).otherwise(c))


def _strip_tone(letter: str) -> str:
    """The letter without its tone mark (``ấ`` -> ``â``), keeping breve, circumflex and horn."""
    decomposed = unicodedata.normalize("NFD", letter)
    kept = "".join(m for m in decomposed[1:] if m not in TONE_MARKS)
    return unicodedata.normalize("NFC", decomposed[0] + kept)


def _strip_all(letter: str) -> str:
    """The ASCII base letter (``ấ`` -> ``a``, ``Đ`` -> ``d``), lower case."""
    if letter in "đĐ":
        return "d"
    return unicodedata.normalize("NFD", letter)[0].lower()


_FOLD_FROM = "".join(VIETNAMESE_LETTERS)
_FOLD_TO = "".join(_strip_all(c) for c in VIETNAMESE_LETTERS)


def fold_diacritics(col: Column | str) -> Column:
    """Lower case with every Vietnamese diacritic removed and đ -> d: ``Nguyễn Đức`` -> ``nguyen duc``.

    Works on NFC and NFD input alike: precomposed letters are translated to their base letter and
    any remaining combining mark (U+0300-U+036F) is dropped.
    """
    folded = F.translate(F.lower(_col(col)), _FOLD_FROM, _FOLD_TO)
    return F.regexp_replace(folded, _COMBINING, "")


# --- names --------------------------------------------------------------------------------------


# Old ("classic") tone placement puts the mark on the second vowel of oa, oe, uy when nothing
# follows them in the syllable (hoà, khoẻ, thuý); the new placement puts it on the first (hòa,
# khỏe, thúy). With a final consonant both styles agree (hoàn, thuyền), so only a pair that ends
# the syllable (no letter or mark after it) moves. "uy" after q is not a pair: qu is the onset and
# quý is correct in both styles.
def _tone_moves() -> list[tuple[str, str]]:
    moves = []
    for first, second in (("o", "a"), ("o", "e"), ("u", "y")):
        guard = "(?<![qQ])" if first == "u" else ""
        for tone in TONE_MARKS[1:]:
            for f, s in ((first, second), (first.upper(), second.upper()), (first.upper(), second)):
                old = f + compose(s, tone)
                moves.append((f"{guard}{old}(?![\\p{{L}}\\p{{M}}])", compose(f, tone) + s))
    return moves


# A cheap necessary condition (o + toned a/e, u + toned y, before a non-letter) that keeps the
# ~45 exact patterns away from the vast majority of names.
_OLD_TONE_HINT = "(?:[oO][àáảãạèéẻẽẹÀÁẢÃẠÈÉẺẼẸ]|[uU][ỳýỷỹỵỲÝỶỸỴ])(?![\\p{L}\\p{M}])"
_TONE_MOVES = _pairs_sql(_tone_moves())


def new_tone_placement(col: Column | str) -> Column:
    """Rewrite old tone placement to the new one at the end of a syllable.

    ``Hoà`` -> ``Hòa``, ``Thuý`` -> ``Thúy``, ``KHOẺ`` -> ``KHỎE``; ``Hoàn`` and ``Quý`` are unchanged.
    Expects NFC input (see :func:`nfc_vietnamese`).
    """
    return _bind(
        col, lambda c: F.when(c.rlike(_OLD_TONE_HINT), _regexp_replace_all(c, _TONE_MOVES)).otherwise(c)
    )


def name_key(col: Column | str) -> Column:
    """The comparison key of a name: NFC, lower case, whitespace collapsed, new tone placement.

    Legacy-encoding mojibake is deliberately not repaired (a mojibake name must not match the
    register), and a name typed without diacritics keeps none. Empty -> null.
    """
    key = collapse_spaces(F.lower(nfc_vietnamese(col)))
    return new_tone_placement(key)


def name_display(col: Column | str) -> Column:
    """The name to show in suggestions and workbooks: mojibake repaired, NFC, whitespace collapsed,
    new tone placement; the case is kept. Empty -> null."""
    display = collapse_spaces(nfc_vietnamese(repair_mojibake(col)))
    return new_tone_placement(display)


def name_fold(col: Column | str) -> Column:
    """The name key, mojibake repaired and diacritics removed: for blocking and fuzzy matching."""
    return fold_diacritics(name_key(repair_mojibake(col)))


# --- legacy-encoding mojibake ------------------------------------------------------------------
#
# A TCVN3 or VNI name read as Latin-1 consists of ASCII and Latin-1 characters only, and is not a
# plausible Vietnamese name: it holds characters outside the alphabet (¨ µ ¸ ö ñ ...), a capital
# in the middle of a word (NguyÔn), or vowel clusters no syllable has (Nguyeãn). Such a string is
# mojibake when decoding it as TCVN3 or as VNI gives a plausible name. Plausible means: letters of
# the Vietnamese alphabet only, sensible case, at most one tone per word, the tone on a vowel that
# can carry it, and every word a Vietnamese syllable (onset, vowel nucleus, final consonant).
# A string that is itself a plausible name (VNI "Hoà Thò Lan" for Hồ Thị Lan) cannot be told apart
# from a real one and is left alone.


def _decoder(table: dict[str, str]) -> Callable[[Column], Column]:
    """Build the exact inverse of a legacy table: multi-character codes first (longest first,
    each to a private-use placeholder so that no later step can touch the result), then one
    ``translate`` for the single-character codes and the placeholders."""
    inverse = sorted(((code, letter) for letter, code in table.items()), key=lambda p: (-len(p[0]), p[0]))
    multi = [(code, chr(0xE000 + i), letter) for i, (code, letter) in enumerate(inverse) if len(code) > 1]
    single = [(code, letter) for code, letter in inverse if len(code) == 1]
    placeholders = _pairs_sql([(code, placeholder) for code, placeholder, _ in multi])
    source = "".join(code for code, _ in single) + "".join(p for _, p, _ in multi)
    target = "".join(letter for _, letter in single) + "".join(letter for _, _, letter in multi)

    def decode(col: Column) -> Column:
        return F.translate(_replace_all(col, placeholders), source, target)

    return decode


_decode_tcvn3 = _decoder(TCVN3_TABLE)
_decode_vni = _decoder(VNI_TABLE)

_TONED_LOWER = "".join(c for c in VIETNAMESE_LOWER if _strip_tone(c) != c)
_TONELESS_LOWER = "".join(_strip_tone(c) for c in _TONED_LOWER)


def _alternation(items: Sequence[str]) -> str:
    return "(?:" + "|".join(sorted(items, key=lambda s: (-len(s), s))) + ")"


def _words(text: str) -> list[str]:
    return text.split()


# Vietnamese syllables, written without tone marks: onset? + vowel nucleus + final consonant?.
# Nuclei ending in a glide take no final consonant; ă, â and the diphthongs iê/yê/uô/ươ need one;
# nh/ch only follow a, ê, i (and oa, uê, uy); ng/c never follow i or ê.
_ONSETS = _words("ngh ng nh ch gh gi kh ph qu th tr b c d đ g h k l m n p r s t v x")
_OPEN_NUCLEI = _words(
    "ai ao au ay âu ây eo êu ia iu oi ôi ơi ui ưi ưu ua ưa oai oao oay oeo uây uôi uya uyu ươi ươu "
    "iêu yêu uơ a e ê i o ô ơ u ư y oa oe uê uy"
)
_BEFORE_NH_CH = _words("a ê i oa uê uy")
_BEFORE_NG_C = _words("a ă â e o ô u ư oa oă uâ iê yê uô ươ oo")
_BEFORE_MNPT = _words("a ă â e ê i o ô ơ u ư oa oă oe uâ uy iê yê uô ươ uyê")
_RHYME = (
    f"(?:{_alternation(_OPEN_NUCLEI)}|{_alternation(_BEFORE_NH_CH)}(?:nh|ch)"
    f"|{_alternation(_BEFORE_NG_C)}(?:ng|c)|{_alternation(_BEFORE_MNPT)}[mnpt])"
)
_SYLLABLE = f"(?:quy(?:nh|ch|t|n)|{_alternation(_ONSETS)}?{_RHYME})"
# A whole name, toneless and lower case: syllables separated by spaces or hyphens, and no "qu"
# followed by another w-glide (quoác is VNI for quốc, not a syllable).
_SYLLABLES = f"^(?!.*qu[ouư]){_SYLLABLE}(?:[ -]+{_SYLLABLE})*$"
# Alphabet letters and separators only, and no capital inside a word after a small letter or
# after another capital that is followed by a small one (NguyÔn, TÝn); ALL CAPS and Title Case pass.
_NAME_TEXT = (
    f"^(?!.*(?:[{_LOWER_CLASS}][{_UPPER_CLASS}]|[{_UPPER_CLASS}]{{2,}}[{_LOWER_CLASS}]))"
    f"[{_LOWER_CLASS}{_UPPER_CLASS} '.\\-]+$"
)
# In lower case: two tones in one word, or a tone on the glide of a closing diphthong (aó, oí, uí;
# but quí is a spelling of quý).
_GLIDE_TONED = "[íìỉĩịóòỏõọúùủũụýỳỷỹỵ]"
_BAD_TONES = f"[{_TONED_LOWER}][^ \\-]*[{_TONED_LOWER}]|[aăâeêoôơư]{_GLIDE_TONED}|(?<!q)u[íìỉĩịóòỏõọúùủũụ]"


def _plausible_name(col: Column) -> Column:
    """Whether the text reads as a Vietnamese name (see the comment above)."""

    def syllables(lower: Column) -> Column:
        bare = F.translate(lower, _TONED_LOWER, _TONELESS_LOWER)
        return ~lower.rlike(_BAD_TONES) & bare.rlike(_SYLLABLES)

    return _let(collapse_spaces(col), lambda text: text.rlike(_NAME_TEXT) & _let(F.lower(text), syllables))


# Signs that only TCVN3 leaves: its codes that are neither Vietnamese letters nor VNI bytes, a
# Latin-1 capital after a small letter (NguyÔn), and its capital-with-tone pairs (A¸ for Á).
_VNI_CHARS = set("".join(VNI_TABLE.values()))
_TCVN3_ONLY = "".join(
    sorted(
        code
        for code in TCVN3_TABLE.values()
        if len(code) == 1 and code not in VIETNAMESE_LETTERS and code not in _VNI_CHARS
    )
)
_TCVN3_SIGNS = "|".join(
    [f"[{_TCVN3_ONLY}]", f"[{_LOWER_CLASS}][\u00c0-\u00de]"]
    + sorted(code for code in TCVN3_TABLE.values() if len(code) == 2)
)
# Latin-1 only, with at least one non-ASCII character: what legacy bytes read as Latin-1 look like.
_LATIN1_NOT_ASCII = "^(?=[\\x00-\\x7f]*[\\x80-\\xff])[\\x00-\\xff]+$"


def _suspect(c: Column) -> Column:
    return c.rlike(_LATIN1_NOT_ASCII) & ~_plausible_name(c)


def is_mojibake(col: Column | str) -> Column:
    """Whether the text is a Vietnamese name in TCVN3 (ABC) or VNI bytes read as Latin-1.

    ``NguyÔn V¨n An`` (TCVN3) and ``Nguyeãn Vaên An`` (VNI) are; ``Nguyễn Văn An``, ``Hoà``,
    ``Müller`` are not. Never null: null input -> false.
    """

    def check(c: Column) -> Column:
        decodes = _plausible_name(_decode_tcvn3(c)) | _plausible_name(_decode_vni(c))
        return F.when(_suspect(c), decodes).otherwise(F.lit(False))

    return _bind(col, check)


def repair_mojibake(col: Column | str) -> Column:
    """Decode a TCVN3 or VNI mojibake name back to Unicode; any other text is returned unchanged.

    The encoding is the one whose decoding is a plausible name; when both are, TCVN3 wins if the
    text carries a sign only TCVN3 leaves, VNI otherwise. The result inverts
    :func:`transforms.legacy_encodings.encode_tcvn3_mojibake` and ``encode_vni_mojibake`` exactly.
    """

    def repair(c: Column) -> Column:
        def choose(tcvn3: Column, vni: Column) -> Column:
            vni_ok = _plausible_name(vni)
            prefer_tcvn3 = _plausible_name(tcvn3) & (~vni_ok | c.rlike(_TCVN3_SIGNS))
            return F.when(prefer_tcvn3, tcvn3).when(vni_ok, vni).otherwise(c)

        decoded = _let(_decode_tcvn3(c), lambda t: _let(_decode_vni(c), lambda v: choose(t, v)))
        return F.when(_suspect(c), decoded).otherwise(c)

    return _bind(col, repair)


# --- identity numbers ---------------------------------------------------------------------------

_VALID_ID = f"^(?:[0-9]{{9}}|{_alternation(PROVINCE_CODES)}[0-3][0-9]{{8}})$"


def _fold_token(token: str) -> str:
    folded = "".join(_strip_all(c) if c in VIETNAMESE_LETTERS else c for c in token.lower())
    decomposed = unicodedata.normalize("NFD", folded)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def id_status(col: Column | str, *, missing_tokens: Sequence[str]) -> Column:
    """Classify a typed CCCD / CMND as ``MISSING``, ``MALFORMED`` or ``VALID``.

    MISSING: null, blank, or (trimmed, lower-cased, diacritics removed, inner spaces collapsed) one
    of ``missing_tokens`` (``0``, ``khong co`` ...). VALID: exactly 9 digits, or exactly 12 digits
    whose first three are a province code and whose fourth (century and gender) is 0-3.
    MALFORMED: anything else (11 digits, inner spaces or dots, ``7.9085E+10``, unknown province).
    Only surrounding whitespace is ignored.
    """
    trimmed = trim_all(col)
    tokens = sorted({_fold_token(t) for t in missing_tokens} - {""})
    folded = collapse_spaces(fold_diacritics(trimmed))
    missing = trimmed.isNull() | (folded.isin(tokens) if tokens else F.lit(False))
    return (
        F.when(missing, F.lit(ID_MISSING))
        .when(trimmed.rlike(_VALID_ID), F.lit(ID_VALID))
        .otherwise(F.lit(ID_MALFORMED))
    )


# --- dates --------------------------------------------------------------------------------------

DAY, MONTH, YEAR = "DAY", "MONTH", "YEAR"
_EXCEL_EPOCH = "1899-12-30"  # serial 61 = 1900-03-01: Excel's 1900 system, past its phantom 29 Feb

# Each typed form: a regular expression that recognises it (years 1000-9999 only) and the Spark
# pattern that parses it; try_to_date rejects impossible dates (31/02) and never raises.
_YYYY = "[1-9][0-9]{3}"
_ISO_DAY = f"^{_YYYY}-[0-9]{{1,2}}-[0-9]{{1,2}}"
_ISO_TIME = "(?:[T ][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\\.[0-9]{1,9})?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?$"
_DMY = f"^[0-9]{{1,2}}([/.-])[0-9]{{1,2}}\\1{_YYYY}$"
_MY = f"^[0-9]{{1,2}}[/.-]{_YYYY}$"
_YM = f"^{_YYYY}-[0-9]{{1,2}}$"
_Y = f"^{_YYYY}$"
_EXCEL_SERIAL = "^([0-9]{5})(?:\\.0+)?$"


def _dated(date: Column, precision: str) -> Column:
    return F.when(date.isNotNull(), F.struct(date.alias("date"), F.lit(precision).alias("precision")))


def _parse_partial_date(text: Column) -> Column:
    slashed = F.regexp_replace(text, "[.-]", "/")  # 05.03.1985, 05-03-1985 -> 05/03/1985
    serial = F.regexp_extract(text, _EXCEL_SERIAL, 1).try_cast("int")
    return F.coalesce(
        _dated(
            F.when(
                text.rlike(_ISO_DAY + _ISO_TIME),
                F.try_to_date(F.regexp_extract(text, _ISO_DAY, 0), "yyyy-M-d"),
            ),
            DAY,
        ),
        _dated(F.when(text.rlike(_DMY), F.try_to_date(slashed, "d/M/yyyy")), DAY),
        _dated(F.when(text.rlike(_DMY), F.try_to_date(slashed, "M/d/yyyy")), DAY),
        _dated(F.when(serial.isNotNull(), F.date_add(F.lit(_EXCEL_EPOCH).cast("date"), serial)), DAY),
        _dated(F.when(text.rlike(_YM), F.try_to_date(text, "yyyy-M")), MONTH),
        _dated(F.when(text.rlike(_MY), F.try_to_date(slashed, "M/yyyy")), MONTH),
        _dated(F.when(text.rlike(_Y), F.try_to_date(text, "yyyy")), YEAR),
    )


def parse_partial_date(col: Column | str) -> Column:
    """Parse a typed date into ``struct<date: date, precision: string>``; null if unparsable.

    Precision ``DAY``: ``05/03/1985``, ``5/3/1985`` (day first; ``03/25/1985`` falls back to month
    first), ``05-03-1985``, ``05.03.1985``, ``1985-03-05``, ``1985-03-05T00:00:00``,
    ``1985-03-05 00:00:00``, Excel serials (5 digits, optionally ``.0``; 1900 date system:
    ``31111`` = 1985-03-05). ``MONTH``: ``1985-03``, ``03/1985``, ``3/1985``. ``YEAR``: ``1985``.
    Years run from 1000 to 9999. Impossible calendar dates (``31/02/1985``) are null. Never raises.
    """
    return _let(trim_all(col), _parse_partial_date)


def parse_date_day(col: Column | str) -> Column:
    """Parse a vaccination date to a ``date``: ``12/08/2021`` (12 August), ``2021-08-12``, an Excel
    serial; any form :func:`parse_partial_date` reads at ``DAY`` precision. Null otherwise."""
    return _let(parse_partial_date(col), lambda p: F.when(p["precision"] == DAY, p["date"]))


_DAY_FIRST_TIME = f"^[0-9]{{1,2}}/[0-9]{{1,2}}/{_YYYY}(?: [0-9]{{1,2}}:[0-9]{{1,2}}(?::[0-9]{{1,2}})?)?$"
_DAY_FIRST_TIMESTAMPS = ("d/M/yyyy H:m:s", "d/M/yyyy H:m", "d/M/yyyy")


def _parse_timestamp(text: Column) -> Column:
    iso = F.when(text.rlike(_ISO_DAY + _ISO_TIME), F.try_to_timestamp(text))
    day_first = [F.try_to_timestamp(text, F.lit(pattern)) for pattern in _DAY_FIRST_TIMESTAMPS]
    return F.coalesce(iso, F.when(text.rlike(_DAY_FIRST_TIME), F.coalesce(*day_first)))


def parse_timestamp(col: Column | str) -> Column:
    """Parse a typed date-time to a ``timestamp`` in the session time zone; null if unparsable.

    ``2021-08-12T15:04:05``, ``2021-08-12 15:04:05`` (optionally with fractions or an offset),
    ``12/08/2021 15:04:05`` (day first), and date-only ``2021-08-12`` / ``12/08/2021`` (midnight).
    Never raises.
    """
    return _let(trim_all(col), _parse_timestamp)


# --- coded fields ----------------------------------------------------------------------------------


def _map_sql(mapping: dict[str, str]) -> str:
    """A SQL literal ``map(key, value, ...)``, built once at import."""
    return "map(" + ", ".join(f"{_sql_string(k)}, {_sql_string(v)}" for k, v in sorted(mapping.items())) + ")"


def _lookup(map_sql: str, key: Column) -> Column:
    """The value of ``key`` in a literal map; null for a null or unknown key."""
    return F.when(key.isNotNull(), F.try_element_at(F.expr(map_sql), key))


_GENDERS = _map_sql(
    {
        **dict.fromkeys(["nam", "m", "male", "trai"], "M"),
        **dict.fromkeys(["nu", "f", "female", "gai"], "F"),
        **dict.fromkeys(["khac", "other", "o"], "O"),
    }
)


def normalize_gender(col: Column | str) -> Column:
    """``Nam``/``M``/``Male``/``Trai`` -> ``M``; ``Nữ``/``NU``/``F``/``Female``/``Gái`` -> ``F``;
    ``Khác``/``Other``/``O`` -> ``O``; anything else (and empty) -> null. Case and diacritics are
    ignored."""
    return _lookup(_GENDERS, collapse_spaces(fold_diacritics(col)))


def _country_key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isascii() and ch.isalnum())


def _load_countries() -> tuple[dict[str, str], dict[str, str]]:
    """(ISO-2 code -> code, alias -> code) from ``vaxclean/reference/countries.csv``.

    Codes and aliases are kept apart because they collide: ``MY`` is Malaysia, ``Mỹ`` (folded
    ``my``) is the United States.
    """
    path = resources.files("vaxclean") / "reference" / "countries.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    codes = {row["iso2"].lower(): row["iso2"] for row in rows}
    aliases: dict[str, str] = {}
    for row in rows:
        key = _country_key(row["alias"])
        if not key or not row["alias"].isascii() or aliases.get(key, row["iso2"]) != row["iso2"]:
            raise ValueError(f"countries.csv: alias {row['alias']!r} is not folded ASCII or is listed twice")
        aliases[key] = row["iso2"]
    return codes, aliases


_COUNTRY_CODES, _COUNTRY_ALIASES = (_map_sql(m) for m in _load_countries())


def normalize_nationality(col: Column | str) -> Column:
    """Typed nationality -> ISO-2 code; empty means Vietnamese (``VN``); unknown text -> null.

    Two ASCII letters are read as an ISO-2 code first (``KR``, ``MY`` = Malaysia). Otherwise, and
    when no code matches, the text is looked up among ISO-3 codes and Vietnamese or English
    country names, ignoring case, diacritics, spaces and punctuation: ``Việt Nam``, ``Vietnam``,
    ``VNM`` -> ``VN``; ``Hàn Quốc`` -> ``KR``; ``Hoa Kỳ``, ``Mỹ``, ``U.S.A.`` -> ``US``. The table is
    ``vaxclean/reference/countries.csv``.
    """
    text = trim_all(col)
    by_code = F.when(text.rlike("^[A-Za-z]{2}$"), _lookup(_COUNTRY_CODES, F.lower(text)))
    by_alias = _lookup(_COUNTRY_ALIASES, F.regexp_replace(fold_diacritics(text), "[^a-z0-9]", ""))
    return F.when(text.isNull(), F.lit("VN")).otherwise(F.coalesce(by_code, by_alias))


_VACCINES = _map_sql(
    {
        **dict.fromkeys(
            ["astrazeneca", "vaxzevria", "az", "covishield", "azd1222", "chadox1"], "ASTRAZENECA"
        ),
        **dict.fromkeys(["verocell", "sinopharm", "bibp", "sinopharmbibp"], "VERO_CELL"),
        **dict.fromkeys(["pfizer", "comirnaty", "pfizerbiontech", "biontech", "bnt162b2"], "PFIZER"),
        **dict.fromkeys(["moderna", "spikevax", "mrna1273"], "MODERNA"),
        **dict.fromkeys(["sputnikv", "gamcovidvac"], "SPUTNIK_V"),
        **dict.fromkeys(["abdala"], "ABDALA"),
        **dict.fromkeys(["hayatvax"], "HAYAT_VAX"),
        **dict.fromkeys(["janssen", "j&j", "johnson", "johnson&johnson", "jnj"], "JANSSEN"),
    }
)


def canonical_vaccine(col: Column | str) -> Column:
    """Typed vaccine product -> ``ASTRAZENECA``, ``VERO_CELL``, ``PFIZER``, ``MODERNA``,
    ``SPUTNIK_V``, ``ABDALA``, ``HAYAT_VAX`` or ``JANSSEN``; unknown -> null. Case, spaces,
    hyphens, underscores, dots and diacritics are ignored (``Vero Cell``, ``Hayat-Vax``)."""
    key = F.regexp_replace(fold_diacritics(trim_all(col)), f"[{_SPACE}._-]+", "")
    return _lookup(_VACCINES, key)


def parse_dose_number(col: Column | str) -> Column:
    """Typed dose number -> int: ``1``, `` 2 ``, ``1.0`` (a spreadsheet's float); null for anything
    that is not a whole number of at most two digits. The range (1-4) is checked by the dose rules,
    so ``5`` parses to 5."""
    return F.regexp_extract(trim_all(col), "^([0-9]{1,2})(?:\\.0+)?$", 1).try_cast("int")
