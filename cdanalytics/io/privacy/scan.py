"""Scanning tables for identifier columns, by name and by contents, and the refusal.

See :mod:`cdanalytics.io.privacy` for the rules and thresholds.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ...errors import IdentifierError
from ..textbytes import arrow_text, fixed_width_rows
from .patterns import (
    CHECK_DIGIT_RULES,
    IDENTIFIER_KINDS,
    STRONG_RULES,
    kind_from_column_name,
)
from .redact import value_kind
from .rules import rule_masks

__all__ = [
    "ADDRESS_SHARE",
    "CHECK_DIGIT_SHARE",
    "FINDING_COLUMNS",
    "MAX_ROWS",
    "MAX_UNIQUE",
    "NAME_MIN_CARDINALITY",
    "NAME_MIN_VALUES",
    "NAME_SHARE",
    "check_identifiers",
    "identifier_error",
    "scan_identifiers",
]

logger = logging.getLogger(__name__)


#: Columns of the findings frame returned by :func:`scan_identifiers`.
FINDING_COLUMNS: tuple[str, ...] = ("table", "source", "column", "kind", "reason")

#: Default bound on the distinct values scanned per column.
MAX_UNIQUE = 10_000
#: Default bound on the rows scanned per table.
MAX_ROWS = 200_000
#: Share of sampled distinct values that must be name-shaped.
NAME_SHARE = 0.5
#: Minimum number of distinct name-shaped values.
NAME_MIN_VALUES = 5
#: Minimum ratio of distinct values to non-empty rows for a name column.
NAME_MIN_CARDINALITY = 0.5
#: Share of sampled distinct values that must look like a street address.
ADDRESS_SHARE = 0.2
#: Share of number-bearing distinct values that must pass a check digit.
CHECK_DIGIT_SHARE = 0.5


def _sample_distinct(text: pd.Series, max_unique: int | None) -> pd.Series:
    """At most ``max_unique`` of the distinct values (a fixed-seed random sample)."""
    if max_unique is not None and len(text) > max_unique:
        text = text.sample(n=max_unique, random_state=0).reset_index(drop=True)
    return text


def _distinct_arrow(chunks: list[pa.Array], max_unique: int | None) -> tuple[pd.Series, int]:
    """As :func:`_distinct_values` for Arrow text: the same values in the same
    order, only the sampled ones made Python strings."""
    distinct = pc.unique(pa.chunked_array(chunks, type=chunks[0].type)).drop_null()
    text = pc.unique(pc.utf8_trim_whitespace(distinct))
    text = text.filter(pc.not_equal(text, ""))
    n_distinct = len(text)
    picked = _sample_distinct(pd.Series(np.arange(n_distinct)), max_unique).to_numpy()
    if len(picked) < n_distinct:
        text = text.take(pa.array(picked))
    return pd.Series(text.to_numpy(zero_copy_only=False), dtype=object), n_distinct


#: Edge bytes that cannot start or end whitespace: printable ASCII but the space.
_PRINTABLE = (0x21, 0x7E)


def _distinct_fixed_width(
    chunks: list[pa.Array], rows: np.ndarray | None, max_unique: int | None
) -> tuple[pd.Series, int, int] | None:
    """As :func:`_distinct_arrow` for values of one byte width up to 8 with
    no whitespace at either edge (identifiers such as ``P0000001``): the
    same values in the same order, found through integer keys read from the
    rows' bytes, without taking the rows' texts. ``None`` for other columns.
    """
    found = fixed_width_rows(chunks, rows)
    if found is None:
        return None
    width, sampled = found
    lo, hi = _PRINTABLE
    for edge in (sampled & np.uint64(0xFF), sampled >> np.uint64(8 * (width - 1))):
        if int(edge.min()) < lo or int(edge.max()) > hi:
            return None  # trimming could change a value: the general path
    # no value is empty or has surrounding whitespace, so the trimmed values
    # are the values: distinct keys in order of first appearance are the texts'
    keys = pd.unique(sampled)
    n_distinct = len(keys)
    picked = _sample_distinct(pd.Series(np.arange(n_distinct)), max_unique).to_numpy()
    chosen = np.ascontiguousarray(keys[picked].view(np.uint8).reshape(-1, 8)[:, :width])
    binary = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), len(chosen), [None, pa.py_buffer(chosen.tobytes())]
    )
    text = binary.cast(pa.binary()).cast(pa.string())
    return pd.Series(text.to_numpy(zero_copy_only=False), dtype=object), n_distinct, len(sampled)


def _distinct_values(
    column: pd.Series, max_unique: int | None, rows: np.ndarray | None = None
) -> tuple[pd.Series, int, int]:
    """Distinct non-empty values of a column as stripped strings, sampled.

    ``rows`` (positions), when given, are the rows scanned. Returns the
    (possibly sampled) distinct values as an object Series, the number of
    distinct values before sampling and the number of non-missing rows
    scanned.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        n_rows = int(np.count_nonzero((codes if rows is None else codes[rows]) >= 0))
        distinct = pd.Series(column.cat.categories, dtype=object)
    else:
        chunks = arrow_text(column)
        fixed = None if not chunks else _distinct_fixed_width(chunks, rows, max_unique)
        if fixed is not None:
            return fixed
        if rows is not None:
            column = column.take(rows)
        n_rows = int(column.notna().sum())
        chunks = arrow_text(column)
        if chunks:  # an empty table has no chunks: the general path below
            text, n_distinct = _distinct_arrow(chunks, max_unique)
            return text, n_distinct, n_rows
        distinct = pd.Series(column.dropna().unique(), dtype=object)
    text = distinct.astype(str).str.strip().astype(object)  # Python regex, not pyarrow
    text = text[text != ""].drop_duplicates().reset_index(drop=True)
    n_distinct = len(text)
    return _sample_distinct(text, max_unique), n_distinct, n_rows


