"""The evaluation report: every outcome, protected, in one HTML page and files.

:func:`build_report` is the main job (``cdanalytics report``);
:func:`batch_reports` runs it over a folder of exports (``cdanalytics batch``).
"""

from .build import ReportRun, build_report, config_digest, input_checksums
from .compute import Outcomes, compute_outcomes
from .headlines import OUTCOMES_SCHEMA_VERSION, headline_figures
from .published import PublishedTable
from .summary import summary_sentences
from .tables import SPECS, publish_tables
from .wording import matched_cox_statement, matched_effect_statement

__all__ = [
    "OUTCOMES_SCHEMA_VERSION",
    "SPECS",
    "Outcomes",
    "PublishedTable",
    "ReportRun",
    "build_report",
    "compute_outcomes",
    "config_digest",
    "headline_figures",
    "input_checksums",
    "matched_cox_statement",
    "matched_effect_statement",
    "publish_tables",
    "summary_sentences",
]
