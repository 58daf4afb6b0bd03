"""Replace raw ids with keyed pseudonyms (HMAC-SHA256).

A site runs ``cdanalytics pseudonymise`` on its raw export before the export
leaves the organisation. Each raw id is replaced by the first ``hex_chars``
hexadecimal characters of ``HMAC-SHA256(key, id)``. Without the key nobody
can recompute a pseudonym from a known id (unlike a plain hash, which can be
reversed by hashing every possible id); with the same key the same id always
gives the same pseudonym, across tables and across exports, so later exports
of the same site can be linked.

Key handling
------------
The key comes from an environment variable (default
``CDANALYTICS_PSEUDONYM_KEY``) or a key file, and must be at least
:data:`MIN_KEY_BYTES` bytes; a random 32-byte key written as 64 hex
characters is recommended
(``python -c "import secrets; print(secrets.token_hex(32))"``). The key is
never written to the output, never logged and never put in an error message.
Keep it outside the export folders and keep it safe: whoever holds it can
link pseudonyms back to raw ids by hashing candidate ids.

Pseudonym length and collisions
-------------------------------
Pseudonyms are truncated to ``hex_chars`` hex characters (default
:data:`DEFAULT_HEX_CHARS` = 20, i.e. 80 bits; at least
:data:`MIN_HEX_CHARS`). By the birthday bound the chance that two of ``n``
distinct ids share a pseudonym is about ``n**2 / 2**(4 * hex_chars + 1)``:
for a million ids about 4e-13 at 80 bits (2.7e-8 at 64 bits, too close for
comfort across many exports). A collision would silently merge two people, so
it is checked and raises :class:`~cdanalytics.errors.ConfigError`, asking
for a longer pseudonym.

Ids are compared as text with surrounding spaces removed (``" P001 "`` and
``"P001"`` are the same person; whole-number ids read as numbers are written
without a decimal part). Missing and empty ids stay missing.
"""

from __future__ import annotations

import codecs
import hmac
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..errors import ConfigError, ExportError
from .pseudonym_key import (
    DEFAULT_HEX_CHARS,
    DEFAULT_KEY_ENV,
    MIN_HEX_CHARS,
    MIN_KEY_BYTES,
    load_key,
)
from .read import sniff_delimiter

__all__ = [
    "DEFAULT_HEX_CHARS",
    "DEFAULT_KEY_ENV",
    "MIN_HEX_CHARS",
    "MIN_KEY_BYTES",
    "id_text",
    "load_key",
    "pseudonymise_export",
    "pseudonymise_table",
]

logger = logging.getLogger(__name__)

_TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".xlsx")


def id_text(values: pd.Series) -> pd.Series:
    """Ids as stripped text; missing and empty become NA (whole floats lose their ``.0``)."""
    if pd.api.types.is_float_dtype(values.dtype):
        finite = values.dropna()
        if (finite == np.floor(finite)).all():
            values = values.astype("Int64")
    text = values.astype("string").str.strip()
    return text.mask(text == "")


class _Pseudonyms:
    """Keyed pseudonyms with a cache, so each distinct id is hashed once per export."""

    def __init__(self, key: bytes, hex_chars: int):
        if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
            raise ConfigError(f"the pseudonymisation key must be at least {MIN_KEY_BYTES} bytes")
        self._key = key
        self._hex_chars = hex_chars
        self._known = pd.Series(dtype=object)

    def __repr__(self) -> str:
        return f"_Pseudonyms(hex_chars={self._hex_chars}, known={len(self._known)})"

    def __call__(self, values: pd.Series) -> pd.Series:
        codes, uniques = pd.factorize(id_text(values))
        uniques = pd.Index(uniques, dtype=object)
        new = uniques[self._known.index.get_indexer(uniques) < 0]
        if len(new):
            # hmac has no vectorised form: one C call per distinct id, never per row.
            hashed = [
                hmac.digest(self._key, raw.encode("utf-8"), "sha256").hex()[: self._hex_chars]
                for raw in new
            ]
            self._known = pd.concat([self._known, pd.Series(hashed, index=new, dtype=object)])
            if self._known.duplicated().any():
                raise ConfigError(
                    f"two different ids got the same {self._hex_chars}-character pseudonym; "
                    "use longer pseudonyms (hex_chars)"
                )
        mapped = self._known.to_numpy()[self._known.index.get_indexer(uniques)]
        pseudonyms = pd.Categorical.from_codes(codes, categories=pd.Index(mapped, dtype=object))
        return pd.Series(pseudonyms, index=values.index, name=values.name).astype("str")


