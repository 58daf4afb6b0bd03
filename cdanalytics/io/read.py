"""Raw readers: one table file into a DataFrame of raw values, with source row numbers.

Readers know nothing of the contract beyond hints about which columns to read
as text, categories or dates; typing and validation happen later (:mod:`cdanalytics.io.coerce`,
:mod:`cdanalytics.io.validation`).

Source row numbers are the numbers a person sees: in a CSV file the header is
line 1, so the first data row is 2 (a quoted value spanning several lines
counts as one row); in an Excel sheet the sheet's own row number; in a Parquet
file the record number counted from 1.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .._memory import csv_memory_pool
from ..errors import ExportError
from .privacy.redact import redact
from .rows import RowNumbers

__all__ = [
    "NULL_VALUES",
    "RawTable",
    "RowNumbers",
    "excel_error_cells",
    "excel_sheet_names",
    "read_csv_table",
    "read_excel_table",
    "read_manifest_json",
    "read_manifest_sheet",
    "read_parquet_table",
    "sniff_delimiter",
]

#: Cell texts read as empty in CSV files.
NULL_VALUES: tuple[str, ...] = ("", "NA", "N/A", "NULL", "null", "NaN", "nan")

_DELIMITERS = (",", ";", "\t")
_DICT = pa.dictionary(pa.int32(), pa.string())
# booleans as nullable booleans (else a column with an empty cell is Python objects)
_BOOLEAN = {pa.bool_(): pd.BooleanDtype()}
_PARSER_LOCATION = re.compile(r"Expected \d+ (?:columns|fields)(?: in line \d+)?, (?:got|saw) \d+")


@dataclass
class RawTable:
    """A table as read from its file, before mapping and typing.

    Attributes
    ----------
    table
        Contract table name.
    frame
        The rows, with a default ``RangeIndex``; rows whose cells were all
        empty are already removed.
    rows
        Source row number of each row of ``frame`` (a :class:`RowNumbers`
        while they are consecutive, else an array).
    file
        The file as named in problems (``participants.csv``, or
        ``export.xlsx[participants]`` for a sheet).
    format
        ``csv``, ``parquet`` or ``xlsx``.
    encoding, delimiter
        Detected for CSV files, else ``None``.
    blank_rows
        Number of all-empty rows skipped.
    whole_days
        Columns the file format itself holds as days (a Parquet ``date32``
        column, or CSV dates all read as ISO dates): every value is at
        midnight, so typing need not check it.
    """

    table: str
    frame: pd.DataFrame
    rows: np.ndarray | RowNumbers
    file: str
    format: str
    encoding: str | None = None
    delimiter: str | None = None
    blank_rows: int = 0
    whole_days: frozenset[str] = frozenset()


def _reason(exc: Exception) -> str:
    """A reading library's error message as it may be shown: it can quote file
    content, so identifiers are redacted and long text is cut (:func:`redact`)."""
    return str(redact([str(exc)]).iloc[0])


def _drop_blank_rows(
    frame: pd.DataFrame, rows: np.ndarray | RowNumbers
) -> tuple[pd.DataFrame, np.ndarray | RowNumbers, int]:
    """Remove rows whose cells are all empty; return the rest, their row numbers and the count."""
    if frame.shape[1] == 0 or not frame.iloc[:, 0].hasnans:
        return frame, rows, 0
    blank = frame.isna().all(axis=1).to_numpy()
    n_blank = int(blank.sum())
    if n_blank:
        frame = frame.loc[~blank].reset_index(drop=True)
        rows = rows[~blank]
    return frame, rows, n_blank


def _header(path: Path) -> tuple[bytes, bool]:
    """First line of a file and whether it starts with a UTF-8 BOM."""
    with path.open("rb") as fh:
        first = fh.readline()
    if not first:
        raise ExportError(f"{path.name} is empty; it needs at least a header row.")
    if first[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or b"\x00" in first:
        raise ExportError(
            f"{path.name} is saved as UTF-16 ('Unicode text'); save it as CSV UTF-8 "
            "(or Windows-1252) and try again."
        )
    bom = first[:3] == codecs.BOM_UTF8
    return first[3 if bom else 0 :].rstrip(b"\r\n"), bom


def sniff_delimiter(header: str) -> str:
    """The delimiter of a CSV file from its header line.

    Whichever of ``,``, ``;`` or tab occurs most; ``,`` on a tie or when
    none occurs.
    """
    return max(_DELIMITERS, key=header.count)


def _header_names(first: bytes, path: Path) -> tuple[str, list[str]]:
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError:
        text = first.decode("cp1252", errors="replace")
    delimiter = sniff_delimiter(text)
    try:
        names = next(csv.reader([text], delimiter=delimiter))
    except csv.Error:  # a stray carriage return or NUL in the header line
        raise ExportError(
            f"{path.name}: the header line cannot be read as {delimiter!r}-separated column "
            "names (it holds a carriage return or other control character); save the file "
            "as CSV with one header line."
        ) from None
    stripped = [n.strip() for n in names]
    seen: set[str] = set()
    for name in stripped:
        if name in seen:
            raise ExportError(
                f"{path.name} has two columns named {name!r}; rename or remove one of them."
            )
        seen.add(name)
    return delimiter, names


def _csv_pyarrow(path: Path, encoding: str, delimiter: str, types: dict[str, Any]) -> pd.DataFrame:
    pool = csv_memory_pool()
    table = pacsv.read_csv(
        path,
        # pyarrow decodes "utf8" natively; any other spelling goes through a slow
        # single-threaded Python codec
        read_options=pacsv.ReadOptions(encoding="utf8" if encoding == "utf-8" else encoding),
        # a blank line is then an error, and the C engine (which keeps row numbers) takes over
        parse_options=pacsv.ParseOptions(delimiter=delimiter, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types=types, null_values=list(NULL_VALUES), strings_can_be_null=True
        ),
        memory_pool=pool,
    )
    if any(pa.types.is_binary(t) or pa.types.is_large_binary(t) for t in table.schema.types):
        raise UnicodeDecodeError(encoding, b"", 0, 1, "column is not valid text")
    return table.to_pandas(date_as_object=False, types_mapper=_BOOLEAN.get, memory_pool=pool)


def _csv_c_engine(path: Path, encoding: str, delimiter: str, types: dict[str, Any]) -> pd.DataFrame:
    return pd.read_csv(
        path,
        sep=delimiter,
        encoding=encoding,
        dtype=types,
        skip_blank_lines=False,
        keep_default_na=False,
        na_values=list(NULL_VALUES),
        engine="c",
    )


def _read_with_fallbacks(
    path: Path, delimiter: str, readers: list[tuple[Any, dict[str, Any]]]
) -> tuple[pd.DataFrame, str, int]:
    """Parse with the first reader that works, in UTF-8 else Windows-1252;
    return the frame, the encoding and which reader worked.

    A file pyarrow cannot parse (for example rows with fewer fields than the
    header) is retried with pandas' C engine; one that neither can parse is
    an :class:`~cdanalytics.errors.ExportError` naming the line.
    """
    failure: Exception | None = None
    for which, (reader, types) in enumerate(readers):
        failure = None  # what counts is why the last reader, the most lenient, failed
        for encoding in ("utf-8", "cp1252"):
            try:
                return reader(path, encoding, delimiter, types), encoding, which
            except UnicodeDecodeError:
                continue
            except (pa.ArrowInvalid, pd.errors.ParserError, ValueError) as exc:
                if "UTF8" in str(exc) or "utf-8" in str(exc):
                    continue
                failure = exc
                break
    if failure is None:
        raise ExportError(
            f"{path.name} is neither UTF-8 nor Windows-1252 text; save it as UTF-8 (CSV UTF-8)."
        )
    raise ExportError(
        f"{path.name} cannot be read as a {delimiter!r}-separated file{_parser_location(failure)}: "
        "a row has more fields than the header, or a quote is not closed. Check the delimiter "
        "and the quoting of values that contain it."
    )


def read_csv_table(
    path: Path,
    *,
    table: str,
    text_columns: Collection[str] = (),
    category_columns: Collection[str] = (),
    date_columns: Collection[str] = (),
) -> RawTable:
    """Read one CSV file, detecting its encoding and delimiter.

    The encoding is UTF-8 (with or without BOM), else Windows-1252; the
    delimiter is whichever of ``,``, ``;`` or tab occurs most in the header.
    The file is parsed with pyarrow, first reading ``date_columns`` as ISO
    dates and, when any is not, again with them as text; a file pyarrow
    cannot parse with its row numbers intact (blank lines, short rows) is
    parsed with pandas' C engine.

    Parameters
    ----------
    path
        The CSV file.
    table
        Contract table name (for the result).
    text_columns
        Columns (as named in the file, surrounding spaces ignored) to keep as
        text instead of letting the reader infer numbers (identifiers).
    category_columns
        Columns to read as categoricals of text (enumerations).
    date_columns
        Columns of dates: ISO dates when they all are, else categoricals of
        text for :mod:`cdanalytics.io.coerce` to parse.

    Returns
    -------
    RawTable
        Column names stripped of surrounding spaces; all-empty rows removed
        and counted.
    """
    first, bom = _header(path)
    delimiter, names = _header_names(first, path)
    as_text: dict[str, Any] = {}
    as_dates: dict[str, Any] = {}
    c_types: dict[str, Any] = {}
    for name in names:
        if name.strip() in text_columns:
            # large_string: what pandas' text columns hold, so no copy to widen the offsets
            as_text[name], c_types[name] = pa.large_string(), "str"
        elif name.strip() in category_columns or name.strip() in date_columns:
            as_text[name], c_types[name] = _DICT, "category"
        if name.strip() in date_columns:
            as_dates[name] = pa.date32()
    readers = [(_csv_pyarrow, {**as_text, **as_dates})] if as_dates else []
    readers += [(_csv_pyarrow, as_text), (_csv_c_engine, c_types)]
    frame, encoding, which = _read_with_fallbacks(path, delimiter, readers)
    # the first reader, when there are dates, read them all as ISO dates
    whole_days = frozenset(n.strip() for n in as_dates) if as_dates and which == 0 else frozenset()
    label = "utf-8-sig" if bom else "utf-8"
    frame.columns = [str(c).strip() for c in frame.columns]
    rows = RowNumbers(2, len(frame))
    frame, rows, n_blank = _drop_blank_rows(frame, rows)
    return RawTable(
        table=table,
        frame=frame,
        rows=rows,
        file=path.name,
        format="csv",
        encoding=label if encoding == "utf-8" else encoding,
        delimiter=delimiter,
        blank_rows=n_blank,
        whole_days=whole_days,
    )


def _parser_location(exc: Exception) -> str:
    """The parser's description of a malformed row, without the row's contents."""
    match = _PARSER_LOCATION.search(str(exc))
    return f" ({match.group(0)})" if match else ""


def read_parquet_table(
    path: Path, *, table: str, category_columns: Collection[str] = ()
) -> RawTable:
    """Read one Parquet file with pyarrow; row numbers are record numbers from 1.

    Dates become ``datetime64`` (not Python date objects), booleans nullable
    ``boolean``, and ``category_columns`` (as named in the file) are decoded
    straight to categoricals.
    """
    try:
        names = pq.read_schema(path).names
        arrow = pq.read_table(
            path, read_dictionary=[c for c in names if c.strip() in category_columns]
        )
    except (OSError, pa.ArrowException) as exc:
        raise ExportError(f"{path.name} cannot be read as Parquet: {_reason(exc)}") from None
    whole_days = frozenset(
        field.name.strip()
        for field in arrow.schema
        if pa.types.is_date32(field.type)  # days; date64 may hold a time of day
    )
    frame = arrow.to_pandas(date_as_object=False, types_mapper=_BOOLEAN.get)
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    rows = RowNumbers(1, len(frame))
    frame, rows, n_blank = _drop_blank_rows(frame, rows)
    return RawTable(
        table, frame, rows, path.name, "parquet", blank_rows=n_blank, whole_days=whole_days
    )


def excel_sheet_names(path: Path) -> list[str]:
    """Names of the sheets of a workbook."""
    from python_calamine import CalamineWorkbook

    try:
        return list(CalamineWorkbook.from_path(str(path)).sheet_names)
    except Exception as exc:  # calamine raises its own error types for unreadable files
        raise ExportError(
            f"{path.name} cannot be read as an Excel workbook: {_reason(exc)}"
        ) from None


def _sheet_cells(path: Path, sheet: str) -> list[list[Any]]:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
        return book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    except Exception as exc:  # calamine raises its own error types for unreadable sheets
        raise ExportError(
            f"Sheet {sheet!r} of {path.name} cannot be read: {_reason(exc)}"
        ) from None


# an error cell of a worksheet: <c r="B7" s="1" t="e"><f>A7/0</f><v>#DIV/0!</v></c>
_ERROR_CELL = re.compile(
    rb'<c r="([A-Z]{1,3})(\d{1,7})"[^>]{0,200}? t="e"[^>]{0,200}>'
    rb"(?:<f[^>]{0,500}>[^<]{0,8000}</f>|<f[^>]{0,500}/>)?<v>([^<]{1,40})</v>"
)
_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "p": "http://schemas.openxmlformats.org/package/2006/relationships",
}


def _sheet_part(book: zipfile.ZipFile, sheet: str) -> str | None:
    """The zip member holding a worksheet, from the workbook's relationships."""
    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    target = {r.get("Id"): r.get("Target") for r in rels.findall("p:Relationship", _NS)}
    for node in workbook.findall("m:sheets/m:sheet", _NS):
        if node.get("name") == sheet:
            part = target.get(node.get(f"{{{_NS['r']}}}id"), "")
            return part.lstrip("/") if part.startswith("/") else f"xl/{part}"
    return None


