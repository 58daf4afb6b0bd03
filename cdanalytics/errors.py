"""Exception classes raised by cdanalytics.

Every error a researcher can meet is one of these, with a message that says
what is wrong and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "AnalysisError",
    "CdaError",
    "ConfigError",
    "ConvergenceError",
    "ExportError",
    "ExportValidationError",
    "FreeTextWarning",
    "IdentifierError",
    "InsufficientDataError",
]


class CdaError(Exception):
    """Base class of every error raised by cdanalytics."""


class ConfigError(CdaError, ValueError):
    """An evaluation config, mapping file, registry override or option is invalid."""


class ExportError(CdaError):
    """An export cannot be read at all (missing folder, manifest or table file)."""


class ExportValidationError(ExportError):
    """An export breaks the contract; ``.report`` holds every problem found."""

    def __init__(self, message: str, report=None):
        super().__init__(message)
        self.report = report


class IdentifierError(ExportError):
    """A table holds a column that looks like a direct identifier.

    The message names the table, file and column and why it looks like an
    identifier; it never contains the value itself.
    """


class AnalysisError(CdaError):
    """An analysis cannot be computed on the data given."""


class InsufficientDataError(AnalysisError):
    """Too few rows, events or groups for the analysis asked for."""


class ConvergenceError(AnalysisError):
    """A model fit did not converge (for example complete separation)."""


class FreeTextWarning(UserWarning):
    """Free text was dropped from an export's free-text column (never shows the text)."""
