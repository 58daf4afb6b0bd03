"""Propensity score model: logistic regression of programme membership on
covariates, and the design-matrix helpers the rest of the package shares."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit
from statsmodels.discrete.discrete_model import Logit
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    PerfectSeparationError,
    PerfectSeparationWarning,
)

from ..errors import AnalysisError, ConfigError, ConvergenceError, InsufficientDataError

__all__ = [
    "MODEL_COLUMNS",
    "CovariatePatterns",
    "PropensityModel",
    "check_columns",
    "covariate_parts",
    "covariate_patterns",
    "covariate_terms",
    "join_parts",
    "propensity_model",
    "propensity_scores",
    "treated_mask",
]

#: Columns of :attr:`PropensityModel.coefficients`.
MODEL_COLUMNS: list[str] = ["term", "coef", "se", "z", "p_value", "ci_low", "ci_high"]

#: statsmodels' Newton-Raphson settings (``Logit.fit(method="newton")`` with ``maxiter=100``).
_MAXITER, _TOL, _RIDGE = 100, 1e-8, 1e-10

_SEPARATION = (
    "the propensity score model did not converge: some covariate (or combination) "
    "separates programme from comparison rows perfectly. Use fewer or coarser "
    "covariates, or match exactly on that covariate."
)


class _Logit(Logit):
    """statsmodels' ``Logit`` that computes the fitted probabilities of given
    parameters once.

    Its Newton-Raphson steps ask for the fitted values of the same parameters
    up to three times (Hessian, score, and the check for perfect prediction);
    the last ones are kept (read-only) and given again, computed by the same
    expression, so the fit is the same to the last bit at a third of the cost.
    """

    _last: tuple[bytes, np.ndarray] | None = None

    def predict(
        self, params: Any, exog: Any = None, which: str = "mean", offset: Any = None
    ) -> Any:
        """As ``Logit.predict``; the fitted probabilities of the model's own rows are kept."""
        if exog is not None or offset is not None or which != "mean":
            return super().predict(params, exog=exog, which=which, offset=offset)
        values = np.asarray(params, dtype="float64")
        key = values.tobytes()
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        fitted = super().predict(params)
        fitted.flags.writeable = False
        self._last = (key, fitted)
        return fitted


