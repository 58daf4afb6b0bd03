"""Gates around a matched comparison, as the Justice Data Lab applies them.

A matched comparison is *computed* only when the treated group reaches a
minimum size (the Justice Data Lab's pilot minimum was 60 people), and
*published* only when the matched groups are balanced: any covariate with
an absolute standardised mean difference above ``balance_flag`` (0.1) after
matching is flagged beside the result, and one above ``balance_withhold``
(0.25) withholds it (Austin 2009; Stuart 2010). The share of the treated
group that was matched and the reason every unmatched person has no match are
returned with the result (:func:`unmatched_reasons`), so that a gated-out
analysis always says why.

References
----------
Ministry of Justice (2013). Justice Data Lab: methodology paper (minimum
cohort of 60; sub-analyses only where numbers and match quality allow).
Austin, P. C. (2009). Balance diagnostics for comparing the distribution of
baseline covariates between treatment groups in propensity-score matched
samples. Statistics in Medicine 28:3083-3107.
Stuart, E. A. (2010). Matching methods for causal inference: a review and a
look forward. Statistical Science 25:1-21 (|SMD| < 0.1 as good balance,
0.25 as the limit).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import AnalysisError, ConfigError, StatisticalWarning
from .effects import MatchedEffect, matched_effect
from .nearest import MatchResult, match
from .propensity import check_columns

__all__ = [
    "GATE_STATUSES",
    "UNMATCHED_REASONS",
    "GatedComparison",
    "balance_gate",
    "gated_comparison",
    "shared_support",
    "unmatched_reasons",
]

#: Reasons a treated person has no match, in the order they are checked.
UNMATCHED_REASONS: tuple[str, ...] = (
    "matched",
    "outside_common_support",
    "no_comparison_within_caliper",
    "comparisons_used_up",
)

#: What became of a gated comparison.
GATE_STATUSES: tuple[str, ...] = ("computed", "flagged", "withheld", "not_computed")


def _check_thresholds(min_treated: int, balance_flag: float, balance_withhold: float) -> None:
    if isinstance(min_treated, bool) or not isinstance(min_treated, int | np.integer):
        raise ConfigError(f"min_treated must be a whole number, not {min_treated!r}")
    if min_treated < 1:
        raise ConfigError(f"min_treated must be at least 1, not {min_treated}")
    if not (0 < balance_flag <= balance_withhold):
        raise ConfigError(
            "balance thresholds must satisfy 0 < balance_flag <= balance_withhold, not "
            f"{balance_flag!r} and {balance_withhold!r}"
        )


def unmatched_reasons(result: MatchResult, df: pd.DataFrame) -> pd.DataFrame:
    """Why each treated person of a matching has, or has no, match: a tidy table.

    Parameters
    ----------
    result
        From :func:`~cdanalytics.matching.match` on ``df``.
    df
        The data that was matched (for the exact-matching strata).

    Returns
    -------
    pandas.DataFrame
        One row per reason of :data:`UNMATCHED_REASONS`: ``reason``, ``n``
        (treated people) and ``share`` (of all treated people, 0-1).

    Notes
    -----
    A treated person discarded by ``discard`` is outside common support. An
    unmatched one whose score (on the caliper's scale) lies outside the range
    of the comparison scores of its exact stratum is also outside common
    support; otherwise, when no comparison person of its stratum lies within
    the caliper of it, there is no comparison within the caliper; otherwise
    every comparison within the caliper was already taken by another treated
    person (matching without replacement).
    """
    scores = result.scores
    settings = result.settings
    treated = scores["treated"].to_numpy(dtype=bool)
    matched = scores["matched"].to_numpy(dtype=bool)
    discarded = scores["discarded"].to_numpy(dtype=bool)
    column = "propensity_score" if settings["caliper_scale"] == "ps" else "logit_ps"
    value = scores[column].to_numpy(dtype="float64")
    width = settings["caliper_width"]
    width = np.inf if width is None else float(width)
    exact = settings.get("exact")
    strata = (
        df.loc[scores.index].groupby(exact, observed=True, sort=True).ngroup().to_numpy()
        if exact
        else np.zeros(len(scores), dtype=np.int64)
    )
    # position in UNMATCHED_REASONS: 0 matched, 1 outside common support,
    # 2 no comparison within the caliper, 3 comparisons used up
    reason = np.zeros(len(scores), dtype=np.int64)
    reason[discarded] = 1
    open_ = treated & ~matched & ~discarded
    controls = ~treated & ~discarded
    for stratum in np.unique(strata[open_]):  # a loop over strata, vectorised within
        who = np.flatnonzero(open_ & (strata == stratum))
        pool = np.sort(value[controls & (strata == stratum)])
        if pool.size == 0:
            reason[who] = 1
            continue
        x = value[who]
        right = np.searchsorted(pool, x)
        near_right = np.abs(pool[np.minimum(right, pool.size - 1)] - x)
        near_left = np.abs(pool[np.maximum(right - 1, 0)] - x)
        within = np.minimum(near_left, near_right) <= width
        outside = (x < pool[0]) | (x > pool[-1])
        reason[who] = np.where(within, 3, np.where(outside, 1, 2))
    n = np.bincount(reason[treated], minlength=len(UNMATCHED_REASONS))
    total = int(treated.sum())
    return pd.DataFrame(
        {
            "reason": list(UNMATCHED_REASONS),
            "n": n,
            "share": n / total if total else np.full(len(n), np.nan),
        }
    )


def shared_support(
    df: pd.DataFrame, covariates: list[str], treated: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows in categories both groups have: (keep, treated rows set aside).

    A category of a categorical covariate that only one group has cannot be
    matched on: its comparison people would never be good matches (and make
    the propensity model separate the groups perfectly), its treated people
    have no comparison at all (outside common support). Both are set aside,
    repeatedly, until every remaining category occurs in both groups.
    """
    keep = np.ones(len(df), dtype=bool)
    categorical = [
        c
        for c in covariates
        if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]))
    ]
    # category codes once (a missing value is a category of its own)
    codes = []
    for column in categorical:
        s = df[column]
        if isinstance(s.dtype, pd.CategoricalDtype):  # its codes: no hashing of the values
            code, k = s.cat.codes.to_numpy().astype(np.intp), len(s.cat.categories)
        else:
            code, levels = pd.factorize(s, use_na_sentinel=True)
            k = len(levels)
        codes.append((np.where(code < 0, k, code), k + 1))
    for _ in range(len(categorical) + 1):
        before = keep.sum()
        for code, k in codes:
            in_treated = np.bincount(code[keep & treated], minlength=k) > 0
            in_pool = np.bincount(code[keep & ~treated], minlength=k) > 0
            keep &= (in_treated & in_pool)[code]
        if keep.sum() == before:
            break
    return keep, treated & ~keep


