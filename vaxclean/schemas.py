"""Schemas of every table vaxclean reads or writes, in one place.

Readers pass these explicitly (never ``inferSchema``); every transform ends in a ``select`` of
exactly its output columns, in this order.
"""

from __future__ import annotations

from pyspark.sql import types as T

S = T.StringType()
D = T.DateType()
TS = T.TimestampType()
I = T.IntegerType()  # noqa: E741 - short aliases keep the schemas readable
L = T.LongType()
B = T.BooleanType()
DBL = T.DoubleType()
CODES = T.ArrayType(T.StringType(), containsNull=False)


def _struct(*fields: tuple[str, T.DataType, bool]) -> T.StructType:
    return T.StructType([T.StructField(n, t, nullable) for n, t, nullable in fields])


# --- inputs, as text -------------------------------------------------------------------------
LEDGER_COLUMNS = (
    "record_id", "subject_id", "full_name", "date_of_birth", "gender", "id_number", "nationality",
    "passport_number", "phone", "province_code", "district_code", "commune_code", "facility_code",
    "vaccine", "dose_number", "vaccination_date", "batch_number", "entered_at", "signed_at",
)  # fmt: skip
REGISTER_COLUMNS = (
    "personal_id", "old_id_number", "full_name", "date_of_birth", "gender",
    "province_code", "district_code", "commune_code", "date_of_death",
)  # fmt: skip
FACILITY_REPORT_COLUMNS = ("facility_code", "report_date", "vaccine", "doses_administered")

LINEAGE = (("source_file", S, False), ("source_row", L, False), ("ingest_run_id", S, False))

# ledger_raw: every value exactly as it arrived, plus where it came from. Partitioned by
# province_code (the trimmed raw value; "__" when it is empty).
LEDGER_RAW = _struct(*[(c, S, True) for c in LEDGER_COLUMNS], *LINEAGE)
REGISTER_RAW = _struct(*[(c, S, True) for c in REGISTER_COLUMNS], *LINEAGE)
FACILITY_REPORTS_RAW = _struct(*[(c, S, True) for c in FACILITY_REPORT_COLUMNS], *LINEAGE)

# --- normalised ------------------------------------------------------------------------------
# register: one row per person, normalised for matching.
REGISTER = _struct(
    ("personal_id", S, False),
    ("old_id_number", S, True),
    ("full_name", S, True),  # as in the register (NFC)
    ("name_key", S, True),  # comparison key (see docs/rules.md)
    ("name_fold", S, True),  # name key with diacritics removed, for blocking and fuzzy scores
    ("dob_date", D, True),
    ("dob_precision", S, True),  # DAY | MONTH | YEAR
    ("gender", S, True),  # M | F
    ("province_code", S, True),
    ("district_code", S, True),
    ("commune_code", S, True),
    ("date_of_death", D, True),
)

# doses: one row per record_id, every field normalised next to its raw value.
DOSES = _struct(
    ("record_id", S, False),
    ("subject_id", S, True),
    ("province_code", S, False),
    ("district_code", S, True),
    ("commune_code", S, True),
    ("facility_code", S, True),
    ("full_name_raw", S, True),
    ("name_display", S, True),
    ("name_key", S, True),
    ("name_fold", S, True),
    ("name_is_mojibake", B, True),
    ("dob_raw", S, True),
    ("dob_date", D, True),
    ("dob_precision", S, True),
    ("gender_raw", S, True),
    ("gender", S, True),
    ("id_raw", S, True),
    ("id_clean", S, True),  # trimmed
    ("id_status", S, True),  # MISSING | MALFORMED | VALID
    ("nationality_raw", S, True),
    ("nationality", S, True),  # ISO-2, null when unknown
    ("is_foreign", B, True),
    ("passport_number", S, True),
    ("phone", S, True),
    ("vaccine_raw", S, True),
    ("vaccine", S, True),  # canonical product, null when unknown
    ("dose_number_raw", S, True),
    ("dose_number", I, True),
    ("vaccination_date_raw", S, True),
    ("vaccination_date", D, True),
    ("batch_number", S, True),
    ("entered_at", TS, True),
    ("signed_at", TS, True),
    ("source_file", S, False),
    ("source_row", L, False),
    ("ingest_run_id", S, False),
)

