"""Synthetic case-file audits with a known share met, training effect and kappa.

The generative model
--------------------
Teams ``T01``..: the first ``round(trained_share * n_teams)`` are the trained
arm, trained between the two periods (``trained`` is true on their
follow-up files only). Each team has ``n_files_per_team_period`` files per
period, each a distinct case.

Scores
    For item i, period t and arm a the probability that a file meets the
    item is

    - untrained arm: ``s_it`` = ``true_share_by_period[t]`` (a number for
      every item, or a mapping item -> number);
    - trained arm, baseline: ``s_i0 + baseline_gap``;
    - trained arm, follow-up: ``s_i1 + baseline_gap + effect_i`` with
      ``effect_i`` = ``true_training_effect_by_item[i]`` (0 if absent),

    so the difference in differences of item i is exactly ``effect_i``. A
    file that meets the item gets one of the item's met scores, one that
    does not one of the other scores, uniformly; so the score distribution
    of a stratum s (period x arm) is π_s, with π_s(k) = P(met)/|met| on met
    scores and (1 - P(met))/|not met| on the others. The first reading is
    this true score.

Readers
    ``double_read_share`` of the files (chosen at random, the same files
    for every item) get a second reading by a different reader (readers
    ``R001``.. drawn uniformly), ``audit_date`` 1-30 days after the first.
    For each item the second reader copies the true score with probability
    p = ``reader_kappa``, and otherwise draws a score independently from the
    same stratum's π_s.

True agreement (derivation)
    Both readings of a file in stratum s have marginal π_s. With
    disagreement weights v_jk (1 - agreement weight; 1 - I for unweighted
    kappa, |j - k|/(K - 1) linear, (j - k)²/(K - 1)² quadratic), the
    expected observed disagreement is p·0 + (1 - p)·π_s'Vπ_s (a copied
    score never disagrees, an independent one disagrees as chance does).
    Within one stratum chance disagreement is π_s'Vπ_s too, so

        κ_s = 1 - (1 - p) π_s'Vπ_s / π_s'Vπ_s = p

    for every weighting. Pooled over strata with file shares ω_s (both
    readers' pooled marginal π̄ = Σ ω_s π_s),

        κ = 1 - (1 - p) Σ_s ω_s π_s'Vπ_s / π̄'Vπ̄,

    which is at least p (strata with different π add agreement between
    files). ``truth["kappa"]`` holds this pooled κ per item and weighting:
    the population value of Cohen's kappa (and of Scott's pi, Fleiss' kappa
    and Krippendorff's alpha with the matching metric, since both readers
    share the marginal) that :func:`cdanalytics.practice.agreement` estimates
    on all double-read files.

References
----------
Cohen, J. (1960). Educational and Psychological Measurement 20:37-46.
Cohen, J. (1968). Psychological Bulletin 70:213-220.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..registry import audit_tool_registry

__all__ = ["synthetic_audits"]

_WEIGHTINGS = ("unweighted", "linear", "quadratic")


def synthetic_audits(
    n_teams: int,
    n_files_per_team_period: int,
    items: Sequence[str] | None,
    true_share_by_period: Mapping[str, float | Mapping[str, float]],
    true_training_effect_by_item: Mapping[str, float],
    reader_kappa: float,
    seed: int,
    *,
    trained_share: float = 0.5,
    double_read_share: float = 0.2,
    baseline_gap: float = 0.0,
    n_readers: int = 30,
    tool: str = "safe_and_together",
    registry: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Draw a long audit table with known truth (see the module docstring).

    Parameters
    ----------
    n_teams, n_files_per_team_period
        Teams, and files per team and period.
    items
        Item codes of ``tool`` audited (default: all of them).
    true_share_by_period
        Two periods in order (baseline first) mapped to the untrained
        share met, one number or a mapping item -> number.
    true_training_effect_by_item
        Item -> true difference in differences (missing items: 0).
    reader_kappa
        Probability p that a second reader copies the true score; the
        within-stratum kappa.
    seed
        Seed of ``numpy.random.default_rng``: same arguments, same table.
    trained_share, double_read_share, baseline_gap, n_readers
        Share of teams trained, share of files read twice, baseline
        difference of the trained arm, size of the reader pool.
    tool, registry
        Audit tool whose scales and met scores apply.

    Returns
    -------
    (audits, truth)
        ``audits``: :data:`cdanalytics.practice.AUDIT_COLUMNS` plus
        ``audit_date``, first readings before second ones. ``truth``:
        ``periods``, ``share`` (item -> period -> ``trained``/``untrained``
        -> P(met)), ``did`` (item -> effect), ``kappa`` (item -> weighting
        -> pooled κ), ``reader_kappa``, ``n_double_read``, and the
        arguments.

    Examples
    --------
    >>> audits, truth = synthetic_audits(4, 10, ["cc1_coercive_control"],
    ...     {"baseline": 0.3, "follow_up": 0.4}, {"cc1_coercive_control": 0.2}, 0.6, seed=1)
    >>> truth["share"]["cc1_coercive_control"]["follow_up"]
    {'untrained': 0.4, 'trained': 0.6000000000000001}
    """
    reg = registry if registry is not None else audit_tool_registry()
    if tool not in reg:
        raise ConfigError(f"Unknown audit tool {tool!r}; known: {', '.join(sorted(reg))}.")
    info = reg[tool]["items"]
    items = list(items) if items is not None else list(info)
    unknown = [i for i in items if i not in info]
    if unknown:
        raise ConfigError(f"Items {unknown} are not in audit tool {tool!r}.")
    periods = list(true_share_by_period)
    if len(periods) != 2:
        raise ConfigError("true_share_by_period needs exactly two periods (baseline first).")
    if not 0 <= reader_kappa <= 1 or n_teams < 2 or n_files_per_team_period < 1:
        raise ConfigError("Need 0 <= reader_kappa <= 1, two or more teams and one or more files.")
    n_trained = round(trained_share * n_teams)
    share = _true_shares(
        items, periods, true_share_by_period, true_training_effect_by_item, baseline_gap
    )
    rng = np.random.default_rng(seed)

    # Files: team-major, then period, then file number.
    n_files = n_teams * 2 * n_files_per_team_period
    team = np.repeat(np.arange(n_teams), 2 * n_files_per_team_period)
    period = np.tile(np.repeat([0, 1], n_files_per_team_period), n_teams)
    arm = team < n_trained
    stratum = 2 * period + arm  # 0 base/untr, 1 base/tr, 2 follow/untr, 3 follow/tr
    double = rng.random(n_files) < double_read_share
    reader1 = rng.integers(0, n_readers, n_files)
    reader2 = (reader1 + rng.integers(1, n_readers, n_files)) % n_readers
    start = np.array([np.datetime64("2024-01-01"), np.datetime64("2025-01-01")])
    date1 = start[period] + rng.integers(0, 180, n_files).astype("timedelta64[D]")
    date2 = date1 + rng.integers(1, 31, n_files).astype("timedelta64[D]")

    frames, kappa = [], {}
    for item in items:  # one vectorised draw per item (a handful), no loop over files
        levels = np.asarray(info[item]["levels"])
        pi = _stratum_marginals(share[item], periods, levels, info[item]["met"])  # 4 x K
        cum = np.cumsum(pi, axis=1)
        true = (rng.random(n_files)[:, None] > cum[stratum]).sum(axis=1)
        own = (rng.random(n_files)[:, None] > cum[stratum]).sum(axis=1)
        copy = rng.random(n_files) < reader_kappa
        second = np.where(copy, true, own)
        weights = np.bincount(stratum, minlength=4) / n_files
        kappa[item] = _pooled_kappa(pi, weights, reader_kappa)
        frames.append((item, levels[true], levels[second]))

    n_items = len(items)
    ids = np.char.add("A", np.char.zfill(np.arange(1, n_files + 1).astype(str), 7))
    team_ids = np.char.add("T", np.char.zfill((team + 1).astype(str), 2))
    reader_ids = np.char.add("R", np.char.zfill((np.arange(n_readers) + 1).astype(str), 3))
    first = pd.DataFrame(
        {
            "case_id": np.tile(ids, n_items),
            "team": np.tile(team_ids, n_items),
            "period": np.tile(np.asarray(periods)[period], n_items),
            "reader_id": np.tile(reader_ids[reader1], n_items),
            "trained": np.tile(arm & (period == 1), n_items),
            "item": np.repeat(items, n_files),
            "score": np.concatenate([f[1] for f in frames]),
            "audit_date": np.tile(date1, n_items),
        }
    )
    dbl = np.tile(double, n_items)
    second = first[dbl].assign(
        reader_id=np.tile(reader_ids[reader2], n_items)[dbl],
        score=np.concatenate([f[2] for f in frames])[dbl],
        audit_date=np.tile(date2, n_items)[dbl],
    )
    audits = pd.concat([first, second], ignore_index=True)
    truth = {
        "periods": periods,
        "share": share,
        "did": {i: float(true_training_effect_by_item.get(i, 0.0)) for i in items},
        "kappa": kappa,
        "reader_kappa": float(reader_kappa),
        "n_double_read": int(double.sum()),
        "n_teams": n_teams,
        "n_trained_teams": int(n_trained),
        "n_files_per_team_period": n_files_per_team_period,
        "baseline_gap": baseline_gap,
        "seed": seed,
    }
    return audits, truth


