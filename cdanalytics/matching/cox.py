"""Cox proportional hazards ratio of programme vs matched comparison, with
Efron ties, matching weights as case weights and robust standard errors
clustered by matched set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .. import _cox
from ..errors import AnalysisError, InsufficientDataError
from .effects import long_form
from .nearest import MatchResult

__all__ = ["MatchedCox", "matched_cox"]


def _efron_cox(
    time: np.ndarray,
    event: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    strata: np.ndarray,
    clusterings: list[tuple[float, np.ndarray]],
) -> tuple[float, float, float]:
    """Weighted Efron Cox fit of one covariate: (beta, model SE, robust SE).

    Robust variance: ``sum_c sign_c * sum_g (sum_{i in g} w_i U_i)^2 / I^2``
    over the given clusterings (one clustering with sign +1 is R's
    ``coxph(..., cluster=)`` and lifelines' ``cluster_col``; two-way adds the
    second and subtracts their intersection).
    """
    risk_sets = _cox.prepare(time, event, x.astype(float)[:, None], strata, "efron", weight=w)
    message = (
        "the Cox model on the matched sample did not converge (the hazard ratio "
        "runs off to 0 or infinity), so no hazard ratio can be given"
    )
    beta, _, information, _ = _cox.fit(risk_sets, 1, message)
    wu = _cox.score_residuals(risk_sets, beta, len(time))[:, 0]
    info = float(information[0, 0])
    meat = sum(
        sign * float(np.sum(np.bincount(pd.factorize(labels)[0], weights=wu) ** 2))
        for sign, labels in clusterings
    )
    return float(beta[0]), float(np.sqrt(1.0 / info)), float(np.sqrt(meat) / info)


@dataclass(frozen=True)
class MatchedCox:
    """Cox hazard ratio of the programme on the matched sample.

    ``summary`` has one row: ``hr``, ``ci_low``, ``ci_high``, ``log_hr``,
    ``se_robust`` (used for the CI and p-value), ``se_model``, ``p_value``,
    ``n_treated``, ``n_control``, ``events_treated``, ``events_control``,
    ``stratified`` (by matched set) and ``ties`` ("efron").
    ``alpha`` is 1 - the confidence level of ``ci_low`` / ``ci_high``. (The
    report words the result: :func:`cdanalytics.report.wording.matched_cox_statement`.)
    """

    summary: pd.DataFrame
    alpha: float = 0.05

    def __repr__(self) -> str:
        """Key figures: the hazard ratio, its interval and p-value, people and events."""
        if self.summary.empty:
            return "<cdanalytics.MatchedCox: no estimate>"
        row = self.summary.iloc[0]
        return (
            f"<cdanalytics.MatchedCox: HR {row['hr']:.3g} ({row['ci_low']:.3g} to"
            f" {row['ci_high']:.3g}), p = {row['p_value']:.3g}; {int(row['n_treated']):,}"
            f" programme and {int(row['n_control']):,} comparison people,"
            f" {int(row['events_treated']):,} and {int(row['events_control']):,} events>"
        )


def matched_cox(
    result: MatchResult,
    duration: str = "duration_days",
    event: str = "event",
    *,
    stratify: bool = False,
    alpha: float = 0.05,
) -> MatchedCox:
    """Cox proportional hazards ratio of programme vs matched comparison.

    Parameters
    ----------
    result
        From :func:`match`.
    duration, event
        Columns of the matched data: follow-up time (non-negative) and event
        indicator (0/1 or boolean; 0 = censored).
    stratify
        ``False`` (default): one baseline hazard, giving the marginal hazard
        ratio in the matched sample (Austin 2013). ``True``: a baseline hazard
        per matched set, giving the within-set (conditional) hazard ratio.
    alpha
        1 - confidence level.

    Returns
    -------
    MatchedCox

    Notes
    -----
    Efron's method for tied times (R's default) with the matching weights as
    case weights (MatchIt's ``get_matches()`` layout: a control in a set of k
    controls has weight 1/k). The standard error is robust (sandwich) and
    clustered by matched set; with replacement two-way by matched set and
    person (set + person - their intersection), as controls are reused.
    statsmodels' ``PHReg`` takes neither case weights nor Efron score
    residuals, so the fit is the vectorised :mod:`cdanalytics._cox` (shared
    with :func:`cdanalytics.reoffending.cox`); tests check it against
    lifelines and statsmodels.

    References
    ----------
    Efron, B. (1977). The efficiency of Cox's likelihood function for
    censored data. JASA 72:557-565. Lin, D. Y. & Wei, L. J. (1989). The
    robust inference for the Cox proportional hazards model. JASA
    84:1074-1078. Austin, P. C. (2013). The performance of different
    propensity score methods for estimating marginal hazard ratios.
    Statistics in Medicine 32:2837-2849.
    """
    long = long_form(result, [duration, event])
    time = pd.to_numeric(long[duration], errors="coerce").to_numpy(dtype="float64")
    if not np.all(np.isfinite(time)) or np.any(time < 0):
        raise AnalysisError(f"'{duration}' must be a non-negative number for every matched row")
    ev = long[event]
    if not ev.isin([0, 1, True, False]).all():
        raise AnalysisError(f"'{event}' must be 0/1 or True/False")
    ev = ev.astype("float64").to_numpy()
    x = long["treated"].to_numpy()
    persons = long.drop_duplicates("unit")
    ev_t = int(persons.loc[persons["treated"] == 1, event].astype("float64").sum())
    ev_c = int(persons.loc[persons["treated"] == 0, event].astype("float64").sum())
    if ev_t == 0 or ev_c == 0:
        raise InsufficientDataError(
            f"the matched {'programme' if ev_t == 0 else 'comparison'} group has no "
            f"'{event}' events; a hazard ratio cannot be estimated"
        )
    sub = long["subclass"].to_numpy()
    strata = sub if stratify else np.zeros(len(long), dtype=np.int64)
    if result.settings["replace"]:
        unit = pd.factorize(long["unit"])[0]
        clusterings = [(1.0, sub), (1.0, unit), (-1.0, np.arange(len(long)))]
    else:
        clusterings = [(1.0, sub)]
    beta, se_model, se_robust = _efron_cox(
        time, ev, x, long["pair_weight"].to_numpy(), strata, clusterings
    )
    z = stats.norm.ppf(1 - alpha / 2)
    row = {
        "hr": float(np.exp(beta)),
        "ci_low": float(np.exp(beta - z * se_robust)),
        "ci_high": float(np.exp(beta + z * se_robust)),
        "log_hr": beta,
        "se_robust": se_robust,
        "se_model": se_model,
        "p_value": float(2 * stats.norm.sf(abs(beta / se_robust))),
        "n_treated": int((persons["treated"] == 1).sum()),
        "n_control": int((persons["treated"] == 0).sum()),
        "events_treated": ev_t,
        "events_control": ev_c,
        "stratified": bool(stratify),
        "ties": "efron",
    }
    return MatchedCox(summary=pd.DataFrame([row]), alpha=alpha)
