"""Tests of the normalisation Column helpers: every input form of data contract 1.1, and near misses.

Each Spark test builds one small literal DataFrame of (raw, expected) rows and checks the helper's
output against ``expected`` with a single collect.
"""

from __future__ import annotations

import csv
import datetime as dt
import unicodedata
from importlib import resources

from chispa import assert_column_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from transforms import normalize as N
from transforms.legacy_encodings import (
    TCVN3_TABLE,
    VIETNAMESE_LETTERS,
    VNI_TABLE,
    encode_tcvn3_mojibake,
    encode_vni_mojibake,
)

ALPHABET_LOWER = "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ"
ALPHABET_UPPER = "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴĐ"

# Real Vietnamese full names; together (title case, upper case, lower case) they hold every letter
# of the alphabet with every tone, upper and lower case.
NAMES = [
    "Nguyễn Văn An", "Trần Thị Bình", "Lê Hoàng Châu", "Phạm Đức Dũng", "Huỳnh Ngọc Hà",
    "Phan Thanh Hải", "Vũ Thị Hằng", "Võ Minh Hiếu", "Đặng Văn Hùng", "Bùi Thị Hương",
    "Đỗ Quang Khải", "Hồ Ngọc Lan", "Ngô Bảo Linh", "Dương Thị Loan", "Lý Văn Lợi",
    "Đoàn Thị Mai", "Trương Quốc Nghĩa", "Đinh Thị Ngân", "Lương Thị Nhung", "Tạ Thị Oanh",
    "Lâm Hữu Phúc", "Mạc Thị Phượng", "Ứng Văn Quân", "Âu Thị Quyên", "Ông Văn Sơn",
    "Quách Thị Tâm", "Khổng Minh Thảo", "Thái Văn Thắng", "Kiều Thị Thủy", "Mẫn Đình Tiến",
    "Triệu Thị Trang", "Lã Văn Trinh", "Giáp Thị Tú", "Ngụy Văn Tùng", "Đồng Thị Uyên",
    "Lưu Văn Vĩnh", "Tôn Nữ Việt", "Hà Thị Mỹ", "Cù Văn Xuyến", "Chu Thị Yến",
    "Nguyễn Thị Ánh", "Trần Văn Ẩn", "Lê Thị Ý", "Phạm Ngọc Ấn", "Vương Văn Ước",
    "Đào Thị Mỵ", "Mai Văn Kỷ", "Lục Thị Ngữ", "Tống Văn Dự", "Nông Thị Lựu",
    "Diệp Văn Thịnh", "Hứa Thị Phẩm", "Bạch Văn Đẳng", "Viên Thị Lặng", "Từ Thị Tỉnh",
    "Sử Văn Thới", "Lê Thị Bé", "Phạm Văn Tèo", "Trịnh Thị Đẹp", "Hoàng Văn Vẽ",
    "Ngô Thị Nở", "Lý Văn Ngỡ", "Vũ Thị Lời", "Đỗ Văn Ẵm", "Trần Thị Khỏe",
    "Lê Văn Hóa", "Tạ Văn Hiển", "Nguyễn Thị Diễm", "Trần Thị Trẻ", "Trần Văn Thuận", "Lê Văn Tín", "Nguyễn Thị Hòa", "Phạm Văn Lộc", "Quan Văn Ỷ",
]  # fmt: skip


STRING = T.StringType()


def _check(spark, helper, rows, expected_type: T.DataType = STRING):
    """Apply ``helper`` to the ``raw`` column of literal (raw, expected) rows; compare to ``expected``."""
    schema = T.StructType([T.StructField("raw", T.StringType()), T.StructField("expected", expected_type)])
    df = spark.createDataFrame(rows, schema).withColumn("actual", helper("raw"))
    assert_column_equality(df, "actual", "expected")


# --- trim_all ------------------------------------------------------------------------------------


def test_trim_all_strips_every_kind_of_whitespace_and_empties_to_null(spark):
    rows = [
        (" a ", "a"),
        ("\ta\t", "a"),
        ("\u00a0a\u00a0", "a"),
        ("\ufeffa", "a"),
        ("a  b", "a  b"),
        ("", None),
        (" \u00a0\t ", None),
        (None, None),
    ]
    _check(spark, N.trim_all, rows)


