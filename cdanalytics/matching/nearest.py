"""``match``: greedy nearest-neighbour propensity score matching as
``MatchIt::matchit(method = "nearest")`` does it, and its result."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import AnalysisError, ConfigError, InsufficientDataError, StatisticalWarning
from ._greedy import (
    SortedUnits,
    greedy_with_replacement,
    greedy_without_replacement,
    tied_controls,
    treated_order,
)
from .balance import SMD_DENOMINATOR, balance_table, balance_terms
from .propensity import check_columns, covariate_patterns, propensity_model, treated_mask

__all__ = ["MatchResult", "match"]

M_ORDERS = ("largest", "smallest", "random", "data")
DISTANCES = ("ps", "logit")
DISCARDS = ("none", "both", "control", "treated")
#: Tie rules of matching with replacement (``ties``), and how the output states them.
TIE_RULES: dict[str, str] = {
    "first": (
        "ties broken as MatchIt: of controls equally near, the first in the sorted order "
        "(lower score, then earlier row) is taken"
    ),
    "average": (
        "ties averaged (Abadie & Imbens 2006): every control tied with the last match "
        "is matched too, the controls of a treated person weighted equally"
    ),
}
#: Columns :func:`match` adds to the matched rows.
ADDED_COLUMNS = ("propensity_score", "logit_ps", "weights", "subclass")


def _discarded(ps: np.ndarray, treated: np.ndarray, discard: str) -> np.ndarray:
    """Common-support discarding as MatchIt's ``discard`` on the propensity score."""
    out = np.zeros(len(ps), dtype=bool)
    if discard in ("both", "control"):
        lo, hi = ps[treated].min(), ps[treated].max()
        out |= ~treated & ((ps < lo) | (ps > hi))
    if discard in ("both", "treated"):
        lo, hi = ps[~treated].min(), ps[~treated].max()
        out |= treated & ((ps < lo) | (ps > hi))
    return out


def _is_unique(index: pd.Index) -> bool:
    """``index.is_unique``; for whole-number labels within a short range by
    marking each label's place in the range (no hash table of the labels)."""
    if len(index) > 1 and not isinstance(index, pd.RangeIndex) and index.dtype.kind in "iu":
        values = index.to_numpy()
        lo, hi = int(values.min()), int(values.max())
        if hi - lo < 16 * len(values):
            seen = np.zeros(hi - lo + 1, dtype=bool)
            seen[values - lo] = True
            return int(np.count_nonzero(seen)) == len(values)
    return bool(index.is_unique)


