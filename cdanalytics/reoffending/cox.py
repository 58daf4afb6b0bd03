"""Cox proportional-hazards models of the time to first reoffence.

Efron's approximation for tied times by default (R's default), Newton-Raphson
from zero with step halving (as R's ``coxph``), the likelihood-ratio, Wald and
score global tests, cluster-robust standard errors, and the Grambsch-Therneau
proportional-hazards check on scaled Schoenfeld residuals. The partial
likelihood is computed by the vectorised :mod:`cdanalytics._cox` (statsmodels ``PHReg``
gives the same numbers but takes minutes on a million people); the tests check
it against ``PHReg``, lifelines, hand-computed likelihoods and R's published
output.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight

from .. import _cox
from .._groups import by_columns, group_by
from ..errors import (
    AnalysisError,
    ConfigError,
    ConvergenceError,
    DataQualityWarning,
    InsufficientDataError,
)
from ..io.export import Export
from ._cox_design import DEFAULT_REFERENCES, cox_design
from .definition import (
    SURVIVAL_COLUMNS,
    ReoffendingDefinition,
    resolve_outcomes,
)

__all__ = [
    "COX_COLUMNS",
    "DEFAULT_REFERENCES",
    "PH_COLUMNS",
    "PH_TRANSFORMS",
    "TEST_COLUMNS",
    "TIES",
    "CoxResult",
    "cox",
]

#: Tie-handling methods.
TIES: tuple[str, ...] = ("efron", "breslow")
#: Time transforms of the proportional-hazards check (R's ``cox.zph``).
PH_TRANSFORMS: tuple[str, ...] = ("km", "rank", "identity", "log")
#: Columns of :attr:`CoxResult.summary`.
COX_COLUMNS: list[str] = ["term", "coef", "hazard_ratio", "ci_low", "ci_high", "se", "z", "p_value"]
#: Columns of :attr:`CoxResult.tests`.
TEST_COLUMNS: list[str] = ["test", "statistic", "df", "p_value"]
#: Columns of :meth:`CoxResult.proportional_hazards`.
PH_COLUMNS: list[str] = ["term", "rho", "statistic", "df", "p_value"]


def _hazard_ratios_in_brief(summary: pd.DataFrame) -> tuple[str, str]:
    """For a result's ``__repr__``: "N terms" and the first three hazard ratios with
    their intervals ("..., K more" when there are more)."""
    terms = summary[["term", "hazard_ratio", "ci_low", "ci_high"]]
    shown = ", ".join(
        f"{str(t)[:30]} HR {hr:.3g} ({lo:.3g} to {hi:.3g})"
        for t, hr, lo, hi in terms.head(3).itertuples(index=False)
    )
    more = f", ... {len(terms) - 3} more" if len(terms) > 3 else ""
    return f"{len(terms)} term" + ("s" if len(terms) != 1 else ""), shown + more


@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox model.

    Attributes
    ----------
    summary
        One row per model term (:data:`COX_COLUMNS`): ``coef`` (log hazard
        ratio), ``hazard_ratio`` = exp(coef) with its Wald interval
        ``ci_low``, ``ci_high``, standard error ``se`` (cluster-robust when
        the model was fitted with ``cluster``), ``z`` and two-sided
        ``p_value``. A categorical covariate ``x`` gives terms ``x[level]``
        against its reference level (treatment coding).
    tests
        Global tests that every coefficient is 0 (:data:`TEST_COLUMNS`):
        ``likelihood_ratio`` = 2 (l(b) - l(0)); ``wald`` = b' V⁻¹ b with the
        variance V of ``summary``; ``score`` = U(0)' I(0)⁻¹ U(0), the
        log-rank test for a single categorical covariate. Each on ``df`` =
        number of terms, as R's ``summary.coxph``.
    n, n_events
        People and first reoffences in the model.
    n_dropped
        Cohort rows left out for missing covariate values (``missing="drop"``).
    loglik, loglik_null
        Log partial likelihood at the estimate and at 0.
    ties
        ``"efron"`` or ``"breslow"``.
    covariates, strata, cluster
        What the model was fitted with.
    references
        Reference level of each categorical covariate.
    """

    summary: pd.DataFrame
    tests: pd.DataFrame
    n: int
    n_events: int
    n_dropped: int
    loglik: float
    loglik_null: float
    ties: str
    covariates: tuple[str, ...]
    strata: tuple[str, ...]
    cluster: str | None
    references: dict[str, Any]
    _time: np.ndarray | None = field(repr=False, compare=False)
    _status: np.ndarray | None = field(repr=False, compare=False)
    _risk_sets: _cox.RiskSets | None = field(repr=False, compare=False)
    _naive_cov: np.ndarray = field(repr=False, compare=False)

    def __repr__(self) -> str:
        """Shape and key figures: people, events, ties and the first hazard ratios."""
        n_terms, shown = _hazard_ratios_in_brief(self.summary)
        strata = f", strata {', '.join(self.strata)[:60]}" if self.strata else ""
        cluster = f", clustered by {self.cluster[:30]}" if self.cluster else ""
        return (
            f"<cdanalytics.CoxResult: {n_terms} fitted on {self.n:,} people with"
            f" {self.n_events:,} first reoffences ({self.ties} ties{strata}{cluster};"
            f" {self.n_dropped:,} dropped); {shown}>"
        )

    @property
    def terms(self) -> list[str]:
        """Model terms, in the order of ``summary``."""
        return self.summary["term"].tolist()

    def scaled_schoenfeld(
        self, transform: Literal["km", "rank", "identity", "log"] = "km"
    ) -> pd.DataFrame:
        """Scaled Schoenfeld residuals: one row per first reoffence.

        Columns ``duration_days``, ``time_transformed`` (see
        :meth:`proportional_hazards`), then one per term: b + n_events ·
        V · s, where s is the Schoenfeld residual and V the model-based
        variance (Grambsch & Therneau 1994). Plotted against time, each
        estimates the time-varying coefficient beta(t); a flat line supports
        proportional hazards.
        """
        times, resid = self._residuals()
        scaled = resid @ self._naive_cov * len(times) + self.summary["coef"].to_numpy()
        table = pd.DataFrame(scaled, columns=self.terms)
        table.insert(0, "time_transformed", self._transform(times, transform))
        table.insert(0, "duration_days", times)
        return table

    def proportional_hazards(
        self, transform: Literal["km", "rank", "identity", "log"] = "km"
    ) -> pd.DataFrame:
        """Test of proportional hazards from scaled Schoenfeld residuals.

        For each term, the correlation ``rho`` between transformed time g(t)
        and the scaled Schoenfeld residuals, and the chi-square (1 df) test of
        zero slope; then a ``GLOBAL`` row testing all terms together (df =
        number of terms). This is the Grambsch-Therneau approximation that
        R's ``cox.zph`` used before survival 3.0 (2019) and lifelines'
        ``proportional_hazard_test`` uses; survival >= 3.0 computes an exact
        score test instead, whose statistics differ slightly. Residuals use the
        model's tie method (Efron-weighted risk-set means for Efron, as R).

        Parameters
        ----------
        transform
            g(t): ``"km"`` (default, as R: 1 - the left-continuous Kaplan-Meier
            estimate of all people, ignoring strata, at each event time;
            lifelines' ``"km"`` uses the right-continuous value instead),
            ``"rank"`` (average ranks of the event times), ``"identity"``
            (days) or ``"log"``.

        Returns
        -------
        pandas.DataFrame
            :data:`PH_COLUMNS`; a small ``p_value`` signals non-proportional
            hazards for that term.

        References
        ----------
        Grambsch, P. M. & Therneau, T. M. (1994). Proportional hazards tests
        and diagnostics based on weighted residuals. Biometrika 81:515-526.
        """
        times, resid = self._residuals()
        n_events = len(times)
        g = self._transform(times, transform)
        centred = g - g.mean()
        scaled = resid @ self._naive_cov * n_events
        variance = np.diag(self._naive_cov)
        slope = centred @ scaled
        statistic = slope**2 / (variance * n_events * (centred**2).sum())
        rho = np.array([np.corrcoef(centred, scaled[:, j])[0, 1] for j in range(scaled.shape[1])])
        score = centred @ resid
        global_statistic = score @ self._naive_cov @ score * n_events / (centred**2).sum()
        df = len(variance)
        return pd.DataFrame(
            {
                "term": [*self.terms, "GLOBAL"],
                "rho": [*rho, np.nan],
                "statistic": [*statistic, global_statistic],
                "df": [1] * df + [df],
                "p_value": [*stats.chi2.sf(statistic, 1), stats.chi2.sf(global_statistic, df)],
            }
        )

    def without_rows(self) -> CoxResult:
        """The same result without the per-person arrays its residuals need.

        A fitted model keeps every person's follow-up and risk sets (about
        40 MB per million people) for :meth:`scaled_schoenfeld` and
        :meth:`proportional_hazards`; a caller done with those keeps the
        rest (summary, tests, counts) this way. On the result returned those
        two methods raise :class:`~cdanalytics.errors.AnalysisError`.

        Examples
        --------
        >>> import pandas as pd
        >>> from cdanalytics.reoffending import cox
        >>> people = pd.DataFrame({
        ...     "duration_days": [5, 8, 12, 20, 25, 30, 33, 40],
        ...     "event": [1, 1, 0, 1, 1, 0, 1, 0],
        ...     "group": ["programme", "comparison"] * 4,
        ... })
        >>> model = cox(people, ["group"])
        >>> lean = model.without_rows()
        >>> lean.summary.equals(model.summary), lean.n_events
        (True, 5)
        """
        return replace(self, _time=None, _status=None, _risk_sets=None)

    def _residuals(self) -> tuple[np.ndarray, np.ndarray]:
        if self._risk_sets is None:
            raise AnalysisError(
                "This Cox result was kept without its rows (CoxResult.without_rows): "
                "fit the model again for its residuals and proportional-hazards test."
            )
        return _cox.schoenfeld(self._risk_sets, self.summary["coef"].to_numpy())

    def _transform(self, times: np.ndarray, transform: str) -> np.ndarray:
        if transform == "km":
            fit = SurvfuncRight(self._time, self._status)
            before = np.searchsorted(fit.surv_times, times, side="left") - 1
            return 1 - np.where(before < 0, 1.0, fit.surv_prob[np.maximum(before, 0)])
        if transform == "rank":
            return stats.rankdata(times)
        if transform == "identity":
            return times.astype(float)
        if transform == "log":
            if (times <= 0).any():
                raise AnalysisError("transform='log' needs event times > 0 days.")
            return np.log(times)
        raise ConfigError(f"transform must be one of {', '.join(PH_TRANSFORMS)}.")


