"""The two legacy Vietnamese 8-bit encodings whose bytes still turn up in exports: TCVN3 and VNI.

Before Unicode, Vietnamese text in Word and Excel files was typed in a font-specific 8-bit encoding:
TCVN3 (TCVN 5712:1993 VN3, the "ABC" fonts such as .VnTime, mostly in the north) and VNI-Windows
(the "VNI-Times" fonts, mostly in the south). When such a file is read as Latin-1 / Windows-1252,
every byte becomes the Latin-1 character with that code, and the name shows as mojibake:
``Nguyễn Văn An`` becomes ``NguyÔn V¨n An`` (TCVN3) or ``Nguyeãn Vaên An`` (VNI).

Both tables below use only the bytes 0xA1-0xFE, where Latin-1 and Windows-1252 agree, so the
mojibake is the same whichever of the two the file was read as.

Sources (cross-checked against each other):

* TCVN3: glibc's ``TCVN5712-1`` converter (the VN3 subset: the 67 lower-case letters and the 7
  upper-case base letters at 0xA1-0xFE) and the vietnamese-conversion (duydev) and VBKey tables.
* VNI-Windows: the VNI table of xvnkb (``vni.h``) and vietnamese-conversion (duydev): a base letter
  followed by a diacritic byte, except for a few letters with a byte of their own (``ơ`` = ``ô``,
  ``ư`` = ``ö``, ``đ`` = ``ñ``, ``ỉ`` = ``æ``, ``ĩ`` = ``ó``, ``ị`` = ``ò``, ``ỵ`` = ``î``).

TCVN3 has no codes for upper-case letters with a tone mark: ABC users switched to an all-capitals
font (.VnTimeH) in which the lower-case codes draw capitals. Like the vietunicode converter tables
(and vietnamese-conversion), we write such a letter as its upper-case base letter followed by the
lower-case toned code (``Á`` -> ``A¸``, ``Ấ`` -> ``¢Ê``), which keeps the encoding reversible.
"""

from __future__ import annotations

import unicodedata

# The six tones in the order the tables below list them: ngang (none), sắc, huyền, hỏi, ngã, nặng.
TONE_MARKS = ("", "\u0301", "\u0300", "\u0309", "\u0303", "\u0323")

# The 12 vowel letters that take a tone mark.
BASE_VOWELS = ("a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y")

# TCVN3 (VN3), lower case: for each base vowel, its code with each tone (order of TONE_MARKS),
# written as the Latin-1 character of the byte.
_TCVN3_LOWER_ROWS = {
    "a": ("a", "\xb8", "\xb5", "\xb6", "\xb7", "\xb9"),
    "ă": ("\xa8", "\xbe", "\xbb", "\xbc", "\xbd", "\xc6"),
    "â": ("\xa9", "\xca", "\xc7", "\xc8", "\xc9", "\xcb"),
    "e": ("e", "\xd0", "\xcc", "\xce", "\xcf", "\xd1"),
    "ê": ("\xaa", "\xd5", "\xd2", "\xd3", "\xd4", "\xd6"),
    "i": ("i", "\xdd", "\xd7", "\xd8", "\xdc", "\xde"),
    "o": ("o", "\xe3", "\xdf", "\xe1", "\xe2", "\xe4"),
    "ô": ("\xab", "\xe8", "\xe5", "\xe6", "\xe7", "\xe9"),
    "ơ": ("\xac", "\xed", "\xea", "\xeb", "\xec", "\xee"),
    "u": ("u", "\xf3", "\xef", "\xf1", "\xf2", "\xf4"),
    "ư": ("\xad", "\xf8", "\xf5", "\xf6", "\xf7", "\xf9"),
    "y": ("y", "\xfd", "\xfa", "\xfb", "\xfc", "\xfe"),
}
# TCVN3 (VN3), upper-case base letters (no tone): the seven with a code of their own.
_TCVN3_UPPER_BASES = {
    "A": "A",
    "Ă": "\xa1",
    "Â": "\xa2",
    "E": "E",
    "Ê": "\xa3",
    "I": "I",
    "O": "O",
    "Ô": "\xa4",
    "Ơ": "\xa5",
    "U": "U",
    "Ư": "\xa6",
    "Y": "Y",
}