# subjects: one row per subject_id, the identity that is classified (docs/rules.md).
SUBJECTS = _struct(
    ("subject_id", S, False),
    ("province_code", S, True),
    ("district_code", S, True),
    ("commune_code", S, True),
    ("full_name_raw", S, True),
    ("name_display", S, True),
    ("name_key", S, True),
    ("name_fold", S, True),
    ("name_is_mojibake", B, True),
    ("dob_raw", S, True),
    ("dob_date", D, True),
    ("dob_precision", S, True),
    ("gender_raw", S, True),
    ("gender", S, True),
    ("id_raw", S, True),
    ("id_clean", S, True),
    ("id_status", S, True),
    ("nationality_raw", S, True),
    ("nationality", S, True),
    ("is_foreign", B, True),
    ("passport_number", S, True),
    ("phone", S, True),
    ("n_doses", I, False),
    ("last_entered_at", TS, True),
    ("subject_version", S, False),  # sha2 of the identity fields: changes when the data moves on
)

# --- outputs of the data contract -------------------------------------------------------------
SUBJECT_CHECKS = _struct(
    ("subject_id", S, False),
    ("province_code", S, True),
    ("commune_code", S, True),
    ("status", S, False),
    ("error_codes", CODES, False),
    ("matched_personal_id", S, True),
    # extra columns
    ("district_code", S, True),
    ("subject_version", S, False),
)

DOSE_CHECKS = _struct(
    ("record_id", S, False),
    ("subject_id", S, True),
    ("error_codes", CODES, False),
    ("province_code", S, False),
)

MATCH_SUGGESTIONS = _struct(
    ("subject_id", S, False),
    ("personal_id", S, False),
    ("score", DBL, False),
    ("rank", I, False),
)

SIGNING_QUEUE = _struct(
    ("record_id", S, False),
    ("subject_id", S, True),
    ("signable", B, False),
    ("block_reasons", CODES, False),
    ("province_code", S, False),
    ("facility_code", S, True),
    ("vaccination_date", D, True),
)


# --- the review loop: lists issued, corrections and rejects of returned workbooks ------------
VALUES = T.MapType(S, S, valueContainsNull=True)

#: ``subject_corrections``: one row per subject, version issued and field (partitioned by province).
SUBJECT_CORRECTIONS = T.StructType(
    [
        T.StructField("province_code", S, False),
        T.StructField("district_code", S, True),
        T.StructField("commune_code", S, True),
        T.StructField("subject_id", S, False),
        T.StructField("subject_version", S, False),  # the version the list was issued against
        T.StructField("field", S, False),  # id_number | full_name | date_of_birth | gender | ... | note
        T.StructField("old_value", S, True),  # as issued in the list
        T.StructField("new_value", S, True),  # as returned (IDs restored to text, dates yyyy-mm-dd)
        T.StructField("verified_by", S, True),
        T.StructField("verified_at", TS, True),  # when the returned file was saved
        T.StructField("list_id", S, False),
        T.StructField("source_file", S, False),
        T.StructField("source_sheet", S, True),
        T.StructField("source_row", L, True),
        T.StructField("file_sha256", S, False),
        T.StructField("ingested_at", TS, False),
    ]
)
#: ``correction_rejects``: one row per problem of a returned row (or per rejected file).
CORRECTION_REJECTS = T.StructType(
    [
        T.StructField("province_code", S, False),
        T.StructField("commune_code", S, True),
        T.StructField("source_file", S, False),
        T.StructField("file_sha256", S, False),
        T.StructField("sheet", S, True),
        T.StructField("source_row", L, True),
        T.StructField("column", S, True),
        T.StructField("reason_code", S, False),
        T.StructField("reason", S, False),
        T.StructField("list_id", S, True),
        T.StructField("subject_id", S, True),
        T.StructField("ingested_at", TS, False),
    ]
)
#: ``review_manifest``: every row issued (partitioned by province).
REVIEW_MANIFEST = T.StructType(
    [
        T.StructField("list_id", S, False),
        T.StructField("province_code", S, False),
        T.StructField("district_code", S, True),
        T.StructField("commune_code", S, True),
        T.StructField("subject_id", S, False),
        T.StructField("subject_version", S, False),
        T.StructField("row_number", L, False),
        T.StructField("error_codes", CODES, True),
        T.StructField("issued_values", VALUES, True),
        T.StructField("issued_at", TS, False),
        T.StructField("file", S, False),
    ]
)

#: ``review_lists``: every list issued, one row each.
REVIEW_LISTS = T.StructType(
    [
        T.StructField("list_id", S, False),
        T.StructField("province_code", S, False),
        T.StructField("district_code", S, True),
        T.StructField("commune_code", S, True),
        T.StructField("file", S, False),
        T.StructField("file_sha256", S, False),
        T.StructField("n_rows", L, False),
        T.StructField("issued_at", TS, False),
    ]
)
