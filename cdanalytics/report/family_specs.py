"""How the family section's tables are published: one :class:`~.gated.GatedSpec` each.

Each stage's potential completers are split into six parts (reached the
stage or not x completed it / entered without completing / did not enter);
review attendance is a part of the men due; services' steps are parts of the
men who started; partner contact splits completers and the others; the
evaluation meeting's outcomes partition the men due.
"""

from __future__ import annotations

from typing import Any

from .gated import GatedSpec, rates

__all__ = [
    "CONTACT",
    "CONTACT_SPEC",
    "REVIEW_SPEC",
    "SERVICE_SPEC",
    "STAGE_CELLS",
    "STAGE_SPEC",
    "STEPS",
    "TIMING",
    "col",
    "evaluation_spec",
]

STAGE_CELLS = {
    "n_reached_completed": ("reached", "completed"),
    "n_reached_entered_only": ("reached", "entered_only"),
    "n_reached_not_entered": ("reached", "not_entered"),
    "n_other_completed": ("other", "completed"),
    "n_other_entered_only": ("other", "entered_only"),
    "n_other_not_entered": ("other", "not_entered"),
}


def col(name: str) -> Any:
    """A part that is a column of the result as it is."""
    return lambda df: df[name]


STAGE_SPEC = GatedSpec(
    keys=("programme", "stage"),
    columns=(
        "n_potential",
        "n_entered",
        "n_completed",
        *rates("completion_of_entered"),
        "n_reached",
        "n_progressed",
        *rates("transition", "through_stage"),
    ),
    total="n_potential",
    parts={c: col(c) for c in STAGE_CELLS},
    nested={
        "n_entered": (
            "n_reached_completed",
            "n_reached_entered_only",
            "n_other_completed",
            "n_other_entered_only",
        ),
        "n_completed": ("n_reached_completed", "n_other_completed"),
        "n_reached": ("n_reached_completed", "n_reached_entered_only", "n_reached_not_entered"),
        "n_progressed": ("n_reached_completed",),
    },
    bases={
        **dict.fromkeys(rates("completion_of_entered"), "n_entered"),
        **dict.fromkeys(rates("transition"), "n_reached"),
        **dict.fromkeys(rates("through_stage"), "n_potential"),
    },
    numerators={
        **dict.fromkeys(rates("completion_of_entered"), "n_completed"),
        **dict.fromkeys(rates("transition", "through_stage"), "n_progressed"),
    },
    rates={
        "completion_of_entered": (
            "n_completed",
            "n_entered",
            "completion_of_entered_ci_low",
            "completion_of_entered_ci_high",
            1.0,
        ),
        "transition": ("n_progressed", "n_reached", "transition_ci_low", "transition_ci_high", 1.0),
        "through_stage": (
            "n_progressed",
            "n_potential",
            "through_stage_ci_low",
            "through_stage_ci_high",
            1.0,
        ),
    },
    pieces=("programme",),
)

TIMING = ("days_median", "days_q1", "days_q3")
REVIEW_SPEC = GatedSpec(
    keys=("programme", "review"),
    columns=("n_due", "n_attended", *rates("attended"), *TIMING),
    total="n_due",
    parts={"n_attended": col("n_attended"), "n_missed": lambda df: df["n_due"] - df["n_attended"]},
    bases={**dict.fromkeys(rates("attended"), "n_due"), **dict.fromkeys(TIMING, "n_attended")},
    numerators=dict.fromkeys(rates("attended"), "n_attended"),
    rates={"attended": ("n_attended", "n_due", "attended_ci_low", "attended_ci_high", 1.0)},
    pieces=("programme",),
)

STEPS = ("offered", "contacted", "accepted", "engaged")
SERVICE_SPEC = GatedSpec(
    keys=("programme", "service"),
    columns=("n_men", *(f"n_{s}" for s in STEPS), *rates(*STEPS)),
    total="n_men",
    parts={
        "n_not_offered": lambda df: df["n_men"] - df["n_offered"],
        "n_offered_only": lambda df: df["n_offered"] - df["n_contacted"],
        "n_contacted_only": lambda df: df["n_contacted"] - df["n_accepted"],
        "n_accepted_only": lambda df: df["n_accepted"] - df["n_engaged"],
        "n_engaged": lambda df: df["n_engaged"],
    },
    nested={
        "n_offered": ("n_offered_only", "n_contacted_only", "n_accepted_only", "n_engaged"),
        "n_contacted": ("n_contacted_only", "n_accepted_only", "n_engaged"),
        "n_accepted": ("n_accepted_only", "n_engaged"),
    },
    bases=dict.fromkeys(rates(*STEPS), "n_men"),
    numerators={c: f"n_{s}" for s in STEPS for c in rates(s)},
    rates={s: (f"n_{s}", "n_men", f"{s}_ci_low", f"{s}_ci_high", 1.0) for s in STEPS},
    pieces=("programme",),
)

CONTACT = ("contact_completers", "contact_others")
CONTACT_SPEC = GatedSpec(
    keys=("programme",),
    columns=(
        "n_completers",
        "n_completers_contacted",
        *rates("contact_completers"),
        "n_others",
        "n_others_contacted",
        *rates("contact_others"),
        "difference_pp",
        "difference_pp_ci_low",
        "difference_pp_ci_high",
    ),
    total="n_potential",
    parts={
        "n_completers_contacted": col("n_completers_contacted"),
        "n_completers_not": lambda df: df["n_completers"] - df["n_completers_contacted"],
        "n_others_contacted": col("n_others_contacted"),
        "n_others_not": lambda df: df["n_others"] - df["n_others_contacted"],
    },
    nested={
        "n_completers": ("n_completers_contacted", "n_completers_not"),
        "n_others": ("n_others_contacted", "n_others_not"),
    },
    bases={
        **dict.fromkeys(rates("contact_completers"), "n_completers"),
        **dict.fromkeys(rates("contact_others"), "n_others"),
        **dict.fromkeys(
            ("difference_pp", "difference_pp_ci_low", "difference_pp_ci_high"), "n_others"
        ),
    },
    numerators={
        **dict.fromkeys(rates("contact_completers"), "n_completers_contacted"),
        **dict.fromkeys(rates("contact_others"), "n_others_contacted"),
        **dict.fromkeys(
            ("difference_pp", "difference_pp_ci_low", "difference_pp_ci_high"), "n_completers"
        ),
    },
)


def evaluation_spec(outcomes: list[str]) -> GatedSpec:
    parts = {f"n_{o}": col(f"n_{o}") for o in outcomes}
    shares = {f"share_{o}": f"n_{o}" for o in outcomes}
    return GatedSpec(
        keys=("programme",),
        columns=("n_due", *(c for o in outcomes for c in (f"n_{o}", f"share_{o}"))),
        total="n_due",
        parts=parts,
        bases=dict.fromkeys(shares, "n_due"),
        numerators=shares,
        rates={s: (n, "n_due", None, None, 1.0) for s, n in shares.items()},
    )
