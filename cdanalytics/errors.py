"""Exception classes raised by cdanalytics.

Every error a researcher can meet is one of these, with a message that says
what is wrong and what to do about it. Warnings are :class:`CdaWarning`
subclasses, so that a caller can filter them by kind, for example
``warnings.simplefilter("error", StatisticalWarning)`` to stop on a result
whose statistics are doubtful.
"""

from __future__ import annotations

__all__ = [
    "AnalysisError",
    "CdaError",
    "CdaWarning",
    "ConfigError",
    "ConvergenceError",
    "DataQualityWarning",
    "ExportError",
    "ExportValidationError",
    "FreeTextWarning",
    "GroupLabelWarning",
    "IdentifierError",
    "InsufficientDataError",
    "MissingTranslationWarning",
    "OutputFolderError",
    "StatisticalWarning",
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


class OutputFolderError(CdaError):
    """An output folder is unsafe to write or busy.

    Raised before anything is written: the folder holds files cdanalytics did
    not write, is (or is inside, or holds) the export being read, or another
    cdanalytics run is writing it. The message names the folder and what to do.
    """


class AnalysisError(CdaError):
    """An analysis cannot be computed on the data given."""


class InsufficientDataError(AnalysisError):
    """Too few rows, events or groups for the analysis asked for."""


class ConvergenceError(AnalysisError):
    """A model fit did not converge (for example complete separation)."""


class CdaWarning(UserWarning):
    """Base class of every warning issued by cdanalytics."""


class StatisticalWarning(CdaWarning):
    """A result is computed but its statistics are doubtful or incomplete.

    For example too few events per model parameter, fewer comparison rows
    than matches asked for, or a reliable-change index that cannot be
    computed because the registry lacks the instrument's reliability.
    """


class DataQualityWarning(CdaWarning):
    """The data were read or analysed, but something in them deserves a look.

    For example participants left out of a model for a missing covariate, or
    IDs trimmed of spaces while loading; the message says how many.
    """


class GroupLabelWarning(DataQualityWarning):
    """A group label (a site or programme name) was renamed so that it cannot be
    taken for the overall row of a table."""


class FreeTextWarning(DataQualityWarning):
    """Free text was dropped from an export's free-text column (never shows the text)."""


class MissingTranslationWarning(CdaWarning):
    """A label key has no text in the language asked for.

    The key is shown in words instead (``caring_dads`` -> "caring dads"), which
    is never what a reader should see: add the key to both locale files
    (``cdanalytics/locales/``).
    """
