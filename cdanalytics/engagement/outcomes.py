"""Engagement outcomes per group: completion, dropout and retention.

(The referral-to-completion flow is in :mod:`.referrals`; attendance and waiting
times, under the same conventions, are in :mod:`.participation`.)

Every function takes an :class:`~cdanalytics.io.export.Export` (or the
:class:`~cdanalytics.engagement.EngagementData` made from it by
:func:`~cdanalytics.engagement.prepare_engagement`) and ``by``: ``None`` for
one overall row, or a column name or list of names of the prepared episodes
(any participant column, such as ``programme``, ``site``, ``cohort``,
``referral_source``, ``risk_level``, ``age_band``, ``legal_framework`` or a
covariate, or a derived one such as ``referral_quarter`` or
``exit_status_used``). Groups come out sorted, one row per group (or per
group and session / reason / interval for the long tables); a missing group
value is a group of its own, never dropped. Only programme participants
count: comparison rows are left out. Outputs that depend on exit status carry
``completion_rule``, the rule in words (``prog: rule; ...`` when a group
spans programmes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.duration.survfunc import SurvfuncRight

from .._groups import by_columns, group_by, group_labels
from .._stats import survival_at, survival_ci, wilson_ci
from ..errors import ConfigError
from ..io.export import Export
from ._prepare import (
    CLEAR_OUTCOMES,
    EngagementData,
    as_engagement_data,
    shared_parameters,
)
from .status import is_potential

__all__ = [
    "COMPLETION_CLEAR_COLUMNS",
    "COMPLETION_COLUMNS",
    "DROPOUT_COLUMNS",
    "EARLY_DROPOUT_BEFORE",
    "EARLY_DROPOUT_COLUMNS",
    "completion",
    "dropout",
    "dropout_timing",
    "retention",
]

#: Core session before which leaving counts as early dropout: the one default of
#: :func:`dropout` and of the evaluation config's ``engagement.early_dropout_before``.
EARLY_DROPOUT_BEFORE: int = 4

#: Each rate and its Wilson interval, ``(rate, ci_low, ci_high)``, under the names
#: :func:`completion` and :func:`dropout` give them (the report publishes them so):
#: completion of all potential completers,
COMPLETION_COLUMNS = ("completion_rate", "completion_ci_low", "completion_ci_high")
#: completion of those with a clear outcome,
COMPLETION_CLEAR_COLUMNS = tuple(f"{name}_clear" for name in COMPLETION_COLUMNS)
#: dropout of all potential completers,
DROPOUT_COLUMNS = ("dropout_rate", "dropout_ci_low", "dropout_ci_high")
#: and early dropout of all potential completers.
EARLY_DROPOUT_COLUMNS = tuple(f"early_{name}" for name in DROPOUT_COLUMNS)

By = str | Sequence[str] | None
Data = Export | EngagementData

_NOT_A_COLUMN = "not a participant column or a derived engagement column"


def _prepared(
    data: Data, by: By, programmes: Mapping[str, Any] | None
) -> tuple[EngagementData, pd.DataFrame, list[str]]:
    """``data`` prepared, its episodes, and ``by`` as column names of those."""
    prepared = as_engagement_data(data, programmes)
    keys = by_columns(by, prepared.episodes, what=_NOT_A_COLUMN)
    return prepared, prepared.episodes, keys


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _finish(result: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return result.reset_index(drop=not keys)


def _rules(prepared: EngagementData, grouped) -> np.ndarray:
    """Completion rule text of each group, in the group order of ``grouped``."""
    texts = prepared.rule_texts()
    programmes = grouped["programme"].unique()
    return np.array(
        [
            texts[str(codes[0])]
            if len(codes) == 1
            else "; ".join(f"{c}: {texts[c]}" for c in sorted(map(str, codes)))
            for codes in programmes
        ],
        dtype=object,
    )


def _add_rate(
    out: pd.DataFrame, count: str, nobs: str, alpha: float, names: tuple[str, ...]
) -> None:
    """Add ``count / nobs`` and its Wilson interval under ``names`` (rate, ci_low, ci_high)."""
    k = out[count].to_numpy(dtype=float)
    n = out[nobs].to_numpy(dtype=float)
    low, high = wilson_ci(k, n, alpha=alpha)
    rate, ci_low, ci_high = names
    out[rate] = np.divide(k, n, out=np.full(len(n), np.nan), where=n > 0)
    out[ci_low] = low
    out[ci_high] = high


def _counts(prepared: EngagementData, keys: list[str], columns: Mapping[str, Any]) -> pd.DataFrame:
    """Group sums of the indicator ``columns`` (one value per episode), with rule texts."""
    ep = prepared.episodes
    frame = pd.DataFrame(
        {**{k: ep[k] for k in keys}, "programme": ep["programme"], **columns}, index=ep.index
    )
    grouped = group_by(frame, keys)
    out = grouped[list(columns)].sum().astype(np.int64)
    out["completion_rule"] = _rules(prepared, grouped)
    return _finish(out, keys)


@shared_parameters
def completion(
    data: Data,
    by: By = None,
    *,
    programmes: Mapping[str, Any] | None = None,
    closed_cases: bool = True,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Completion among potential completers, with Wilson intervals.

    Reported of all potential completers (``completion_rate``) and of those
    with a clear outcome (``completion_rate_clear``: completed, dropped out or
    excluded; transfers and still-open cases are not a clear outcome), after
    the Caledonian evaluation.

    Parameters
    ----------
    {data}
    {by}
    {programmes}
    {closed_cases}
    {alpha}

    Returns
    -------
    DataFrame
        ``<by>..., n_started, n_potential, n_clear_outcome, n_completed,
        completion_rate, completion_ci_low, completion_ci_high,
        completion_rate_clear, completion_ci_low_clear,
        completion_ci_high_clear, completion_rule``; one row per group. The
        rate columns are :data:`COMPLETION_COLUMNS` and
        :data:`COMPLETION_CLEAR_COLUMNS`. Rates are NaN on a zero base.

    References
    ----------
    Wilson, E. B. (1927). JASA 22:209-212 (the interval).
    Ipsos MORI (2016). Evaluation of the Caledonian System (potential completers).

    Examples
    --------
    The rate is completers over potential completers; the interval is
    Wilson's, here checked against statsmodels:

    >>> from statsmodels.stats.proportion import proportion_confint
    >>> from cdanalytics.synth import generate
    >>> export, _ = generate(200, seed=1)
    >>> row = completion(export).iloc[0]
    >>> int(row["n_completed"]), int(row["n_potential"])
    (41, 78)
    >>> [round(float(row[c]), 4) for c in COMPLETION_COLUMNS]
    [0.5256, 0.4162, 0.6326]
    >>> low, high = proportion_confint(41, 78, method="wilson")
    >>> [round(41 / 78, 4), round(low, 4), round(high, 4)]
    [0.5256, 0.4162, 0.6326]
    """
    prepared, ep, keys = _prepared(data, by, programmes)
    potential = is_potential(ep, closed_cases)
    status = ep["exit_status_used"]
    out = _counts(
        prepared,
        keys,
        {
            "n_started": ep["started"].to_numpy(),
            "n_potential": potential,
            "n_clear_outcome": potential & status.isin(CLEAR_OUTCOMES).to_numpy(),
            "n_completed": potential & (status == "completed").to_numpy(),
        },
    )
    _add_rate(out, "n_completed", "n_potential", alpha, COMPLETION_COLUMNS)
    _add_rate(out, "n_completed", "n_clear_outcome", alpha, COMPLETION_CLEAR_COLUMNS)
    return out[[c for c in out.columns if c != "completion_rule"] + ["completion_rule"]]