# --- id_status -------------------------------------------------------------------------------------


def test_province_codes_are_the_63_of_the_contract():
    assert len(set(N.PROVINCE_CODES)) == 63
    assert N.PROVINCE_CODES[0] == "001" and N.PROVINCE_CODES[-1] == "096"


def test_id_status_valid_cccd_and_cmnd(spark, config):
    rows = [
        ("079085001234", "VALID"),
        (" 079085001234 ", "VALID"),  # surrounding whitespace alone is ignored
        ("\u00a0079085001234\t", "VALID"),
        ("001185000001", "VALID"),  # century digit 1
        ("096385000001", "VALID"),  # century digit 3
        ("025123456", "VALID"),  # 9-digit CMND
    ]
    _check(spark, lambda c: N.id_status(c, missing_tokens=config.rules.missing_id_tokens), rows)


def test_id_status_malformed_near_misses(spark, config):
    rows = [
        ("79085001234", "MALFORMED"),  # Excel dropped the leading zero
        ("7.9085E+10", "MALFORMED"),
        ("079 085 001 234", "MALFORMED"),
        ("079.085.001.234", "MALFORMED"),
        ("099085001234", "MALFORMED"),  # 099 is no province
        ("003085001234", "MALFORMED"),  # nor is 003
        ("079485001234", "MALFORMED"),  # century digit 4 (2100s)
        ("0790850012345", "MALFORMED"),  # 13 digits
        ("02512345", "MALFORMED"),  # 8 digits
        ("07908500123A", "MALFORMED"),
        ("M12345678", "MALFORMED"),
    ]
    _check(spark, lambda c: N.id_status(c, missing_tokens=config.rules.missing_id_tokens), rows)


def test_id_status_missing_tokens_after_trim_case_and_diacritics(spark, config):
    rows = [
        (None, "MISSING"),
        ("", "MISSING"),
        ("   ", "MISSING"),
        ("0", "MISSING"),
        ("khong co", "MISSING"),
        ("Không có", "MISSING"),
        ("chua co", "MISSING"),
        ("CHƯA CÓ", "MISSING"),
        (" chưa  có ", "MISSING"),
        ("N/A", "MISSING"),
        ("00", "MALFORMED"),  # not a token: something was typed
    ]
    _check(spark, lambda c: N.id_status(c, missing_tokens=config.rules.missing_id_tokens), rows)


# --- fold_diacritics / nfc_vietnamese --------------------------------------------------------------


def test_fold_diacritics_removes_every_vietnamese_mark(spark):
    rows = [
        ("Nguyễn Đức Thắng", "nguyen duc thang"),
        ("ĐẶNG THỊ ỨNG", "dang thi ung"),
        (unicodedata.normalize("NFD", "Nguyễn Đức Thắng"), "nguyen duc thang"),
        (ALPHABET_LOWER, "aaaaaaaaaaaaaaaaaeeeeeeeeeeeiiiiiooooooooooooooooouuuuuuuuuuuyyyyyd"),
        (ALPHABET_UPPER, "aaaaaaaaaaaaaaaaaeeeeeeeeeeeiiiiiooooooooooooooooouuuuuuuuuuuyyyyyd"),
        (None, None),
    ]
    _check(spark, N.fold_diacritics, rows)


def test_nfc_vietnamese_composes_every_decomposed_letter(spark):
    rows = [
        ("Nguye\u0302\u0303n Va\u0306n An", "Nguyễn Văn An"),
        (unicodedata.normalize("NFD", ALPHABET_LOWER), ALPHABET_LOWER),
        (unicodedata.normalize("NFD", ALPHABET_UPPER), ALPHABET_UPPER),
    ]
    _check(spark, N.nfc_vietnamese, rows)


def test_nfc_vietnamese_composes_partly_composed_spellings(spark):
    rows = [
        ("\u01a1\u0301", "ớ"),  # ơ + combining acute
        ("\u00e2\u0323", "ậ"),  # â + combining dot below
        ("\u1ea1\u0302", "ậ"),  # ạ + combining circumflex
        ("a\u0302\u0323", "ậ"),  # marks in the other order
        ("\u01af\u0300", "Ừ"),
    ]
    _check(spark, N.nfc_vietnamese, rows)


