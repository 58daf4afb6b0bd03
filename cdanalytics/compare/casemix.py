"""Fair comparison of sites and cohorts: case-mix expected counts, O/E and funnel limits.

A site that takes more high-risk men, or a quarter with more of them, has
more reoffending for that alone. A case-mix model fitted on all programme
participants (logistic regression for the fixed-window reoffending rate,
Cox regression for time to reoffence) predicts each man's risk from what
he brings (risk level, prior offences, age band); summed over a site or a
referral quarter it gives the count *expected* there. Observed / expected
(O/E), with exact Poisson limits, and the indirectly standardised rate (O/E
times the overall rate) compare units on an equal footing; the funnel
limits of :mod:`.funnel` show which differ by more than chance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import linalg, special
from statsmodels.duration.hazard_regression import PHReg

from .._design import design_matrix
from .._groups import by_columns, group_by
from ..errors import ConfigError, ConvergenceError, InsufficientDataError
from ..io.export import Export
from ..reoffending.definition import ReoffendingDefinition, resolve_outcomes
from .funnel import (
    FUNNEL_LEVELS,
    funnel_limits,
    overdispersion,
    poisson_ratio_ci,
    ratio_z_scores,
)

__all__ = [
    "CASEMIX_COLUMNS",
    "DEFAULT_CASEMIX",
    "CaseMixComparison",
    "CaseMixModel",
    "casemix_comparison",
    "casemix_model",
    "referral_quarter",
]

#: Case-mix covariates used by default (those present in the data).
DEFAULT_CASEMIX: tuple[str, ...] = ("risk_level", "prior_offences", "age_band")

#: Columns of :attr:`CaseMixComparison.table` after the unit columns.
CASEMIX_COLUMNS: list[str] = [
    "n",
    "observed",
    "expected",
    "oe_ratio",
    "oe_ci_low",
    "oe_ci_high",
    "observed_rate",
    "expected_rate",
    "standardised_rate",
    "standardised_ci_low",
    "standardised_ci_high",
    "z",
    "limit_95_low",
    "limit_95_high",
    "limit_998_low",
    "limit_998_high",
    "outside_95",
    "outside_998",
]

Outcome = Literal["window", "survival"]


@dataclass(frozen=True)
class CaseMixComparison:
    """Observed and case-mix expected reoffending per unit (site, quarter, ...).

    Attributes
    ----------
    table
        One row per unit: the unit columns, then :data:`CASEMIX_COLUMNS`:
        ``n`` people, ``observed`` reoffenders (``window``) or first
        reoffences (``survival``), ``expected`` from the case-mix model,
        ``oe_ratio`` = observed / expected with exact Poisson limits
        (:func:`~cdanalytics.compare.poisson_ratio_ci`), ``observed_rate``
        and ``expected_rate`` (per person), ``standardised_rate`` = O/E ×
        the overall rate with its limits (indirect standardisation),
        ``z`` (Spiegelhalter's z of O/E against 1), the funnel limits of
        O/E at 95% and 99.8% for the unit's expected count, and whether the
        unit is outside them.
    outcome
        ``"window"`` (logistic model of reoffending within the fixed window,
        eligible people only) or ``"survival"`` (Cox model of time to first
        reoffence; expected = Breslow cumulative hazard × exp(x b)).
    covariates
        Case-mix covariates of the model.
    coefficients
        The model's coefficients by design column (intercept first for the
        logistic model).
    overall_rate
        Observed count / people, over all units.
    phi, phi_p_value
        Overdispersion factor from winsorised z-scores and its test
        (:func:`~cdanalytics.compare.overdispersion`).
    overdispersed
        Whether the funnel limits in ``table`` were widened by ``phi``.
    """

    table: pd.DataFrame
    outcome: str
    covariates: tuple[str, ...]
    coefficients: np.ndarray
    overall_rate: float
    phi: float
    phi_p_value: float
    overdispersed: bool
    levels: tuple[float, ...] = field(default=FUNNEL_LEVELS)

    def __repr__(self) -> str:
        """Shape and key figures: units, the model, the overall rate, units outside limits."""
        outside = [c for c in self.table.columns if c.startswith("outside_")]
        flagged = int(self.table[outside[-1]].sum()) if outside else 0
        widest = f"{max(self.levels):.1%}" if self.levels else "widest"
        widened = ", limits widened" if self.overdispersed else ""
        return (
            f"<cdanalytics.CaseMixComparison: {len(self.table):,} units, {self.outcome} model on"
            f" {len(self.covariates)} covariates; overall rate {self.overall_rate:.3g};"
            f" {flagged} unit(s) outside the {widest} limits; phi {self.phi:.3g}"
            f" (p = {self.phi_p_value:.3g}){widened}>"
        )


def referral_quarter(dates: pd.Series) -> pd.Series:
    """Calendar quarter of each date as ``"2024Q3"`` (missing stays missing)."""
    values = pd.to_datetime(dates)
    year = values.dt.year
    quarter = values.dt.quarter
    text = year.astype("Int64").astype(str) + "Q" + quarter.astype("Int64").astype(str)
    return text.where(values.notna()).astype("category")


def _people(
    data: Export | pd.DataFrame,
    outcome: Outcome,
    definition: ReoffendingDefinition | None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Programme participants in the analysis and their observed outcome (0/1)."""
    required = (
        ("window_eligible", "reoffended_in_window")
        if outcome == "window"
        else ("duration_days", "event")
    )
    cohort = resolve_outcomes(data, definition, required)
    keep = np.ones(len(cohort), dtype=bool)
    if "group" in cohort.columns:  # compared as category codes, not as a million strings
        keep &= (cohort["group"] == "programme").to_numpy(dtype=bool, na_value=False)
    if outcome == "window":
        keep &= cohort["window_eligible"].to_numpy(dtype=bool)
    if not keep.all():
        cohort = cohort[keep]  # one copy of the rows kept
    if outcome == "window":
        y = cohort["reoffended_in_window"].fillna(False).to_numpy(dtype=float)
    else:
        y = cohort["event"].to_numpy(dtype=float)
    if cohort.empty:
        raise InsufficientDataError("Nobody is eligible for the case-mix comparison.")
    if "referral_quarter" not in cohort.columns and "referral_date" in cohort.columns:
        cohort = cohort.assign(referral_quarter=referral_quarter(cohort["referral_date"]))
    return cohort.reset_index(drop=True), y


