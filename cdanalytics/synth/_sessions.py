"""Core and review sessions, attendance, and the outcome of each episode."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ._params import EVALUATION_OUTCOMES, EXIT_STATUSES
from ._people import NA_DAY, People, categorical
from ._plan import Plan

__all__ = ["Episodes", "draw_sessions", "exit_reason_categories"]

COMPLETED, DROPPED, EXCLUDED, TRANSFERRED, ONGOING, NOT_STARTED = (
    EXIT_STATUSES.index(s)
    for s in ("completed", "dropped_out", "excluded", "transferred", "ongoing", "not_started")
)
INSUFFICIENT = "insufficient_attendance"


def exit_reason_categories(plan: Plan) -> list[str]:
    """Every exit reason the generator can record."""
    reasons = {INSUFFICIENT}
    for table in plan.params["engagement"]["exit_reasons"].values():
        reasons.update(table)
    return sorted(reasons)


@dataclass
class Episodes:
    """Per-participant episode outcome and the session rows."""

    status: np.ndarray  # true status, code into EXIT_STATUSES
    recorded: np.ndarray  # recorded exit_status code, -1 = empty
    reason: np.ndarray  # exit_reason code, -1 = empty
    end: np.ndarray
    last_session: np.ndarray  # latest recorded session day, NA_DAY when none
    disagreements: np.ndarray  # participant indices whose recorded status was flipped
    blanked: np.ndarray  # participant indices whose exit_status was left empty
    s_person: np.ndarray
    s_type: np.ndarray
    s_number: np.ndarray
    s_day: np.ndarray
    s_attendance: np.ndarray  # code into ATTENDANCE
    evaluation: np.ndarray | None = None  # code into EVALUATION_OUTCOMES, -1 empty; None: off


def _attendance(rng: np.random.Generator, attended: np.ndarray, p_excused: float) -> np.ndarray:
    excused = rng.random(attended.size) < p_excused
    return np.where(attended, 0, np.where(excused, 1, 2)).astype(np.int8)


def draw_sessions(rng: np.random.Generator, plan: Plan, people: People, extract: int) -> Episodes:
    """Simulate every starter's core sessions, exit and review sessions."""
    eng = plan.params["engagement"]
    starters = np.flatnonzero(people.started)
    prog, risk, start = people.prog[starters], people.risk[starters], people.start[starters]
    k = plan.core_k[prog]
    interval = plan.interval[prog]
    h_drop = plan.dropout_hazard[prog, risk]
    h_excl, h_trans = float(eng["excluded_hazard"]), float(eng["transferred_hazard"])
    hazard = h_drop + h_excl + h_trans
    stay = np.minimum(rng.geometric(hazard), k)
    u_cause = rng.random(starters.size) * hazard
    cause = np.where(
        u_cause < h_drop, DROPPED, np.where(u_cause < h_drop + h_excl, EXCLUDED, TRANSFERRED)
    )
    skip_review = np.zeros(starters.size, dtype=bool)
    if eng.get("stage_dropout"):
        skip_review = _stage_dropout(rng, plan, prog, stay, cause)

    first = np.concatenate(([0], np.cumsum(stay)[:-1]))
    person = np.repeat(np.arange(starters.size), stay)
    pos = np.arange(person.size) - first[person]
    day = start[person] + pos * interval[person]
    attended = (pos == 0) | (rng.random(person.size) < plan.p_attend[prog, risk][person])
    n_attended = np.bincount(person, weights=attended, minlength=starters.size)
    last_attended = attended[first + stay - 1]
    rule = n_attended >= plan.needed[prog]
    rule &= ~plan.require_last[prog] | ((stay == k) & last_attended)

    close = start + np.where(stay < k, stay, k - 1) * interval
    ongoing = close > extract
    status = np.where(
        ongoing, ONGOING, np.where(rule, COMPLETED, np.where(stay == k, DROPPED, cause))
    )

    reasons = exit_reason_categories(plan)
    reason = np.full(starters.size, -1, dtype=np.int16)
    for code, name in (
        (DROPPED, "dropped_out"),
        (EXCLUDED, "excluded"),
        (TRANSFERRED, "transferred"),
    ):
        table = eng["exit_reasons"][name]
        prob = np.array([[table.get(r, 0.0) for r in reasons]])
        drawn = categorical(rng, np.zeros(starters.size, dtype=np.int64), prob)
        reason = np.where((status == code) & (stay < k), drawn, reason)
    reason = np.where((status == DROPPED) & (stay == k), reasons.index(INSUFFICIENT), reason)

    core_type = plan.order_type[prog[person], pos]
    core_number = plan.order_number[prog[person], pos]
    core_att = _attendance(rng, attended, float(eng["p_excused_given_absent"]))

    # review / maintenance sessions of completers
    n_review = np.array([len(o) for o in plan.review_offsets])[prog]
    n_review = np.where((status == COMPLETED) & ~skip_review, n_review, 0)
    offsets = np.zeros(
        (len(plan.programmes), max(1, *(len(o) for o in plan.review_offsets))), dtype=np.int64
    )
    for i, o in enumerate(plan.review_offsets):
        offsets[i, : len(o)] = o
    r_first = np.concatenate(([0], np.cumsum(n_review)[:-1]))
    r_person = np.repeat(np.arange(starters.size), n_review)
    r_pos = np.arange(r_person.size) - r_first[r_person]
    r_day = close[r_person] + offsets[prog[r_person], r_pos]
    r_att = _attendance(
        rng,
        rng.random(r_person.size) < float(eng["p_review_attend"]),
        float(eng["p_excused_given_absent"]),
    )

    s_person = np.concatenate((person, r_person))
    keep = np.concatenate((day, r_day)) <= extract
    order = np.argsort(s_person[keep], kind="stable")
    s_person = starters[s_person[keep][order]]
    s_day = np.concatenate((day, r_day))[keep][order]
    s_type = np.concatenate((core_type, np.full(r_person.size, 2, dtype=np.int8)))[keep][order]
    s_number = np.concatenate((core_number, (r_pos + 1).astype(np.int16)))[keep][order]
    s_att = np.concatenate((core_att, r_att))[keep][order]

    last_session = np.full(people.n, NA_DAY, dtype=np.int64)
    np.maximum.at(last_session, s_person, s_day)

    full_status = np.full(people.n, NOT_STARTED, dtype=np.int8)
    full_status[people.comparison] = -1
    full_status[people.waiting] = ONGOING
    full_status[starters] = status
    full_reason = np.full(people.n, -1, dtype=np.int16)
    full_reason[starters] = reason
    end = np.full(people.n, NA_DAY, dtype=np.int64)
    end[starters] = np.where(ongoing, NA_DAY, close)
    recorded, reason_rec, flipped, blanked = _recorded_status(rng, plan, full_status, full_reason)
    evaluation = None
    if eng.get("evaluation_outcome"):
        last_review = close + np.array([max(o, default=0) for o in plan.review_offsets])[prog]
        due = (status == COMPLETED) & (last_review <= extract)
        evaluation = np.full(people.n, -1, dtype=np.int8)
        evaluation[starters] = _evaluation(rng, plan, prog, due)
    return Episodes(
        status=full_status,
        recorded=recorded,
        reason=reason_rec,
        end=end,
        last_session=last_session,
        disagreements=flipped,
        blanked=blanked,
        s_person=s_person,
        s_type=s_type,
        s_number=s_number,
        s_day=s_day,
        s_attendance=s_att,
        evaluation=evaluation,
    )