def check_columns(df: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise AnalysisError(f"{what} not found in the data: {', '.join(missing)}")
    for col in columns:
        n_na = int(df[col].isna().sum())
        if n_na:
            raise AnalysisError(
                f"{what} '{col}' is missing for {n_na} row(s); fill or remove them "
                "before matching (rows are never dropped silently)"
            )


def treated_mask(df: pd.DataFrame, treatment: str, treated_value: Any) -> np.ndarray:
    check_columns(df, [treatment], "treatment column")
    treated = (df[treatment] == treated_value).to_numpy(dtype=bool)
    n1 = int(treated.sum())
    if n1 == 0 or n1 == len(df):
        raise InsufficientDataError(
            f"matching needs both treated ({treatment} == {treated_value!r}) and "
            f"comparison rows; found {n1} treated of {len(df)}"
        )
    return treated


#: One covariate's design columns: (name, columns, levels of a categorical
#: covariate in column order, or ``None`` for a numeric or boolean one).
TermPart = tuple[str, pd.DataFrame, list[str] | None]


def covariate_parts(df: pd.DataFrame, covariates: list[str]) -> list[TermPart]:
    """Each covariate's design columns, every level of a categorical one kept
    (:func:`covariate_terms` joins them): made once, they serve the
    propensity model (first level dropped) and the balance table (all levels)."""
    check_columns(df, covariates, "covariate")
    parts: list[TermPart] = []
    for col in covariates:
        s = df[col]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            parts.append((col, s.astype("float64").rename(col).to_frame(), None))
        else:
            cat = s.astype("category").cat.remove_unused_categories()
            dummies = pd.get_dummies(cat, prefix=col, prefix_sep="_", dtype="float64")
            parts.append((col, dummies, [str(lv) for lv in cat.cat.categories]))
    return parts


def join_parts(parts: list[TermPart], *, drop_first: bool) -> pd.DataFrame:
    """The design columns of :func:`covariate_parts` side by side; with
    ``drop_first`` without each categorical covariate's first level."""
    return pd.concat(
        [
            frame.iloc[:, 1:] if drop_first and levels is not None else frame
            for _, frame, levels in parts
        ],
        axis=1,
    )


def covariate_terms(df: pd.DataFrame, covariates: list[str], *, drop_first: bool) -> pd.DataFrame:
    """Numeric design columns: numeric and boolean covariates as they are,
    categorical and text covariates as 0/1 dummies (one per level, or all but
    the first level when ``drop_first``, i.e. R's treatment contrasts)."""
    return join_parts(covariate_parts(df, covariates), drop_first=drop_first)


@dataclass(frozen=True)
class CovariatePatterns:
    """The distinct combinations of covariate values ("patterns") of a table.

    Attributes
    ----------
    codes
        The pattern of each row (0, 1, ... in order of first appearance).
    counts
        Rows per pattern.
    parts
        :func:`covariate_parts` of one row per pattern (its first): the
        design columns of the patterns, ``parts``' columns taken at ``codes``
        being those of every row.
    """

    codes: np.ndarray
    counts: np.ndarray
    parts: list[TermPart]

    def rows(self, values: np.ndarray) -> np.ndarray:
        """Per-pattern ``values`` (rows in pattern order) taken for every row."""
        return values[self.codes]


def _few_whole_numbers(s: pd.Series) -> bool:
    """Whether ``s`` holds whole numbers (no missing value) within a range no
    longer than the column: then each value's place in the range codes it."""
    if len(s) == 0 or s.dtype.kind not in "iu" or bool(s.hasnans):
        return False
    lo, hi = int(s.min()), int(s.max())
    return lo > -(2**62) and hi < 2**62 and hi - lo < len(s)


def covariate_patterns(df: pd.DataFrame, covariates: list[str]) -> CovariatePatterns:
    """The distinct combinations of ``covariates`` in ``df`` and each row's.

    Covariates that are categories and counts take few distinct combinations
    however many rows there are; the propensity model is fitted on them and
    the design columns of every row are taken from theirs.
    """
    check_columns(df, covariates, "covariate")
    key = np.zeros(len(df), dtype=np.int64)
    size = 1
    for col in covariates:
        s = df[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            code, card = s.cat.codes.to_numpy(dtype=np.int64), len(s.cat.categories)
        elif _few_whole_numbers(s):  # each value's place in their range: no hashing
            values = s.to_numpy(dtype=np.int64)
            code = values - int(values.min())
            card = int(code.max()) + 1
        else:
            code, uniques = pd.factorize(s)
            code, card = code.astype(np.int64), len(uniques)
        if size * max(card, 1) >= 2**62:  # renumber the combinations so far: no overflow
            key = pd.factorize(key)[0].astype(np.int64)
            size = int(key.max()) + 1
        key = key * card + code
        size *= max(card, 1)
    codes = pd.factorize(key)[0].astype(np.int64)
    # codes count up in order of first appearance: a row is its pattern's first
    # when its code exceeds every code before it
    seen = np.maximum.accumulate(np.r_[-1, codes[:-1]])
    first = np.flatnonzero(codes > seen)
    counts = np.bincount(codes, minlength=len(first))
    parts = covariate_parts(df[covariates].iloc[first], covariates)
    return CovariatePatterns(codes=codes, counts=counts, parts=parts)


@dataclass(frozen=True)
class PropensityModel:
    """The fitted propensity score model.

    Attributes
    ----------
    scores
        As :func:`propensity_scores` returns them.
    coefficients
        :data:`MODEL_COLUMNS`, one row per term, the first ``(Intercept)``:
        log odds ratio of being in the programme ``coef``, its standard
        error (from the observed information, as R's ``summary.glm``), Wald
        ``z``, two-sided ``p_value`` and 95% Wald interval.
    fit
        ``n``, ``n_treated``, ``loglik``, ``loglik_null`` (intercept only),
        ``pseudo_r2`` (McFadden: 1 - loglik / loglik_null), ``aic``,
        ``lr_statistic`` = 2 (loglik - loglik_null) on ``lr_df`` terms with
        its ``lr_p_value``, and ``iterations`` (Newton-Raphson).
    """

    scores: pd.DataFrame
    coefficients: pd.DataFrame
    fit: dict[str, float | int]

    def __repr__(self) -> str:
        """Shape and key figures: terms, rows, pseudo-R² and the likelihood-ratio test."""
        fit = self.fit
        figures = ""
        if {"n", "n_treated", "pseudo_r2", "lr_p_value"} <= fit.keys():
            figures = (
                f" fitted on {int(fit['n']):,} rows ({int(fit['n_treated']):,} programme);"
                f" pseudo-R2 {fit['pseudo_r2']:.3g}, LR test p = {fit['lr_p_value']:.3g}"
            )
        return f"<cdanalytics.PropensityModel: {len(self.coefficients):,} terms{figures}>"


def propensity_scores(
    df: pd.DataFrame,
    *,
    covariates: list[str],
    treatment: str = "group",
    treated_value: Any = "programme",
) -> pd.DataFrame:
    """Propensity scores from a logistic regression of treatment on covariates.

    The model itself (coefficients and fit statistics) is
    :func:`propensity_model`'s; see it for the parameters and errors.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``df``, columns ``propensity_score`` (fitted probability)
        and ``logit_ps`` (the linear predictor, computed directly so that it
        stays finite where the probability rounds to 0 or 1).
        ``.attrs["model_terms"]`` names the model's terms (after the intercept).
    """
    return propensity_model(
        df, covariates=covariates, treatment=treatment, treated_value=treated_value
    ).scores


def propensity_model(
    df: pd.DataFrame,
    *,
    covariates: list[str],
    treatment: str = "group",
    treated_value: Any = "programme",
    patterns: CovariatePatterns | None = None,
) -> PropensityModel:
    """Logistic regression of treatment on covariates: scores, coefficients, fit.

    Parameters
    ----------
    df
        One row per person.
    covariates
        Column names. Numeric and boolean columns enter linearly; categorical
        and text columns are dummy coded with the first level as reference
        (R's treatment contrasts, so the fit equals ``glm(..., binomial)``).
    treatment, treated_value
        Rows with ``df[treatment] == treated_value`` are treated; all other
        rows are the comparison pool.
    patterns
        :func:`covariate_patterns` of ``df`` and ``covariates``, when the
        caller has made them (:func:`~cdanalytics.matching.match` shares them
        with the balance table); made here otherwise.

    Returns
    -------
    PropensityModel

    Raises
    ------
    AnalysisError
        Missing covariate values, a constant covariate or collinear covariates.
    ConvergenceError
        The logistic model did not converge or shows perfect separation.

    Notes
    -----
    When the covariates take few distinct combinations (at most half as many
    as there are rows: categories and counts, as the report's), the model is
    fitted on the combinations with their numbers of treated and comparison
    rows (:func:`_grouped_newton`: the same likelihood, and statsmodels'
    Newton-Raphson steps, start and stopping rule, at a cost that does not
    grow with the rows); otherwise by statsmodels on every row.

    References
    ----------
    Rosenbaum, P. R. & Rubin, D. B. (1983). The central role of the propensity
    score in observational studies for causal effects. Biometrika 70:41-55.
    Maximum likelihood by Newton-Raphson as ``statsmodels`` ``Logit`` does it,
    the same estimates as R's ``glm(family = binomial)`` used by MatchIt's
    ``distance = "glm"``.
    """
    treated = treated_mask(df, treatment, treated_value)
    if not covariates:
        raise ConfigError("give at least one covariate for the propensity score model")
    if patterns is None:
        patterns = covariate_patterns(df, list(covariates))
    terms = join_parts(patterns.parts, drop_first=True)
    # the design's distinct rows (one per pattern) and how many rows each stands for
    design = np.column_stack([np.ones(len(terms)), terms.to_numpy(dtype="float64")])
    counts = patterns.counts.astype("float64")
    # no term is missing (check_columns): a single value is min == max
    single = design[:, 1:].min(axis=0) == design[:, 1:].max(axis=0)
    constant = [c for c, one in zip(terms.columns, single, strict=True) if one]
    if constant:
        raise AnalysisError(
            f"covariate term(s) with a single value cannot enter the propensity model: "
            f"{', '.join(constant)}"
        )
    # Rank of X'X (small; summed over the patterns with their counts) instead of X.
    scaled = design / np.abs(design).max(axis=0)
    if np.linalg.matrix_rank(scaled.T @ (scaled * counts[:, None])) < design.shape[1]:
        raise AnalysisError(
            "the covariates are collinear (one is a combination of others); "
            f"remove redundant ones from: {', '.join(covariates)}"
        )
    if 2 * len(counts) <= len(df):
        n_treated = np.bincount(patterns.codes, weights=treated, minlength=len(counts))
        fit = _grouped_newton(design, n_treated, counts - n_treated, nobs=len(df))
        linear = (design @ fit.params)[patterns.codes]
    else:
        every_row = patterns.rows(design)
        fit = _rowwise_newton(every_row, treated)
        linear = every_row @ fit.params
    out = pd.DataFrame({"propensity_score": expit(linear), "logit_ps": linear}, index=df.index)
    out.attrs["model_terms"] = list(terms.columns)
    params = fit.params
    se = np.sqrt(np.diag(fit.cov))
    coefficients = pd.DataFrame(
        {
            "term": ["(Intercept)", *terms.columns],
            "coef": params,
            "se": se,
            "z": params / se,
            "p_value": 2 * stats.norm.sf(np.abs(params / se)),
            "ci_low": params - stats.norm.ppf(0.975) * se,
            "ci_high": params + stats.norm.ppf(0.975) * se,
        }
    )
    # the intercept-only model's log-likelihood in closed form (its MLE is the
    # treated share); statsmodels' ``llnull`` refits it by Nelder-Mead, slowly
    n1 = float(treated.sum())
    n0 = len(df) - n1
    llnull = n1 * np.log(n1 / len(df)) + n0 * np.log(n0 / len(df))
    statistics = {
        "n": len(df),
        "n_treated": int(treated.sum()),
        "loglik": float(fit.llf),
        "loglik_null": float(llnull),
        "pseudo_r2": float(1 - fit.llf / llnull),
        "aic": float(-2 * fit.llf + 2 * design.shape[1]),
        "lr_statistic": float(2 * (fit.llf - llnull)),
        "lr_df": int(design.shape[1] - 1),
        "lr_p_value": float(stats.chi2.sf(2 * (fit.llf - llnull), design.shape[1] - 1)),
        "iterations": int(fit.iterations),
    }
    return PropensityModel(scores=out, coefficients=coefficients, fit=statistics)


class _Fit(NamedTuple):
    """A fitted logistic model: parameters, their covariance, log-likelihood, Newton steps."""

    params: np.ndarray
    cov: np.ndarray
    llf: float
    iterations: int


def _rowwise_newton(design: np.ndarray, treated: np.ndarray) -> _Fit:
    """statsmodels' ``Logit`` (Newton-Raphson) on every row."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # the rank was checked (on X'X): no QR of the n x k design again
            fit = _Logit(treated.astype("float64"), design, check_rank=False).fit(
                method="newton", maxiter=_MAXITER, disp=False
            )
        except (PerfectSeparationError, np.linalg.LinAlgError) as exc:
            raise ConvergenceError(_SEPARATION) from exc
    bad = [
        w for w in caught if issubclass(w.category, PerfectSeparationWarning | ConvergenceWarning)
    ]
    if bad or not fit.mle_retvals["converged"]:
        raise ConvergenceError(_SEPARATION)
    return _Fit(fit.params, fit.cov_params(), float(fit.llf), int(fit.mle_retvals["iterations"]))


def _grouped_newton(
    design: np.ndarray, n_treated: np.ndarray, n_control: np.ndarray, *, nobs: int
) -> _Fit:
    """Maximum likelihood of the logistic model on distinct design rows, each
    with its numbers of treated and comparison rows (a grouped binomial model:
    the same likelihood as one row per person).

    Newton-Raphson as statsmodels' ``Logit.fit(method="newton", maxiter=100)``
    takes it: start at 0; the mean log-likelihood's Hessian with a ridge of
    1e-10 on its diagonal; steps until no parameter moves by more than 1e-8;
    after every step the check for perfect prediction (every row's fitted
    probability within 1e-8 of its outcome, ``numpy.allclose``), which here
    stops the fit with :class:`ConvergenceError` as the statsmodels warning
    does; no convergence in 100 steps is the same error. Standard errors from
    the observed information at the estimate, as statsmodels'.
    """
    rows = n_treated + n_control
    k = design.shape[1]
    params = np.zeros(k)
    old = np.full(k, np.inf)
    iterations = 0
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        p = _fitted(design, params)
        while iterations < _MAXITER and np.any(np.abs(params - old) > _TOL):
            hessian = _information(design, rows, p, nobs)
            hessian[np.diag_indices(k)] += _RIDGE
            score = design.T @ (n_treated - rows * p) / nobs
            old = params
            try:
                params = old + np.linalg.solve(hessian, score)
            except np.linalg.LinAlgError as exc:
                raise ConvergenceError(_SEPARATION) from exc
            iterations += 1
            p = _fitted(design, params)
            perfect = np.where(n_treated > 0, np.abs(p - 1) <= 1e-8, True) & np.where(
                n_control > 0, np.abs(p) <= 1e-8, True
            )
            if perfect.all():
                raise ConvergenceError(_SEPARATION)
        if iterations == _MAXITER:  # statsmodels' warnflag
            raise ConvergenceError(_SEPARATION)
        # p is the fit's at the estimate: its treated terms are log(p)
        llf = np.sum(
            np.where(n_treated > 0, n_treated * np.log(p), 0.0)
            + np.where(n_control > 0, n_control * np.log(1 / (1 + np.exp(design @ params))), 0.0)
        )
        information = _information(design, rows, p, nobs)
        try:
            cov = np.linalg.inv(information) / nobs
        except np.linalg.LinAlgError as exc:
            raise ConvergenceError(_SEPARATION) from exc
    if not (np.all(np.isfinite(params)) and np.isfinite(llf)):
        raise ConvergenceError(_SEPARATION)
    return _Fit(params, cov, float(llf), iterations)


def _fitted(design: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Fitted probability of each distinct design row."""
    return 1 / (1 + np.exp(-(design @ params)))


def _information(design: np.ndarray, rows: np.ndarray, p: np.ndarray, nobs: int) -> np.ndarray:
    """The mean log-likelihood's observed information at fitted probabilities ``p``
    (each design row counted ``rows`` times)."""
    return (design.T * (rows * p * (1 - p))) @ design / nobs
