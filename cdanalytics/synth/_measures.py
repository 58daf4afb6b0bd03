"""Pre/post questionnaire scores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._params import INFORMANTS
from ._people import People
from ._plan import Plan
from ._sessions import COMPLETED, DROPPED, Episodes
from ._truth import prepost_scale_truth

__all__ = ["Measures", "Slot", "draw_measures", "scale_slots"]


@dataclass(frozen=True)
class Slot:
    """One instrument scale as administered: instrument, scale, informant and its truth."""

    instrument: str
    scale: str
    informant: str
    truth: dict[str, Any]
    low: float
    high: float


@dataclass
class Measures:
    """Measure rows: participant index, slot number, timepoint code, day and score."""

    person: np.ndarray
    slot: np.ndarray
    timepoint: np.ndarray
    day: np.ndarray
    score: np.ndarray
    subject: np.ndarray | None = None  # child number 1, 2, ... (0: none); None: off


def scale_slots(plan: Plan) -> list[Slot]:
    """Every instrument scale the generator administers, with its exact truth."""
    pp = plan.params["prepost"]
    slots = []
    for instrument, scales in pp["scales"].items():
        for scale, spec in scales.items():
            info = plan.instruments[instrument]["scales"][scale]
            slots.append(
                Slot(
                    instrument=instrument,
                    scale=scale,
                    informant=pp["informant"][instrument],
                    truth=prepost_scale_truth(spec, info, plan.params),
                    low=float(info["min"]),
                    high=float(info["max"]),
                )
            )
    return slots


def _decimals(resolution: float) -> int:
    return max(0, int(-np.floor(np.log10(resolution) + 1e-9)))


def draw_measures(
    rng: np.random.Generator, plan: Plan, people: People, episodes: Episodes, extract: int
) -> tuple[Measures, list[Slot]]:
    """Scores at pre (starters), post (most completers, some dropouts) and follow-up."""
    pp = plan.params["prepost"]
    slots = scale_slots(plan)
    uses = np.array(
        [[s.instrument in p["instruments"] for s in slots] for p in plan.prog], dtype=bool
    )
    starters = np.flatnonzero(people.started)
    status = episodes.status[starters]
    start, end = people.start[starters], episodes.end[starters]

    # presence and date per starter x informant x timepoint
    n_inf = len(INFORMANTS)
    u = rng.random((starters.size, n_inf, 3))
    p_post = np.array([pp["p_post_missing"].get(i, 0.0) for i in INFORMANTS])
    completed, dropped = status == COMPLETED, status == DROPPED
    present = np.empty_like(u, dtype=bool)
    present[:, :, 0] = u[:, :, 0] >= float(pp["p_pre_missing"])
    present[:, :, 1] = (completed[:, None] & (u[:, :, 1] >= p_post)) | (
        dropped[:, None] & (u[:, :, 1] < float(pp["p_post_dropout"]))
    )
    present[:, :, 2] = (
        completed[:, None] & present[:, :, 1] & (u[:, :, 2] < float(pp["p_follow_up"]))
    )
    lag = rng.integers(0, 14, size=(starters.size, n_inf, 3))
    lag[:, :, 2] = int(pp["follow_up_days"]) + rng.integers(0, 31, size=(starters.size, n_inf))
    day = np.empty_like(lag)
    day[:, :, 0] = np.maximum(start[:, None] - lag[:, :, 0], people.referral[starters][:, None])
    safe_end = np.where(end < 0, start, end)[:, None]
    day[:, :, 1:] = safe_end[:, :, None] + lag[:, :, 1:]
    present &= day <= extract

    who, slot = np.nonzero(uses[people.prog[starters]])
    subject = None
    per_child = set(pp.get("per_child") or ())
    if per_child:
        # one series per child for the per-child instruments (fathers with no
        # recorded children keep one series, without a subject)
        child = np.array([s.instrument in per_child for s in slots])[slot]
        copies = np.where(child, np.maximum(people.children[starters][who], 1), 1)
        subject = np.where(child & (people.children[starters][who] > 0), 1, 0)
        who, slot, subject = (np.repeat(a, copies) for a in (who, slot, subject))
        first = np.cumsum(copies) - copies
        subject = subject * (np.arange(who.size) - np.repeat(first, copies) + 1)
    informant = np.array([INFORMANTS.index(s.informant) for s in slots])[slot]
    mean = np.array([s.truth["baseline_mean"] for s in slots])[slot]
    sd = np.array([s.truth["baseline_sd"] for s in slots])[slot]
    true = mean + sd * rng.standard_normal(who.size)
    noise = np.array([s.truth["noise_sd"] for s in slots])[slot]
    shift = np.stack(
        [
            np.zeros(len(slots)),
            np.array([s.truth["true_change"] for s in slots]),
            np.array([s.truth["true_change_follow_up"] for s in slots]),
        ],
        axis=1,
    )[slot]
    observed = true[:, None] + shift + noise[:, None] * rng.standard_normal((who.size, 3))
    res = np.array([s.truth["resolution"] for s in slots])[slot][:, None]
    low = np.array([s.low for s in slots])[slot][:, None]
    high = np.array([s.high for s in slots])[slot][:, None]
    score = np.clip(np.round(observed / res) * res, low, high)
    decimals = np.array([_decimals(s.truth["resolution"]) for s in slots])[slot]
    for d in np.unique(decimals):
        score[decimals == d] = np.round(score[decimals == d], d)

    keep = present[who, informant]  # rows x 3
    rows, tp = np.nonzero(keep)
    return (
        Measures(
            person=starters[who[rows]],
            slot=slot[rows].astype(np.int16),
            timepoint=tp.astype(np.int8),
            day=day[who[rows], informant[rows], tp],
            score=score[rows, tp],
            subject=None if subject is None else subject[rows].astype(np.int16),
        ),
        slots,
    )