def balance_gate(
    balance: pd.DataFrame, balance_flag: float = 0.1, balance_withhold: float = 0.25
) -> pd.DataFrame:
    """The balance table with the gate's verdict on every covariate term.

    Adds ``abs_smd_after``, ``flagged`` (above ``balance_flag``) and
    ``withholds`` (above ``balance_withhold``). The propensity score's own
    row is shown but never gates (the covariates do). A term on which the
    treated group does not vary before matching (SMD denominator 0) uses
    the pooled SD of the two groups before matching instead, so that a
    category the treated group lacks but the matched comparison has is
    caught rather than read as NaN.
    """
    out = balance.copy()
    diff = out["mean_treated"] - out["mean_control"]
    smd = out["smd_after"].to_numpy(dtype="float64")
    zero = ~(out["sd_denominator"].to_numpy(dtype="float64") > 0)
    if zero.any():
        pt, pc = out["mean_treated_before"], out["mean_control_before"]
        pooled = np.sqrt((pt * (1 - pt) + pc * (1 - pc)) / 2).to_numpy(dtype="float64")
        binary = out["binary"].to_numpy(dtype=bool)
        with np.errstate(divide="ignore", invalid="ignore"):
            fallback = np.where(binary & (pooled > 0), diff.to_numpy() / pooled, 0.0)
        smd = np.where(zero, fallback, smd)
    smd = np.where(np.isnan(smd), 0.0, smd)  # equal means on a constant term
    gates = (out["covariate"] != "propensity_score").to_numpy()
    out["abs_smd_after"] = np.abs(smd)
    out["flagged"] = gates & (np.abs(smd) > balance_flag)
    out["withholds"] = gates & (np.abs(smd) > balance_withhold)
    return out