def test_nfc_vietnamese_leaves_composed_text_alone(spark):
    rows = [("Nguyễn Văn An", "Nguyễn Văn An"), ("nguyen van an", "nguyen van an"), (None, None)]
    _check(spark, N.nfc_vietnamese, rows)


# --- new_tone_placement / name_key -------------------------------------------------------------------


def test_new_tone_placement_moves_the_tone_at_the_end_of_a_syllable(spark):
    rows = [
        ("Hoà", "Hòa"),
        ("Thuý", "Thúy"),
        ("Khoẻ", "Khỏe"),
        ("Thuỵ", "Thụy"),
        ("HOÀ", "HÒA"),
        ("Nguyễn Thị Hoà", "Nguyễn Thị Hòa"),
        ("hoạ sĩ", "họa sĩ"),
        ("Uỷ", "Ủy"),
    ]
    _check(spark, N.new_tone_placement, rows)


def test_new_tone_placement_leaves_other_syllables_alone(spark):
    rows = [
        ("Hoàn", "Hoàn"),  # a final consonant follows: both styles agree
        ("Hoàng", "Hoàng"),
        ("Thuyền", "Thuyền"),
        ("Hoài", "Hoài"),
        ("Quý", "Quý"),  # qu is the onset: quý is right in both styles
        ("Hòa", "Hòa"),
        (None, None),
    ]
    _check(spark, N.new_tone_placement, rows)


def test_name_key_absorbs_case_spaces_nfd_and_tone_placement(spark):
    rows = [
        ("Nguyễn Văn An", "nguyễn văn an"),
        ("NGUYỄN VĂN AN", "nguyễn văn an"),
        ("Nguyễn  Văn An ", "nguyễn văn an"),
        ("\u00a0Nguyễn\tVăn An", "nguyễn văn an"),
        (unicodedata.normalize("NFD", "Nguyễn Văn An"), "nguyễn văn an"),
        ("Lê Thị Hoà", "lê thị hòa"),
        ("TRẦN THỊ THUÝ", "trần thị thúy"),
        ("", None),
    ]
    _check(spark, N.name_key, rows)


def test_name_key_keeps_missing_diacritics_and_mojibake(spark):
    rows = [
        ("nguyen van an", "nguyen van an"),
        ("NguyÔn V¨n An", "nguyôn v¨n an"),
        ("Nguyeãn Vaên An", "nguyeãn vaên an"),
    ]
    _check(spark, N.name_key, rows)


def test_name_display_repairs_mojibake_and_keeps_case(spark):
    rows = [
        ("NguyÔn V¨n An", "Nguyễn Văn An"),
        ("Nguyeãn Vaên An", "Nguyễn Văn An"),
        (" Lê  Thị Hoà ", "Lê Thị Hòa"),
        (unicodedata.normalize("NFD", "NGUYỄN VĂN AN"), "NGUYỄN VĂN AN"),
        ("nguyen van an", "nguyen van an"),
        (None, None),
    ]
    _check(spark, N.name_display, rows)


def test_name_fold_matches_every_typed_form_of_one_name(spark):
    rows = [
        ("Nguyễn Văn An", "nguyen van an"),
        ("nguyen van an", "nguyen van an"),
        ("NGUYỄN  VĂN AN", "nguyen van an"),
        ("NguyÔn V¨n An", "nguyen van an"),
        ("Nguyeãn Vaên An", "nguyen van an"),
        ("Đặng Thị Hoà", "dang thi hoa"),
    ]
    _check(spark, N.name_fold, rows)


# --- mojibake -----------------------------------------------------------------------------------------


def test_encoders_match_the_contract_and_public_examples():
    assert encode_tcvn3_mojibake("Nguyễn Văn An") == "NguyÔn V¨n An"
    assert encode_vni_mojibake("Nguyễn Văn An") == "Nguyeãn Vaên An"
    assert encode_vni_mojibake("Xin chào các bạn") == "Xin chaøo caùc baïn"
    assert encode_tcvn3_mojibake("Trương Đức") == "Tr\xad\xacng \xa7\xf8c"