def _true_shares(items, periods, by_period, effects, gap) -> dict[str, dict[str, dict]]:
    """item -> period -> arm -> P(met), checked to lie in [0, 1]."""
    out: dict[str, dict[str, dict]] = {}
    for item in items:
        base = [
            float(v[item]) if isinstance(v, Mapping) else float(v)
            for v in (by_period[p] for p in periods)
        ]
        effect = float(effects.get(item, 0.0))
        out[item] = {
            periods[0]: {"untrained": base[0], "trained": base[0] + gap},
            periods[1]: {"untrained": base[1], "trained": base[1] + gap + effect},
        }
        values = [v for p in out[item].values() for v in p.values()]
        if min(values) < 0 or max(values) > 1:
            raise ConfigError(f"Item {item!r}: true shares {values} must lie in [0, 1].")
    return out


def _stratum_marginals(share, periods, levels, met) -> np.ndarray:
    """Score distribution per stratum (2 * period + arm) over the item's levels."""
    is_met = np.isin(levels, met)
    pi = np.zeros((4, len(levels)))
    for s in range(4):
        p = share[periods[s // 2]]["trained" if s % 2 else "untrained"]
        pi[s] = np.where(is_met, p / is_met.sum(), (1 - p) / (~is_met).sum())
    return pi


def _pooled_kappa(pi: np.ndarray, weights: np.ndarray, p_copy: float) -> dict[str, float]:
    """Pooled true kappa per weighting: 1 - (1 - p) Σ ω_s π_s'Vπ_s / π̄'Vπ̄."""
    k = pi.shape[1]
    gap = np.abs(np.subtract.outer(np.arange(k), np.arange(k)))
    disagreement = {
        "unweighted": (gap > 0).astype(float),
        "linear": gap / (k - 1),
        "quadratic": (gap / (k - 1)) ** 2,
    }
    pooled = weights @ pi
    out = {}
    for name in _WEIGHTINGS:
        v = disagreement[name]
        within = np.einsum("s,sj,jk,sk->", weights, pi, v, pi)
        out[name] = float(1 - (1 - p_copy) * within / (pooled @ v @ pooled))
    return out
