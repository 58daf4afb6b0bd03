"""The practice tables of a synthetic export: case audits and family outcomes with known truth.

Audits are :func:`~cdanalytics.synth._audits.synthetic_audits` with the
defaults of :data:`PRACTICE_DEFAULTS`, their dates shifted back by whole days
so that none lies after the extract date (the periods are labels, so the
shift changes no statistic). Family outcomes are one row per audited case
and period (team, period and training of its first reading); each outcome
is true with the probability of :data:`FAMILY_PROBABILITIES` for the row's
``trained`` flag, independently:

- ``closure_date``: 1-90 days before the first reading;
- ``removal_date``: 1-60 days before closure, when removed into care;
- ``engagement_date``: 30-180 days before closure, when the perpetrator engaged;
- ``re_referral_12m``: known (true or false) only when 12 months have passed
  since closure by the extract date, else empty; ``re_referral_date`` 1-365
  days after closure when true.

So ``truth["family"][outcome][arm]`` is the probability that
:func:`cdanalytics.practice.family_outcomes` by ``trained`` estimates (among
known values: unknown ``re_referral_12m`` is missing completely at random
given ``trained``, as closure dates do not depend on the outcome).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._audits import synthetic_audits

__all__ = ["FAMILY_PROBABILITIES", "PRACTICE_DEFAULTS", "synthetic_practice"]

#: Arguments of :func:`~cdanalytics.synth._audits.synthetic_audits` for a synthetic export.
PRACTICE_DEFAULTS: dict[str, Any] = {
    "n_teams": 8,
    "n_files_per_team_period": 30,
    "items": None,
    "true_share_by_period": {"baseline": 0.35, "follow_up": 0.45},
    "true_training_effect_by_item": {
        "cc1_coercive_control": 0.25,
        "cc3_protective_efforts": 0.2,
        "m_perpetrator_in_plan": 0.2,
        "m_fathering_assessed": 0.15,
    },
    "reader_kappa": 0.6,
    "double_read_share": 0.25,
    "n_readers": 12,
}

#: P(outcome true) for files of untrained and of trained teams (by the period).
FAMILY_PROBABILITIES: dict[str, dict[str, float]] = {
    "child_with_non_offending_parent": {"untrained": 0.55, "trained": 0.7},
    "removed_into_care": {"untrained": 0.12, "trained": 0.08},
    "re_referral_12m": {"untrained": 0.3, "trained": 0.22},
    "perpetrator_engaged": {"untrained": 0.25, "trained": 0.45},
}


def _days(rng: np.random.Generator, low: int, high: int, n: int) -> np.ndarray:
    return rng.integers(low, high + 1, n).astype("timedelta64[D]")


def synthetic_practice(
    seed: int, extract_date: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Case audits, family outcomes and their truth for a synthetic export.

    Parameters
    ----------
    seed
        The export's seed (the practice tables draw from their own streams
        derived from it, so the other tables do not change).
    extract_date
        End of observation: no date of either table lies after it.

    Returns
    -------
    (case_audits, family_outcomes, truth)
        The two tables in contract column order and ``truth`` with
        ``audits`` (the truth of ``synthetic_audits``), ``family``
        (:data:`FAMILY_PROBABILITIES`), ``date_shift_days`` and the row counts.

    References
    ----------
    Safe & Together Institute; see :mod:`cdanalytics.synth._audits` for the
    audit model and the derivation of the true kappa.
    """
    args = dict(PRACTICE_DEFAULTS)
    audits, audit_truth = synthetic_audits(
        args.pop("n_teams"),
        args.pop("n_files_per_team_period"),
        args.pop("items"),
        args.pop("true_share_by_period"),
        args.pop("true_training_effect_by_item"),
        args.pop("reader_kappa"),
        seed=int(np.random.SeedSequence([seed, 14, 1]).generate_state(1)[0]),
        **args,
    )
    end = np.datetime64(pd.Timestamp(extract_date).date(), "D")
    latest = audits["audit_date"].to_numpy().astype("datetime64[D]").max()
    shift = min(0, int((end - latest).astype(np.int64)))
    audits["audit_date"] = audits["audit_date"] + pd.Timedelta(days=shift)
    audits = audits[
        ["case_id", "team", "audit_date", "period", "reader_id", "trained", "item", "score"]
    ]

    first = audits.drop_duplicates("case_id", keep="first").reset_index(drop=True)
    n = len(first)
    rng = np.random.default_rng([seed, 14, 2])
    trained = first["trained"].to_numpy(dtype=bool)
    flags = {
        outcome: rng.random(n) < np.where(trained, p["trained"], p["untrained"])
        for outcome, p in FAMILY_PROBABILITIES.items()
    }
    read = first["audit_date"].to_numpy().astype("datetime64[D]")
    closure = read - _days(rng, 1, 90, n)
    removal = closure - _days(rng, 1, 60, n)
    engaged = closure - _days(rng, 30, 180, n)
    re_referral = closure + _days(rng, 1, 365, n)
    known = closure + np.timedelta64(365, "D") <= end
    nat = np.datetime64("NaT", "D")
    family = pd.DataFrame(
        {
            "case_id": first["case_id"],
            "team": first["team"],
            "period": first["period"],
            "trained": trained,
            "closure_date": pd.to_datetime(closure),
            "child_with_non_offending_parent": flags["child_with_non_offending_parent"],
            "removed_into_care": flags["removed_into_care"],
            "removal_date": pd.to_datetime(np.where(flags["removed_into_care"], removal, nat)),
            "re_referral_12m": pd.array(
                np.where(known, flags["re_referral_12m"], False), dtype="boolean"
            ),
            "re_referral_date": pd.to_datetime(
                np.where(known & flags["re_referral_12m"], re_referral, nat)
            ),
            "perpetrator_engaged": flags["perpetrator_engaged"],
            "engagement_date": pd.to_datetime(np.where(flags["perpetrator_engaged"], engaged, nat)),
        }
    )
    family.loc[~known, "re_referral_12m"] = pd.NA
    truth = {
        "audits": audit_truth,
        "family": FAMILY_PROBABILITIES,
        "date_shift_days": shift,
        "realised": {
            "case_audits": len(audits),
            "family_outcomes": len(family),
            "re_referral_known": int(known.sum()),
        },
    }
    return audits.reset_index(drop=True), family, truth
