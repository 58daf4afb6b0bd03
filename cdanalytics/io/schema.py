"""The export contract: ``data/schemas/*.yaml`` read into Python objects.

The YAML files are the single source of truth for the columns of an export.
This module turns them into :class:`TableSchema` objects, into pandera
``DataFrameSchema`` objects for the per-column rules (type, not-null,
allowed values, fixed ranges). The user-facing data dictionary is written
from them by :mod:`cdanalytics.io.dictionary`.

Rules that need the registries row by row (score range per instrument and
scale, session number per programme) or more than one table live in
:mod:`cdanalytics.io.validation`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from ..errors import ConfigError
from ..registry import instrument_registry, programme_registry
from .export import ALL_TABLES

if TYPE_CHECKING:  # pandera is imported by pandera_schema only (0.15 s that loading never needs)
    import pandera.pandas as pa

# libyaml's parser when installed (the same safe loading, several times faster)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = [
    "COLUMN_TYPES",
    "ColumnSpec",
    "TableSchema",
    "allowed_values",
    "contract_values",
    "pandera_schema",
    "read_table_schema",
    "schema_dir",
    "table_schema",
    "table_schemas",
]

#: Column types of the contract and the pandas dtype each becomes in memory.
COLUMN_TYPES: dict[str, str] = {
    "string": "str",
    "category": "category",
    "date": "datetime64[s]",
    "integer": "Int64",
    "number": "float64",
    "boolean": "boolean",
}

_COLUMN_KEYS = {
    "name",
    "type",
    "required",
    "nullable",
    "allowed",
    "default",
    "required_when",
    "min",
    "max",
    "ordered",
    "free_text",
    "description",
}
_TABLE_KEYS = {"table", "description", "key", "parent", "parent_key", "extra_columns", "columns"}
_REQUIRED_WHEN = re.compile(r"^\s*(\w+)\s*==\s*(\w+)\s*$")
_REGISTRY = "registry:"


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the contract.

    Attributes
    ----------
    name, type, description
        Column name, contract type (a key of :data:`COLUMN_TYPES`) and its
        plain-language description.
    required
        The column must be present in the export.
    nullable
        Empty values are allowed (when the column is present).
    allowed
        Fixed list of allowed values, or ``None``.
    allowed_registry
        ``"programmes"`` or ``"instruments"`` when the allowed values are the
        codes of a registry.
    default
        Value that fills empty cells (and a missing column) before validation.
    required_when
        ``(column, value)``: the column must be filled on rows where
        ``column == value``.
    min, max
        Fixed bounds of a numeric column.
    registry_range
        ``"instruments.range"`` or ``"programmes.sessions"`` when the bounds
        depend on the row's instrument and scale, or programme and session
        type.
    ordered
        The categories are ordered (in the order of ``allowed``).
    free_text
        Sites may type free text here: only codes are kept unless the
        mapping declares the column safe (:mod:`cdanalytics.io.privacy`).
    """

    name: str
    type: str
    description: str = ""
    required: bool = False
    nullable: bool = True
    allowed: tuple[str, ...] | None = None
    allowed_registry: str | None = None
    default: Any = None
    required_when: tuple[str, str] | None = None
    min: float | None = None
    max: float | None = None
    registry_range: str | None = None
    ordered: bool = False
    free_text: bool = False

    @property
    def dtype(self) -> str:
        """The pandas dtype of the column in a loaded export."""
        return COLUMN_TYPES[self.type]