def cox(
    data: Export | pd.DataFrame,
    covariates: Sequence[str],
    *,
    ties: Literal["efron", "breslow"] = "efron",
    strata: str | Sequence[str] | None = None,
    reference: Mapping[str, Any] | None = None,
    cluster: str | None = None,
    missing: Literal["raise", "drop"] = "raise",
    alpha: float = 0.05,
    definition: ReoffendingDefinition | None = None,
) -> CoxResult:
    """Cox proportional-hazards model of time to first reoffence.

    Parameters
    ----------
    data
        An export, or the table from :func:`person_outcomes` (or a subset,
        for example a matched sample). Only people in the cohort are used.
    covariates
        Column names. Categorical columns (``category``, string) get
        treatment coding against a reference level; numeric and boolean
        columns enter as they are (booleans as 0/1). Ordered categories
        (``risk_level``) are coded like unordered ones, not with R's
        polynomial contrasts.
    ties
        ``"efron"`` (default, R's default) or ``"breslow"``.
    strata
        Column(s) defining strata with their own baseline hazards.
    reference
        ``{column: level}`` reference levels. Default: ``group`` against
        ``"comparison"`` (:data:`DEFAULT_REFERENCES`), other categoricals
        against their first level present (category order, else sorted).
    cluster
        Column of cluster labels (for example the matched set): standard
        errors become the robust sandwich estimate V (Σ_c U_c U_c') V, with
        U_c the sum of the cluster's score residuals (Efron-weighted, as R)
        and V the model-based variance (Lin & Wei 1989; R's
        ``coxph(..., cluster = )``).
    missing
        ``"raise"`` (default): refuse rows with missing covariate, stratum or
        cluster values; ``"drop"``: leave them out (counted in
        ``n_dropped``, logged as a warning).
    alpha
        1 - confidence level of the hazard-ratio intervals.
    definition
        The reoffending measure when ``data`` is an export.

    Returns
    -------
    CoxResult

    Raises
    ------
    AnalysisError
        Missing values (with ``missing="raise"``), a covariate that does not
        vary, or collinear covariates.
    InsufficientDataError
        No first reoffences in the data.
    ConvergenceError
        The fit did not converge, typically because a covariate separates
        reoffenders from the rest (a hazard ratio is infinite).

    References
    ----------
    Cox, D. R. (1972). Regression models and life-tables. JRSS B 34:187-220.
    Efron, B. (1977). The efficiency of Cox's likelihood function for
    censored data. JASA 72:557-565.
    Lin, D. Y. & Wei, L. J. (1989). The robust inference for the Cox
    proportional hazards model. JASA 84:1074-1078.
    Therneau, T. M. & Grambsch, P. M. (2000). Modeling Survival Data:
    Extending the Cox Model. Springer.

    Examples
    --------
    The data of the :func:`logrank` example. statsmodels' ``PHReg`` gives the
    same coefficient and standard error, and with one binary covariate and no
    tied event days the score test is the log-rank test:

    >>> import pandas as pd
    >>> from statsmodels.duration.hazard_regression import PHReg
    >>> from cdanalytics.reoffending import logrank
    >>> people = pd.DataFrame({
    ...     "duration_days": [30, 60, 60, 90, 120, 200, 365, 365],
    ...     "event": [1, 1, 0, 1, 0, 1, 0, 0],
    ...     "group": ["programme", "comparison"] * 4,
    ... })
    >>> fit = cox(people, ["group"], reference={"group": "comparison"})
    >>> term = fit.summary.iloc[0]
    >>> term["term"], round(float(term["coef"]), 4), round(float(term["se"]), 4)
    ('group[programme]', -0.7674, 1.1613)
    >>> treated = (people[["group"]] == "programme").astype(float)
    >>> check = PHReg(people["duration_days"], treated, status=people["event"], ties="efron").fit()
    >>> round(float(check.params[0]), 4), round(float(check.bse[0]), 4)
    (-0.7674, 1.1613)
    >>> score = fit.tests.set_index("test").loc["score", "statistic"]
    >>> round(float(score), 4), round(float(logrank(people, "group").statistic), 4)
    (0.4577, 0.4577)
    """
    if ties not in TIES:
        raise ConfigError(f"ties must be one of {', '.join(TIES)}.")
    if missing not in ("raise", "drop"):
        raise ConfigError("missing must be 'raise' or 'drop'.")
    wanted = [*covariates, *_names(strata), *_names(cluster)]
    cohort = resolve_outcomes(data, definition, SURVIVAL_COLUMNS, columns=wanted)
    covariates = by_columns(covariates, cohort)
    if not covariates or len(set(covariates)) != len(covariates):
        raise ConfigError("covariates must name at least one column, each once.")
    strata_keys = by_columns(strata, cohort)
    cluster_keys = by_columns(cluster, cohort)
    needed = [*covariates, *strata_keys, *cluster_keys]
    incomplete = cohort[needed].isna().any(axis=1).to_numpy()
    n_dropped = int(incomplete.sum())
    if n_dropped and missing == "raise":
        counts = cohort[needed].isna().sum()
        detail = ", ".join(f"{k} ({v})" for k, v in counts[counts > 0].items())
        raise AnalysisError(
            f"cox: {n_dropped} of {len(cohort)} people have missing values in {detail}; "
            "impute them or pass missing='drop'."
        )
    if n_dropped:
        warnings.warn(
            f"cox: left out {n_dropped} of {len(cohort)} people with missing covariate values.",
            DataQualityWarning,
            stacklevel=2,
        )
    frame = cohort.loc[~incomplete] if n_dropped else cohort
    time = frame["duration_days"].to_numpy(dtype=float)
    status = frame["event"].to_numpy(dtype=float)
    if status.sum() == 0:
        raise InsufficientDataError("cox: nobody in the data reoffended.")
    stratum = group_by(frame, strata_keys).ngroup().to_numpy()
    groups = group_by(frame, cluster_keys).ngroup().to_numpy() if cluster_keys else None
    # The people in the engine's order, so that the design matrix is built
    # in it (a gather of a few columns, not of every term).
    order = _cox.sort_order(time, status == 1, stratum)
    if order is not None:
        frame = frame.take(order)
        time, status, stratum = time[order], status[order], stratum[order]
        groups = None if groups is None else groups[order]
    exog, terms, references = cox_design(frame, covariates, dict(reference or {}))

    risk_sets = _cox.prepare(time, status, exog, stratum, ties)
    params, loglik, information, (loglik_null, score0, information0) = _cox.fit(
        risk_sets, len(terms), _convergence_message(terms)
    )
    naive_cov = np.linalg.inv(information)
    cov = naive_cov
    if groups is not None:
        residuals = _cox.score_residuals(risk_sets, params, len(frame))
        sums = np.zeros((groups.max() + 1, len(terms)))
        np.add.at(sums, groups, residuals)
        cov = naive_cov @ (sums.T @ sums) @ naive_cov
    se = np.sqrt(np.diag(cov))
    if not np.isfinite(se).all():
        raise ConvergenceError(_convergence_message(terms))

    summary, tests = _summary_and_tests(
        terms, params, cov, loglik - loglik_null, (score0, information0), alpha
    )
    return CoxResult(
        summary=summary,
        tests=tests,
        n=len(frame),
        n_events=int(status.sum()),
        n_dropped=n_dropped,
        loglik=float(loglik),
        loglik_null=float(loglik_null),
        ties=ties,
        covariates=tuple(covariates),
        strata=tuple(strata_keys),
        cluster=cluster,
        references=references,
        _time=time,
        _status=status,
        _risk_sets=risk_sets,
        _naive_cov=naive_cov,
    )