def _sorted_rows(d: np.ndarray, strata: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Rows sorted by (stratum, distance ``d``), ties in row order (R's ``sort.list``).

    When there is one stratum and every row's distance is its covariate
    pattern's (``codes``; a fitted propensity model's scores), the rows are
    sorted by the rank of their pattern's distance (patterns of equal
    distance sharing a rank) with a stable sort of small whole numbers: the
    same order as sorting the distances, found without comparing them row by
    row. Otherwise by :func:`numpy.lexsort`.
    """
    n = len(d)
    if n and codes.size == n and not strata.any():
        k = int(codes.max()) + 1
        if k <= np.iinfo(np.uint16).max:
            per_pattern = np.zeros(k)
            per_pattern[codes] = d
            if np.array_equal(per_pattern[codes], d):  # exactly: no NaN, one value a pattern
                order = np.argsort(per_pattern, kind="stable")
                ordered = per_pattern[order]
                rank = np.empty(k, dtype=np.uint16)
                rank[order] = np.cumsum(np.r_[False, ordered[1:] != ordered[:-1]])
                return np.argsort(rank[codes], kind="stable")
    return np.lexsort((np.arange(n), d, strata))


def _strata_codes(df: pd.DataFrame, exact: list[str] | None) -> np.ndarray:
    if not exact:
        return np.zeros(len(df), dtype=np.int64)
    check_columns(df, exact, "exact-matching column")
    return df.groupby(exact, observed=True, sort=True).ngroup().to_numpy(dtype=np.int64)


@dataclass(frozen=True)
class MatchResult:
    """Result of :func:`match`.

    Attributes
    ----------
    matched
        The matched rows of the input (original index and columns) plus
        ``propensity_score``, ``logit_ps``, ``weights`` (MatchIt's matching
        weights) and ``subclass`` (match id, ``Int64``; ``<NA>`` when matching
        with replacement, where a control can belong to several matches).
    pairs
        One row per (treated, control) match: ``subclass``, ``treated_index``,
        ``control_index`` (index labels of the input), ``pass_number`` (1 for
        the first control of each treated unit, 2 for the second, ...) and
        ``distance`` (absolute difference in the matching distance).
    scores
        Every input row: ``treated``, ``propensity_score``, ``logit_ps``,
        ``discarded`` (outside common support), ``matched`` and ``weights``
        (0 when unmatched).
    balance
        One row per balance term: ``covariate``, ``level`` (categorical level,
        else ``<NA>``), ``binary``, ``mean_treated_before``,
        ``mean_control_before``, ``mean_treated``, ``mean_control`` (weighted,
        matched sample), ``sd_denominator`` (SD of the treated group before
        matching; see module notes), ``smd_before``, ``smd_after``,
        ``var_ratio_before``, ``var_ratio_after`` (NaN for binary terms).
    counts
        Rows ``treated`` and ``control`` (column ``group``) with ``n_all``,
        ``n_discarded`` (outside common support), ``n_matched``,
        ``n_unmatched`` (not discarded but without a match: no control within
        the caliper or none left) and ``ess_matched`` (effective sample size
        of the weights, ``(sum w)^2 / sum w^2``).
    summary
        One row: ``n_treated``, ``n_control``, ``n_treated_matched``,
        ``n_control_matched``, ``n_treated_unmatched``, ``ratio``,
        ``replace``, ``caliper_width``, ``max_abs_smd_before``,
        ``max_abs_smd_after``, ``n_terms_smd_over_0_1``.
    settings
        The options used, the absolute caliper width, the propensity model
        terms, ``smd_denominator`` and ``tie_rule`` (in words), and
        ``n_tied_controls`` (matches added for ties, ``ties="average"``).
    propensity_model
        The propensity model's coefficients (see
        :attr:`~cdanalytics.matching.PropensityModel.coefficients`); empty
        when scores were given (``score=``).
    propensity_fit
        Its fit statistics: n, log-likelihoods, McFadden's pseudo-R², AIC and
        the likelihood-ratio test (see
        :attr:`~cdanalytics.matching.PropensityModel.fit`); empty with
        ``score=``.
    """

    matched: pd.DataFrame
    pairs: pd.DataFrame
    scores: pd.DataFrame
    balance: pd.DataFrame
    counts: pd.DataFrame
    summary: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    propensity_model: pd.DataFrame = field(default_factory=pd.DataFrame)
    propensity_fit: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        """Shape and key figures: who was matched and the balance before and after."""
        if self.summary.empty:
            return f"<cdanalytics.MatchResult: {len(self.matched):,} matched rows>"
        row = self.summary.iloc[0]
        replace = "with" if bool(row["replace"]) else "without"
        return (
            f"<cdanalytics.MatchResult: 1:{row['ratio']} matching {replace} replacement;"
            f" {int(row['n_treated_matched']):,} of {int(row['n_treated']):,} programme and"
            f" {int(row['n_control_matched']):,} of {int(row['n_control']):,} comparison rows"
            f" matched; max |SMD| {row['max_abs_smd_before']:.3g} before,"
            f" {row['max_abs_smd_after']:.3g} after ({len(self.balance):,} balance terms)>"
        )


def _check_options(
    ratio: int, caliper: float | None, caliper_scale: str, m_order: str, distance: str, discard: str
) -> None:
    if isinstance(ratio, bool) or not isinstance(ratio, int | np.integer) or ratio < 1:
        raise ConfigError(f"ratio must be a whole number of at least 1, not {ratio!r}")
    if caliper is not None and not (np.isfinite(caliper) and caliper > 0):
        raise ConfigError(f"caliper must be a positive number of SDs or None, not {caliper!r}")
    for name, value, allowed in (
        ("caliper_scale", caliper_scale, DISTANCES),
        ("m_order", m_order, M_ORDERS),
        ("distance", distance, DISTANCES),
        ("discard", discard, DISCARDS),
    ):
        if value not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def match(
    df: pd.DataFrame,
    *,
    covariates: list[str],
    treatment: str = "group",
    treated_value: Any = "programme",
    ratio: int = 1,
    replace: bool = False,
    caliper: float | None = 0.2,
    caliper_scale: Literal["logit", "ps"] = "logit",
    exact: list[str] | None = None,
    m_order: Literal["largest", "smallest", "random", "data"] = "largest",
    distance: Literal["ps", "logit"] = "ps",
    discard: Literal["none", "both", "control", "treated"] = "none",
    score: str | None = None,
    seed: int | None = None,
    ties: Literal["first", "average"] = "first",
) -> MatchResult:
    """Greedy nearest-neighbour propensity score matching (MatchIt's "nearest").

    Parameters
    ----------
    df
        One row per person, programme and comparison rows together; the index
        must be unique (it identifies people in the result).
    covariates
        Columns for the propensity model and the balance table.
    treatment, treated_value
        ``df[treatment] == treated_value`` marks the programme (treated) rows;
        all other rows form the comparison pool.
    ratio
        Controls per treated unit (k:1), given out in k passes as MatchIt does.
    replace
        Whether a control may be used for several treated units.
    caliper
        Maximum distance, in standard deviations of the ``caliper_scale``
        score over all non-discarded rows (R's ``sd``, as MatchIt's
        ``std.caliper``), between matched units. Default 0.2 SD of the logit
        of the propensity score (Austin 2011). ``None``: no caliper.
    caliper_scale
        ``"logit"`` (default) or ``"ps"``: the score the caliper is measured on.
    exact
        Columns to match exactly on (matching happens within their strata).
    m_order
        Order in which treated units choose: ``"largest"`` propensity score
        first (MatchIt's default), ``"smallest"``, ``"random"`` (``seed``) or
        ``"data"`` (row order). Ties keep row order.
    distance
        ``"ps"`` (MatchIt's default ``distance = "glm"``: |ps_t - ps_c|) or
        ``"logit"`` (|logit_t - logit_c|, MatchIt's ``link = "linear.logit"``).
    discard
        Common support as MatchIt's ``discard``: drop rows of the named group
        whose propensity score lies outside the other group's range.
    score
        Column holding propensity scores estimated elsewhere (strictly
        between 0 and 1); then no model is fitted and ``covariates`` serve the
        balance table only (MatchIt's ``distance = <numeric vector>``).
    seed
        Seed for ``m_order="random"``.
    ties
        With replacement: ``"first"`` (default, MatchIt's: of controls
        equally near, the first in sorted order) or ``"average"`` (Abadie &
        Imbens 2006: every control at exactly the distance of the treated
        person's last match is matched too, all weighted equally, so the
        estimate does not depend on row order). Stated in
        ``settings["tie_rule"]``. Only ``"first"`` without replacement.

    Returns
    -------
    MatchResult
        See :class:`MatchResult` for the tables and their columns.

    Notes
    -----
    Tie-breaking as MatchIt: units are sorted by distance with ties in row
    order; a treated unit equally far from the nearest available control on
    either side takes the one on the left (lower score, or equal score and
    earlier row). With the defaults except ``caliper=None`` the result equals
    ``matchit(treat ~ ..., method = "nearest")`` (1:1, no replacement,
    largest first, distance on the propensity score).

    References
    ----------
    Ho, Imai, King & Stuart (2011), MatchIt; Austin (2011), Pharmaceutical
    Statistics 10:150-161 (caliper of 0.2 SD of the logit).

    Examples
    --------
    Propensity scores estimated elsewhere (``score=``), no caliper. The
    treated choose in order of their score, largest first: t3 (0.70) takes
    c4 (0.66), t2 (0.50) takes c3 (0.48), t1 (0.30) takes c2 (0.32):

    >>> import pandas as pd
    >>> people = pd.DataFrame({
    ...     "group": ["programme"] * 3 + ["comparison"] * 5,
    ...     "ps": [0.30, 0.50, 0.70, 0.10, 0.32, 0.48, 0.66, 0.90],
    ...     "prior_offences": [1, 2, 3, 0, 1, 2, 3, 5],
    ...     "reoffended": [0, 1, 0, 0, 1, 1, 1, 1],
    ... }, index=["t1", "t2", "t3", "c1", "c2", "c3", "c4", "c5"])
    >>> result = match(people, covariates=["prior_offences"], score="ps", caliper=None)
    >>> result.pairs[["treated_index", "control_index"]].values.tolist()
    [['t1', 'c2'], ['t2', 'c3'], ['t3', 'c4']]
    >>> result.pairs["distance"].round(2).tolist()
    [0.02, 0.02, 0.04]
    """
    _check_options(ratio, caliper, caliper_scale, m_order, distance, discard)
    if ties not in TIE_RULES:
        raise ConfigError(f"ties must be one of {', '.join(TIE_RULES)}; got {ties!r}")
    if ties == "average" and not replace:
        raise ConfigError(
            "ties='average' needs replace=True: without replacement a tied control is "
            "taken by one treated person only"
        )
    if not _is_unique(df.index):
        raise AnalysisError("the data's index must be unique: it identifies people in the result")
    clash = [c for c in ADDED_COLUMNS if c in df.columns]
    if clash:
        raise AnalysisError(f"the data already has column(s) the result adds: {', '.join(clash)}")
    covariates = list(covariates)
    treated = treated_mask(df, treatment, treated_value)
    model_table, model_fit = pd.DataFrame(), {}
    patterns = covariate_patterns(df, covariates)  # the model's and the balance table's terms
    if score is None:
        model = propensity_model(
            df,
            covariates=covariates,
            treatment=treatment,
            treated_value=treated_value,
            patterns=patterns,
        )
        ps = model.scores["propensity_score"].to_numpy()
        logit = model.scores["logit_ps"].to_numpy()
        model_terms = model.scores.attrs["model_terms"]
        model_table, model_fit = model.coefficients, model.fit
    else:
        check_columns(df, [score], "score column")
        ps = pd.to_numeric(df[score], errors="coerce").to_numpy(dtype="float64")
        if not np.all((ps > 0) & (ps < 1)):
            raise AnalysisError(
                f"score column '{score}' must hold numbers strictly between 0 and 1"
            )
        logit = np.log(ps / (1 - ps))
        model_terms = None
    discarded = _discarded(ps, treated, discard)
    strata = _strata_codes(df, exact)
    d_all = ps if distance == "ps" else logit
    c_all = ps if caliper_scale == "ps" else logit
    width = np.inf if caliper is None else caliper * float(np.std(c_all[~discarded], ddof=1))

    # One list sorted by (stratum, distance), ties in row order (R's sort.list).
    sorted_rows = _sorted_rows(d_all, strata, patterns.codes)
    t_rows = np.flatnonzero(treated & ~discarded)
    is_c = (~treated & ~discarded)[sorted_rows]
    c_rows = sorted_rows[is_c]  # in sorted order
    if len(t_rows) == 0 or len(c_rows) == 0:
        raise InsufficientDataError("no treated or no comparison rows are left after discarding")
    # controls sorted before each treated row: the last one's place among the controls
    before = np.cumsum(is_c)
    pos = np.empty(len(df), dtype=np.int64)
    pos[sorted_rows] = np.arange(len(df))
    left0 = before[pos[t_rows]] - 1
    del sorted_rows, is_c, before, pos  # column-long: not kept through the matching
    units = SortedUnits(
        left0,
        d_all[t_rows],
        c_all[t_rows],
        strata[t_rows],
        d_all[c_rows],
        c_all[c_rows],
        strata[c_rows],
        width,
    )
    n_tied = 0
    if replace:
        ti, ci, passes = greedy_with_replacement(units, ratio)
        if ties == "average":
            extra = tied_controls(units, ti, ci, passes)
            n_tied = len(extra[0])
            ti, ci, passes = (np.r_[a, b] for a, b in zip((ti, ci, passes), extra, strict=True))
    else:
        if len(c_rows) < len(t_rows) * ratio:
            warnings.warn(
                f"fewer comparison rows ({len(c_rows)}) than treated rows x ratio "
                f"({len(t_rows)} x {ratio}); not every treated row can get {ratio} match(es)",
                StatisticalWarning,
                stacklevel=2,
            )
        order = treated_order(d_all[t_rows], m_order, seed)
        ti, ci, passes = greedy_without_replacement(units, order, ratio)
    if len(ti) == 0:
        raise InsufficientDataError(
            "no treated row found a comparison match (check the caliper and exact columns)"
        )
    pair_t = t_rows[ti]
    pair_c = c_rows[ci]
    del units, t_rows, c_rows

    # Subclasses numbered by treated row order; pairs sorted by subclass, pass.
    matched_t, subclass_of_pair = np.unique(pair_t, return_inverse=True)
    pair_order = np.lexsort((passes, subclass_of_pair))
    subclass_of_pair = subclass_of_pair[pair_order] + 1
    pair_t, pair_c, passes = pair_t[pair_order], pair_c[pair_order], passes[pair_order]
    k_per_subclass = np.bincount(subclass_of_pair)[subclass_of_pair]
    weights = np.zeros(len(df))
    weights[matched_t] = 1.0
    np.add.at(weights, pair_c, 1.0 / k_per_subclass)
    ctrl_w = ~treated & (weights > 0)
    weights[ctrl_w] *= ctrl_w.sum() / weights[ctrl_w].sum()
    # the balance first: its column-long temporaries are gone before the tables are made
    terms, levels = balance_terms(ps, patterns)
    balance = balance_table(terms, levels, treated, weights)
    del terms
    counts = _counts(treated, discarded, weights)

    index = df.index
    pairs = pd.DataFrame(
        {
            "subclass": subclass_of_pair,
            "treated_index": index[pair_t],
            "control_index": index[pair_c],
            "pass_number": passes + 1,
            "distance": np.abs(d_all[pair_t] - d_all[pair_c]),
        }
    )
    subclass = pd.arrays.IntegerArray(np.zeros(len(df), dtype=np.int64), np.ones(len(df), bool))
    if not replace:
        subclass[matched_t] = np.arange(1, len(matched_t) + 1)
        subclass[pair_c] = subclass_of_pair
    is_matched = weights > 0
    score_table = pd.DataFrame(
        {
            "treated": treated,
            "propensity_score": ps,
            "logit_ps": logit,
            "discarded": discarded,
            "matched": is_matched,
            "weights": weights,
        },
        index=index,
    )
    matched = df.loc[is_matched].copy()
    matched["propensity_score"] = ps[is_matched]
    matched["logit_ps"] = logit[is_matched]
    matched["weights"] = weights[is_matched]
    matched["subclass"] = subclass[is_matched]
    settings = {
        "treatment": treatment,
        "treated_value": treated_value,
        "covariates": covariates,
        "model_terms": model_terms,
        "ratio": int(ratio),
        "replace": bool(replace),
        "caliper": caliper,
        "caliper_scale": caliper_scale,
        "caliper_width": None if caliper is None else width,
        "exact": list(exact) if exact else None,
        "m_order": m_order,
        "distance": distance,
        "discard": discard,
        "score": score,
        "seed": seed,
        "smd_denominator": SMD_DENOMINATOR,
        "ties": ties,
        "tie_rule": TIE_RULES[ties],
        "n_tied_controls": n_tied,
    }
    summary = pd.DataFrame(
        {
            "n_treated": [int(treated.sum())],
            "n_control": [int((~treated).sum())],
            "n_treated_matched": [int((treated & is_matched).sum())],
            "n_control_matched": [int((~treated & is_matched).sum())],
            "n_treated_unmatched": [int((treated & ~is_matched).sum())],
            "ratio": [int(ratio)],
            "replace": [bool(replace)],
            "caliper_width": [np.nan if caliper is None else width],
            "max_abs_smd_before": [balance["smd_before"].abs().max()],
            "max_abs_smd_after": [balance["smd_after"].abs().max()],
            "n_terms_smd_over_0_1": [int((balance["smd_after"].abs() > 0.1).sum())],
        }
    )
    return MatchResult(
        matched=matched,
        pairs=pairs,
        scores=score_table,
        balance=balance,
        counts=counts,
        summary=summary,
        settings=settings,
        propensity_model=model_table,
        propensity_fit=model_fit,
    )


def _counts(treated: np.ndarray, discarded: np.ndarray, weights: np.ndarray) -> pd.DataFrame:
    rows = []
    for name, mask in (("treated", treated), ("control", ~treated)):
        w = weights[mask & (weights > 0)]
        rows.append(
            {
                "group": name,
                "n_all": int(mask.sum()),
                "n_discarded": int((mask & discarded).sum()),
                "n_matched": len(w),
                "n_unmatched": int((mask & ~discarded & (weights == 0)).sum()),
                "ess_matched": float(w.sum() ** 2 / np.sum(w**2)) if len(w) else 0.0,
            }
        )
    return pd.DataFrame(rows)
