"""Column names of every file the generator writes (contract names for the inputs).

Kept free of pyspark so that the pure-Python path and Spark's Python workers import nothing heavy;
``tests/test_synth.py`` checks they equal :mod:`vaxclean.schemas`.
"""

from __future__ import annotations

REGISTER_COLUMNS = (
    "personal_id", "old_id_number", "full_name", "date_of_birth", "gender",
    "province_code", "district_code", "commune_code", "date_of_death",
)  # fmt: skip
LEDGER_COLUMNS = (
    "record_id", "subject_id", "full_name", "date_of_birth", "gender", "id_number", "nationality",
    "passport_number", "phone", "province_code", "district_code", "commune_code", "facility_code",
    "vaccine", "dose_number", "vaccination_date", "batch_number", "entered_at", "signed_at",
)  # fmt: skip
FACILITY_REPORT_COLUMNS = ("facility_code", "report_date", "vaccine", "doses_administered")
TRUTH_SUBJECT_COLUMNS = (
    "subject_id", "expected_status", "expected_codes", "true_personal_id", "expected_matched_personal_id",
    "expected_province_code", "expected_commune_code", "injected", "noise",
)  # fmt: skip
TRUTH_DOSE_COLUMNS = (
    "record_id", "subject_id", "expected_codes", "expected_signable", "expected_block_reasons", "injected",
)  # fmt: skip

TABLES = {
    "register": REGISTER_COLUMNS,
    "ledger": LEDGER_COLUMNS,
    "facility_reports": FACILITY_REPORT_COLUMNS,
    "truth_subjects": TRUTH_SUBJECT_COLUMNS,
    "truth_doses": TRUTH_DOSE_COLUMNS,
}