@dataclass(frozen=True)
class TableSchema:
    """One table of the contract.

    Attributes
    ----------
    name, description
        Table name (``participants``, ``sessions``, ...) and description.
    key
        Columns that identify a row; together unique.
    parent
        Table whose ``parent_key`` every row must name (or ``None``).
    extra_columns
        ``"keep"``: columns outside the contract are kept as covariates.
    columns
        The contract's columns, in order.
    """

    name: str
    description: str
    key: tuple[str, ...]
    parent: str | None
    extra_columns: str
    columns: tuple[ColumnSpec, ...]
    parent_key: str = "participant_id"

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in contract order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnSpec:
        """The spec of one column."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"Table {self.name!r} has no column {name!r} in the contract.")


def schema_dir() -> Traversable:
    """Folder holding the schema YAML files.

    In an installed wheel the files live inside the package
    (``cdanalytics/_schemas``, see ``pyproject.toml``); in a source checkout
    (editable install) they are the repository's ``data/schemas``.
    """
    packaged = resources.files("cdanalytics").joinpath("_schemas")
    if packaged.is_dir():
        return packaged
    repo = Path(__file__).resolve().parents[2] / "data" / "schemas"
    if repo.is_dir():
        return repo
    raise ConfigError(
        "The export schemas were not found: neither cdanalytics/_schemas (installed package) "
        f"nor {repo} (source checkout) exists. Reinstall cdanalytics."
    )


def _bound(value: Any, table: str, column: str) -> tuple[float | None, str | None]:
    if value is None:
        return None, None
    if isinstance(value, str) and value.startswith(_REGISTRY):
        return None, value.removeprefix(_REGISTRY)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"Schema {table}.{column}: min/max must be a number, not {value!r}.")
    return float(value), None


def _column_spec(raw: Mapping[str, Any], table: str) -> ColumnSpec:
    unknown = set(raw) - _COLUMN_KEYS
    name = raw.get("name")
    if unknown or not name:
        raise ConfigError(f"Schema {table}: column {name!r} has unknown keys {sorted(unknown)}.")
    if raw.get("type") not in COLUMN_TYPES:
        raise ConfigError(
            f"Schema {table}.{name}: type must be one of {', '.join(COLUMN_TYPES)}, "
            f"not {raw.get('type')!r}."
        )
    allowed, allowed_registry = raw.get("allowed"), None
    if isinstance(allowed, str):
        if not allowed.startswith(_REGISTRY):
            raise ConfigError(f"Schema {table}.{name}: allowed must be a list or registry:<name>.")
        allowed_registry, allowed = allowed.removeprefix(_REGISTRY), None
    elif allowed is not None:
        allowed = tuple(str(v) for v in allowed)
    required_when = None
    if raw.get("required_when"):
        match = _REQUIRED_WHEN.match(str(raw["required_when"]))
        if not match:
            raise ConfigError(
                f"Schema {table}.{name}: required_when must read '<column> == <value>'."
            )
        required_when = (match.group(1), match.group(2))
    lo, lo_ref = _bound(raw.get("min"), table, name)
    hi, hi_ref = _bound(raw.get("max"), table, name)
    return ColumnSpec(
        name=name,
        type=raw["type"],
        description=" ".join(str(raw.get("description", "")).split()),
        required=bool(raw.get("required", False)),
        nullable=bool(raw.get("nullable", True)),
        allowed=allowed,
        allowed_registry=allowed_registry,
        default=raw.get("default"),
        required_when=required_when,
        min=lo,
        max=hi,
        registry_range=lo_ref or hi_ref,
        ordered=bool(raw.get("ordered", False)),
        free_text=bool(raw.get("free_text", False)),
    )


def _table_schema(raw: Mapping[str, Any], expected: str) -> TableSchema:
    unknown = set(raw) - _TABLE_KEYS
    if unknown or raw.get("table") != expected:
        raise ConfigError(f"Schema file {expected}.yaml is malformed (keys {sorted(unknown)}).")
    columns = tuple(_column_spec(c, expected) for c in raw.get("columns", []))
    return TableSchema(
        name=expected,
        description=" ".join(str(raw.get("description", "")).split()),
        key=tuple(raw.get("key") or ()),
        parent=raw.get("parent"),
        extra_columns=raw.get("extra_columns", "keep"),
        columns=columns,
        parent_key=raw.get("parent_key", "participant_id"),
    )


@cache
def read_table_schema(name: str) -> TableSchema:
    """The contract of the table described by ``data/schemas/<name>.yaml``.

    Reads any contract file by name; :func:`table_schema` is limited to the
    tables of an export (and ``manifest``), with a clear error for others.
    """
    text = schema_dir().joinpath(f"{name}.yaml").read_text("utf-8")
    return _table_schema(yaml.load(text, Loader=_LOADER), name)


def table_schemas() -> dict[str, TableSchema]:
    """Every table of the contract (the tables of an export and ``manifest``), by name."""
    return {name: read_table_schema(name) for name in (*ALL_TABLES, "manifest")}


def table_schema(table: str) -> TableSchema:
    """The contract of one table, with a clear error for an unknown name."""
    schemas = table_schemas()
    if table not in schemas:
        raise ConfigError(f"Unknown table {table!r}; the export has {', '.join(schemas)}.")
    return schemas[table]


def contract_values(table: str, column: str) -> tuple[str, ...]:
    """The fixed allowed values of a contract column, in contract order.

    The single source of the enumerations (exit statuses, event types,
    timepoints, ...) that analyses and the synthetic generator rely on.

    Parameters
    ----------
    table
        Table name (``participants``, ``sessions``, ``measures``, ``events``).
    column
        A column of that table with an ``allowed`` list in its schema.

    Returns
    -------
    tuple of str
        The allowed values, in the order of the schema file.

    Raises
    ------
    ConfigError
        When the column has no fixed list (free values or a registry).
    """
    values = table_schema(table).column(column).allowed
    if values is None:
        raise ConfigError(f"Column {table}.{column} has no fixed list of allowed values.")
    return values


def allowed_values(
    column: ColumnSpec,
    *,
    programmes: Mapping[str, Any] | None = None,
    instruments: Mapping[str, Any] | None = None,
) -> tuple[str, ...] | None:
    """The allowed values of a column, resolving registry references.

    Parameters
    ----------
    column
        The column's spec.
    programmes, instruments
        Resolved registries (as returned by
        :func:`~cdanalytics.registry.programme_registry` and
        :func:`~cdanalytics.registry.instrument_registry`); the built-in ones
        when ``None``.

    Returns
    -------
    tuple of str or None
        ``None`` when any value is allowed.
    """
    if column.allowed_registry == "programmes":
        return tuple(programmes if programmes is not None else programme_registry())
    if column.allowed_registry == "instruments":
        return tuple(instruments if instruments is not None else instrument_registry())
    if column.allowed_registry is not None:
        raise ConfigError(f"Unknown registry {column.allowed_registry!r} in the schema.")
    return column.allowed


def _pandera_dtype(column: ColumnSpec) -> Any:
    import pandera.pandas as pa

    return {
        "string": pa.String,
        "category": pa.Category,
        "date": pa.DateTime,
        "integer": pd.Int64Dtype(),
        "number": pa.Float64,
        "boolean": pd.BooleanDtype(),
    }[column.type]


def pandera_schema(
    table: str,
    *,
    programmes: Mapping[str, Any] | None = None,
    instruments: Mapping[str, Any] | None = None,
    unique_key: bool = True,
) -> pa.DataFrameSchema:
    """A pandera schema with the per-column rules of one table.

    Checks the dtype of every contract column (as the loader produces it),
    not-null for ``nullable: false`` columns, allowed values (registry codes
    resolved), fixed ``min``/``max`` bounds, presence of required columns and,
    with ``unique_key``, uniqueness of the table's key. Extra columns are
    allowed. Registry-dependent ranges and cross-table rules are not pandera
    checks: see :mod:`cdanalytics.io.validation`.

    Parameters
    ----------
    table
        Table name.
    programmes, instruments
        Resolved registries; the built-in ones when ``None``.
    unique_key
        Also check that the key columns are unique together (reporting every
        duplicate row). The loader checks keys itself, faster, and passes
        ``False``.

    Returns
    -------
    pandera.pandas.DataFrameSchema
        Validate with ``schema.validate(df, lazy=True)``; the frame must have
        a default ``RangeIndex`` so failure cases give row positions.
    """
    import pandera.pandas as pa

    spec = table_schema(table)
    columns = {}
    for col in spec.columns:
        checks = []
        allowed = allowed_values(col, programmes=programmes, instruments=instruments)
        if allowed is not None:
            checks.append(pa.Check.isin(list(allowed)))
        if col.min is not None:
            checks.append(pa.Check.ge(col.min))
        if col.max is not None:
            checks.append(pa.Check.le(col.max))
        columns[col.name] = pa.Column(
            _pandera_dtype(col),
            checks=checks,
            nullable=col.nullable,
            required=col.required,
            description=col.description,
        )
    return pa.DataFrameSchema(
        columns,
        name=table,
        unique=list(spec.key) if unique_key and spec.key else None,
        report_duplicates="all",
        strict=False,
    )


# -- data dictionary ---------------------------------------------------------------------------