@dataclass(frozen=True)
class GatedComparison:
    """A matched comparison and what its gates decided.

    Attributes
    ----------
    status
        ``"computed"`` (published, balanced), ``"flagged"`` (published with
        a balance flag: some |SMD| above ``balance_flag``), ``"withheld"``
        (computed but not to be published: some |SMD| above
        ``balance_withhold``) or ``"not_computed"``.
    reason
        Why it is flagged, withheld or not computed (``None`` when
        computed): ``"too_few_treated"``, ``"no_comparison_pool"``,
        ``"no_match"``, ``"imbalance"``, ``"analysis_error"``.
    detail
        The reason in words (English, for logs; the report words it from its
        locale files with :attr:`summary`).
    summary
        One row: ``status``, ``reason``, ``n_treated`` (before matching),
        ``n_pool`` (comparison people available), ``n_pool_set_aside``
        (comparison people in a category no treated person has; see
        :func:`shared_support`), ``min_treated``,
        ``n_treated_matched``, ``n_control_matched``, ``share_matched``,
        ``max_abs_smd_after``, ``n_terms_flagged``, ``n_terms_withholding``,
        ``balance_flag``, ``balance_withhold``.
    coverage
        :func:`unmatched_reasons` (empty when no matching was run).
    balance
        :func:`balance_gate` of the matching's balance table (empty when no
        matching was run).
    match
        The :class:`MatchResult`, or ``None``.
    effect
        The :class:`MatchedEffect` (computed even when withheld, so that an
        analyst can look; never published then), or ``None``.
    """

    status: Literal["computed", "flagged", "withheld", "not_computed"]
    reason: str | None
    detail: str | None
    summary: pd.DataFrame
    coverage: pd.DataFrame = field(default_factory=pd.DataFrame)
    balance: pd.DataFrame = field(default_factory=pd.DataFrame)
    match: MatchResult | None = None
    effect: MatchedEffect | None = None

    @property
    def publishable(self) -> bool:
        """Whether the effect may be published (computed or flagged)."""
        return self.status in ("computed", "flagged") and self.effect is not None


def _summary(**values: Any) -> pd.DataFrame:
    columns = {
        "status": None,
        "reason": None,
        "n_treated": 0,
        "n_pool": 0,
        "n_pool_set_aside": 0,
        "min_treated": 0,
        "n_treated_matched": 0,
        "n_control_matched": 0,
        "share_matched": np.nan,
        "max_abs_smd_after": np.nan,
        "n_terms_flagged": 0,
        "n_terms_withholding": 0,
        "balance_flag": np.nan,
        "balance_withhold": np.nan,
    }
    return pd.DataFrame([{**columns, **values}])