def _check_hex_chars(hex_chars: int) -> None:
    if not MIN_HEX_CHARS <= hex_chars <= 64:
        raise ConfigError(
            f"hex_chars must be between {MIN_HEX_CHARS} and 64 (got {hex_chars}); "
            "shorter pseudonyms risk merging two people"
        )


def pseudonymise_table(
    df: pd.DataFrame, column: str, key: bytes, *, hex_chars: int = DEFAULT_HEX_CHARS
) -> pd.DataFrame:
    """Replace a raw id column with keyed pseudonyms.

    Parameters
    ----------
    df
        The table.
    column
        The raw id column.
    key
        Secret key, at least :data:`MIN_KEY_BYTES` bytes (see :func:`load_key`).
    hex_chars
        Pseudonym length in hexadecimal characters (20 to 64).

    Returns
    -------
    pandas.DataFrame
        A copy of ``df`` whose ``column`` holds
        ``HMAC-SHA256(key, id).hexdigest()[:hex_chars]`` (string dtype);
        missing ids stay missing. Each distinct id is hashed once.

    Raises
    ------
    ConfigError
        When the column is missing, the key is too short or ``hex_chars`` is
        out of range.

    References
    ----------
    Krawczyk, H., Bellare, M. & Canetti, R. (1997). HMAC: Keyed-Hashing for
    Message Authentication. RFC 2104.
    """
    _check_hex_chars(hex_chars)
    if column not in df.columns:
        raise ConfigError(f"the table has no column '{column}' to pseudonymise")
    out = df.copy()
    out[column] = _Pseudonyms(key, hex_chars)(df[column])
    return out


def _sniff_csv(path: Path) -> dict[str, str]:
    """Encoding, delimiter and line ending of a CSV file, to write it back alike.

    UTF-8 with BOM, UTF-8, else Windows-1252; the delimiter as the loader
    detects it (:func:`~cdanalytics.io.read.sniff_delimiter`); CRLF when the
    header line ends with one.
    """
    with path.open("rb") as handle:
        head = handle.read(65536)
        encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
        decoder = codecs.getincrementaldecoder(encoding)()
        chunk = head
        try:
            while chunk:
                decoder.decode(chunk)
                chunk = handle.read(1 << 20)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            encoding = "cp1252"
    first = head.split(b"\n", 1)[0]
    return {
        "encoding": encoding,
        "sep": sniff_delimiter(first.decode(encoding, errors="replace")),
        "lineterminator": "\r\n" if first.endswith(b"\r") else "\n",
    }


def _columns(path: Path, style: dict[str, str] | None) -> list[str]:
    """Column names of a table file (``style``: its :func:`_sniff_csv` if a CSV file)."""
    if style is not None:
        return list(pd.read_csv(path, sep=style["sep"], encoding=style["encoding"], nrows=0))
    if path.suffix.lower() == ".xlsx":
        sheets = pd.read_excel(path, sheet_name=None, nrows=0, engine="calamine")
        return [name for frame in sheets.values() for name in frame.columns]
    return list(pq.read_schema(path).names)


def _pseudonymise_file(
    src: Path, dest: Path, column: str, pseudonyms: _Pseudonyms, style: dict[str, str] | None
) -> dict:
    """Pseudonymise one table file; other columns are written back unchanged.

    ``style`` is the file's :func:`_sniff_csv` if it is a CSV file, else ``None``.
    """
    if style is not None:
        df = pd.read_csv(
            src,
            sep=style["sep"],
            encoding=style["encoding"],
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
        )
        n_ids = _replace(df, column, pseudonyms)
        df.to_csv(dest, index=False, **style)
        return {"rows": len(df), "n_ids": n_ids}
    if src.suffix.lower() == ".xlsx":
        sheets = pd.read_excel(src, sheet_name=None, engine="calamine")
        n_ids = sum(_replace(frame, column, pseudonyms) for frame in sheets.values())
        with pd.ExcelWriter(dest, engine="openpyxl") as writer:
            for name, frame in sheets.items():
                frame.to_excel(writer, sheet_name=name, index=False)
        return {"rows": sum(len(frame) for frame in sheets.values()), "n_ids": n_ids}
    df = pd.read_parquet(src)
    n_ids = _replace(df, column, pseudonyms)
    df.to_parquet(dest, index=False)
    return {"rows": len(df), "n_ids": n_ids}


