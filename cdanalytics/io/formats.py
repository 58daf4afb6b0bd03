"""File formats an export is written in (:func:`cdanalytics.io.write.write_export`) and
the default length of a problem list.

Kept apart from the writer and the validator so that the command line can show
them without importing pandas or pyarrow.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_PROBLEMS", "FORMATS", "WORKBOOK_NAME", "XLSX_MAX_ROWS"]

#: Formats :func:`write_export` can write.
FORMATS: tuple[str, ...] = ("csv", "parquet", "xlsx")
#: File name of the workbook in an xlsx export.
WORKBOOK_NAME = "export.xlsx"
#: Data rows an Excel sheet can hold (1,048,576 rows less the header).
XLSX_MAX_ROWS = 1_048_575
#: Problems listed per rule and table by validation (all are counted).
DEFAULT_MAX_PROBLEMS = 1000
