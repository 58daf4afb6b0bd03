"""Exact implied probabilities of the generative model (the numbers in ``truth.json``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import integrate, stats

from ._params import RISK_LEVELS
from ._plan import Plan
from ._sessions import stage_boundaries

__all__ = [
    "engagement_probabilities",
    "family_truth",
    "offence_intensity_factor",
    "p12",
    "prepost_scale_truth",
    "prior_offence_pmf",
    "stage_transitions",
]

DAYS_PER_YEAR = 365.25


def engagement_probabilities(
    k: int,
    needed: int,
    require_last: bool,
    dropout_hazard: float,
    excluded_hazard: float,
    transferred_hazard: float,
    p_attend: float,
) -> dict[str, float]:
    """Exact exit probabilities of a starter followed to the end of the core programme.

    The number of core sessions ``L`` a starter stays enrolled for is geometric:
    P(L = l) = (1 - H)^(l-1) H for l < k and P(L = k) = (1 - H)^(k-1), with
    H the sum of the three per-session hazards. Session 1 is attended (it
    defines the start); sessions 2..L are attended independently with
    ``p_attend``, so the attended count is 1 + Binomial(L - 1, p_attend)
    (``scipy.stats.binom``). A starter completes iff the registry rule holds
    on the attended core sessions (sessions after leaving count as missed).
    Non-completers leave for the reason drawn for L < k, and count as
    dropped out when they stayed to the last session but missed the rule.
    """
    hazard = dropout_hazard + excluded_hazard + transferred_hazard
    lengths = np.arange(1, k + 1)
    p_len = (1 - hazard) ** (lengths - 1) * hazard
    p_len[-1] = (1 - hazard) ** (k - 1)
    if require_last:
        rule = np.zeros(k)
        rule[-1] = (
            float(needed <= 1) if k == 1 else p_attend * stats.binom.sf(needed - 3, k - 2, p_attend)
        )
    else:
        rule = stats.binom.sf(needed - 2, lengths - 1, p_attend)
    p_complete = float(np.sum(p_len * rule))
    early = p_len[:-1] * (1 - rule[:-1]) / hazard if k > 1 else np.zeros(0)
    p_excluded = float(np.sum(early) * excluded_hazard)
    p_transferred = float(np.sum(early) * transferred_hazard)
    return {
        "dropout_hazard": float(dropout_hazard),
        "excluded_hazard": float(excluded_hazard),
        "transferred_hazard": float(transferred_hazard),
        "p_attend": float(p_attend),
        "p_reach_last_core": float(p_len[-1]),
        "p_complete": p_complete,
        "p_excluded": p_excluded,
        "p_transferred": p_transferred,
        "p_other_exits": p_excluded + p_transferred,
        "p_dropout": 1.0 - p_complete - p_excluded - p_transferred,
        "expected_core_sessions_enrolled": float(np.sum(p_len * lengths)),
    }


def offence_intensity_factor(reoff: dict[str, Any]) -> float:
    """c such that the 12-month proven-reoffending probability is 1 - exp(-c * hazard_per_year).

    Offences follow a Poisson process of rate lambda per day (hazard per year
    / 365.25); each is proven with probability p_proven after a lognormal
    delay D. An offence at time t counts when t <= window_days and
    t + D <= proof_deadline_days, so the counting offences are a thinned
    Poisson process with mean lambda * p_proven * integral_0^window
    F_D(deadline - t) dt (``scipy.integrate.quad``).
    """
    delay = reoff["proof_delay"]
    dist = stats.lognorm(s=float(delay["sdlog"]), scale=float(delay["median_days"]))
    window, deadline = float(reoff["window_days"]), float(reoff["proof_deadline_days"])
    area, _ = integrate.quad(lambda t: dist.cdf(deadline - t), 0.0, window, epsabs=1e-12, limit=200)
    return float(reoff["p_proven"]) * area / DAYS_PER_YEAR


def prior_offence_pmf(mean: float, dispersion: float, maximum: int) -> np.ndarray:
    """P(prior_offences = x), x = 0..maximum: negative binomial clipped at ``maximum``."""
    dist = stats.nbinom(dispersion, dispersion / (dispersion + mean))
    pmf = dist.pmf(np.arange(maximum + 1))
    pmf[-1] = dist.sf(maximum - 1)
    return pmf


def p12(
    plan: Plan, risk: int, comparison: bool, treated: bool, hazard_ratio: float | None = None
) -> float:
    """12-month proven-reoffending probability of one risk level, averaged over prior offences.

    ``hazard_ratio`` is the programme effect of a treated person (default
    ``reoffending.hr_programme``; a programme's own is ``plan.hr_programme``).
    """
    params = plan.params
    reoff, prior = params["reoffending"], params["prior_offences"]
    mean = prior["mean_by_risk"][RISK_LEVELS[risk]]
    if comparison:
        mean *= params["comparison"]["prior_offences_multiplier"]
    pmf = prior_offence_pmf(mean, float(prior["dispersion"]), int(prior["max"]))
    rate = (
        reoff["baseline_hazard_per_year"]
        * reoff["hr_risk"][RISK_LEVELS[risk]]
        * ((reoff["hr_programme"] if hazard_ratio is None else hazard_ratio) if treated else 1.0)
        * reoff["hr_prior_offence"] ** np.arange(pmf.size)
    )
    return float(np.sum(pmf * -np.expm1(-offence_intensity_factor(reoff) * rate)))


def _observed_mean(
    mean: float, sd: float, resolution: float, low: float, high: float
) -> tuple[float, float]:
    """E[clip(round(X / res) * res, low, high)] for X ~ N(mean, sd), and P(clipped)."""
    grid = np.round(np.arange(low, high + resolution / 2, resolution), 10)
    upper = stats.norm.cdf((grid + resolution / 2 - mean) / sd)
    lower = stats.norm.cdf((grid - resolution / 2 - mean) / sd)
    upper[-1], lower[0] = 1.0, 0.0
    p = upper - lower
    p_clipped = stats.norm.cdf((low - resolution / 2 - mean) / sd) + stats.norm.sf(
        (high + resolution / 2 - mean) / sd
    )
    return float(np.sum(p * grid)), float(p_clipped)


def prepost_scale_truth(
    spec: dict[str, Any], info: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    """Truth of one instrument scale: true change, noise, and exact observed means.

    True scores T ~ N(baseline_mean, baseline_sd); the true change is
    true_change_sd * baseline_sd (the same for everyone), times
    follow_up_change_ratio at follow-up. Observed = T + change + e with
    Var(e) = baseline_sd^2 (1 - r) / r - resolution^2 / 12, so that after
    rounding to ``resolution`` (Sheppard's correction) the reliability
    Var(T) / Var(observed) is r; then clipped to the registry range.
    """
    reliability = info.get("reliability")
    source = "registry"
    if reliability is None:
        reliability, source = spec["reliability"], spec["reliability_source"]
    reliability = float(reliability)
    mean, sd, res = (
        float(spec["baseline_mean"]),
        float(spec["baseline_sd"]),
        float(spec["resolution"]),
    )
    observed_var = sd**2 / reliability
    noise_sd = float(np.sqrt(observed_var - sd**2 - res**2 / 12))
    change = float(spec["true_change_sd"]) * sd
    ratio = float(params["prepost"]["follow_up_change_ratio"])
    low, high = float(info["min"]), float(info["max"])
    cont_sd = float(np.sqrt(observed_var - res**2 / 12))
    means, clipped = {}, {}
    for tp, shift in (("pre", 0.0), ("post", change), ("follow_up", change * ratio)):
        means[tp], clipped[tp] = _observed_mean(mean + shift, cont_sd, res, low, high)
    s_diff = np.sqrt(2.0) * np.sqrt(observed_var) * np.sqrt(1 - reliability)
    z = change / s_diff
    improving_sign = -1.0 if info["direction"] == "higher_worse" else 1.0
    p_below, p_above = (
        float(stats.norm.cdf(-1.959963984540054 - z)),
        float(stats.norm.sf(1.959963984540054 - z)),
    )
    return {
        "baseline_mean": mean,
        "baseline_sd": sd,
        "true_change_sd": float(spec["true_change_sd"]),
        "true_change": change,
        "true_change_sd_follow_up": float(spec["true_change_sd"]) * ratio,
        "true_change_follow_up": change * ratio,
        "reliability": reliability,
        "reliability_source": source,
        "resolution": res,
        "noise_sd": noise_sd,
        "observed_sd": float(np.sqrt(observed_var)),
        "direction": info["direction"],
        "d_z": float(change / (np.sqrt(2.0) * np.sqrt(observed_var - sd**2))),
        "expected_observed_mean": means,
        "p_clipped": clipped,
        "p_reliable_improvement": p_below if improving_sign < 0 else p_above,
        "p_reliable_deterioration": p_above if improving_sign < 0 else p_below,
    }


def _attended_given_complete(n: int, needed: int, first: bool, p: float) -> np.ndarray:
    """pmf of the sessions attended in a stage of ``n`` sessions, given the stage was
    completed (its last session attended, ``needed`` or more in all); ``first``: the
    stage holds session 1, which is always attended."""
    free = n - 1 - int(first)  # sessions attended at random besides the last (and the first)
    pmf = np.zeros(n + 1)
    counts = np.arange(free + 1)
    total = counts + 1 + int(first)
    ok = total >= needed
    pmf[total[ok]] = stats.binom.pmf(counts[ok], free, p)
    return pmf / pmf.sum()


def stage_transitions(plan: Plan, i: int, risk: int) -> dict[str, float] | None:
    """Exact stage transition probabilities of programme ``i`` for one risk level.

    Supported when the registry's stages are sequential (one per ``order``),
    the core stages are contiguous blocks of the session order that each
    require their last session, and any review stage comes last. The
    transition of a core stage s is P(complete s | completed the stages
    before): staying enrolled through its n_s sessions ((1 - H)^(n_s), one
    fewer for the first stage, whose session 1 defines the start), not
    leaving at its start (``stage_dropout``), attending its last session and
    enough of the rest (binomial). A review stage is offered to completers of
    the core rule (the probability that the attended counts of the completed
    core stages meet it, by convolution), not skipped, and completed when
    ``Binomial(n_review, p_review_attend)`` meets its rule. Returns ``None``
    when the structure is not supported.
    """
    code = plan.programmes[i]
    entry = plan.registry[code]
    stages = entry.get("stages") or {}
    orders = [int(s["order"]) for s in stages.values()]
    if not stages or len(set(orders)) != len(orders) or orders != sorted(orders):
        return None
    eng = plan.params["engagement"]
    drop = (eng.get("stage_dropout") or {}).get(code, {})
    hazard = plan.dropout_hazard[i, risk] + eng["excluded_hazard"] + eng["transferred_hazard"]
    p = float(plan.p_attend[i, risk])
    bounds = stage_boundaries(plan, i)
    types = [t for t, _ in plan.orders[i]]
    out: dict[str, float] = {}
    core_pmf = np.ones(1)
    for code_s, stage in stages.items():
        n = int(sum(stage["sessions"].values()))
        rule = stage["completion_rule"]
        needed = math.ceil(round(float(rule["min_share"]) * n, 9))
        q = float(drop.get(code_s, 0.0))
        if bounds[code_s] is None:  # review stage: last
            if code_s != list(stages)[-1]:
                return None
            total = sum(int(v) for v in entry["core"].values())
            core_needed = math.ceil(
                round(float(entry["completion_rule"]["min_core_share"]) * total, 9)
            )
            p_core = float(core_pmf[core_needed:].sum())
            pr = float(eng["p_review_attend"])
            if rule.get("require_last"):
                p_rule = pr * float(stats.binom.sf(needed - 2, n - 1, pr))
            else:
                p_rule = float(stats.binom.sf(needed - 1, n, pr))
            out[code_s] = p_core * (1 - q) * p_rule
            continue
        b = bounds[code_s]
        block = types[b : b + n]
        if not rule.get("require_last") or set(block) != set(stage["sessions"]) or len(block) != n:
            return None
        first = b == 0
        stay = (1 - hazard) ** (n - 1 if first else n)
        free = n - 1 - int(first)
        p_rule = p * float(stats.binom.sf(needed - 2 - int(first), free, p))
        out[code_s] = (1 - q) * stay * p_rule
        core_pmf = np.convolve(core_pmf, _attended_given_complete(n, needed, first, p))
    return out


def family_truth(plan: Plan) -> dict[str, Any] | None:
    """Truth of the family features (``None`` when they are all off, as for the
    committed sample): stage transitions per programme (mixed over the
    starters' risk levels; see :func:`stage_transitions`), the evaluation
    outcome probabilities and the per-child instruments."""
    eng, pp = plan.params["engagement"], plan.params["prepost"]
    if not (eng.get("stage_dropout") or eng.get("evaluation_outcome") or pp.get("per_child")):
        return None
    stages: dict[str, Any] = {}
    for i, code in enumerate(plan.programmes):
        by_risk = [stage_transitions(plan, i, r) for r in range(len(RISK_LEVELS))]
        if by_risk[0] is None:
            continue
        weights = plan.risk_p[i]
        names = list(by_risk[0])
        path = np.array([np.cumprod([t[s] for s in names]) for t in by_risk])  # risk x stage
        through = weights @ path
        before = np.r_[1.0, through[:-1]]
        stages[code] = {
            "transition": {s: float(v) for s, v in zip(names, through / before, strict=True)},
            "through_stage": {s: float(v) for s, v in zip(names, through, strict=True)},
            "stage_dropout": dict((eng.get("stage_dropout") or {}).get(code, {})),
            "basis": "starters followed to the end of each stage (potential completers by "
            "time elapsed); transition = P(complete the stage | completed every stage before)",
        }
    return {
        "stages": stages,
        "evaluation_outcome": {
            k: dict(v) for k, v in (eng.get("evaluation_outcome") or {}).items()
        },
        "per_child_instruments": list(pp.get("per_child") or []),
        "subject_id": "<participant_id>-C<k>, k = 1..n_children; "
        "empty for fathers without children",
    }