def stage_boundaries(plan: Plan, i: int) -> dict[str, int | None]:
    """0-based position in programme ``i``'s core session order of each registry
    stage's first session; ``None`` for a stage of review sessions only."""
    stages = plan.registry[plan.programmes[i]].get("stages") or {}
    types = [t for t, _ in plan.orders[i]]
    out: dict[str, int | None] = {}
    for code, stage in stages.items():
        mine = set(stage["sessions"])
        if mine <= {"review"}:
            out[code] = None
            continue
        hits = [j for j, t in enumerate(types) if t in mine]
        out[code] = hits[0] if hits else None
    return out


def _stage_dropout(
    rng: np.random.Generator, plan: Plan, prog: np.ndarray, stay: np.ndarray, cause: np.ndarray
) -> np.ndarray:
    """Apply ``engagement.stage_dropout`` in place to ``stay`` and ``cause``: a starter
    still enrolled at a stage's first core session leaves just before it with the
    stage's probability (as a dropout); for a review stage, a completer skips every
    review with it. Returns the skip-review flags."""
    skip = np.zeros(prog.size, dtype=bool)
    for code, by_stage in sorted(plan.params["engagement"]["stage_dropout"].items()):
        if code not in plan.programmes:
            raise ConfigError(f"stage_dropout names programme {code!r}, not in the registry.")
        i = plan.programmes.index(code)
        bounds = stage_boundaries(plan, i)
        for stage in bounds:
            if stage not in by_stage:
                continue
            q = float(by_stage[stage])
            if not 0 <= q < 1 or bounds[stage] == 0:
                raise ConfigError(
                    f"stage_dropout {code}.{stage} must lie in [0, 1) and not be the first stage."
                )
            leave = (prog == i) & (rng.random(prog.size) < q)
            b = bounds[stage]
            if b is None:
                skip |= leave
                continue
            leave &= stay > b
            stay[leave] = b
            cause[leave] = DROPPED
        unknown = sorted(set(by_stage) - set(bounds))
        if unknown:
            raise ConfigError(f"stage_dropout {code}: unknown stage(s) {', '.join(unknown)}.")
    return skip


