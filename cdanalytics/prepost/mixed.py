"""Linear mixed model of scores over timepoints with a random intercept per participant."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats
from statsmodels.regression.mixed_linear_model import MixedLM

from ..errors import ConfigError, ConvergenceError, InsufficientDataError
from ..io.export import Export
from ..registry import scale_info
from ._data import check_timepoints, registry_or_default, select_scores

__all__ = ["MIXED_SUMMARY_COLUMNS", "MixedModelResult", "mixed_model", "profile_reml_fit"]

#: Columns of :attr:`MixedModelResult.summary`.
MIXED_SUMMARY_COLUMNS: list[str] = [
    "kind",
    "term",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "z",
    "p_value",
    "n",
]

#: Above this many participants ``engine="auto"`` uses the profile-REML route.
AUTO_STATSMODELS_MAX_PARTICIPANTS = 10_000


@dataclass(frozen=True)
class MixedModelResult:
    """Fitted random-intercept model of one instrument, scale and informant.

    Attributes
    ----------
    instrument, scale, informant
        The outcome series.
    direction
        ``higher_worse`` or ``higher_better`` (registry).
    timepoints
        Timepoints in the model, first = reference of the contrasts.
    summary
        :data:`MIXED_SUMMARY_COLUMNS`: ``kind`` is ``mean`` (estimated mean
        at ``term`` = a timepoint; ``z``/``p_value`` empty; ``n`` scores at
        it) or ``contrast`` (``term`` = ``"post - pre"`` etc.; Wald z-test;
        ``n`` participants with both scores). CIs are Wald intervals.
    tau2, sigma2
        REML estimates of the participant (random intercept) variance and
        the residual variance; ``icc = tau2 / (tau2 + sigma2)``.
    n_participants, n_observations
        Participants with at least one score, and scores used.
    engine
        ``"statsmodels"`` (``MixedLM``) or ``"profile_reml"``
        (:func:`profile_reml_fit`).
    """

    instrument: str
    scale: str
    informant: str
    direction: str
    timepoints: tuple[str, ...]
    summary: pd.DataFrame
    tau2: float
    sigma2: float
    n_participants: int
    n_observations: int
    engine: str

    def __repr__(self) -> str:
        """Shape and key figures: the series, people, scores and variance components."""
        timepoints = ", ".join(self.timepoints)[:60]
        return (
            f"<cdanalytics.MixedModelResult: {self.instrument[:30]}/{self.scale[:30]}"
            f" ({self.informant[:20]}) at {timepoints}; {self.n_participants:,} participants,"
            f" {self.n_observations:,} scores; tau2 {self.tau2:.4g}, sigma2 {self.sigma2:.4g},"
            f" ICC {self.icc:.3g} ({self.engine})>"
        )

    @property
    def icc(self) -> float:
        """Intraclass correlation ``tau2 / (tau2 + sigma2)``."""
        return self.tau2 / (self.tau2 + self.sigma2)


def profile_reml_fit(
    participant: np.ndarray, timepoint: np.ndarray, y: np.ndarray, n_timepoints: int
) -> dict[str, Any]:
    """Exact REML fit of ``y = mu[timepoint] + b[participant] + e`` from grouped sums.

    With ``b ~ N(0, tau2)`` and ``e ~ N(0, sigma2)`` the covariance of a
    participant's ``m`` scores is ``sigma2 (I + g J)`` with ``g =
    tau2 / sigma2``, whose inverse is ``(I - g / (1 + m g) J) / sigma2`` and
    determinant ``sigma2^m (1 + m g)``. The GLS normal equations and the REML
    log-likelihood therefore depend on the data only through sums per
    pattern of observed timepoints (count, sum of the participant totals and
    of their squares) and per timepoint (count, sum), plus the total sum of
    squares. ``sigma2`` is profiled out (``Q / (N - p)``) and the profile
    REML log-likelihood is maximised over ``rho = g / (1 + g)`` in ``[0, 1)``
    by bounded Brent (``scipy.optimize.minimize_scalar``). Fixed-effect
    covariance: ``sigma2 (X' V^-1 X)^-1``. The result is the same model as
    ``statsmodels`` ``MixedLM(reml=True)`` with a random intercept, computed
    in O(N).

    Parameters
    ----------
    participant
        Integer code of each score's participant (0..n-1).
    timepoint
        Integer code of each score's timepoint (0..n_timepoints-1).
    y
        Scores.
    n_timepoints
        Number of timepoints (columns of the cell-means design).

    Returns
    -------
    dict
        ``beta`` (timepoint means), ``cov`` (their covariance), ``tau2``, ``sigma2``.

    References
    ----------
    Harville, D. A. (1977). Maximum likelihood approaches to variance
    component estimation and to related problems. JASA 72:320-338.
    Searle, S. R., Casella, G., & McCulloch, C. E. (1992). Variance
    components, ch. 6. Wiley.
    """
    p = n_timepoints
    n_obs = len(y)
    per_n = np.bincount(participant).astype(float)
    per_sum = np.bincount(participant, weights=y)
    pattern = np.bincount(participant, weights=2.0**timepoint).astype(np.int64)
    pat_code, pat_values = pd.factorize(pattern)
    n_pat = len(pat_values)
    pat_count = np.bincount(pat_code, minlength=n_pat).astype(float)
    pat_sum = np.bincount(pat_code, weights=per_sum, minlength=n_pat)
    pat_sumsq = np.bincount(pat_code, weights=per_sum**2, minlength=n_pat)
    pat_m = np.bincount(pat_code, weights=per_n, minlength=n_pat) / pat_count
    pat_ind = ((pat_values[:, None] >> np.arange(p)[None, :]) & 1).astype(float)
    outer = pat_ind[:, :, None] * pat_ind[:, None, :]
    tp_count = np.bincount(timepoint, minlength=p).astype(float)
    tp_sum = np.bincount(timepoint, weights=y, minlength=p)
    total_sq = float(np.dot(y, y))
    dof = n_obs - p

    def solve(g: float):
        w = g / (1.0 + pat_m * g)
        a = np.diag(tp_count) - np.einsum("k,kij->ij", w * pat_count, outer)
        b = tp_sum - (w * pat_sum) @ pat_ind
        beta = np.linalg.solve(a, b)
        q = total_sq - np.dot(w, pat_sumsq) - b @ beta
        return a, beta, q

    def neg_reml(rho: float) -> float:
        g = rho / (1.0 - rho)
        a, _, q = solve(g)
        logdet_a = np.linalg.slogdet(a)[1]
        return 0.5 * (dof * np.log(q / dof) + np.dot(pat_count, np.log1p(pat_m * g)) + logdet_a)

    upper = 1.0 - 1e-10
    best = optimize.minimize_scalar(
        neg_reml, bounds=(0.0, upper), method="bounded", options={"xatol": 1e-12}
    )
    rho = best.x if neg_reml(best.x) <= neg_reml(0.0) else 0.0
    g = rho / (1.0 - rho)
    a, beta, q = solve(g)
    sigma2 = q / dof
    return {"beta": beta, "cov": sigma2 * np.linalg.inv(a), "tau2": g * sigma2, "sigma2": sigma2}


def _statsmodels_fit(
    participant: np.ndarray, timepoint: np.ndarray, y: np.ndarray, n_timepoints: int
) -> dict[str, Any]:
    exog = np.zeros((len(y), n_timepoints))
    exog[np.arange(len(y)), timepoint] = 1.0
    res = MixedLM(y, exog, groups=participant).fit(reml=True)
    if not res.converged:
        raise ConvergenceError("statsmodels MixedLM did not converge; try engine='profile_reml'.")
    return {
        "beta": np.asarray(res.fe_params),
        "cov": np.asarray(res.cov_params())[:n_timepoints, :n_timepoints],
        "tau2": float(np.asarray(res.cov_re)[0, 0]),
        "sigma2": float(res.scale),
    }


def mixed_model(
    data: Export | pd.DataFrame,
    instrument: str,
    scale: str = "total",
    informant: str = "father",
    timepoints: Sequence[str] = ("pre", "post", "follow_up"),
    *,
    registry: Mapping[str, Any] | None = None,
    engine: Literal["auto", "statsmodels", "profile_reml"] = "auto",
    alpha: float = 0.05,
) -> MixedModelResult:
    """Random-intercept linear mixed model of one scale over timepoints.

    ``score_ij = mu_t(j) + b_i + e_ij`` with one mean per timepoint, a
    normal random intercept ``b_i`` per participant and normal residuals,
    fitted by REML. Every participant with at least one score is used, so
    participants with missing later scores contribute (valid under missing
    at random given the observed scores, unlike a completers-only analysis).

    Parameters
    ----------
    data
        A loaded export, or a :func:`score_table` made from one.
    instrument, scale, informant
        The outcome series.
    timepoints
        Timepoints to model; the first is the reference of the contrasts
        (``"post - pre"``, ``"follow_up - pre"``).
    registry
        Instrument registry (for the scale's direction and to check the
        scale exists); the built-in one if ``None``.
    engine
        ``"statsmodels"``: ``statsmodels`` ``MixedLM`` (REML, cell-means
        design); ``"profile_reml"``: the same model by :func:`profile_reml_fit`
        (exact, O(N), for large exports); ``"auto"``: statsmodels up to
        :data:`AUTO_STATSMODELS_MAX_PARTICIPANTS` participants, else profile REML.
    alpha
        1 - confidence level of the Wald intervals.

    Returns
    -------
    MixedModelResult

    Raises
    ------
    InsufficientDataError
        No scores for the series, a timepoint without scores, or no more
        scores than timepoints.
    ConvergenceError
        If statsmodels does not converge.

    References
    ----------
    Laird, N. M., & Ware, J. H. (1982). Random-effects models for
    longitudinal data. Biometrics 38:963-974.
    """
    if engine not in ("auto", "statsmodels", "profile_reml"):
        raise ConfigError(f"engine must be auto, statsmodels or profile_reml, not {engine!r}.")
    tps = check_timepoints(timepoints)
    if len(tps) < 2:
        raise ConfigError("A mixed model needs at least two timepoints.")
    info = scale_info(instrument, scale, registry_or_default(registry))
    scores = select_scores(data, tps, instruments=[instrument])
    in_series = scores["scale"].eq(scale).to_numpy() & scores["informant"].eq(informant).to_numpy()
    if not in_series.any():
        raise InsufficientDataError(f"No {instrument}/{scale} scores by informant {informant!r}.")
    wide = scores[in_series]
    values = wide[list(tps)].to_numpy()
    observed = ~np.isnan(values)
    n_at = observed.sum(axis=0)
    if (n_at == 0).any():
        empty = [t for t, n in zip(tps, n_at, strict=True) if n == 0]
        raise InsufficientDataError(
            f"No {instrument}/{scale} scores by {informant} at timepoint(s) {empty}."
        )
    participant, timepoint = np.nonzero(observed)
    y = values[participant, timepoint]
    if len(y) <= len(tps):
        raise InsufficientDataError("A mixed model needs more scores than timepoints.")
    chosen = engine
    if engine == "auto":
        chosen = "statsmodels" if len(wide) <= AUTO_STATSMODELS_MAX_PARTICIPANTS else "profile_reml"
    fit = (_statsmodels_fit if chosen == "statsmodels" else profile_reml_fit)(
        participant, timepoint, y, len(tps)
    )
    summary = _summary(fit, tps, n_at, observed, alpha)
    return MixedModelResult(
        instrument=instrument,
        scale=scale,
        informant=informant,
        direction=info["direction"],
        timepoints=tps,
        summary=summary,
        tau2=fit["tau2"],
        sigma2=fit["sigma2"],
        n_participants=len(wide),
        n_observations=len(y),
        engine=chosen,
    )


def _summary(
    fit: Mapping[str, Any],
    tps: tuple[str, ...],
    n_at: np.ndarray,
    observed: np.ndarray,
    alpha: float,
) -> pd.DataFrame:
    p = len(tps)
    contrasts = np.zeros((p - 1, p))
    contrasts[:, 0] = -1.0
    contrasts[np.arange(p - 1), np.arange(1, p)] = 1.0
    weights = np.vstack([np.eye(p), contrasts])
    estimate = weights @ fit["beta"]
    se = np.sqrt(np.einsum("ij,jk,ik->i", weights, fit["cov"], weights))
    z_crit = stats.norm.ppf(1 - alpha / 2)
    z = np.r_[np.full(p, np.nan), estimate[p:] / se[p:]]
    n_both = [int((observed[:, 0] & observed[:, j]).sum()) for j in range(1, p)]
    return pd.DataFrame(
        {
            "kind": ["mean"] * p + ["contrast"] * (p - 1),
            "term": [*tps, *(f"{t} - {tps[0]}" for t in tps[1:])],
            "estimate": estimate,
            "se": se,
            "ci_low": estimate - z_crit * se,
            "ci_high": estimate + z_crit * se,
            "z": z,
            "p_value": 2 * stats.norm.sf(np.abs(z)),
            "n": np.r_[n_at, n_both].astype(np.int64),
        }
    )[MIXED_SUMMARY_COLUMNS]
