"""The data dictionary (``docs/data_dictionary.md``), written from the export contract.

Regenerate it with ``python -m cdanalytics.io docs/data_dictionary.md``; a
test fails when the committed file and :func:`data_dictionary_markdown`
disagree.
"""

from __future__ import annotations

from pathlib import Path

from ..registry import (
    audit_tool_registry,
    core_session_count,
    instrument_registry,
    programme_registry,
)
from .export import ALL_TABLES
from .schema import ColumnSpec, TableSchema, table_schema

__all__ = ["data_dictionary_markdown", "write_data_dictionary"]


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _rule_text(col: ColumnSpec) -> str:
    parts = []
    if col.allowed:
        parts.append(
            ", ".join(f"`{v}`" for v in col.allowed) + (" (ordered)" if col.ordered else "")
        )
    if col.allowed_registry:
        parts.append(f"a code of the {col.allowed_registry} registry (below)")
    if col.min is not None or col.max is not None:
        lo = "" if col.min is None else f"{col.min:g}"
        hi = "" if col.max is None else f"{col.max:g}"
        parts.append(f"{lo} to {hi}".strip())
    if col.registry_range == "instruments.range":
        parts.append("within the scale's range in the instrument registry (below)")
    if col.registry_range == "programmes.sessions":
        parts.append("up to the programme's number of sessions of that type (below)")
    if col.default is not None:
        parts.append(f"empty means `{col.default}`")
    if col.free_text:
        parts.append(
            "codes such as `moved_away`; other text is dropped unless the mapping lists the "
            "column under `free_text_safe`"
        )
    return "; ".join(parts)


def _required_text(col: ColumnSpec) -> str:
    if col.required_when:
        return f"when {col.required_when[0]} = {col.required_when[1]}"
    if col.required:
        return "yes" if not col.nullable else "column only"
    return "no" if col.nullable else "no (never empty)"


def _table_markdown(spec: TableSchema) -> list[str]:
    lines = [f"## {spec.name}", "", spec.description, ""]
    if spec.key:
        lines += [f"Key (unique together): {', '.join(f'`{k}`' for k in spec.key)}.", ""]
    if spec.parent:
        lines += [f"Every row must name a `{spec.parent_key}` of `{spec.parent}`.", ""]
    if spec.extra_columns == "keep":
        lines += ["Further columns are kept as covariates.", ""]
    lines += [
        "| Column | Type | Required | Allowed values | Description |",
        "|---|---|---|---|---|",
    ]
    for col in spec.columns:
        lines.append(
            f"| `{col.name}` | {col.type} | {_required_text(col)} | {_md(_rule_text(col))} "
            f"| {_md(col.description)} |"
        )
    return [*lines, ""]


def _registry_markdown() -> list[str]:
    lines = [
        "## Registries",
        "",
        "Built-in registries shipped with the package; a site adds or overrides entries in its",
        "evaluation config (`programmes:` and `instruments:`).",
        "",
        "### Programmes (`programme`; `session_number` limits)",
        "",
        "| Code | Name | Core sessions | Review sessions (window after end_date) |",
        "|---|---|---|---|",
    ]
    for code, entry in programme_registry().items():
        core = ", ".join(f"{n} {kind}" for kind, n in entry["core"].items())
        review = entry["review"]
        lines.append(
            f"| `{code}` | {_md(entry['name']['en'])} | {core} ({core_session_count(entry)}) "
            f"| {review['count']} ({review['window_days']} days) |"
        )
    lines += [
        "",
        "### Instruments (`instrument`, `scale`; `score` ranges)",
        "",
        "| Instrument | Scale | Range | Higher is | Respondent |",
        "|---|---|---|---|---|",
    ]
    for code, entry in instrument_registry().items():
        respondent = entry["respondent"] or "as recorded (`informant`)"
        for scale, info in entry["scales"].items():
            better = "worse" if info["direction"] == "higher_worse" else "better"
            lines.append(
                f"| `{code}` | `{scale}` | {info['min']:g} to {info['max']:g} | {better} "
                f"| {respondent} |"
            )
    lines += [
        "",
        "### Audit tools (`case_audits.item`; `score` levels)",
        "",
        "| Tool | Item | Scores | Met | Label |",
        "|---|---|---|---|---|",
    ]
    for code, tool in audit_tool_registry().items():
        for item, info in tool["items"].items():
            scores = ", ".join(str(level) for level in info["levels"])
            met = ", ".join(str(level) for level in info["met"])
            lines.append(f"| `{code}` | `{item}` | {scores} | {met} | {_md(info['label']['en'])} |")
    return [*lines, ""]


