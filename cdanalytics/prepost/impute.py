"""Multiple imputation of missing second scores, pooled by Rubin's rules.

Participants who leave a programme early often miss the post (or
follow-up) questionnaire, and they differ from completers: the mean change
of completers alone is biased when scores are missing at random given
baseline score, attendance and exit status. :func:`impute_second_scores`
draws ``m`` plausible values for every missing second score from a normal
linear regression on the first score and participant predictors (least
squares from the normal equations of the identified columns), with the
coefficients and residual variance drawn from their posterior (a *proper*
imputation, Rubin 1987 p. 167; ``norm`` of van Buuren's ``mice``), and
:func:`rubin_pool` combines the ``m`` analyses.

Everyone analysed has a first score (rows without one are not imputed:
they are ``n_post_only`` in :func:`cdanalytics.prepost.change`), so the
missing-data pattern is monotone with one incomplete variable, for which
chained equations converge in their first cycle: one regression draw per
imputation is the whole algorithm. A missing categorical predictor is a
category of its own and a missing numeric predictor is set to the mean with
a missingness indicator, so no participant is dropped from the model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import linalg, stats
from scipy.linalg import lapack

from .. import _lookup
from .._design import design_columns, fill_design
from .._lookup import rows_in
from ..errors import ConfigError, InsufficientDataError
from ..io.export import Export
from ._data import SCALE_KEYS
from ._grouping import group_codes

__all__ = [
    "DEFAULT_PREDICTORS",
    "POOLED_COLUMNS",
    "ImputedScores",
    "imputation_predictors",
    "impute_second_scores",
    "rubin_pool",
]

#: Predictors of the imputation model besides the first score (those present are used).
DEFAULT_PREDICTORS: tuple[str, ...] = ("programme", "risk_level", "attendance_rate", "exit_status")

#: The variance components of :func:`rubin_pool` that the pooled tables report.
POOLED_COLUMNS: list[str] = [
    "within_variance",
    "between_variance",
    "total_variance",
    "riv",
    "lambda",
    "fmi",
]


def rubin_pool(
    estimates: np.ndarray,
    variances: np.ndarray,
    df_complete: np.ndarray | float = np.inf,
    alpha: float = 0.05,
) -> dict[str, np.ndarray]:
    """Pool ``m`` complete-data analyses by Rubin's rules.

    Parameters
    ----------
    estimates, variances
        Arrays of shape ``(m, k)``: the estimate and its squared standard
        error from each of ``m`` imputed data sets, for ``k`` quantities.
    df_complete
        Degrees of freedom the analysis would have without missing data
        (``n - 1`` for a mean), per quantity; ``inf`` for large-sample
        analyses.
    alpha
        1 - confidence level.

    Returns
    -------
    dict of arrays (length ``k``)
        ``estimate`` (mean of the estimates), ``within_variance`` (mean of
        the variances, W), ``between_variance`` (their variance across
        imputations, B, ddof=1), ``total_variance`` T = W + (1 + 1/m) B,
        ``se`` = sqrt(T), ``riv`` (relative increase in variance,
        (1 + 1/m) B / W), ``lambda`` ((1 + 1/m) B / T, the share of the
        variance due to missing data; statsmodels' ``MICEResults.frac_miss_info``),
        ``df`` (Barnard & Rubin 1999 small-sample degrees of freedom; the
        complete-data df where the imputations do not differ, B = 0, as
        when nothing was missing),
        ``fmi`` (fraction of missing information, (riv + 2/(df + 3)) /
        (1 + riv), as R's ``mice::pool``), ``ci_low``, ``ci_high``
        (estimate ± t_df se), ``t`` and two-sided ``p_value`` against 0.
        Where T = 0 (every data set gives the same estimate with zero
        variance, such as a share of 0) the interval and test are NaN.

    References
    ----------
    Rubin, D. B. (1987). Multiple Imputation for Nonresponse in Surveys.
    Wiley. Barnard, J., & Rubin, D. B. (1999). Small-sample degrees of
    freedom with multiple imputation. Biometrika 86:948-955. van Buuren, S.
    (2018). Flexible Imputation of Missing Data, 2nd ed., section 2.3.
    """
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    if q.ndim != 2 or q.shape != u.shape:
        raise ConfigError("estimates and variances must be arrays of the same shape (m, k).")
    m = q.shape[0]
    if m < 2:
        raise ConfigError("Rubin's rules need at least 2 imputations.")
    nu_com = np.broadcast_to(np.asarray(df_complete, dtype=float), q.shape[1:])
    qbar = q.mean(axis=0)
    w = u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    t = w + (1 + 1 / m) * b
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.where(t > 0, (1 + 1 / m) * b / t, np.nan)
        riv = (1 + 1 / m) * b / w
        df_old = np.where(lam > 0, (m - 1) / lam**2, np.inf)
        df_obs = np.where(
            np.isinf(nu_com), np.inf, (nu_com + 1) / (nu_com + 3) * nu_com * (1 - lam)
        )
        df = np.where(b > 0, 1 / (1 / df_old + 1 / df_obs), nu_com)
        fmi = (riv + 2 / (df + 3)) / (1 + riv)
        se = np.sqrt(t)
        stat = np.where(t > 0, qbar / se, np.nan)
    half = np.where(t > 0, stats.t.ppf(1 - alpha / 2, df) * se, np.nan)
    return {
        "estimate": qbar,
        "se": se,
        "ci_low": qbar - half,
        "ci_high": qbar + half,
        "t": stat,
        "df": df,
        "p_value": 2 * stats.t.sf(np.abs(stat), df),
        "within_variance": w,
        "between_variance": b,
        "total_variance": t,
        "riv": riv,
        "lambda": lam,
        "fmi": fmi,
    }


@dataclass(frozen=True)
class ImputedScores:
    """``m`` completed copies of the second score of a score table.

    Attributes
    ----------
    scores
        Array ``(m, n_rows)``: the observed second score where there is one,
        an imputed value where the first score is present and the second
        missing, NaN where the first score is missing.
    imputed
        Boolean array ``(n_rows,)``: rows whose second score was imputed.
    predictors
        Predictor columns of the imputation model besides the first score.
    seed
        The seed of the random draws (``None`` if none was given).
    """

    scores: np.ndarray
    imputed: np.ndarray
    predictors: tuple[str, ...]
    seed: int | None

    def __repr__(self) -> str:
        """Shape and key figures: imputations, rows, rows imputed, the model's predictors."""
        predictors = ", ".join(self.predictors)[:80] or "none"
        return (
            f"<cdanalytics.ImputedScores: m = {self.m} imputations of"
            f" {self.scores.shape[1]:,} rows, {int(self.imputed.sum()):,} imputed;"
            f" predictors besides the first score: {predictors}; seed {self.seed}>"
        )

    @property
    def m(self) -> int:
        """Number of imputations."""
        return int(self.scores.shape[0])


def imputation_predictors(
    data: Export | pd.DataFrame,
    wide: pd.DataFrame,
    predictors: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Predictor columns for each row of a score table.

    Parameters
    ----------
    data
        The export the score table came from (participant columns are looked
        up by ``participant_id``; ``attendance_rate`` is the share of a
        participant's scheduled sessions attended), or the score table itself
        (its own columns are used).
    wide
        The score table (one row per participant × scale).
    predictors
        Column names; ``None`` for those of :data:`DEFAULT_PREDICTORS` that
        the data have. A name asked for explicitly must exist.

    Returns
    -------
    pandas.DataFrame
        One column per predictor found, aligned with ``wide``.
    """
    explicit = predictors is not None
    names = list(DEFAULT_PREDICTORS if predictors is None else predictors)
    out: dict[str, object] = {}
    participants = data.participants if isinstance(data, Export) else None
    rows = None  # row of participants of each row of wide: looked up once, for every predictor
    if participants is not None and any(n not in wide.columns for n in names):
        rows = _rows_in_export(data, wide["participant_id"])
        if rows is None:
            rows = rows_in(
                participants["participant_id"].astype(str), wide["participant_id"].astype(str)
            )
    for name in names:
        if name in wide.columns:
            out[name] = wide[name].array.copy()  # the result owns its columns
        elif name == "attendance_rate" and isinstance(data, Export) and _has_sessions(data):
            rate = _attendance_rate(data)
            if rows.min(initial=0) >= 0:  # everyone found: no row-long temporaries
                out[name] = rate.take(rows)
            else:
                out[name] = np.where(rows >= 0, rate[np.maximum(rows, 0)], np.nan)
        elif participants is not None and name in participants.columns:
            out[name] = participants[name].array.take(rows, allow_fill=True)
        elif explicit:
            raise ConfigError(f"Imputation predictor {name!r} is not in the data.")
    # the columns made here taken as they are: not copied, nor stacked into one block
    return pd.DataFrame(out, index=wide.index, copy=False)


def _has_sessions(export: Export) -> bool:
    sessions = export.sessions
    return {"participant_id", "attendance"} <= set(sessions.columns) and not sessions.empty


def _rows_in_export(export: Export, ids: pd.Series) -> np.ndarray | None:
    """Row of ``export.participants`` of each of ``ids`` without hashing them, when
    ``ids`` run through the participants in their order, each of those with measures
    once, as in a score table made from the export; ``None`` otherwise.

    The candidate rows are those of the export's one lookup of the measures
    (:meth:`~cdanalytics.io.export.Export.participant_rows`); they are taken only
    once every identifier is checked against them.
    """
    wanted = pa.array(ids, from_pandas=True)
    known = pa.array(export.participants["participant_id"], from_pandas=True)
    if len(wanted) == 0 or wanted.null_count or wanted.type != known.type:
        return None
    measured = export.participant_rows("measures")
    seen = np.zeros(len(known), dtype=bool)
    for start in range(0, len(measured), _lookup.BLOCK_ROWS):  # no measures-long temporaries
        part = measured[start : start + _lookup.BLOCK_ROWS]
        seen[part[part >= 0]] = True
    present = np.flatnonzero(seen)
    del seen
    starts = np.flatnonzero(
        np.r_[True, pc.not_equal(wanted[1:], wanted[:-1]).to_numpy(zero_copy_only=False)]
    )
    if len(starts) != len(present):
        return None
    for start in range(0, len(starts), _lookup.BLOCK_ROWS):  # the identifiers, a block at a time
        block = slice(start, start + _lookup.BLOCK_ROWS)
        if not pc.all(pc.equal(known.take(present[block]), wanted.take(starts[block]))).as_py():
            return None
    return np.repeat(present, np.diff(np.r_[starts, len(wanted)]))


def _attendance_rate(export: Export) -> np.ndarray:
    """Share of scheduled sessions attended, per row of ``participants`` (NaN: none
    scheduled), from the export's one lookup of session rows to participants,
    counted a block of sessions at a time (whole counts: the same in any order)."""
    # a block of rows compared at a time (a categorical by its codes: no text per row)
    values = export.sessions["attendance"].array
    rows = export.participant_rows("sessions")
    size = len(export.participants)
    n = np.zeros(size, dtype=np.intp)
    hits = np.zeros(size, dtype=np.intp)
    for start in range(0, len(rows), _lookup.BLOCK_ROWS):
        part = rows[start : start + _lookup.BLOCK_ROWS]
        block = pd.Series(values[start : start + _lookup.BLOCK_ROWS])
        attended = block.eq("attended").to_numpy(dtype=bool, na_value=False)
        known = part >= 0
        if not known.all():
            part, attended = part[known], attended[known]
        n += np.bincount(part, minlength=size)
        hits += np.bincount(part[attended], minlength=size)
    n, hits = n.astype(float), hits.astype(float)  # sums of 0 and 1
    return np.divide(hits, n, out=np.full(size, np.nan), where=n > 0)


def _identified_columns(x_obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Columns of a design (intercept first) that the observed rows identify,
    with the cross-products ``X'X`` and means of the observed rows.

    The other columns are centred on their observed means (which removes
    anything the intercept explains, such as a dummy that is 1 on every
    observed row) and a pivoted Cholesky factorisation of their
    cross-product (LAPACK ``dpstrf``, the R factor of a column-pivoted QR)
    keeps a linearly independent set. Dropping the rest, rather than
    leaving the coefficients to a pseudo-inverse, keeps predictions for the
    missing rows from depending on how a collinear set happens to be split.
    """
    gram = x_obs.T @ x_obs
    n = len(x_obs)
    mean = gram[0] / n
    centred = gram[1:, 1:] - n * np.outer(mean[1:], mean[1:])
    if centred.shape[0] == 0:
        return np.array([0]), gram
    scale = np.max(np.diag(centred), initial=0.0)
    if scale <= 0:
        return np.array([0]), gram
    _, piv, rank, _ = lapack.dpstrf(centred, lower=0, tol=1e-10 * scale)
    keep = np.r_[0, np.sort(piv[:rank] - 1) + 1]
    return keep, gram[np.ix_(keep, keep)]


def _posterior_draws(
    columns: Sequence[Any],
    observed: np.ndarray,
    y_obs: np.ndarray,
    m: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Identified columns and ``m`` draws of (coefficients, residual SD) of a
    normal linear regression of ``y_obs`` on the design of ``columns``
    (:func:`~cdanalytics._design.design_columns`) at the rows ``observed``,
    under the standard noninformative prior: sigma^2 = SSR / chi2(n - p) and
    beta ~ N(beta_hat, sigma^2 (X'X)^-1) (Rubin 1987, p. 167). Least squares
    from the normal equations of the identified columns (a full-rank
    Cholesky solve). The design is made here; where columns are dropped, the
    identified ones are written anew once it is gone (not copied out of it):
    the same values in the same (column-major) layout as ``x[:, keep]``, so
    the same sums, without both at once."""
    x = fill_design(columns, observed)
    keep, gram = _identified_columns(x)
    if len(keep) < x.shape[1]:
        del x
        x = fill_design([columns[k] for k in keep], observed, order="F")
    df = len(y_obs) - len(keep)
    if df < 1:
        raise InsufficientDataError(
            "Too few complete pairs to fit the imputation model (needs more pairs than "
            "predictor levels)."
        )
    factor = linalg.cho_factor(gram)
    beta = linalg.cho_solve(factor, x.T @ y_obs)
    resid = y_obs - x @ beta
    del x
    ssr = float(resid @ resid)
    sigma = np.sqrt(ssr / rng.chisquare(df, size=m))
    # (X'X)^-1 = L^-T L^-1 with X'X = L L^T: beta + sigma L^-T z has that covariance.
    lower = np.linalg.cholesky(gram)
    z = rng.standard_normal((len(keep), m))
    betas = beta[:, None] + linalg.solve_triangular(lower.T, z, lower=False) * sigma
    return keep, betas, sigma


def impute_second_scores(
    wide: pd.DataFrame,
    first: str,
    second: str,
    predictors: pd.DataFrame,
    *,
    m: int = 20,
    seed: int | None = None,
) -> ImputedScores:
    """Draw ``m`` imputations of the missing ``second`` scores of a score table.

    One model per instrument × scale × informant, fitted on the pairs:
    ``second ~ first + predictors`` (ordinary least squares); each
    imputation draws the residual variance and the coefficients from their
    posterior and adds a normal residual, so the imputations carry the
    uncertainty of the model as well as of the score (Rubin 1987, p. 167).
    Vectorised over participants and imputations.

    Parameters
    ----------
    wide
        A score table (:func:`cdanalytics.prepost.score_table`).
    first, second
        The timepoint columns: ``second`` is imputed where ``first`` is present.
    predictors
        Predictor columns aligned with ``wide`` (:func:`imputation_predictors`).
    m
        Number of imputations (at least 2).
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives the same draws.

    Returns
    -------
    ImputedScores

    References
    ----------
    Rubin, D. B. (1987). Multiple Imputation for Nonresponse in Surveys.
    Wiley. van Buuren, S., & Groothuis-Oudshoorn, K. (2011). mice:
    Multivariate imputation by chained equations in R. J Stat Softw 45(3).
    """
    _check_m(m)
    y = wide[second].to_numpy(dtype=float)
    values = np.broadcast_to(y, (m, len(y))).copy()
    for group in _group_draws(wide, first, second, predictors, m, seed):
        values[:, group.rows[group.target]] = group.draws.T
    x = wide[first].to_numpy(dtype=float)
    return ImputedScores(
        scores=values,
        imputed=~np.isnan(x) & np.isnan(y),
        predictors=tuple(predictors.columns),
        seed=seed,
    )


def _check_m(m: object) -> None:
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 2:
        raise ConfigError(f"m (the number of imputations) must be an integer >= 2, not {m!r}.")


@dataclass(frozen=True)
class _GroupDraws:
    """The imputations of one instrument × scale × informant: ``rows`` (the
    rows of the score table with a first score, ascending), ``target``
    (which of them have no second score) and ``draws`` (``(n_target, m)``)."""

    rows: np.ndarray
    target: np.ndarray
    draws: np.ndarray


def _group_draws(
    wide: pd.DataFrame,
    first: str,
    second: str,
    predictors: pd.DataFrame,
    m: int,
    seed: int | None,
    codes: np.ndarray | None = None,
) -> Iterator[_GroupDraws]:
    """The draws of :func:`impute_second_scores`, one group at a time in the
    order of the random draws (only groups with a score to impute).

    ``codes``: the instrument × scale × informant group numbers of ``wide``'s
    rows (:func:`~cdanalytics.prepost._grouping.group_codes`), when the caller
    has them. Each group's arrays go before the next group's are made: the
    caller holds the one it was given only until it asks for the next."""
    x = wide[first].to_numpy(dtype=float)
    y = wide[second].to_numpy(dtype=float)
    has_x = ~np.isnan(x)
    missing = has_x & np.isnan(y)
    rng = np.random.default_rng(seed)
    if codes is None:
        codes = group_codes(wide, SCALE_KEYS)[0]
    groups = np.unique(codes[missing])
    del missing
    for g in groups:
        use = codes == g
        use &= has_x
        rows = np.flatnonzero(use)
        # the design's columns from all the group's rows, written for the observed
        # rows, then for the target rows and identified columns only: never whole
        columns = design_columns(predictors.loc[use], x[rows])
        del use
        y_use = y[rows]
        observed = ~np.isnan(y_use)
        keep, betas, sigma = _posterior_draws(
            columns, np.flatnonzero(observed), y_use[observed], m, rng
        )
        del y_use
        target = ~observed
        del observed
        design = fill_design([columns[k] for k in keep], np.flatnonzero(target))
        del columns
        draws = design @ betas
        del design
        noise = rng.standard_normal((len(draws), m))
        noise *= sigma  # in place: one (rows, m) temporary, not two
        draws += noise
        del noise
        yield _GroupDraws(rows=rows, target=target, draws=draws)
        del rows, target, draws  # before the next group's are made
