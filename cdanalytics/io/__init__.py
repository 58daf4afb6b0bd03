"""Reading case exports: the contract, loading, validation and the privacy guard.

The one entry point is :func:`load_export`; the contract lives in
``data/schemas`` (see :mod:`cdanalytics.io.schema` and the generated
``docs/data_dictionary.md``).
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:  # imported on first use, see cdanalytics._lazy
    from .dictionary import data_dictionary_markdown
    from .export import ALL_TABLES, PRACTICE_TABLES, TABLES, Export, Manifest
    from .load import load_export
    from .mapping import SiteMapping, load_mapping
    from .schema import pandera_schema, table_schema
    from .validation import PROBLEM_COLUMNS, Problem, ValidationReport

__all__ = [
    "ALL_TABLES",
    "PRACTICE_TABLES",
    "PROBLEM_COLUMNS",
    "TABLES",
    "Export",
    "Manifest",
    "Problem",
    "SiteMapping",
    "ValidationReport",
    "data_dictionary_markdown",
    "load_export",
    "load_mapping",
    "pandera_schema",
    "table_schema",
]

__getattr__, __dir__ = lazy_exports(__name__)
