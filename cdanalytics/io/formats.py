"""File formats an export is written in (:func:`cdanalytics.io.write.write_export`).

Kept apart from the writer so that the command line can list them without
importing pandas or pyarrow.
"""

from __future__ import annotations

__all__ = ["FORMATS", "WORKBOOK_NAME", "XLSX_MAX_ROWS"]

#: Formats :func:`write_export` can write.
FORMATS: tuple[str, ...] = ("csv", "parquet", "xlsx")
#: File name of the workbook in an xlsx export.
WORKBOOK_NAME = "export.xlsx"
#: Data rows an Excel sheet can hold (1,048,576 rows less the header).
XLSX_MAX_ROWS = 1_048_575