@shared_parameters
def dropout(
    data: Data,
    by: By = None,
    *,
    programmes: Mapping[str, Any] | None = None,
    closed_cases: bool = True,
    early_before: int = EARLY_DROPOUT_BEFORE,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Dropout rate, and early dropout, among potential completers (Wilson intervals).

    A dropout is a potential completer whose exit status used is
    ``dropped_out``; an early dropout one whose last attended core session
    (position in their own core sequence) comes before session
    ``early_before``.

    Parameters
    ----------
    {data}
    {by}
    {programmes}
    {closed_cases}
    early_before
        Core session number before which leaving counts as early (default
        :data:`EARLY_DROPOUT_BEFORE`, 4: the report's default too).
    {alpha}

    Returns
    -------
    DataFrame
        ``<by>..., n_potential, n_dropped_out, dropout_rate, dropout_ci_low,
        dropout_ci_high, early_before, n_early_dropout, early_dropout_rate,
        early_dropout_ci_low, early_dropout_ci_high,
        median_last_core_attended, completion_rule``; the rate columns are
        :data:`DROPOUT_COLUMNS` and :data:`EARLY_DROPOUT_COLUMNS`; rates are
        of all potential completers; ``median_last_core_attended`` is over the
        group's dropouts.

    References
    ----------
    Wilson, E. B. (1927). JASA 22:209-212.

    Examples
    --------
    >>> from statsmodels.stats.proportion import proportion_confint
    >>> from cdanalytics.synth import generate
    >>> export, _ = generate(200, seed=1)
    >>> row = dropout(export, early_before=3).iloc[0]
    >>> int(row["n_dropped_out"]), int(row["n_early_dropout"]), int(row["n_potential"])
    (34, 5, 78)
    >>> [round(float(row[c]), 4) for c in (*DROPOUT_COLUMNS, "early_dropout_rate")]
    [0.4359, 0.3314, 0.5464, 0.0641]
    >>> low, high = proportion_confint(34, 78, method="wilson")
    >>> [round(34 / 78, 4), round(low, 4), round(high, 4), round(5 / 78, 4)]
    [0.4359, 0.3314, 0.5464, 0.0641]
    """
    if isinstance(early_before, bool) or not isinstance(early_before, int) or early_before < 1:
        raise ConfigError(
            f"early_before must be a session number of 1 or more, not {early_before!r}."
        )
    prepared, ep, keys = _prepared(data, by, programmes)
    potential = is_potential(ep, closed_cases)
    dropped = potential & (ep["exit_status_used"] == "dropped_out").to_numpy()
    last = ep["last_core_attended"].to_numpy()
    out = _counts(
        prepared,
        keys,
        {
            "n_potential": potential,
            "n_dropped_out": dropped,
            "n_early_dropout": dropped & (last < early_before),
        },
    )
    _add_rate(out, "n_dropped_out", "n_potential", alpha, DROPOUT_COLUMNS)
    out["early_before"] = early_before
    _add_rate(out, "n_early_dropout", "n_potential", alpha, EARLY_DROPOUT_COLUMNS)
    medians = group_by(ep.loc[dropped, [*keys, "last_core_attended"]], keys)[
        "last_core_attended"
    ].median()
    medians = _finish(medians.rename("median_last_core_attended").to_frame(), keys)
    out = out.merge(medians, on=keys, how="left") if keys else out.join(medians)
    order = ["n_potential", "n_dropped_out", *DROPOUT_COLUMNS, "early_before"]
    order += ["n_early_dropout", *EARLY_DROPOUT_COLUMNS]
    return out[[*keys, *order, "median_last_core_attended", "completion_rule"]]


@shared_parameters
def dropout_timing(
    data: Data,
    by: By = None,
    *,
    programmes: Mapping[str, Any] | None = None,
    closed_cases: bool = True,
) -> pd.DataFrame:
    """Distribution of the last core session attended by dropouts.

    Parameters
    ----------
    {data}
    {by}
    {programmes}
    {closed_cases}

    Returns
    -------
    DataFrame
        ``<by>..., last_core_attended, n_dropped_out, share,
        completion_rule``; one row per group and last attended core session
        (0: none attended) observed among the group's dropouts (potential
        completers with status ``dropped_out``); ``share`` is of the group's
        dropouts.
    """
    prepared, ep, keys = _prepared(data, by, programmes)
    dropped = is_potential(ep, closed_cases) & (ep["exit_status_used"] == "dropped_out").to_numpy()
    frame = ep.loc[dropped, _unique([*keys, "programme", "last_core_attended"])]
    grouped = group_by(frame, [*keys, "last_core_attended"])
    out = grouped.size().rename("n_dropped_out").to_frame()
    out["completion_rule"] = _rules(prepared, grouped)
    out = out.reset_index()
    total = (
        out.groupby(keys, observed=True, dropna=False)["n_dropped_out"].transform("sum")
        if keys
        else out["n_dropped_out"].sum()
    )
    out.insert(len(keys) + 2, "share", out["n_dropped_out"] / total)
    return out


@shared_parameters
def retention(
    data: Data,
    by: By = None,
    *,
    programmes: Mapping[str, Any] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Retention over core sessions: Kaplan-Meier survival of staying in the programme.

    Over all starters. Time is the number of core sessions in the
    participant's own core sequence, attended or missed: the sessions they
    were enrolled for (so rolling entry and mixed programmes are handled). A
    dropout's event time is the last core session they were enrolled for;
    ongoing participants are censored at their last core session so far;
    completers and other exits (excluded, transferred) are censored at their
    last core session. The event is leaving by dropout only: other exits are
    censored (a cause-specific curve). :func:`dropout_timing` gives the last
    session *attended* by dropouts instead.

    Parameters
    ----------
    {data}
    {by}
    {programmes}
    {alpha}

    Returns
    -------
    DataFrame
        ``<by>..., session, n_at_risk, n_dropped_out, n_censored, retained,
        ci_low, ci_high, completion_rule``; one row per group and session
        0..(last session observed). ``retained`` is the estimated share of
        starters who had not dropped out by the end of core session
        ``session`` (the product-limit S(session)); ``n_at_risk`` those still
        enrolled at that session; ``n_dropped_out`` the dropouts whose last
        enrolled core session it was.

    References
    ----------
    Kaplan, E. L. & Meier, P. (1958). JASA 53:457-481, computed with
    ``statsmodels.duration.SurvfuncRight``; Greenwood standard errors with the
    log(-log) interval of Kalbfleisch & Prentice (2002), as in lifelines.

    Examples
    --------
    The product-limit estimate by hand: 4 of the 84 starters drop out at
    session 1, then 1 of the 79 still enrolled at session 2:

    >>> from cdanalytics.synth import generate
    >>> export, _ = generate(200, seed=1)
    >>> curve = retention(export)
    >>> curve[["session", "n_at_risk", "n_dropped_out"]].head(3).values.tolist()
    [[0, 84, 0], [1, 84, 4], [2, 79, 1]]
    >>> [round(float(s), 4) for s in curve["retained"].head(3)]
    [1.0, 0.9524, 0.9403]
    >>> [1.0, round(1 - 4 / 84, 4), round((1 - 4 / 84) * (1 - 1 / 79), 4)]
    [1.0, 0.9524, 0.9403]
    """
    prepared, ep, keys = _prepared(data, by, programmes)
    # the starters' rows of the columns read here only (not a copy of every column)
    read = _unique([*keys, "programme", "exit_status_used", "n_core_scheduled"])
    starters = ep.loc[ep["started"], read]
    status = starters["exit_status_used"]
    event = (status == "dropped_out").to_numpy()
    time = starters["n_core_scheduled"].to_numpy(dtype=np.int64)
    frame = starters[_unique([*keys, "programme"])].assign(time=time, event=event)
    grouped = group_by(frame, keys)
    pieces = []
    for (name, part), rule in zip(grouped, _rules(prepared, grouped), strict=True):
        t, e = part["time"].to_numpy(), part["event"].to_numpy()
        grid = np.arange(t.max() + 1)
        n_event = np.bincount(t[e], minlength=len(grid))
        n_censored = np.bincount(t[~e], minlength=len(grid))
        surv, se = survival_at(SurvfuncRight(t, e.astype(float)), grid)
        low, high = survival_ci(surv, se, "log-log", alpha)
        pieces.append(
            pd.DataFrame(
                {
                    **group_labels(keys, name),
                    "session": grid,
                    "n_at_risk": np.cumsum((n_event + n_censored)[::-1])[::-1],
                    "n_dropped_out": n_event,
                    "n_censored": n_censored,
                    "retained": surv,
                    "ci_low": low,
                    "ci_high": high,
                    "completion_rule": rule,
                }
            )
        )
    columns = [*keys, "session", "n_at_risk", "n_dropped_out", "n_censored", "retained"]
    columns += ["ci_low", "ci_high", "completion_rule"]
    if not pieces:
        return pd.DataFrame(columns=columns)
    out = pd.concat(pieces, ignore_index=True)
    for key in keys:
        out[key] = out[key].astype(ep[key].dtype)
    return out[columns]
