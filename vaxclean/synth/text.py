"""Text transformations the generator applies to names: the noise and errors of contract 1.1."""

from __future__ import annotations

import unicodedata

# New (modern) tone placement → old placement, at the end of a syllable. Both spellings are in
# use; docs/rules.md rewrites the old one to the new one, so this is noise, not an error.
NEW_TO_OLD_TONE = {
    "òa": "oà", "óa": "oá", "ỏa": "oả", "õa": "oã", "ọa": "oạ",
    "òe": "oè", "óe": "oé", "ỏe": "oẻ", "õe": "oẽ", "ọe": "oẹ",
    "ùy": "uỳ", "úy": "uý", "ủy": "uỷ", "ũy": "uỹ", "ụy": "uỵ",
}  # fmt: skip


def strip_diacritics(text: str) -> str:
    """``Nguyễn Văn Đức`` → ``Nguyen Van Duc`` (how names are typed on keyboards without Telex)."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def has_diacritics(text: str) -> bool:
    return strip_diacritics(text) != text


def _old_tone_syllable(syllable: str) -> str:
    low = syllable.lower()
    if len(low) >= 2 and low[-2:] in NEW_TO_OLD_TONE and not low.startswith("qu"):
        old = NEW_TO_OLD_TONE[low[-2:]]
        if syllable[-2].isupper():
            old = old[0].upper() + old[1]
        return syllable[:-2] + old
    return syllable


def old_tone_placement(name: str) -> str:
    """``Nguyễn Thị Thúy Hòa`` → ``Nguyễn Thị Thuý Hoà`` (only syllables that end in the pattern)."""
    return " ".join(_old_tone_syllable(s) for s in name.split(" "))


def can_use_old_tone(name: str) -> bool:
    return old_tone_placement(name) != name


def to_nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def tcvn3_mojibake(text: str) -> str:
    """The name as legacy TCVN3 bytes read back as Latin-1 (``Nguyễn`` → ``NguyÔn``).

    Delegates to the pipeline's own encoder so that the generator and the repair step agree on
    the byte table.
    """
    from transforms.legacy_encodings import encode_tcvn3_mojibake

    return encode_tcvn3_mojibake(text)


def vni_mojibake(text: str) -> str:
    """The name as legacy VNI-Windows bytes read back as Latin-1 (``Nguyễn`` → ``Nguyeãn``)."""
    from transforms.legacy_encodings import encode_vni_mojibake

    return encode_vni_mojibake(text)
