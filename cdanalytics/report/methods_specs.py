"""The added methods' fixed settings, and how their tables are published.

The settings (imputations and seed, the headline estimate, the landmark and
its attendance bands, the reoffending variants) are fixed so that a report is
reproducible; each table has one :class:`~.gated.GatedSpec`.

The completers' and the imputed pre/post change (the paired and the imputed
people as parts of those analysed), the landmark table (reoffended or not,
of those at risk), the seriousness and custody variants (reoffenders or not,
of the eligible) and the case-mix comparisons (observed or not, of the people).
"""

from __future__ import annotations

from typing import Any

from .. import reoffending
from ..disclosure import DisclosurePolicy
from .compute import Outcomes
from .gated import GatedSpec, rates

__all__ = [
    "COMPLETERS",
    "EXPECTED_STATS",
    "HEADLINE",
    "IMPUTATIONS",
    "IMPUTED",
    "LANDMARK_BANDS",
    "LANDMARK_DAYS",
    "LANDMARK_RULE",
    "LANDMARK_SPEC",
    "MISSING_SPEC",
    "OBSERVED_STATS",
    "SEED",
    "VARIANTS",
    "VARIANT_SPEC",
    "casemix_spec",
    "landmark_shown",
]

#: Imputations and seed of the imputed pre/post change (fixed, so a report is reproducible).
IMPUTATIONS = 10
SEED = 20_150_601
#: Which pre/post estimate is the headline of the report.
HEADLINE = "completers"
#: Landmark (days after the index date) and lower bounds of the attendance bands.
LANDMARK_DAYS = reoffending.DEFAULT_LANDMARK_DAYS
LANDMARK_BANDS: tuple[int, ...] = (0, 1, 6, 12)
#: The rule for showing the landmark hazard ratio, in words (for outcomes.json).
LANDMARK_RULE = (
    "every attendance band has at least the disclosure threshold of men at risk at the "
    "landmark and of first reoffences after it"
)
#: Reoffending variants: name -> ReoffendingDefinition fields, the events column they
#: select on and the values of it one event at least must have for the variant to be shown.
VARIANTS: dict[str, tuple[dict[str, Any], str, tuple[str, ...]]] = {
    "serious": ({"seriousness": "serious"}, "seriousness", ("serious", "very_serious")),
    "very_serious": ({"seriousness": "very_serious"}, "seriousness", ("very_serious",)),
    "custody": ({"disposal": "custody"}, "disposal", ("custody",)),
}


COMPLETERS = ("mean_change_completers", "ci_low_completers", "ci_high_completers")
IMPUTED = ("mean_change_imputed", "ci_low_imputed", "ci_high_imputed", "fmi")
MISSING_SPEC = GatedSpec(
    keys=("instrument", "scale", "informant"),
    columns=("n_paired", "n_imputed", *COMPLETERS, "n_analysed", *IMPUTED),
    total="n_analysed",
    parts={"n_paired": lambda df: df["n_paired"], "n_imputed": lambda df: df["n_imputed"]},
    bases={**dict.fromkeys(COMPLETERS, "n_paired"), **dict.fromkeys(IMPUTED, "n_analysed")},
    pieces=("instrument", "scale", "informant"),
)

LANDMARK_SPEC = GatedSpec(
    keys=("sessions_band",),
    columns=("n_at_risk", "n_reoffended"),
    total="n_at_risk",
    parts={
        "n_reoffended": lambda df: df["n_reoffended"],
        "n_not_reoffended": lambda df: df["n_at_risk"] - df["n_reoffended"],
    },
)

VARIANT_SPEC = GatedSpec(
    keys=("variant", "group"),
    columns=("n_eligible", "n_reoffenders", *rates("rate")),
    total="n_eligible",
    parts={
        "n_reoffenders": lambda df: df["n_reoffenders"],
        "n_non_reoffenders": lambda df: df["n_eligible"] - df["n_reoffenders"],
    },
    bases=dict.fromkeys(rates("rate"), "n_eligible"),
    numerators=dict.fromkeys(rates("rate"), "n_reoffenders"),
    rates={"rate": ("n_reoffenders", "n_eligible", "rate_ci_low", "rate_ci_high", 1.0)},
    pieces=("variant",),
)

OBSERVED_STATS = (
    "oe_ratio",
    "oe_ci_low",
    "oe_ci_high",
    "observed_rate",
    "standardised_rate",
    "standardised_ci_low",
    "standardised_ci_high",
    "outside_95",
    "outside_998",
)
EXPECTED_STATS = ("expected", "limit_95_low", "limit_95_high", "limit_998_low", "limit_998_high")


def casemix_spec(unit: str) -> GatedSpec:
    """The case-mix comparison of one unit (site, referral quarter): observed of its people."""
    return GatedSpec(
        keys=(unit,),
        columns=("n_people", "n_observed", *EXPECTED_STATS, *OBSERVED_STATS),
        total="n_people",
        parts={
            "n_observed": lambda df: df["n_observed"],
            "n_not_observed": lambda df: df["n_people"] - df["n_observed"],
        },
        bases=dict.fromkeys((*EXPECTED_STATS, *OBSERVED_STATS), "n_people"),
        numerators=dict.fromkeys(OBSERVED_STATS, "n_observed"),
    )


def landmark_shown(out: Outcomes, policy: DisclosurePolicy) -> bool:
    """Is the landmark hazard ratio shown? (:data:`LANDMARK_RULE`)"""
    bands = out.tables.get("landmark_bands")
    if bands is None or "landmark" not in out.models:
        return False
    return policy.enough(*bands["n_at_risk"], *bands["n_reoffended"])