def _evaluation(
    rng: np.random.Generator, plan: Plan, prog: np.ndarray, due: np.ndarray
) -> np.ndarray:
    """Evaluation meeting outcome code of each starter (-1: none) from
    ``engagement.evaluation_outcome``, for completers whose reviews are past."""
    table = plan.params["engagement"]["evaluation_outcome"]
    probs = np.zeros((len(plan.programmes), len(EVALUATION_OUTCOMES)))
    for code, dist in table.items():
        if code not in plan.programmes:
            raise ConfigError(f"evaluation_outcome names programme {code!r}, not in the registry.")
        row = np.array([float(dist.get(o, 0.0)) for o in EVALUATION_OUTCOMES])
        if (row < 0).any() or row.sum() <= 0:
            raise ConfigError(f"evaluation_outcome {code}: probabilities must be non-negative.")
        probs[plan.programmes.index(code)] = row / row.sum()
    cum = np.cumsum(probs, axis=1)[prog]
    drawn = (rng.random(prog.size)[:, None] >= cum).sum(axis=1)
    has = due & (probs.sum(axis=1)[prog] > 0)
    return np.where(has, np.minimum(drawn, len(EVALUATION_OUTCOMES) - 1), -1).astype(np.int8)


def _recorded_status(
    rng: np.random.Generator, plan: Plan, status: np.ndarray, reason: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Recorded exit_status: the true one, except a few deliberately flipped
    (completed <-> dropped_out) and a share left empty, both among concluded
    completers and dropouts."""
    eng = plan.params["engagement"]
    pool = np.flatnonzero((status == COMPLETED) | (status == DROPPED))
    u = rng.random(pool.size)
    n_flip = min(
        pool.size,
        max(
            int(eng["exit_status_disagreement_min"]),
            round(eng["exit_status_disagreement_share"] * pool.size),
        ),
    )
    is_flipped = np.zeros(pool.size, dtype=bool)
    is_flipped[rng.permutation(pool.size)[:n_flip]] = True
    flipped = pool[is_flipped]
    blanked = pool[~is_flipped & (u < float(eng["exit_status_missing_share"]))]
    recorded = status.astype(np.int8).copy()
    recorded[flipped] = np.where(status[flipped] == COMPLETED, DROPPED, COMPLETED)
    recorded[blanked] = -1
    reason = reason.copy()
    reason[flipped] = -1
    reason[blanked] = -1
    return recorded, reason, flipped, blanked
