"""Reoffending outcomes: proven-reoffending windows, survival curves, Cox models.

* :mod:`.definition` — :class:`ReoffendingDefinition` and
  :func:`person_outcomes`, the one-row-per-person table every other analysis
  (and the matched comparison in :mod:`cdanalytics.matching`) starts from;
* :mod:`.window` — :func:`fixed_window` rates, frequencies and timing;
* :mod:`.survival` — :func:`cumulative_reoffending` (Kaplan-Meier);
* :mod:`.at_risk` — :func:`at_risk_table`, numbers at risk at the horizons;
* :mod:`.log_rank` — :func:`logrank`, the (stratified) log-rank test;
* :mod:`.cox` — :func:`cox` proportional-hazards models;
* :mod:`.dose` — :func:`cox_time_varying`, attendance as a time-varying
  covariate on :func:`attendance_intervals`;
* :mod:`.landmark` — :func:`landmark`, reoffending from a landmark date by
  sessions attended before it.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:  # imported on first use, see cdanalytics._lazy
    from .at_risk import AT_RISK_COLUMNS, DAYS_PER_MONTH, DEFAULT_HORIZONS_MONTHS, at_risk_table
    from .cox import (
        COX_COLUMNS,
        DEFAULT_REFERENCES,
        PH_COLUMNS,
        PH_TRANSFORMS,
        TEST_COLUMNS,
        TIES,
        CoxResult,
        cox,
    )
    from .definition import (
        COUNTABLE_EVENT_TYPES,
        DISPOSALS,
        INDEX_OPTIONS,
        OUTCOME_COLUMNS,
        SERIOUSNESS_LEVELS,
        SURVIVAL_COLUMNS,
        ReoffendingDefinition,
        person_outcomes,
    )
    from .dose import (
        ATTENDANCE_TERM,
        INTERVAL_COLUMNS,
        TimeVaryingCoxResult,
        attendance_intervals,
        cox_time_varying,
    )
    from .landmark import (
        BAND_COLUMN,
        DEFAULT_BANDS,
        DEFAULT_LANDMARK_DAYS,
        LandmarkResult,
        landmark,
    )
    from .log_rank import LOGRANK_COLUMNS, LogrankResult, logrank
    from .survival import (
        CONF_TYPES,
        CURVE_COLUMNS,
        HORIZON_COLUMNS,
        MEDIAN_COLUMNS,
        CumulativeReoffending,
        cumulative_reoffending,
    )
    from .window import FIXED_WINDOW_COLUMNS, fixed_window

__all__ = [
    "ATTENDANCE_TERM",
    "AT_RISK_COLUMNS",
    "BAND_COLUMN",
    "CONF_TYPES",
    "COUNTABLE_EVENT_TYPES",
    "COX_COLUMNS",
    "CURVE_COLUMNS",
    "DAYS_PER_MONTH",
    "DEFAULT_BANDS",
    "DEFAULT_HORIZONS_MONTHS",
    "DEFAULT_LANDMARK_DAYS",
    "DEFAULT_REFERENCES",
    "DISPOSALS",
    "FIXED_WINDOW_COLUMNS",
    "HORIZON_COLUMNS",
    "INDEX_OPTIONS",
    "INTERVAL_COLUMNS",
    "LOGRANK_COLUMNS",
    "MEDIAN_COLUMNS",
    "OUTCOME_COLUMNS",
    "PH_COLUMNS",
    "PH_TRANSFORMS",
    "SERIOUSNESS_LEVELS",
    "SURVIVAL_COLUMNS",
    "TEST_COLUMNS",
    "TIES",
    "CoxResult",
    "CumulativeReoffending",
    "LandmarkResult",
    "LogrankResult",
    "ReoffendingDefinition",
    "TimeVaryingCoxResult",
    "at_risk_table",
    "attendance_intervals",
    "cox",
    "cox_time_varying",
    "cumulative_reoffending",
    "fixed_window",
    "landmark",
    "logrank",
    "person_outcomes",
]

__getattr__, __dir__ = lazy_exports(__name__)