def test_legacy_tables_cover_the_alphabet_without_collisions():
    for table in (TCVN3_TABLE, VNI_TABLE):
        codes = [table.get(c, c) for c in VIETNAMESE_LETTERS]
        assert len(set(codes)) == len(VIETNAMESE_LETTERS)
        assert all(ord(ch) <= 0xFF for code in codes for ch in code)
    assert set(VIETNAMESE_LETTERS) == set(ALPHABET_LOWER + ALPHABET_UPPER)


def test_test_names_hold_every_letter_upper_and_lower():
    text = " ".join(NAMES)
    assert set(ALPHABET_LOWER + ALPHABET_UPPER) <= set(text + text.upper() + text.lower())


def test_is_mojibake_detects_tcvn3_and_vni(spark):
    rows = [
        ("NguyÔn V¨n An", True),
        ("Nguyeãn Vaên An", True),
        ("TrÇn ThÞ B×nh", True),
        ("Traàn Thò Bình", True),
        ("NGUY£ÔN V¡N AN", True),
        ("NGUYEÃN VAÊN AN", True),
        ("Ph¹m §øc Dòng", True),
        ("Phaïm Ñöùc Duõng", True),
    ]
    _check(spark, N.is_mojibake, rows, T.BooleanType())


def test_is_mojibake_leaves_legitimate_names_alone(spark):
    rows = [
        ("Nguyễn Văn An", False),
        ("NGUYỄN VĂN AN", False),
        ("nguyen van an", False),
        (unicodedata.normalize("NFD", "Nguyễn Văn An"), False),
        ("Lê Thị Hoà", False),
        ("Thuý", False),
        ("Lê Hà", False),
        ("Võ Tú", False),
        ("Ông Ích Khiêm", False),  # Ô, Í, ê are Vietnamese letters
        ("Müller", False),
        ("José", False),
        (None, False),
    ]
    _check(spark, N.is_mojibake, rows, T.BooleanType())


def test_is_mojibake_cannot_tell_mojibake_that_is_itself_a_name(spark):
    # VNI for "Hồ Thị Lan" reads "Hoà Thò Lan": every word is a Vietnamese syllable, so it is
    # taken as typed (and is still a NAME_MISMATCH against the register).
    _check(spark, N.is_mojibake, [("Hoà Thò Lan", False)], T.BooleanType())


def test_repair_mojibake_inverts_both_encoders_for_every_letter(spark):
    originals = [case(name) for name in NAMES for case in (str, str.upper, str.lower)]
    rows = [
        (encode(name), name) for name in originals for encode in (encode_tcvn3_mojibake, encode_vni_mojibake)
    ]
    _check(spark, N.repair_mojibake, rows)


def test_repair_mojibake_returns_other_text_unchanged(spark):
    rows = [
        ("Nguyễn Văn An", "Nguyễn Văn An"),
        ("nguyen van an", "nguyen van an"),
        ("Lê Thị Hoà", "Lê Thị Hoà"),
        ("Müller", "Müller"),
        ("Hoà Thò Lan", "Hoà Thò Lan"),
        (None, None),
    ]
    _check(spark, N.repair_mojibake, rows)


# --- dates ----------------------------------------------------------------------------------------------

DATE_STRUCT = T.StructType([T.StructField("date", T.DateType()), T.StructField("precision", T.StringType())])
MARCH_5 = (dt.date(1985, 3, 5), "DAY")


def test_parse_partial_date_day_precision_forms(spark):
    rows = [
        ("05/03/1985", MARCH_5),
        ("5/3/1985", MARCH_5),  # day first
        (" 05/03/1985 ", MARCH_5),
        ("05-03-1985", MARCH_5),
        ("05.03.1985", MARCH_5),
        ("1985-03-05", MARCH_5),
        ("1985-3-5", MARCH_5),
        ("1985-03-05T00:00:00", MARCH_5),
        ("1985-03-05 00:00:00", MARCH_5),
        ("29/02/1984", (dt.date(1984, 2, 29), "DAY")),
    ]
    _check(spark, N.parse_partial_date, rows, DATE_STRUCT)