def _column_index(letters: bytes) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + letter - 64
    return index - 1


def excel_error_cells(path: Path, sheet: str) -> list[tuple[int, int, str]]:
    """Error cells (``#DIV/0!``, ...) of an ``.xlsx`` sheet: (row, column) from 0, and the error.

    Readers of cell values (calamine) give an error cell as an empty value;
    this reads the sheet's XML for cells of type ``e`` instead, with a
    bounded pattern (linear time). Other formats, or a sheet that cannot be
    found, give no cells.
    """
    if path.suffix.lower() != ".xlsx":
        return []
    try:
        with zipfile.ZipFile(path) as book:
            part = _sheet_part(book, sheet)
            if part is None:
                return []
            xml = book.read(part)
    except (OSError, KeyError, zipfile.BadZipFile, ElementTree.ParseError):
        return []
    if b't="e"' not in xml:
        return []
    return [
        (int(m.group(2)) - 1, _column_index(m.group(1)), m.group(3).decode("utf-8", "replace"))
        for m in _ERROR_CELL.finditer(xml)
    ]


def _cells_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Excel cell values as text: dates ISO, whole numbers without ``.0``, empty as NA."""
    text = frame.fillna("").astype(str)
    text = text.replace(r"^(-?\d+)\.0$", r"\1", regex=True)
    text = text.apply(lambda col: col.str.strip())
    return text.mask(text.eq("")).astype("str")


def read_excel_table(path: Path, sheet: str, *, table: str) -> RawTable:
    """Read one sheet of a workbook as text.

    The header is the first row with any content; every value is read as
    text (dates as ISO ``YYYY-MM-DD``, a time of day kept for the date
    parser to drop) so that the same rules as for CSV apply. Columns with
    neither a header nor any content are dropped; all-empty rows are
    skipped and counted.
    """
    cells = _sheet_cells(path, sheet)
    for row, column, error in excel_error_cells(path, sheet):
        if row < len(cells) and column < len(cells[row]):
            cells[row][column] = error  # calamine reads an error cell as empty
    head = next((i for i, row in enumerate(cells) if any(v not in ("", None) for v in row)), None)
    label = f"{path.name}[{sheet}]"
    if head is None:
        raise ExportError(f"Sheet {sheet!r} of {path.name} is empty; it needs a header row.")
    names = [str(v).strip() for v in cells[head]]
    data = pd.DataFrame(cells[head + 1 :], columns=range(len(names)), dtype=object)
    text = _cells_as_text(data)
    keep = [i for i, name in enumerate(names) if name or text[i].notna().any()]
    text = text[keep]
    text.columns = [names[i] or f"unnamed_{i + 1}" for i in keep]
    duplicated = text.columns[text.columns.duplicated()]
    if len(duplicated):
        raise ExportError(
            f"{label} has two columns named {duplicated[0]!r}; rename or remove one of them."
        )
    rows = np.arange(head + 2, head + 2 + len(text), dtype=np.int64)
    text, rows, n_blank = _drop_blank_rows(text.reset_index(drop=True), rows)
    return RawTable(table, text, rows, label, "xlsx", blank_rows=n_blank)


def read_manifest_json(path: Path) -> dict[str, Any]:
    """The key/value pairs of ``manifest.json``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"{path.name} is not valid JSON (UTF-8): {_reason(exc)}") from None
    if not isinstance(data, dict):
        raise ExportError(f"{path.name} must hold one JSON object of key/value pairs.")
    return data


def read_manifest_sheet(path: Path, sheet: str) -> dict[str, Any]:
    """The key/value pairs of a workbook's manifest sheet (columns ``key`` and ``value``)."""
    raw = read_excel_table(path, sheet, table="manifest").frame
    if list(raw.columns[:2]) != ["key", "value"]:
        raise ExportError(
            f"Sheet {sheet!r} of {path.name} must have two columns headed key and value."
        )
    pairs = raw.dropna(subset=["key"])
    return dict(zip(pairs["key"], pairs["value"].where(pairs["value"].notna(), None), strict=True))