def _names(names: str | Sequence[str] | None) -> list[str]:
    """``names`` as a list (``None``: none)."""
    return [] if names is None else [names] if isinstance(names, str) else list(names)


def _summary_and_tests(
    terms: list[str],
    params: np.ndarray,
    cov: np.ndarray,
    loglik_gain: float,
    at_zero: tuple[np.ndarray, np.ndarray],
    alpha: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:data:`COX_COLUMNS` and :data:`TEST_COLUMNS` tables of a fit with
    variance ``cov``, l(b) - l(0) = ``loglik_gain`` and (score, information) at 0."""
    se = np.sqrt(np.diag(cov))
    z = stats.norm.ppf(1 - alpha / 2)
    summary = pd.DataFrame(
        {
            "term": terms,
            "coef": params,
            "hazard_ratio": np.exp(params),
            "ci_low": np.exp(params - z * se),
            "ci_high": np.exp(params + z * se),
            "se": se,
            "z": params / se,
            "p_value": 2 * stats.norm.sf(np.abs(params / se)),
        }
    )
    score0, information0 = at_zero
    statistics = {
        "likelihood_ratio": 2 * loglik_gain,
        "wald": float(params @ np.linalg.solve(cov, params)),
        "score": float(score0 @ np.linalg.solve(information0, score0)),
    }
    tests = pd.DataFrame(
        {
            "test": list(statistics),
            "statistic": list(statistics.values()),
            "df": len(terms),
            "p_value": stats.chi2.sf(list(statistics.values()), len(terms)),
        }
    )
    return summary, tests


def _convergence_message(terms: list[str]) -> str:
    return (
        "the Cox model did not converge: a hazard ratio is probably infinite because one of "
        f"{', '.join(terms)} separates people who reoffended from those who did not (for "
        "example a level with no reoffences). Merge sparse levels or drop the covariate."
    )
