"""Site mapping files: a site's own file, column and value names onto the contract.

A mapping is a YAML file such as ``data/mappings/dutch_example.yaml``::

    description: Export of a Dutch case-management system
    date_format: "%d-%m-%Y"        # optional: format of non-ISO dates in every table
    number_format:                 # optional: how numbers are written in every table
      decimal: ","                 # decimal mark: "." or ","
      thousands: "."               # thousands separator: ".", ",", " ", "'" or null
    tables:
      participants:
        file: deelnemers           # deelnemers.csv / deelnemers.parquet / sheet "deelnemers"
        columns:                   # site's column name: contract column name
          deelnemer_id: participant_id
        values:                    # per contract column, site label: contract value
          exit_status:
            voltooid: completed
            onbekend: null         # null: the label means "empty"
        date_formats:              # per contract date column (overrides date_format)
          referral_date: "%d-%m-%Y"
        free_text_safe: [exit_reason]  # keep typed text in these free-text columns
    manifest:
      file: manifest.json          # or the sheet name in a workbook
      keys:
        extractiedatum: extract_date

Every key is optional. ``free_text_safe`` lists the table's free-text
columns (``exit_reason``, ``exclusion_reason``) whose typed text the site has
checked and wants kept; without it only codes and mapped labels are kept
there (:mod:`cdanalytics.io.privacy.freetext`). Labels are matched after
surrounding spaces are removed; quote labels that YAML would read as
something else (``"ja"``, ``"1"``). Without ``number_format`` a decimal
point or a decimal comma is read, and a whole number written with a
thousands separator ("1,000", "1.000") is a ``thousands_separator`` problem
rather than a guess. A ``file`` is a name inside the export folder; one that
leads outside it is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._yaml import read_yaml_file
from ..errors import ConfigError
from .coerce import NumberFormat
from .export import ALL_TABLES
from .privacy.freetext import free_text_columns

__all__ = ["ManifestMapping", "SiteMapping", "TableMapping", "load_mapping"]

_TOP_KEYS = {"description", "date_format", "number_format", "tables", "manifest"}
_NUMBER_KEYS = {"decimal", "thousands"}
_DECIMAL_MARKS = (".", ",")
_THOUSANDS_SEPARATORS = (".", ",", " ", "'")
_TABLE_KEYS = {"file", "columns", "values", "date_formats", "free_text_safe"}
_MANIFEST_KEYS = {"file", "keys"}


@dataclass(frozen=True)
class TableMapping:
    """How one table of a site's export maps onto the contract.

    Attributes
    ----------
    file
        File stem (``deelnemers`` for ``deelnemers.csv``) or sheet name, or
        ``None`` for the contract's table name.
    columns
        Site column name to contract column name.
    labels
        Contract column to ``{site label: contract value or None}`` (the
        file's ``values:`` section).
    date_formats
        Contract date column to its ``strftime`` format.
    free_text_safe
        Contract free-text columns whose text the site declares safe to keep
        (see :mod:`cdanalytics.io.privacy.freetext`).
    """

    file: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    labels: dict[str, dict[str, str | None]] = field(default_factory=dict)
    date_formats: dict[str, str] = field(default_factory=dict)
    free_text_safe: tuple[str, ...] = ()

    def source_name(self, column: str) -> str:
        """The site's name of a contract column (the column itself when not renamed)."""
        for source, target in self.columns.items():
            if target == column:
                return source
        return column


@dataclass(frozen=True)
class ManifestMapping:
    """File (or sheet) name and key names of the manifest."""

    file: str | None = None
    keys: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SiteMapping:
    """A site's mapping onto the contract (the identity mapping by default).

    Attributes
    ----------
    tables
        Table name to its :class:`TableMapping`.
    manifest
        The manifest's :class:`ManifestMapping`.
    date_format
        Format of non-ISO dates in every table, unless a table says otherwise.
    number_format
        How numbers are written (decimal mark, thousands separator), or
        ``None`` when the mapping does not say.
    description
        Free text.
    source
        The YAML file, if read from one.
    """

    tables: dict[str, TableMapping] = field(default_factory=dict)
    manifest: ManifestMapping = field(default_factory=ManifestMapping)
    date_format: str | None = None
    number_format: NumberFormat | None = None
    description: str | None = None
    source: Path | None = None

    def table(self, name: str) -> TableMapping:
        """The mapping of one table (identity when the file says nothing about it)."""
        return self.tables.get(name, TableMapping())

    def date_format_for(self, table: str, column: str) -> str | None:
        """Format of non-ISO dates of one column, or ``None`` to decide from the data."""
        return self.table(table).date_formats.get(column, self.date_format)


def _where(origin: str, *keys: str) -> str:
    return f"{origin}: {'.'.join(keys)}"


def _mapping(value: Any, origin: str, *keys: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{_where(origin, *keys)} must be a mapping of names.")
    return dict(value)


def _check_keys(value: Mapping[str, Any], allowed: set[str], origin: str, *keys: str) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ConfigError(
            f"{_where(origin, *keys) if keys else origin}: unknown key(s) {', '.join(unknown)}; "
            f"expected {', '.join(sorted(allowed))}."
        )


def _label(value: Any) -> str | None:
    """A label or value from YAML as text (YAML booleans as true/false)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _check_date_format(fmt: Any, origin: str, *keys: str) -> str:
    probe = dt.date(2024, 12, 31)
    try:
        ok = isinstance(fmt, str) and dt.datetime.strptime(probe.strftime(fmt), fmt).date() == probe
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(
            f"{_where(origin, *keys)}: {fmt!r} is not a date format with day, month and "
            "four-digit year (for example '%d-%m-%Y')."
        )
    return fmt


def _number_format(raw: Any, origin: str) -> NumberFormat | None:
    if raw is None:
        return None
    raw = _mapping(raw, origin, "number_format")
    _check_keys(raw, _NUMBER_KEYS, origin, "number_format")
    decimal = raw.get("decimal", ".")
    thousands = raw.get("thousands")
    if decimal not in _DECIMAL_MARKS:
        raise ConfigError(
            f"{_where(origin, 'number_format', 'decimal')}: {decimal!r} is not a decimal mark; "
            'use "." or ",".'
        )
    if thousands is not None and (thousands not in _THOUSANDS_SEPARATORS or thousands == decimal):
        raise ConfigError(
            f"{_where(origin, 'number_format', 'thousands')}: {thousands!r} is not a thousands "
            f'separator other than the decimal mark; use ".", ",", " ", "\'" or null.'
        )
    return NumberFormat(decimal=decimal, thousands=thousands)


def _table_mapping(raw: Any, origin: str, table: str) -> TableMapping:
    raw = _mapping(raw, origin, "tables", table)
    _check_keys(raw, _TABLE_KEYS, origin, "tables", table)
    columns = {
        str(k).strip(): str(v).strip()
        for k, v in _mapping(raw.get("columns"), origin, "tables", table, "columns").items()
    }
    targets = list(columns.values())
    twice = sorted({t for t in targets if targets.count(t) > 1})
    if twice:
        raise ConfigError(
            f"{_where(origin, 'tables', table, 'columns')}: several columns map onto "
            f"{', '.join(twice)}; map exactly one."
        )
    values = {}
    for column, labels in _mapping(raw.get("values"), origin, "tables", table, "values").items():
        labels = _mapping(labels, origin, "tables", table, "values", str(column))
        values[str(column)] = {_label(k): _label(v) for k, v in labels.items()}
    formats = {
        str(c): _check_date_format(f, origin, "tables", table, "date_formats", str(c))
        for c, f in _mapping(
            raw.get("date_formats"), origin, "tables", table, "date_formats"
        ).items()
    }
    file = raw.get("file")
    if file is not None and not isinstance(file, str):
        raise ConfigError(f"{_where(origin, 'tables', table, 'file')} must be a file name.")
    return TableMapping(
        file=file,
        columns=columns,
        labels=values,
        date_formats=formats,
        free_text_safe=_free_text_safe(raw.get("free_text_safe"), origin, table),
    )


def _free_text_safe(raw: Any, origin: str, table: str) -> tuple[str, ...]:
    """The ``free_text_safe`` list: contract free-text columns of the table."""
    if raw is None:
        return ()
    allowed = free_text_columns(table)
    if not isinstance(raw, list) or any(c not in allowed for c in raw):
        raise ConfigError(
            f"{_where(origin, 'tables', table, 'free_text_safe')} must list contract free-text "
            f"columns of {table} ({', '.join(allowed) or 'it has none'})."
        )
    return tuple(raw)


def _site_mapping(raw: Mapping[str, Any], origin: str, source: Path | None) -> SiteMapping:
    _check_keys(raw, _TOP_KEYS, origin)
    tables_raw = _mapping(raw.get("tables"), origin, "tables")
    unknown = sorted(set(tables_raw) - set(ALL_TABLES))
    if unknown:
        raise ConfigError(
            f"{_where(origin, 'tables')}: unknown table(s) {', '.join(map(str, unknown))}; "
            f"the export has {', '.join(ALL_TABLES)}."
        )
    manifest_raw = _mapping(raw.get("manifest"), origin, "manifest")
    _check_keys(manifest_raw, _MANIFEST_KEYS, origin, "manifest")
    date_format = raw.get("date_format")
    return SiteMapping(
        tables={name: _table_mapping(t, origin, name) for name, t in tables_raw.items()},
        manifest=ManifestMapping(
            file=manifest_raw.get("file"),
            keys={
                str(k): str(v)
                for k, v in _mapping(manifest_raw.get("keys"), origin, "manifest", "keys").items()
            },
        ),
        date_format=None
        if date_format is None
        else _check_date_format(date_format, origin, "date_format"),
        number_format=_number_format(raw.get("number_format"), origin),
        description=raw.get("description"),
        source=source,
    )


def load_mapping(mapping: str | Path | Mapping[str, Any] | SiteMapping | None) -> SiteMapping:
    """Read and check a site mapping.

    Parameters
    ----------
    mapping
        Path of a YAML mapping file, the mapping as a dict (same layout), an
        existing :class:`SiteMapping`, or ``None`` for the identity mapping.

    Returns
    -------
    SiteMapping

    Raises
    ------
    ConfigError
        The file is missing or not YAML, or has an unknown key, table,
        date format or number format, or maps two columns onto one.
    """
    if mapping is None:
        return SiteMapping()
    if isinstance(mapping, SiteMapping):
        return mapping
    if isinstance(mapping, Mapping):
        return _site_mapping(mapping, "mapping", None)
    path = Path(mapping)
    raw = read_yaml_file(path, "Mapping file")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"Mapping file {path} must hold a YAML mapping (see the example).")
    return _site_mapping(raw, f"mapping file {path.name}", path)