def _logistic_expected(
    x: np.ndarray, y: np.ndarray, tol: float = 1e-10, max_iter: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted probability of each person and the coefficients of a logistic
    regression by Newton-Raphson (iteratively reweighted least squares) on the
    p x p normal equations, which keeps a million rows to a fraction of a second."""
    beta = np.zeros(x.shape[1])
    weighted = np.empty_like(x)  # x scaled by each row's weight: one buffer for every step
    for _ in range(max_iter):
        p = special.expit(x @ beta)
        hessian = np.multiply(x, (p * (1 - p))[:, None], out=weighted).T @ x
        try:
            step = linalg.solve(hessian, x.T @ (y - p), assume_a="pos")
        except linalg.LinAlgError as exc:
            raise ConvergenceError(
                "The case-mix model could not be fitted (a covariate level predicts the "
                "outcome perfectly, or too few people)."
            ) from exc
        beta = beta + step
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            return special.expit(x @ beta), beta
    raise ConvergenceError("The logistic case-mix model did not converge in 50 iterations.")


def _cox_expected(
    x: np.ndarray, time: np.ndarray, event: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Expected events of each person under a Cox model (statsmodels PHReg, Breslow ties):
    the Breslow cumulative baseline hazard at his follow-up time × exp(x b)."""
    covariates = x[:, 1:]
    if covariates.shape[1]:
        fit = PHReg(time, covariates, status=event, ties="breslow").fit()
        beta = np.asarray(fit.params, dtype=float)
        risk = np.exp(covariates @ beta)
    else:
        beta = np.empty(0)
        risk = np.ones(len(time))
    times, inverse = np.unique(time, return_inverse=True)
    deaths = np.bincount(inverse, weights=event, minlength=len(times))
    at_risk = np.cumsum(np.bincount(inverse, weights=risk, minlength=len(times))[::-1])[::-1]
    cumulative = np.cumsum(np.where(deaths > 0, deaths / at_risk, 0.0))
    return cumulative[inverse] * risk, beta


def _identified(x: np.ndarray) -> np.ndarray:
    """Drop design columns that are constant (all levels but one unused, say)."""
    keep = np.r_[True, x[:, 1:].std(axis=0) > 0]
    return x[:, keep]


@dataclass(frozen=True)
class CaseMixModel:
    """A fitted case-mix model and each person's observed and expected outcome.

    Attributes
    ----------
    people
        The programme participants in the model (one row each, the columns
        of the outcome table, with ``referral_quarter`` added from
        ``referral_date`` where absent).
    observed, expected
        Per person: the outcome (0/1) and its expectation under the model.
    outcome, covariates, coefficients
        As in :class:`CaseMixComparison`.
    """

    people: pd.DataFrame
    observed: np.ndarray
    expected: np.ndarray
    outcome: str
    covariates: tuple[str, ...]
    coefficients: np.ndarray

    def __repr__(self) -> str:
        """Shape and key figures: people, covariates, observed and expected totals."""
        covariates = ", ".join(self.covariates)[:80]
        return (
            f"<cdanalytics.CaseMixModel: {self.outcome} model of {len(self.people):,} people on"
            f" {covariates}; observed {self.observed.sum():,.0f},"
            f" expected {self.expected.sum():,.1f}>"
        )


def casemix_model(
    data: Export | pd.DataFrame,
    *,
    outcome: Outcome = "window",
    covariates: Sequence[str] | None = None,
    definition: ReoffendingDefinition | None = None,
) -> CaseMixModel:
    """Fit the case-mix model once, for comparisons by several units.

    Parameters are those of :func:`casemix_comparison`; pass the result to
    it in place of the data to compare sites and referral quarters without
    refitting.

    Returns
    -------
    CaseMixModel
    """
    if outcome not in ("window", "survival"):
        raise ConfigError(f"outcome must be 'window' or 'survival', not {outcome!r}.")
    people, y = _people(data, outcome, definition)
    explicit = covariates is not None
    names = list(DEFAULT_CASEMIX if covariates is None else covariates)
    absent = [c for c in names if c not in people.columns]
    if explicit and absent:
        raise ConfigError(f"Case-mix covariate(s) {absent} are not in the data.")
    names = [c for c in names if c in people.columns]
    x = _identified(design_matrix(people[names]))
    if outcome == "window":
        expected, coefficients = _logistic_expected(x, y)
    else:
        expected, coefficients = _cox_expected(x, people["duration_days"].to_numpy(dtype=float), y)
    return CaseMixModel(
        people=people,
        observed=y,
        expected=expected,
        outcome=outcome,
        covariates=tuple(names),
        coefficients=coefficients,
    )


def casemix_comparison(
    data: Export | pd.DataFrame | CaseMixModel,
    by: str | Sequence[str] = "site",
    *,
    outcome: Outcome = "window",
    covariates: Sequence[str] | None = None,
    definition: ReoffendingDefinition | None = None,
    alpha: float = 0.05,
    overdispersion_adjust: bool | None = None,
    winsor: float = 0.1,
) -> CaseMixComparison:
    """Observed against case-mix expected reoffending per site, quarter or other unit.

    Parameters
    ----------
    data
        A :class:`CaseMixModel` (:func:`casemix_model`; then ``outcome``,
        ``covariates`` and ``definition`` are those of the model), an
        export, or the table from
        :func:`~cdanalytics.reoffending.person_outcomes`. Only programme
        participants (``group == "programme"`` where there is a ``group``)
        are compared; for ``outcome="window"`` only those whose window is
        over (``window_eligible``).
    by
        Unit column(s): ``"site"`` (default), ``"referral_quarter"`` (made
        from ``referral_date``), ``"cohort"``, ... Missing values form their
        own unit.
    outcome
        ``"window"``: reoffending within the fixed window, logistic case-mix
        model (expected = sum of predicted probabilities). ``"survival"``:
        first reoffence during follow-up, Cox case-mix model (expected = sum
        of each man's cumulative hazard at the end of his follow-up, so
        unequal follow-up is allowed for).
    covariates
        Case-mix columns; ``None`` for those of :data:`DEFAULT_CASEMIX` in
        the data. The unit is not a covariate: the model describes the
        whole programme, so a unit's expected count is what the programme as
        a whole would have with its intake (indirect standardisation).
    definition
        The reoffending measure when ``data`` is an export.
    alpha
        1 - confidence level of the O/E and standardised-rate limits.
    overdispersion_adjust
        Widen the funnel limits by the overdispersion factor ``phi``
        (multiplicative model, Spiegelhalter 2005 section 4.2): ``True``,
        ``False``, or ``None`` (default) to do so when ``phi > 1`` and its
        chi-square test has p < 0.05.
    winsor
        Share of z-scores winsorised at each end when estimating ``phi``.

    Returns
    -------
    CaseMixComparison

    References
    ----------
    Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional
    performance. Statistics in Medicine 24:1185-1202. Breslow, N. E. (1972).
    Discussion of Professor Cox's paper. JRSS B 34:216-217. WODC
    Recidivemonitor: observed and composition-corrected recidivism.

    Examples
    --------
    Three sites with the same intake (prior offences 0 to 4, twice each):
    a logistic model with an intercept predicts as many reoffences in all as
    were observed (15), and each site, with the same case mix, is expected to
    have a third of them, 5. Site C's 8 give O/E = 8 / 5 = 1.6:

    >>> import pandas as pd
    >>> people = pd.DataFrame({
    ...     "site": ["A"] * 10 + ["B"] * 10 + ["C"] * 10,
    ...     "window_eligible": True,
    ...     "prior_offences": [0, 1, 2, 3, 4] * 6,
    ...     "reoffended_in_window": [0, 0, 1, 0, 1, 0, 1, 0, 0, 0,
    ...                              0, 0, 0, 1, 1, 0, 1, 1, 0, 0,
    ...                              1, 0, 1, 1, 1, 0, 1, 1, 1, 1],
    ... })
    >>> result = casemix_comparison(people, "site", covariates=["prior_offences"])
    >>> result.table[["site", "n", "observed"]].values.tolist()
    [['A', 10, 3], ['B', 10, 4], ['C', 10, 8]]
    >>> result.table["expected"].round(4).tolist(), result.table["oe_ratio"].round(4).tolist()
    ([5.0, 5.0, 5.0], [0.6, 0.8, 1.6])
    """
    if isinstance(data, CaseMixModel):
        if covariates is not None or definition is not None:
            raise ConfigError("covariates and definition belong to the case-mix model given.")
        model = data
    else:
        model = casemix_model(data, outcome=outcome, covariates=covariates, definition=definition)
    people, y, expected_each = model.people, model.observed, model.expected
    keys = by_columns(by, people)
    if set(keys) & set(model.covariates):
        raise ConfigError("A unit column cannot also be a case-mix covariate.")
    groups = group_by(people.assign(_y=y, _e=expected_each), keys)
    table = groups.agg(n=("_y", "size"), observed=("_y", "sum"), expected=("_e", "sum"))
    table = table.reset_index(drop=not keys)
    table["observed"] = table["observed"].round().astype(np.int64)
    o = table["observed"].to_numpy(dtype=float)
    e = table["expected"].to_numpy(dtype=float)
    n = table["n"].to_numpy(dtype=float)
    overall = float(y.sum() / len(y))
    with np.errstate(divide="ignore", invalid="ignore"):
        table["oe_ratio"] = o / e
    table["oe_ci_low"], table["oe_ci_high"] = poisson_ratio_ci(o, e, alpha)
    table["observed_rate"] = o / n
    table["expected_rate"] = e / n
    table["standardised_rate"] = table["oe_ratio"] * overall
    table["standardised_ci_low"] = table["oe_ci_low"] * overall
    table["standardised_ci_high"] = table["oe_ci_high"] * overall
    z = ratio_z_scores(o, e, 1.0)
    table["z"] = z
    phi, phi_p = overdispersion(z, winsor)
    adjust = (
        bool(np.isfinite(phi) and phi > 1 and phi_p < 0.05)
        if overdispersion_adjust is None
        else bool(overdispersion_adjust)
    )
    limits = funnel_limits(e, 1.0, kind="ratio", phi=max(phi, 1.0) if adjust else 1.0)
    for level, name in zip(FUNNEL_LEVELS, ("95", "998"), strict=True):
        low, high = limits[level]
        table[f"limit_{name}_low"] = low
        table[f"limit_{name}_high"] = high
        ratio = table["oe_ratio"].to_numpy()
        table[f"outside_{name}"] = (ratio < low) | (ratio > high)
    return CaseMixComparison(
        table=table[[*keys, *CASEMIX_COLUMNS]],
        outcome=model.outcome,
        covariates=model.covariates,
        coefficients=model.coefficients,
        overall_rate=overall,
        phi=phi,
        phi_p_value=phi_p,
        overdispersed=adjust,
    )