def gated_comparison(
    df: pd.DataFrame,
    outcome: str,
    *,
    covariates: list[str],
    min_treated: int = 60,
    balance_flag: float = 0.1,
    balance_withhold: float = 0.25,
    kind: Literal["binary", "numeric"] = "binary",
    treatment: str = "group",
    treated_value: Any = "programme",
    **match_options: Any,
) -> GatedComparison:
    """Match, check the gates, and estimate the effect when they allow.

    Parameters
    ----------
    df
        Treated and comparison rows of one analysis (for example the starters
        of one programme eligible for the reoffending window, and their
        comparison pool), unique index.
    outcome, kind
        As for :func:`~cdanalytics.matching.matched_effect`.
    covariates
        As for :func:`~cdanalytics.matching.match`.
    min_treated
        Smallest treated group for which the comparison is computed
        (default 60, the Justice Data Lab's pilot minimum).
    balance_flag, balance_withhold
        |SMD| after matching above which a covariate term flags the result
        (default 0.1) and withholds it (default 0.25).
    treatment, treated_value, **match_options
        Passed to :func:`~cdanalytics.matching.match` (``caliper``,
        ``ratio``, ``replace``, ``exact``, ...).

    Notes
    -----
    Before matching, people in a category of a categorical covariate that
    the other group lacks are set aside (:func:`shared_support`): treated
    ones count as outside common support in :attr:`GatedComparison.coverage`.

    Returns
    -------
    GatedComparison
        Never raises for data that cannot support the comparison: the
        status is then ``"not_computed"`` with its reason.

    Raises
    ------
    ConfigError
        Invalid thresholds or matching options.
    """
    _check_thresholds(min_treated, balance_flag, balance_withhold)
    gates = {
        "min_treated": int(min_treated),
        "balance_flag": float(balance_flag),
        "balance_withhold": float(balance_withhold),
    }
    check_columns(df, [treatment], "treatment column")
    treated = (df[treatment] == treated_value).to_numpy(dtype=bool)
    n_treated, n_pool = int(treated.sum()), int((~treated).sum())
    counts = {"n_treated": n_treated, "n_pool": n_pool, **gates}

    def not_computed(reason: str, detail: str) -> GatedComparison:
        summary = _summary(status="not_computed", reason=reason, **counts)
        return GatedComparison("not_computed", reason, detail, summary)

    if n_treated < min_treated:
        return not_computed(
            "too_few_treated", f"fewer than {min_treated} people in the treated group"
        )
    if n_pool == 0:
        return not_computed("no_comparison_pool", "no comparison people in the pool")
    keep, set_aside = shared_support(df, list(covariates), treated)
    counts["n_pool_set_aside"] = int((~keep & ~treated).sum())
    if int((keep & treated).sum()) == 0 or int((keep & ~treated).sum()) == 0:
        return not_computed("no_match", "no category of the covariates has both groups")
    if not keep.all():  # no copy of every row when none is set aside
        df = df[keep]
    with warnings.catch_warnings():
        # a pool smaller than the treated group is stated as coverage, not warned about
        warnings.simplefilter("ignore", StatisticalWarning)
        try:
            result = match(
                df,
                covariates=covariates,
                treatment=treatment,
                treated_value=treated_value,
                **match_options,
            )
        except AnalysisError as exc:
            return not_computed("no_match", f"matching failed: {exc}")
    coverage = unmatched_reasons(result, df)
    if set_aside.any():  # treated people of a category no comparison person has
        outside = coverage["reason"] == "outside_common_support"
        coverage.loc[outside, "n"] += int(set_aside.sum())
        coverage["share"] = coverage["n"] / n_treated
    balance = balance_gate(result.balance, balance_flag, balance_withhold)
    n_matched_t = int(coverage.loc[coverage["reason"] == "matched", "n"].iloc[0])
    matched_summary = result.summary.iloc[0]
    counts |= {
        "n_treated_matched": n_matched_t,
        "n_control_matched": int(matched_summary["n_control_matched"]),
        "share_matched": n_matched_t / n_treated,
        "max_abs_smd_after": float(
            balance.loc[balance["covariate"] != "propensity_score", "abs_smd_after"].max()
        ),
        "n_terms_flagged": int(balance["flagged"].sum()),
        "n_terms_withholding": int(balance["withholds"].sum()),
    }
    try:
        effect = matched_effect(result, outcome, kind=kind)
    except AnalysisError as exc:
        summary = _summary(status="not_computed", reason="analysis_error", **counts)
        return GatedComparison(
            "not_computed", "analysis_error", str(exc), summary, coverage, balance, result
        )
    if counts["n_terms_withholding"]:
        status, reason = "withheld", "imbalance"
        detail = f"covariate balance: |SMD| above {balance_withhold} after matching"
    elif counts["n_terms_flagged"]:
        status, reason = "flagged", "imbalance"
        detail = f"covariate balance: |SMD| above {balance_flag} after matching"
    else:
        status, reason, detail = "computed", None, None
    summary = _summary(status=status, reason=reason, **counts)
    return GatedComparison(status, reason, detail, summary, coverage, balance, result, effect)