def test_parse_partial_date_falls_back_to_month_first(spark):
    rows = [
        ("03/25/1985", (dt.date(1985, 3, 25), "DAY")),
        ("12/08/2021", (dt.date(2021, 8, 12), "DAY")),
    ]
    _check(spark, N.parse_partial_date, rows, DATE_STRUCT)


def test_parse_partial_date_excel_serials_use_the_1900_system(spark):
    rows = [
        ("31111", MARCH_5),
        ("31111.0", MARCH_5),
        ("31112", (dt.date(1985, 3, 6), "DAY")),  # the contract's example serial
        ("44420", (dt.date(2021, 8, 12), "DAY")),
    ]
    _check(spark, N.parse_partial_date, rows, DATE_STRUCT)


def test_parse_partial_date_month_and_year_precision(spark):
    march = (dt.date(1985, 3, 1), "MONTH")
    rows = [
        ("03/1985", march),
        ("3/1985", march),
        ("1985-03", march),
        ("1985", (dt.date(1985, 1, 1), "YEAR")),
        ("1234", (dt.date(1234, 1, 1), "YEAR")),  # unlikely, but a year: the dose rules judge it
    ]
    _check(spark, N.parse_partial_date, rows, DATE_STRUCT)


def test_parse_partial_date_unparsable_is_null_and_never_raises(spark):
    rows = [
        ("31/02/1985", None),
        ("29/02/1985", None),
        ("13/13/1985", None),
        ("00/03/1985", None),
        ("1985-13", None),
        ("1985-02-30", None),
        ("13/1985", None),
        ("0000", None),
        ("05/03/85", None),
        ("0985", None),  # years run from 1000
        ("123456", None),
        ("7.9085E+10", None),
        ("abc", None),
        ("", None),
        (None, None),
    ]
    _check(spark, N.parse_partial_date, rows, DATE_STRUCT)


def test_parse_date_day_vaccination_forms(spark):
    aug_12 = dt.date(2021, 8, 12)
    rows = [
        ("12/08/2021", aug_12),
        ("2021-08-12", aug_12),
        ("44420", aug_12),
        ("2021-08-12T09:30:00", aug_12),
        ("2021-08", None),  # not a day
        ("2021", None),
        ("31/02/2021", None),
        ("x", None),
        (None, None),
    ]
    _check(spark, N.parse_date_day, rows, T.DateType())


def _check_timestamps(spark, rows):
    df = (
        spark.createDataFrame(rows, "raw string, expected_text string")
        .withColumn("expected", F.col("expected_text").cast("timestamp"))
        .withColumn("actual", N.parse_timestamp("raw"))
    )
    assert_column_equality(df, "actual", "expected")


def test_parse_timestamp_forms(spark):
    rows = [
        ("2021-08-12T15:04:05", "2021-08-12 15:04:05"),
        ("2021-08-12 15:04:05", "2021-08-12 15:04:05"),
        ("2022-04-20T09:00:00", "2022-04-20 09:00:00"),
        (" 2021-08-12T15:04:05 ", "2021-08-12 15:04:05"),
        ("12/08/2021 15:04:05", "2021-08-12 15:04:05"),
        ("2021-08-12", "2021-08-12 00:00:00"),
        ("12/08/2021", "2021-08-12 00:00:00"),
        ("2021-08-12T15:04:05.250", "2021-08-12 15:04:05.25"),
    ]
    _check_timestamps(spark, rows)


def test_parse_timestamp_unparsable_is_null(spark):
    rows = [
        ("2021-13-12T15:04:05", None),
        ("32/08/2021 15:04:05", None),
        ("2021-08-12T25:00:00", None),
        ("12/08/0000 15:04:05", None),
        ("12/08/21 15:04:05", None),
        ("2021", None),
        ("yesterday", None),
        ("", None),
        (None, None),
    ]
    _check_timestamps(spark, rows)


# --- gender, nationality, vaccine, dose number ------------------------------------------------------


def test_normalize_gender(spark):
    rows = [
        ("Nam", "M"), ("nam", "M"), ("M", "M"), ("Male", "M"), ("male", "M"), ("Trai", "M"),
        ("Nữ", "F"), ("nữ", "F"), ("NU", "F"), ("nu", "F"), ("F", "F"), ("Female", "F"), ("Gái", "F"),
        ("Khác", "O"), ("Other", "O"), ("O", "O"), (" nam ", "M"),
        ("", None), (None, None), ("X", None), ("Nam/Nữ", None),
    ]  # fmt: skip
    _check(spark, N.normalize_gender, rows)


