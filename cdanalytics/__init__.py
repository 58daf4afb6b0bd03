"""cdanalytics: evaluate domestic-abuse perpetrator programmes from anonymised case exports.

The data's path through the package:

* :mod:`cdanalytics.io` — load a case export, validate it against the contract
  in ``data/schemas/``, refuse direct identifiers (:func:`load_export`);
* :mod:`cdanalytics.engagement`, :mod:`cdanalytics.reoffending`,
  :mod:`cdanalytics.matching`, :mod:`cdanalytics.prepost` — the analyses,
  each returning tidy DataFrames; :mod:`cdanalytics.practice` — Safe &
  Together practice from case-file audits and family outcomes;
* :mod:`cdanalytics.disclosure` — small-count suppression for anything a
  manager reads;
* :mod:`cdanalytics.charts` — matplotlib figures of the tidy results;
* :mod:`cdanalytics.report` and the ``cdanalytics`` command line — the HTML
  report and batch runs.

The most used functions are re-exported here; the modules hold the rest.
"""

from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from ._version import __version__

if TYPE_CHECKING:  # imported on first use, see cdanalytics._lazy
    from . import (
        charts,
        disclosure,
        engagement,
        io,
        matching,
        practice,
        prepost,
        registry,
        reoffending,
        report,
        synth,
    )
    from .config import EvaluationConfig, load_config
    from .disclosure import DisclosurePolicy, protect_frame, suppress_counts
    from .engagement import (
        attendance,
        attendance_summary,
        completion,
        dropout,
        dropout_model,
        dropout_timing,
        flow,
        flow_exits,
        prepare_engagement,
        retention,
        waiting_times,
    )
    from .errors import (
        AnalysisError,
        CdaError,
        CdaWarning,
        ConfigError,
        ConvergenceError,
        DataQualityWarning,
        ExportError,
        ExportValidationError,
        FreeTextWarning,
        GroupLabelWarning,
        IdentifierError,
        InsufficientDataError,
        MissingTranslationWarning,
        OutputFolderError,
        StatisticalWarning,
    )
    from .io import Export, Manifest, ValidationReport, load_export
    from .io.pseudonymise import pseudonymise_export
    from .matching import match, matched_cox, matched_effect, propensity_scores
    from .prepost import attrition, change, mixed_model, reliable_change, reliable_change_summary
    from .registry import (
        Registries,
        audit_tool_registry,
        instrument_registry,
        programme_registry,
    )
    from .reoffending import (
        ReoffendingDefinition,
        cox,
        cumulative_reoffending,
        fixed_window,
        logrank,
        person_outcomes,
    )
    from .report import build_report
    from .report.batch import batch_reports
    from .synth import generate as generate_synthetic
    from .synth import write_synthetic_export

__all__ = [
    "AnalysisError",
    "CdaError",
    "CdaWarning",
    "ConfigError",
    "ConvergenceError",
    "DataQualityWarning",
    "DisclosurePolicy",
    "EvaluationConfig",
    "Export",
    "ExportError",
    "ExportValidationError",
    "FreeTextWarning",
    "GroupLabelWarning",
    "IdentifierError",
    "InsufficientDataError",
    "Manifest",
    "MissingTranslationWarning",
    "OutputFolderError",
    "Registries",
    "ReoffendingDefinition",
    "StatisticalWarning",
    "ValidationReport",
    "__version__",
    "attendance",
    "attendance_summary",
    "attrition",
    "audit_tool_registry",
    "batch_reports",
    "build_report",
    "change",
    "charts",
    "completion",
    "cox",
    "cumulative_reoffending",
    "disclosure",
    "dropout",
    "dropout_model",
    "dropout_timing",
    "engagement",
    "fixed_window",
    "flow",
    "flow_exits",
    "generate_synthetic",
    "instrument_registry",
    "io",
    "load_config",
    "load_export",
    "logrank",
    "match",
    "matched_cox",
    "matched_effect",
    "matching",
    "mixed_model",
    "person_outcomes",
    "practice",
    "prepare_engagement",
    "prepost",
    "programme_registry",
    "propensity_scores",
    "protect_frame",
    "pseudonymise_export",
    "registry",
    "reliable_change",
    "reliable_change_summary",
    "reoffending",
    "report",
    "retention",
    "suppress_counts",
    "synth",
    "waiting_times",
    "write_synthetic_export",
]

__getattr__, __dir__ = lazy_exports(__name__)