def _replace(df: pd.DataFrame, column: str, pseudonyms: _Pseudonyms) -> int:
    """Pseudonymise ``column`` of ``df`` in place if present; distinct ids replaced."""
    if column not in df.columns:
        return 0
    df[column] = pseudonyms(df[column])
    return int(df[column].nunique())


def pseudonymise_export(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    column: str = "participant_id",
    key: bytes,
    hex_chars: int = DEFAULT_HEX_CHARS,
) -> pd.DataFrame:
    """Pseudonymise an id column consistently across every table of an export.

    Every ``*.csv``, ``*.parquet`` / ``*.pq`` and ``*.xlsx`` file in ``src``
    is written to ``out`` with ``column`` replaced by keyed pseudonyms (see
    :func:`pseudonymise_table`), the same id getting the same pseudonym in
    every table. CSV files keep their encoding, delimiter, line endings and
    every other value exactly as text (blank lines become rows of empty
    fields); Parquet files keep their column types; workbooks keep their
    sheets and values but not their formatting. Tables without ``column`` are
    copied unchanged (with a warning). ``manifest.json`` is copied; other
    files are not.

    Parameters
    ----------
    src
        Folder of the raw export.
    out
        New or empty folder for the pseudonymised export (not ``src``).
    column
        The raw id column (the site's own name before any column mapping,
        for example ``deelnemer_id``).
    key
        Secret key (see :func:`load_key`); never written to ``out``.
    hex_chars
        Pseudonym length in hexadecimal characters (20 to 64).

    Returns
    -------
    pandas.DataFrame
        One row per file written: ``file``, ``rows`` (missing for copied
        files), ``n_ids`` (distinct pseudonymised ids, summed over the sheets
        of a workbook; 0 when the file has no ``column``) and
        ``pseudonymised`` (bool).

    Raises
    ------
    ExportError
        When ``src`` is not a folder or holds no table file.
    ConfigError
        When ``out`` is ``src`` or not empty, no table has ``column``, the key
        is too short or ``hex_chars`` is out of range.
    """
    _check_hex_chars(hex_chars)
    pseudonyms = _Pseudonyms(key, hex_chars)
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise ExportError(f"export folder not found: {src}")
    tables = sorted(path for path in src.iterdir() if path.suffix.lower() in _TABLE_SUFFIXES)
    if not tables:
        raise ExportError(f"no CSV, Parquet or xlsx table files in {src}")
    if out.resolve() == src.resolve():
        raise ConfigError("the output folder must differ from the export folder")
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"the output folder {out} is not empty")
    styles = {path: _sniff_csv(path) if path.suffix.lower() == ".csv" else None for path in tables}
    has_column = {path: column in _columns(path, styles[path]) for path in tables}
    if not any(has_column.values()):
        raise ConfigError(
            f"no table in {src} has a column '{column}'; name the raw id column with --column"
        )
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in tables:
        if has_column[path]:
            counts = _pseudonymise_file(path, out / path.name, column, pseudonyms, styles[path])
        else:
            logger.warning("%s has no column '%s'; copied unchanged", path.name, column)
            shutil.copyfile(path, out / path.name)
            counts = {"rows": None, "n_ids": 0}
        rows.append({"file": path.name, **counts, "pseudonymised": has_column[path]})
    manifest = src / "manifest.json"
    if manifest.is_file():
        shutil.copyfile(manifest, out / manifest.name)
        rows.append({"file": manifest.name, "rows": None, "n_ids": 0, "pseudonymised": False})
    else:
        logger.warning("%s has no manifest.json; the output has none either", src)
    skipped = sorted(
        path.name for path in src.iterdir() if path not in has_column and path != manifest
    )
    if skipped:
        logger.info("not copied (not table files): %s", ", ".join(skipped))
    summary = pd.DataFrame(rows, columns=["file", "rows", "n_ids", "pseudonymised"])
    return summary.astype({"rows": "Int64", "n_ids": "int64", "pseudonymised": bool})