def test_normalize_nationality_vietnamese_forms(spark):
    forms = [None, "", "  ", "VN", "vn", "VNM", "Việt Nam", "Viet Nam", "Vietnam", "VIỆT NAM", "Vietnamese"]
    _check(spark, N.normalize_nationality, [(form, "VN") for form in forms])


def test_normalize_nationality_foreign_codes_and_names(spark):
    rows = [
        ("KR", "KR"), ("Hàn Quốc", "KR"), ("US", "US"), ("Hoa Kỳ", "US"), ("Mỹ", "US"),
        ("USA", "US"), ("United States", "US"), ("Trung Quốc", "CN"), ("Nhật Bản", "JP"),
        ("jp", "JP"), ("Lào", "LA"), ("Campuchia", "KH"), ("Pháp", "FR"), ("Anh", "GB"),
        ("Đức", "DE"), ("Úc", "AU"), ("Nga", "RU"), ("Thái Lan", "TH"), ("Đài Loan", "TW"),
        ("Ấn Độ", "IN"), ("Philippines", "PH"), ("Singapore", "SG"), ("Malaysia", "MY"),
        ("Indonesia", "ID"), ("Canada", "CA"), ("U.S.A.", "US"), ("MY", "MY"),
    ]  # fmt: skip
    _check(spark, N.normalize_nationality, rows)


def test_normalize_nationality_unknown_is_null(spark):
    rows = [("Atlantis", None), ("XX", None), ("123", None)]
    _check(spark, N.normalize_nationality, rows)


def test_countries_csv_aliases_are_folded_and_codes_are_iso2():
    path = resources.files("vaxclean") / "reference" / "countries.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len({r["iso2"] for r in rows}) >= 40
    for row in rows:
        assert row["alias"] == row["alias"].lower() and row["alias"].isascii(), row
        assert len(row["iso2"]) == 2 and row["iso2"].isupper(), row


def test_canonical_vaccine_products(spark):
    rows = [
        ("AstraZeneca", "ASTRAZENECA"), ("Vaxzevria", "ASTRAZENECA"), ("AZ", "ASTRAZENECA"),
        ("Covishield", "ASTRAZENECA"), ("astra zeneca", "ASTRAZENECA"),
        ("Vero Cell", "VERO_CELL"), ("VEROCELL", "VERO_CELL"), ("Sinopharm", "VERO_CELL"), ("BIBP", "VERO_CELL"),
        ("Pfizer", "PFIZER"), ("Comirnaty", "PFIZER"), ("Pfizer-BioNTech", "PFIZER"),
        ("Moderna", "MODERNA"), ("Spikevax", "MODERNA"),
        ("Sputnik V", "SPUTNIK_V"), ("Gam-COVID-Vac", "SPUTNIK_V"),
        ("Abdala", "ABDALA"), ("Hayat-Vax", "HAYAT_VAX"), ("hayat vax", "HAYAT_VAX"),
        ("Janssen", "JANSSEN"), ("J&J", "JANSSEN"), ("Johnson", "JANSSEN"), (" janssen ", "JANSSEN"),
    ]  # fmt: skip
    _check(spark, N.canonical_vaccine, rows)


def test_canonical_vaccine_unknown_is_null(spark):
    rows = [("Sputnik Light", None), ("Covaxin", None), ("vaccine", None), ("", None), (None, None)]
    _check(spark, N.canonical_vaccine, rows)


def test_parse_dose_number(spark):
    rows = [("1", 1), ("2 ", 2), (" 3 ", 3), ("4", 4), ("1.0", 1), ("2.00", 2), ("5", 5)]
    _check(spark, N.parse_dose_number, rows, T.IntegerType())


def test_parse_dose_number_unparsable_is_null(spark):
    rows = [
        ("one", None),
        ("1.5", None),
        ("-1", None),
        ("1e0", None),
        ("mũi 2", None),
        ("", None),
        (None, None),
    ]
    _check(spark, N.parse_dose_number, rows, T.IntegerType())