_INTRO = """\
# Data dictionary: the case-export contract

<!-- Generated from data/schemas/*.yaml and the registries by
     `python -m cdanalytics.io docs/data_dictionary.md`. Do not edit by hand:
     a test fails when this file and the schemas drift apart. -->

An export is a folder holding one file per table, all CSV (`participants.csv`, ...) or all
Parquet (`participants.parquet`, ...), plus `manifest.json`; or one Excel workbook (`.xlsx`)
with a sheet per table and either a `manifest` sheet (two columns, `key` and `value`) or a
`manifest.json` next to it. Only `participants` is required; an absent table is read as
empty. A site whose column names or labels differ maps them with a mapping file
(see `data/mappings/dutch_example.yaml`).

How values are read:

- **date**: ISO `2024-12-31` (a time of day is dropped), or day-first `31-12-2024`,
  `31/12/2024`, `31.12.2024`. The order of day and month is decided per column: when any
  value's first field is above 12 the column is day-first; when only second fields are
  above 12 it is month-first; when no value decides it, day-first is assumed and the
  validation report says so. Set `date_formats` in a mapping file to be explicit.
- **number** / **integer**: a decimal point or a decimal comma (`12,5`; `1.234,5`).
  Integers must be whole numbers; one written with a thousands separator (`1,000`,
  `1.000`) is a `thousands_separator` problem unless the mapping declares its
  `number_format` (for example `{decimal: ",", thousands: "."}`). Dates before 1900 are
  problems (`before_1900`).
- **string** (identifiers): surrounding spaces are removed before ids are matched
  (`P0011 ` is `P0011`); the validation report says how many were trimmed.
- **boolean**: `true`/`false`, `yes`/`no`, `y`/`n`, `1`/`0` (any case); map other
  labels (for example `ja`/`nee`) in a mapping file.
- **category**: text; surrounding spaces are ignored.
- CSV files may be UTF-8 (with or without BOM) or Windows-1252, separated by `,` or `;`.
  Empty cells, `NA`, `N/A` and `NULL` are empty. Rows whose cells are all empty
  are skipped and counted in the validation report.
- Excel error values (`#DIV/0!`, `#VALUE!`, `#REF!`, `#N/A`, `#NAME?`, `#NUM!`,
  `#NULL!`), in a workbook or a CSV file, are `excel_error` problems, and control
  characters inside a value (NUL and the other C0 characters except tab and line breaks)
  are `control_character` problems: neither is read as empty.
- File and sheet names are matched ignoring case (`Sessions.CSV`); two that differ only
  by case are refused. A mapping may only name files inside the export folder.
- The manifest's `extract_date` may not lie after today (one day of clock skew allowed),
  and `schema_version` must be the whole number 1.

"""


def data_dictionary_markdown() -> str:
    """The data dictionary (``docs/data_dictionary.md``) generated from the schemas.

    Returns
    -------
    str
        Markdown: how values are read, one section per table (columns, types,
        required, allowed values, descriptions), the manifest, and the
        built-in programme and instrument registries.
    """
    lines = [_INTRO.rstrip("\n"), ""]
    for name in (*ALL_TABLES, "manifest"):
        lines += _table_markdown(table_schema(name))
    lines += _registry_markdown()
    return "\n".join(lines).rstrip("\n") + "\n"


def write_data_dictionary(path: str | Path = "docs/data_dictionary.md") -> Path:
    """Write :func:`data_dictionary_markdown` to ``path`` (``python -m cdanalytics.io``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data_dictionary_markdown(), encoding="utf-8")
    return path
