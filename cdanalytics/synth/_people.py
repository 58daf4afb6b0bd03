"""Participants: programme, site, covariates, referral funnel and start dates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._plan import Plan

__all__ = ["NA_DAY", "People", "categorical", "draw_people"]

#: Missing day number (becomes NaT when viewed as datetime64).
NA_DAY = np.iinfo(np.int64).min


def categorical(rng: np.random.Generator, row: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """Draw one category per element: element i uses the probabilities ``prob[row[i]]``."""
    cum = np.cumsum(prob, axis=1)
    cum[:, -1] = 1.0
    u = rng.random(row.size)
    return (u[:, None] >= cum[row]).sum(axis=1).astype(np.int16)


@dataclass
class People:
    """Participant-level arrays (one element per row of the participants table)."""

    n: int
    comparison: np.ndarray
    prog: np.ndarray
    site: np.ndarray
    risk: np.ndarray
    prior: np.ndarray
    age: np.ndarray
    ethnicity: np.ndarray
    children: np.ndarray
    source: np.ndarray  # -1 = missing
    framework: np.ndarray
    referral: np.ndarray  # day numbers, NA_DAY = missing
    assessed: np.ndarray  # int8: -1 missing, 0, 1
    eligible: np.ndarray
    exclusion: np.ndarray
    started: np.ndarray
    waiting: np.ndarray
    start: np.ndarray
    index: np.ndarray
    cohort_year: np.ndarray


def _group_starts(
    plan: Plan, prog: np.ndarray, site: np.ndarray, ready: np.ndarray, origin: int
) -> np.ndarray:
    """First group start on or after ``ready``: groups start every group_interval_days
    from an origin staggered by 17 days per site."""
    gap = plan.group_interval[prog]
    anchor = origin + 17 * site.astype(np.int64)
    k = -((anchor - ready) // gap)
    return anchor + np.maximum(k, 0) * gap


def draw_people(rng: np.random.Generator, plan: Plan, n: int, extract: int) -> People:
    """Draw every participant-level variable (see the :mod:`cdanalytics.synth` docstring)."""
    params = plan.params
    span = round(float(params["referral_years"]) * 365.25)
    n_comp = round(float(params["comparison_share"]) * n)
    comparison = rng.permutation(n) < n_comp
    prog = categorical(rng, np.zeros(n, dtype=np.int64), plan.share[None, :])
    site = categorical(rng, prog, plan.site_p)
    risk_row = np.where(comparison, len(plan.programmes), prog)
    risk = categorical(rng, risk_row, plan.risk_p)

    prior_par = params["prior_offences"]
    mean_by_risk = np.array(
        [prior_par["mean_by_risk"][r] for r in ("low", "medium", "high", "very_high")]
    )
    mean = mean_by_risk[risk] * np.where(
        comparison, params["comparison"]["prior_offences_multiplier"], 1.0
    )
    k = float(prior_par["dispersion"])
    prior = np.minimum(rng.negative_binomial(k, k / (k + mean)), int(prior_par["max"]))

    age = categorical(rng, prog, plan.age_p)
    ethnicity = categorical(rng, prog, plan.ethnicity_p)
    children = plan.children_min[prog] + rng.poisson(plan.children_mean[prog])
    source = np.where(comparison, -1, categorical(rng, prog, plan.source_p))
    framework = np.where(comparison, -1, categorical(rng, prog, plan.framework_p))

    u_ref, u_fun = rng.random(n), rng.random((n, 3))
    referral = np.where(comparison, NA_DAY, extract - np.floor(u_ref * span).astype(np.int64))
    funnel = plan.funnel[prog]
    assessed = ~comparison & (u_fun[:, 0] < funnel[:, 0])
    eligible = assessed & (u_fun[:, 1] < funnel[:, 1])
    starts = eligible & (u_fun[:, 2] < funnel[:, 2])
    exclusion = np.where(assessed & ~eligible, categorical(rng, prog, plan.exclusion_p), -1)

    wait = np.ceil(
        plan.wait_median[prog] * np.exp(float(params["wait_days_sdlog"]) * rng.standard_normal(n))
    ).astype(np.int64)
    ready = np.where(comparison, extract, referral) + np.maximum(wait, 1)
    start = np.where(
        plan.rolling[prog], ready, _group_starts(plan, prog, site, ready, extract - span - 365)
    )
    started = starts & (start <= extract)
    waiting = starts & ~started
    start = np.where(started, start, NA_DAY)

    offset = int(params["comparison"]["index_offset_days"])
    index = np.where(
        comparison, extract - np.floor(rng.random(n) * (span - offset)).astype(np.int64), NA_DAY
    )
    year_day = np.where(comparison, index, referral)
    cohort_year = year_day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970

    def as_int8(mask: np.ndarray, known: np.ndarray) -> np.ndarray:
        return np.where(known, mask.astype(np.int8), np.int8(-1)).astype(np.int8)

    return People(
        n=n,
        comparison=comparison,
        prog=prog,
        site=site,
        risk=risk,
        prior=prior,
        age=age,
        ethnicity=ethnicity,
        children=children,
        source=source,
        framework=framework,
        referral=referral,
        assessed=as_int8(assessed, ~comparison),
        eligible=as_int8(eligible, assessed),
        exclusion=exclusion,
        started=started,
        waiting=waiting,
        start=start,
        index=index,
        cohort_year=cohort_year,
    )