def _integral_numbers(column: pd.Series) -> pd.Series:
    """Distinct integral values of 8 to 10 digits of a numeric column, as strings."""
    values = pd.Series(column.dropna().unique()).astype("float64")
    keep = (values >= 1e7) & (values < 1e10) & (values == np.floor(values))
    return values[keep].astype("int64").astype(str).reset_index(drop=True).astype(object)


def _check_digit_findings(masks: pd.DataFrame) -> list[tuple[str, str]]:
    """BSN / NHS findings from the rule masks of distinct values."""
    found = []
    for kind, _, _, shape, test in CHECK_DIGIT_RULES:
        n_valid = int(masks[kind].sum())
        n_candidates = int(masks[f"{kind}_candidate"].sum())
        if n_valid and n_valid >= CHECK_DIGIT_SHARE * n_candidates:
            found.append(
                (kind, f"{n_valid} of {n_candidates} distinct values holding {shape} pass {test}")
            )
    return found


def _text_findings(
    values: pd.Series, n_distinct: int, n_rows: int, rows_sampled: bool
) -> list[tuple[str, str]]:
    """Content findings for the distinct values of a text column."""
    n = len(values)
    sampled = f"{n} sampled" if rows_sampled or n < n_distinct else f"{n}"
    masks = rule_masks(values)
    found = []
    for kind, _, what in STRONG_RULES:
        hits = int(masks[kind].sum())
        if hits:
            found.append((kind, f"{hits} of {sampled} distinct values contain {what}"))
    found += _check_digit_findings(masks)
    in_text = int(masks["name_in_text"].sum())
    if in_text:
        found.append(
            (
                "name",
                f"{in_text} of {sampled} distinct values contain a person's name (a common "
                "given name, initials or a title followed by a name, or 'SURNAME, Firstname')",
            )
        )
    names = int(masks["name_shape"].sum())
    if (
        names >= NAME_MIN_VALUES
        and names >= NAME_SHARE * n
        and n_distinct >= NAME_MIN_CARDINALITY * n_rows
    ):
        found.append(
            (
                "name",
                f"{names} of {sampled} distinct values are shaped like 'Firstname Lastname' "
                "or 'SURNAME, Firstname'",
            )
        )
    addresses = int(masks["address"].sum())
    if addresses and addresses >= ADDRESS_SHARE * n:
        found.append(
            ("address", f"{addresses} of {sampled} distinct values look like street addresses")
        )
    return found


def _content_findings(
    column: pd.Series, max_unique: int | None, rows: np.ndarray | None
) -> list[tuple[str, str]]:
    """Content findings for one column of any dtype, on the rows at ``rows``
    (positions; ``None``: every row)."""
    dtype = column.dtype
    rows_sampled = rows is not None
    if pd.api.types.is_object_dtype(dtype) or isinstance(
        dtype, (pd.StringDtype, pd.CategoricalDtype)
    ):
        values, n_distinct, n_rows = _distinct_values(column, max_unique, rows)
        return _text_findings(values, n_distinct, n_rows, rows_sampled) if len(values) else []
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        numbers = _integral_numbers(column if rows is None else column.take(rows))
        return _check_digit_findings(rule_masks(numbers)) if len(numbers) else []
    return []