# VNI-Windows, lower case, same layout. Upper-case letters are the upper case of these strings
# (``Ấ`` -> ``AÁ``, ``Ư`` -> ``Ö``): VNI's capital diacritic bytes are the capitals of the small ones.
_VNI_LOWER_ROWS = {
    "a": ("a", "aù", "aø", "aû", "aõ", "aï"),
    "ă": ("aê", "aé", "aè", "aú", "aü", "aë"),
    "â": ("aâ", "aá", "aà", "aå", "aã", "aä"),
    "e": ("e", "eù", "eø", "eû", "eõ", "eï"),
    "ê": ("eâ", "eá", "eà", "eå", "eã", "eä"),
    "i": ("i", "í", "ì", "æ", "ó", "ò"),
    "o": ("o", "où", "oø", "oû", "oõ", "oï"),
    "ô": ("oâ", "oá", "oà", "oå", "oã", "oä"),
    "ơ": ("ô", "ôù", "ôø", "ôû", "ôõ", "ôï"),
    "u": ("u", "uù", "uø", "uû", "uõ", "uï"),
    "ư": ("ö", "öù", "öø", "öû", "öõ", "öï"),
    "y": ("y", "yù", "yø", "yû", "yõ", "î"),
}


def compose(base: str, tone: str) -> str:
    """The precomposed (NFC) letter for a base vowel and a combining tone mark ('' for none)."""
    return unicodedata.normalize("NFC", base + tone)


# Every letter of the Vietnamese alphabet that is not plain ASCII, lower case first: the 66 vowels
# with a tone or a modifier, and đ; then their capitals.
VIETNAMESE_LOWER = tuple(
    letter
    for letter in [compose(b, t) for b in BASE_VOWELS for t in TONE_MARKS] + ["đ"]
    if not letter.isascii()
)
VIETNAMESE_UPPER = tuple(c.upper() for c in VIETNAMESE_LOWER)
VIETNAMESE_LETTERS = VIETNAMESE_LOWER + VIETNAMESE_UPPER


def _build_tcvn3() -> dict[str, str]:
    table = {"đ": "\xae", "Đ": "\xa7"}
    for base, row in _TCVN3_LOWER_ROWS.items():
        upper_base = _TCVN3_UPPER_BASES[base.upper()]
        for tone, code in zip(TONE_MARKS, row, strict=True):
            table[compose(base, tone)] = code
            table[compose(base.upper(), tone)] = upper_base + code if tone else upper_base
    return {letter: code for letter, code in table.items() if letter != code}


def _build_vni() -> dict[str, str]:
    table = {"đ": "ñ", "Đ": "Ñ"}
    for base, row in _VNI_LOWER_ROWS.items():
        for tone, code in zip(TONE_MARKS, row, strict=True):
            table[compose(base, tone)] = code
            table[compose(base.upper(), tone)] = code.upper()
    return {letter: code for letter, code in table.items() if letter != code}


# Unicode letter -> the text a legacy file shows for it when read as Latin-1 / Windows-1252.
# Letters missing from a table are the same in both (ASCII letters; VNI's í ì Í Ì).
TCVN3_TABLE: dict[str, str] = _build_tcvn3()
VNI_TABLE: dict[str, str] = _build_vni()


def _encode(text: str, table: dict[str, str]) -> str:
    return "".join(table.get(c, c) for c in unicodedata.normalize("NFC", text))


def encode_tcvn3_mojibake(text: str) -> str:
    """Return what ``text`` looks like when typed in a TCVN3 (ABC) font and read as Latin-1.

    ``encode_tcvn3_mojibake("Nguyễn Văn An") == "NguyÔn V¨n An"``. The text is NFC-normalised
    first; characters outside the Vietnamese alphabet are kept as they are.
    """
    return _encode(text, TCVN3_TABLE)


def encode_vni_mojibake(text: str) -> str:
    """Return what ``text`` looks like when typed in a VNI-Windows font and read as Latin-1.

    ``encode_vni_mojibake("Nguyễn Văn An") == "Nguyeãn Vaên An"``. The text is NFC-normalised
    first; characters outside the Vietnamese alphabet are kept as they are.
    """
    return _encode(text, VNI_TABLE)
