"""Landmark analysis of dose: reoffending from a landmark date by the sessions
attended before it.

Follow-up starts at the landmark (for example 12 weeks after the index date)
and only men still at risk then (not reoffended, not censored before it) are
analysed, each with the sessions he attended before the landmark as his dose.
Because dose is fixed before follow-up starts, nobody's time counts as
"immortal" (Anderson, Cain & Gelber 1983); the price is that reoffences
before the landmark, and sessions after it, are not used. The Cox model and
Kaplan-Meier curves are those of :func:`~cdanalytics.reoffending.cox` and
:func:`~cdanalytics.reoffending.cumulative_reoffending`, with time measured
from the landmark.

References
----------
Anderson, J. R., Cain, K. C. & Gelber, R. D. (1983). Analysis of survival by
tumor response. Journal of Clinical Oncology 1:710-719.
Dafni, U. (2011). Landmark analysis at the 25-year landmark point.
Circulation: Cardiovascular Quality and Outcomes 4:363-371.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..io.export import Export
from .cox import CoxResult, cox
from .definition import ReoffendingDefinition
from .dose import ATTENDANCE_TERM, _cohort_and_sessions, attended_days
from .survival import DEFAULT_HORIZONS_MONTHS, CumulativeReoffending, cumulative_reoffending

__all__ = ["BAND_COLUMN", "DEFAULT_BANDS", "DEFAULT_LANDMARK_DAYS", "LandmarkResult", "landmark"]

#: Default landmark: 12 weeks after the index date.
DEFAULT_LANDMARK_DAYS: int = 84
#: Default lower bounds of the attendance bands of :meth:`LandmarkResult.cumulative`.
DEFAULT_BANDS: tuple[int, ...] = (0, 1, 6, 12)
#: Column of the attendance band in :meth:`LandmarkResult.cumulative`.
BAND_COLUMN = "sessions_band"


@dataclass(frozen=True)
class LandmarkResult:
    """Reoffending from a landmark date by sessions attended before it.

    Attributes
    ----------
    landmark_days
        Days from the index date to the landmark.
    cohort
        The people at risk at the landmark: the outcome table's rows with
        ``duration_days`` counted from the landmark and ``sessions_attended``
        (sessions attended before the landmark date).
    cox
        Cox model of time from the landmark to first reoffence on
        ``sessions_attended`` (and the covariates): its hazard ratio is per
        session attended before the landmark.
    n_in_cohort
        People in the reoffending cohort before the landmark.
    n_reoffended_before, n_censored_before
        People left out because they reoffended, or their follow-up ended,
        on or before the landmark.
    """

    landmark_days: int
    cohort: pd.DataFrame
    cox: CoxResult
    n_in_cohort: int
    n_reoffended_before: int
    n_censored_before: int

    def __repr__(self) -> str:
        """Shape and key figures: who is at risk at the landmark, and the dose hazard ratio."""
        first = self.cox.summary.iloc[0] if len(self.cox.summary) else None
        hr = (
            f"; {first['term']} HR {first['hazard_ratio']:.3g}"
            f" ({first['ci_low']:.3g} to {first['ci_high']:.3g})"
            if first is not None
            else ""
        )
        return (
            f"<cdanalytics.LandmarkResult: landmark {self.landmark_days:,} days;"
            f" {self.n_at_risk:,} of {self.n_in_cohort:,} people at risk"
            f" ({self.n_reoffended_before:,} reoffended, {self.n_censored_before:,} censored"
            f" before); {self.cox.n_events:,} first reoffences after{hr}>"
        )

    @property
    def n_at_risk(self) -> int:
        """People at risk at the landmark (analysed)."""
        return len(self.cohort)

    def cumulative(
        self,
        bands: Sequence[int] = DEFAULT_BANDS,
        *,
        horizons_months: Sequence[float] = DEFAULT_HORIZONS_MONTHS,
        alpha: float = 0.05,
    ) -> CumulativeReoffending:
        """Kaplan-Meier cumulative reoffending from the landmark per attendance band.

        Parameters
        ----------
        bands
            Increasing lower bounds of the bands of sessions attended before
            the landmark, the first 0: ``(0, 1, 6, 12)`` gives ``0``, ``1-5``,
            ``6-11`` and ``12+``.
        horizons_months, alpha
            As :func:`~cdanalytics.reoffending.cumulative_reoffending`, with
            months counted from the landmark.

        Returns
        -------
        CumulativeReoffending
            Grouped by :data:`BAND_COLUMN` (an ordered category).
        """
        bounds = [int(b) for b in bands]
        if not bounds or bounds[0] != 0 or any(b <= a for a, b in pairwise(bounds)):
            raise ConfigError("bands must be increasing whole numbers starting at 0.")
        labels = [
            f"{low}" if high == low + 1 else f"{low}-{high - 1}" for low, high in pairwise(bounds)
        ] + [f"{bounds[-1]}+"]
        position = np.searchsorted(bounds, self.cohort[ATTENDANCE_TERM].to_numpy(), "right") - 1
        band = pd.Categorical.from_codes(position, categories=labels, ordered=True)
        table = self.cohort.assign(**{BAND_COLUMN: band})
        return cumulative_reoffending(
            table, BAND_COLUMN, horizons_months=horizons_months, alpha=alpha
        )


def landmark(
    data: Export | pd.DataFrame,
    covariates: Sequence[str] = (),
    *,
    landmark_days: int = DEFAULT_LANDMARK_DAYS,
    sessions: pd.DataFrame | Export | None = None,
    session_types: Sequence[str] | None = None,
    ties: Literal["efron", "breslow"] = "efron",
    alpha: float = 0.05,
    definition: ReoffendingDefinition | None = None,
) -> LandmarkResult:
    """Landmark analysis: reoffending from ``landmark_days`` after the index
    date by the sessions attended before that date.

    Parameters
    ----------
    data
        An export, or the table from :func:`person_outcomes` (or a subset,
        usually programme participants only).
    covariates
        Further covariates of the Cox model (as in
        :func:`~cdanalytics.reoffending.cox`).
    landmark_days
        Days from the index date to the landmark (default 84, 12 weeks);
        choose it after most of the programme's sessions.
    sessions
        The sessions table (default: the export's); needed with a table. An
        export stands for its sessions table: the lookup of each session's
        participant that its load made then serves, and no session's
        identifier is hashed again (the same rows).
    session_types
        Count only these session types; default every type.
    ties, alpha
        As :func:`~cdanalytics.reoffending.cox`.
    definition
        The reoffending measure when ``data`` is an export.

    Returns
    -------
    LandmarkResult

    Raises
    ------
    ConfigError
        ``landmark_days`` not a whole number >= 1.
    InsufficientDataError
        Nobody reoffended after the landmark.
    AnalysisError, ConvergenceError
        As :func:`~cdanalytics.reoffending.cox` (for example, nobody at risk
        varies in attendance).

    References
    ----------
    Anderson, J. R., Cain, K. C. & Gelber, R. D. (1983). Analysis of survival
    by tumor response. Journal of Clinical Oncology 1:710-719.
    """
    if (
        isinstance(landmark_days, bool)
        or not isinstance(landmark_days, int | np.integer)
        or landmark_days < 1
    ):
        raise ConfigError("landmark_days must be a whole number of days >= 1.")
    if ATTENDANCE_TERM in covariates:
        raise ConfigError(f"{ATTENDANCE_TERM!r} is the landmark dose; do not list it.")
    export = sessions if isinstance(sessions, Export) else data
    if isinstance(sessions, Export):
        sessions = sessions.sessions
    cohort, sessions = _cohort_and_sessions(data, sessions, definition, ("index_date",))
    pos, day = attended_days(
        cohort, sessions, session_types, export if isinstance(export, Export) else None
    )
    dose = np.bincount(pos[day < landmark_days], minlength=len(cohort))
    del pos, day  # every attended session's row and day: gone before the model is fitted
    duration = cohort["duration_days"].to_numpy(dtype=float)
    event = cohort["event"].to_numpy(dtype=bool)
    at_risk = duration > landmark_days
    table = cohort.loc[at_risk].assign(
        duration_days=duration[at_risk] - landmark_days,
        **{ATTENDANCE_TERM: dose[at_risk]},
    )
    table.attrs = {}
    model = cox(table, [ATTENDANCE_TERM, *covariates], ties=ties, alpha=alpha)
    return LandmarkResult(
        landmark_days=int(landmark_days),
        cohort=table,
        cox=model,
        n_in_cohort=len(cohort),
        n_reoffended_before=int((~at_risk & event).sum()),
        n_censored_before=int((~at_risk & ~event).sum()),
    )