def _row_sample(n: int, size: int) -> np.ndarray:
    """``size`` distinct row positions of ``n``, sorted: a fixed-seed uniform random sample.

    Drawing without replacement from all ``n`` positions shuffles an array
    of ``n`` (hundreds of megabytes for millions of rows). In a long table a
    few more positions than needed are drawn with replacement instead, and
    the distinct ones beyond ``size`` left out at random; every set of
    ``size`` rows is as likely as with the shuffle. A table up to four times longer than
    the sample is sampled by the shuffle.
    """
    rng = np.random.default_rng(0)
    if n >= 4 * size:
        drawn = rng.integers(0, n, size=size + size // 8 + 64)
        drawn.sort()
        drawn = drawn[np.concatenate([[True], drawn[1:] != drawn[:-1]])]  # distinct, sorted
        if len(drawn) >= size:
            keep = np.ones(len(drawn), dtype=bool)
            keep[rng.choice(len(drawn), size=len(drawn) - size, replace=False)] = False
            return drawn[keep]
    return np.sort(rng.choice(n, size=size, replace=False))


def _header_looks_like_value(name: object) -> bool:
    """Whether a column header itself looks like an identifier value.

    That happens when a file without a header row is read: its first data
    row becomes the header. Such headers are not repeated in messages.
    """
    return kind_from_column_name(name) is None and value_kind(str(name)) is not None


def scan_identifiers(
    df: pd.DataFrame,
    *,
    table: str,
    source: str,
    max_unique: int | None = MAX_UNIQUE,
    max_rows: int | None = MAX_ROWS,
) -> pd.DataFrame:
    """Find columns whose name or contents look like direct identifiers.

    See the module docstring for the rules and thresholds.

    Parameters
    ----------
    df
        A table as read (after the site's column mapping), any dtypes.
    table
        Table name, for example ``"participants"``.
    source
        File (or workbook sheet) the table was read from.
    max_unique
        Bound on the distinct values scanned per column (a fixed-seed random
        sample above it); ``None`` scans them all.
    max_rows
        Bound on the rows scanned (a fixed-seed random sample of rows above
        it); ``None`` scans every row.

    Returns
    -------
    pandas.DataFrame
        One row per finding, columns ``table``, ``source``, ``column`` (the
        column's name), ``kind`` (a key of :data:`IDENTIFIER_KINDS`),
        ``reason`` (why, with counts but never a value) and ``position``
        (1-based column number in the table). Empty when nothing was found.
    """
    picked = None  # rows scanned: every row, or a sample taken column by column when needed
    if max_rows is not None and len(df) > max_rows:
        picked = _row_sample(len(df), max_rows)
    rows = []
    for position in range(df.shape[1]):
        name = df.columns[position]
        kind = kind_from_column_name(name)
        if kind is not None:
            rows.append(
                (
                    name,
                    kind,
                    "the column name is a usual name for this kind of identifier",
                    position + 1,
                )
            )
        rows += [
            (name, found_kind, reason, position + 1)
            for found_kind, reason in _content_findings(df.iloc[:, position], max_unique, picked)
        ]
    findings = pd.DataFrame(rows, columns=["column", "kind", "reason", "position"])
    findings.insert(0, "source", str(source))
    findings.insert(0, "table", table)
    logger.debug(
        "identifier scan of %s: %d columns, %d findings", table, df.shape[1], len(findings)
    )
    return findings


def identifier_error(findings: pd.DataFrame) -> IdentifierError:
    """The :class:`~cdanalytics.errors.IdentifierError` describing findings.

    Parameters
    ----------
    findings
        Rows from :func:`scan_identifiers`, possibly concatenated over several
        tables so that one error lists every table.

    Returns
    -------
    IdentifierError
        Its message names every table, source file and column with the kind
        of identifier and why, never a value; ``.findings`` holds the frame.
    """
    lines = [
        f"{findings['column'].nunique()} column(s) look like direct identifiers; "
        "exports must be anonymised:"
    ]
    for (table, source), in_table in findings.groupby(["table", "source"], sort=False):
        lines.append(f"table '{table}' (file {source}):")
        for position, in_column in in_table.groupby("position", sort=False):
            name = in_column["column"].iloc[0]
            label = (
                f"column {position} (header not shown: it looks like a value; "
                "is the header row missing?)"
                if _header_looks_like_value(name)
                else f"column '{name}'"
            )
            kinds = ", ".join(IDENTIFIER_KINDS[kind] for kind in in_column["kind"].unique())
            lines.append(f"  - {label}: looks like {kinds}: {'; '.join(in_column['reason'])}")
    lines.append(
        "Remove these columns (use age_band instead of a date of birth) or replace raw ids "
        "with `cdanalytics pseudonymise`, then export again. Values are never shown here."
    )
    error = IdentifierError("\n".join(lines))
    error.findings = findings
    return error


def check_identifiers(
    df: pd.DataFrame,
    *,
    table: str,
    source: str,
    max_unique: int | None = MAX_UNIQUE,
    max_rows: int | None = MAX_ROWS,
) -> None:
    """Refuse a table with a column that looks like a direct identifier.

    Parameters
    ----------
    df, table, source, max_unique, max_rows
        As for :func:`scan_identifiers`.

    Raises
    ------
    IdentifierError
        Listing every finding (table, source file, column, kind and reason);
        the message never contains a value from the table.
    """
    findings = scan_identifiers(
        df, table=table, source=source, max_unique=max_unique, max_rows=max_rows
    )
    if len(findings):
        raise identifier_error(findings)
