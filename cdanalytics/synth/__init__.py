"""Synthetic case exports with known true parameters.

:func:`generate` draws an export for every programme of the registry plus a
comparison pool, from the parameters in :data:`DEFAULT_PARAMETERS` (any of
which a caller can change), and returns it with ``truth``: every parameter and
the exact probabilities they imply. :func:`write_synthetic_export` writes the
export and ``truth.json``. Same arguments, same bytes. All of it is vectorised
NumPy (no loop over participants): a million participants take about 15 s
to generate and 1.8 GiB of memory at peak.

The generative model
--------------------
Time is in whole days; ``E`` is the extract date.

Participants
    ``comparison_share`` of the rows (chosen at random) are comparison rows,
    the rest programme rows. Each row's programme is drawn with the
    programme ``share``; its site, ``age_band``, ``ethnicity_group`` and
    ``n_children`` (minimum + Poisson) from that programme's distributions
    (``plus_one``: ages 16-24 only; ``journey``: minority-ethnic fathers).
    ``risk_level`` comes from the programme's distribution for programme rows
    and from ``comparison.risk_level`` (lower risk) for comparison rows;
    ``prior_offences`` is negative binomial with mean
    ``prior_offences.mean_by_risk[risk]`` (times
    ``comparison.prior_offences_multiplier`` for comparison rows) and
    dispersion ``k`` (variance mean + mean^2/k). The comparison pool is
    therefore selected on risk and prior offences only, with overlap.
    ``referral_source`` and ``legal_framework`` come from the programme
    (empty for comparison rows). ``cohort`` is the referral year (index year
    for comparison rows).

Referral funnel (programme rows)
    ``referral_date`` is uniform over the ``referral_years`` before ``E``.
    Assessed with ``p_assessed``; eligible given assessed with
    ``p_eligible`` (otherwise an ``exclusion_reason`` is drawn); starts given
    eligible with ``p_start`` (otherwise ``exit_status`` ``not_started``).
    Ready to start after a lognormal wait (``wait_days_median``,
    ``wait_days_sdlog``); rolling-entry programmes start then, the others at
    the next group start (groups start every ``group_interval_days``,
    staggered by site). Someone due to start after ``E`` has no
    ``start_date`` and ``exit_status`` ``ongoing`` (waiting list).
    ``index_date`` is empty for programme rows (analyses use ``start_date``).

Sessions and exit (starters)
    Core sessions follow the registry counts in a fixed order
    (``session_order``; blocks of each type in registry order unless given:
    BORG interleaves its 3 individual sessions before groups 1, 5 and 9;
    Caledonian has 14 individual then 25 group sessions), ``session_interval_days``
    apart from ``start_date``; ``session_number`` counts within each type.
    Session 1 is attended (it defines the start). Before each later core
    session k = 2..K a participant still enrolled leaves with per-session
    hazards: ``dropout_hazard[programme][risk]`` (the programme's medium-risk
    hazard times ``dropout_hazard_multiplier[risk]``), ``excluded_hazard`` and
    ``transferred_hazard``. While enrolled, each session is attended with
    ``p_attend[programme][risk]``, otherwise excused with
    ``p_excused_given_absent``, else unexcused. Sessions rows exist only while
    enrolled, and only up to ``E``. A starter completes iff the registry
    completion rule holds on the attended core sessions (sessions after
    leaving count as missed); otherwise the exit is the drawn reason, or
    ``dropped_out`` (reason ``insufficient_attendance``) for someone who
    stayed to the last session but missed the rule. ``end_date`` is the last
    core session (stayers) or the next scheduled session (leavers); an
    episode whose end falls after ``E`` is ``ongoing``. Completers get review
    / maintenance sessions at ``review_offsets_days`` after ``end_date``
    (Caring Dads: 35 and 150 days; Caledonian: 12 monthly), attended with
    ``p_review_attend``. ``truth["engagement"]`` gives the exact implied
    ``p_complete`` etc. (``scipy.stats.binom``), which equal the long-run
    shares among starters followed to the end of the core programme (for
    example those with start + (K - 1) x interval <= E; counting recently
    closed cases of later starters as well over-represents early leavers).

Recorded exit status
    A share ``exit_status_missing_share`` of concluded completers and
    dropouts have an empty ``exit_status`` (and ``exit_reason``): deriving it
    from attendance with the registry rule recovers the true status. A
    further ``max(exit_status_disagreement_min, round(share x pool))`` of
    them are deliberately recorded wrongly (completed <-> dropped_out); their
    ids are listed in ``truth["data_quality"]``.

Reoffending
    Follow-up starts at ``start_date`` (starters), ``index_date``
    (comparison) or ``referral_date`` (others), and ends at ``E`` or, for a
    share ``p_followup_end`` of concluded starters and comparison rows, at an
    earlier ``followup_end``. Offences form a Poisson process of rate
    ``baseline_hazard_per_year x hr_risk[risk] x hr_prior_offence^prior x
    hr_programme^(starter)`` per year (time to the first is exponential, so
    a Cox model on risk and prior offences is correctly specified, with
    programme hazard ratio ``hr_programme``); each offence's type is drawn
    from ``offence_type_probabilities``; it is proven with ``p_proven``,
    ``proven_date`` = offence time + a lognormal delay, rounded up, kept only
    if not after the end of follow-up. Event days are rounded up, so no
    event falls on the index date. Untreated offences also occur in the
    ``pre_index_window_days`` before the index date (they must not count);
    non-counting events (``order_breach``, some proven; ``dv_incident``;
    ``child_protection_referral``) occur at their own constant rates.
    ``p12_by_group`` is the exact probability of at least one offence
    committed within ``window_days`` (365) of the index and proven within
    ``proof_deadline_days`` (548, i.e. 12 + 6 months) of it:
    1 - exp(-c x rate) with c = ``intensity_factor``, averaged over the
    prior-offence distribution, by group (``programme`` = starters,
    ``starters_untreated`` = the same people without the programme effect,
    ``comparison``) and risk level, and ``overall`` for the group's risk mix
    (starters pooled over programmes with ``starter_programme_mix``).

    Each programme may have its own hazard ratio (``hr_by_programme``; off by
    default, ``parameters=PROGRAMME_EFFECT_PARAMETERS`` or ``cdanalytics synth
    --programme-effects`` gives the programmes effects of opposite signs).
    ``truth["reoffending"]["by_programme"][code]`` holds its ``hazard_ratio``
    and its true matched effect: ``att_rate_difference`` = the 12-month
    proven-reoffending probability of its starters minus that of the same
    starters without the programme (``p12_programme`` - ``p12_untreated``,
    over the programme's risk mix and prior offences; by risk level in
    ``att_rate_difference_by_risk``). A comparison group matched on risk level
    and prior offences estimates it.

Family features (off by default; ``parameters=FAMILY_PARAMETERS`` switches them on)
    ``engagement.stage_dropout[programme][stage]``: a starter still enrolled at
    the first session of a registry stage leaves just before it with that
    probability (a dropout); for a review stage, a completer skips all its
    reviews. ``engagement.evaluation_outcome[programme]``: the evaluation
    meeting outcome (``participants.evaluation_outcome``) of completers whose
    reviews are past. ``prepost.per_child``: instruments answered once per
    child (``measures.subject_id`` = ``<participant_id>-C<k>``, k = 1 ..
    ``n_children``; one series without a subject for fathers with none),
    each child with its own true score. ``truth["family"]`` then holds the
    exact stage transition probabilities (P(complete a stage | completed the
    ones before), mixed over the starters' risk levels;
    :func:`cdanalytics.synth._truth.stage_transitions`) and the outcome
    probabilities.
    ``services[service][step]``: the probability of each step of a partner
    or children's service (``offered``, then ``contacted``, ``accepted``,
    ``engaged``) given the one before, for every starter; the ``services``
    table has a row per starter offered the service, dates in step order,
    and ``truth["services"]`` the reach of each step among starters
    (:mod:`cdanalytics.synth._services`).

Pre/post measures (starters)
    Each programme administers its ``instruments`` (all scales), each by one
    informant (sdq and cts2 by the partner, psi_sf and parenting_scale by the
    father). True score T ~ N(baseline_mean, baseline_sd); true change
    ``true_change_sd x baseline_sd`` at post (the same for everyone;
    negative = lower score) and ``follow_up_change_ratio`` of it at
    follow-up. Observed = T + change + N(0, noise_sd^2), rounded to the
    scale's resolution and clipped to its range, with noise_sd set so that
    the reliability Var(T)/Var(observed) equals the registry reliability (or
    the documented default where the registry has none). Means are far from
    the bounds (``p_clipped`` at most 0.3%); ``expected_observed_mean`` is exact
    including rounding and clipping. Pre scores for starters (missing with
    ``p_pre_missing``), post for completers (missing with ``p_post_missing``
    by informant) and for dropouts with ``p_post_dropout``, follow-up
    (``follow_up_days`` after the end) for completers with a post score with
    ``p_follow_up``; nothing dated after ``E``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..io.export import Export
from ..io.write import write_export
from ._audits import synthetic_audits
from ._events import draw_events, draw_followup_end
from ._frames import build_export
from ._measures import draw_measures
from ._params import (
    DEFAULT_PARAMETERS,
    FAMILY_PARAMETERS,
    PROGRAMME_EFFECT_PARAMETERS,
    merged_parameters,
)
from ._people import NA_DAY, draw_people
from ._plan import build_plan
from ._practice import synthetic_practice
from ._services import synthetic_services
from ._sessions import draw_sessions
from ._truth import family_truth
from ._truth_json import build_truth

__all__ = [
    "DEFAULT_PARAMETERS",
    "FAMILY_PARAMETERS",
    "PROGRAMME_EFFECT_PARAMETERS",
    "TRUTH_FILE",
    "generate",
    "synthetic_audits",
    "write_synthetic_export",
]

#: File name of the truth document written beside a synthetic export.
TRUTH_FILE = "truth.json"

GENERATOR_VERSION = 1


def _day(timestamp: pd.Timestamp) -> int:
    return int(np.datetime64(timestamp.date(), "D").astype(np.int64))


def generate(
    n_participants: int,
    *,
    seed: int = 0,
    extract_date: str | pd.Timestamp = "2025-06-30",
    comparison_share: float = 0.3,
    programmes: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> tuple[Export, dict[str, Any]]:
    """Generate a synthetic export and its truth.

    Parameters
    ----------
    n_participants
        Rows of the participants table (programme and comparison rows).
    seed
        Seed of ``numpy.random.default_rng``; the same arguments give the same data.
    extract_date
        End of observation (the manifest's ``extract_date``).
    comparison_share
        Share of the rows that are comparison-pool rows (``group == "comparison"``).
    programmes
        Programme registry overrides, as for
        :func:`cdanalytics.registry.programme_registry`; a programme the
        synthetic parameters do not know gets generic parameters.
    parameters
        Changes to :data:`DEFAULT_PARAMETERS`, merged recursively (for example
        ``{"reoffending": {"hr_programme": 1.0}}``).

    Returns
    -------
    (Export, dict)
        The export (dtypes as :func:`cdanalytics.io.load_export` gives them)
        and the truth document (see the module docstring; written as
        ``truth.json``).

    Raises
    ------
    ConfigError
        Invalid sizes, dates or parameters.
    """
    if (
        isinstance(n_participants, bool)
        or not isinstance(n_participants, (int, np.integer))
        or n_participants < 1
    ):
        raise ConfigError(
            f"n_participants must be a positive whole number, not {n_participants!r}."
        )
    if not (isinstance(comparison_share, (int, float)) and 0 <= comparison_share < 1):
        raise ConfigError(
            f"comparison_share must be at least 0 and below 1, not {comparison_share!r}."
        )
    try:
        extract = pd.Timestamp(extract_date).normalize()
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"extract_date {extract_date!r} is not a date.") from exc
    if pd.isna(extract):
        raise ConfigError("extract_date must be a date, not empty.")
    params = merged_parameters(parameters)
    params["comparison_share"] = float(comparison_share)
    plan = build_plan(params, programmes)
    rng = np.random.default_rng(seed)
    n = int(n_participants)
    e_day = _day(extract)

    people = draw_people(rng, plan, n, e_day)
    episodes = draw_sessions(rng, plan, people, e_day)
    measures, slots = draw_measures(rng, plan, people, episodes, e_day)
    last_measure = np.full(n, NA_DAY, dtype=np.int64)
    np.maximum.at(last_measure, measures.person, measures.day)
    followup_end = draw_followup_end(rng, plan, people, episodes, last_measure, e_day)
    events = draw_events(rng, plan, people, followup_end, e_day)

    description = (
        f"Synthetic export made by cdanalytics.synth (seed {seed}, {n} participants); "
        "not real data. True parameters are in truth.json."
    )
    export = build_export(
        plan, people, episodes, measures, slots, events, followup_end, extract, description
    )
    ids = export.participants["participant_id"].to_numpy()
    header = {
        "name": "cdanalytics.synth",
        "version": GENERATOR_VERSION,
        "n_participants": n,
        "seed": int(seed),
        "extract_date": extract.strftime("%Y-%m-%d"),
        "comparison_share": float(comparison_share),
        "referral_years": float(params["referral_years"]),
        "programme_overrides": bool(programmes),
        "parameter_overrides": json.loads(json.dumps(parameters or {}, default=str)),
    }
    eng = params["engagement"]
    data_quality = {
        "exit_status_missing": {
            "share": float(eng["exit_status_missing_share"]),
            "count": int(episodes.blanked.size),
            "applies_to": "concluded completers and dropouts",
        },
        "exit_status_disagreements": {
            "count": int(episodes.disagreements.size),
            "participant_ids": [str(x) for x in ids[episodes.disagreements]],
            "kind": "recorded completed <-> dropped_out, opposite to the attendance-derived status",
        },
    }
    realised = {
        "participants": len(export.participants),
        "programme_rows": int((~people.comparison).sum()),
        "comparison_rows": int(people.comparison.sum()),
        "starters": int(people.started.sum()),
        "sessions": len(export.sessions),
        "measures": len(export.measures),
        "events": len(export.events),
    }
    truth = build_truth(plan, header, slots, data_quality, realised)
    family = family_truth(plan)
    if family is not None:  # only when asked for: the committed sample stays as it is
        truth["family"] = family
    if params.get("services"):  # off by default, like the family features
        export.services, truth["services"] = synthetic_services(
            int(seed), export.participants, extract, params["services"]
        )
        truth["realised"]["services"] = len(export.services)
    return export, _json_ready(truth)


def _json_ready(obj: Any) -> Any:
    """Floats to 12 significant digits (hides 1e-16 noise), NaN/inf to None, recursively."""
    if isinstance(obj, dict):
        return {k: _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, float):
        return float(f"{obj:.12g}") if math.isfinite(obj) else None
    return obj


def write_synthetic_export(
    folder: str | Path,
    *,
    n_participants: int,
    seed: int = 0,
    fmt: str = "csv",
    audits: bool = False,
    **kwargs: Any,
) -> dict[str, Any]:
    """Generate a synthetic export and write it, with ``truth.json``, into ``folder``.

    Parameters
    ----------
    folder
        Destination folder (created if needed).
    n_participants, seed
        As for :func:`generate`.
    fmt
        ``"csv"``, ``"parquet"`` or ``"xlsx"`` (see :func:`cdanalytics.io.write.write_export`).
    audits
        Also write ``case_audits`` and ``family_outcomes`` (Safe & Together
        case-file audits of 8 teams over a baseline and a follow-up period,
        with a known training effect and reader agreement; see
        :mod:`cdanalytics.synth._practice`), their truth under
        ``truth["practice"]``. Without it the files are exactly those
        written before practice tables existed.
    **kwargs
        Further keyword arguments of :func:`generate`.

    Returns
    -------
    dict
        The truth document.
    """
    export, truth = generate(n_participants, seed=seed, **kwargs)
    if audits:
        case_audits, family, practice = synthetic_practice(seed, export.extract_date)
        export.case_audits, export.family_outcomes = case_audits, family
        truth["practice"] = _json_ready(practice)
    folder = write_export(export, folder, fmt=fmt)
    text = json.dumps(truth, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    (folder / TRUTH_FILE).write_text(text, encoding="utf-8")
    return truth
