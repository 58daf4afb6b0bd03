"""Default true parameters of the synthetic generator.

Every number here is written to ``truth.json``; the module docstring of
:mod:`cdanalytics.synth` explains how each one is used. A caller changes any
of them with ``generate(..., parameters={...})`` (recursively merged).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .._merge import deep_merge
from ..errors import ConfigError
from ..io.schema import contract_values

__all__ = [
    "DEFAULT_PARAMETERS",
    "EVALUATION_OUTCOMES",
    "FAMILY_PARAMETERS",
    "PROGRAMME_EFFECT_PARAMETERS",
    "RISK_LEVELS",
    "merged_parameters",
    "programme_parameters",
]

# The enumerations of the export contract (``data/schemas/*.yaml``), in its
# order: category codes drawn by the generator index into these.
RISK_LEVELS: tuple[str, ...] = contract_values("participants", "risk_level")
AGE_BANDS: tuple[str, ...] = contract_values("participants", "age_band")
REFERRAL_SOURCES: tuple[str, ...] = contract_values("participants", "referral_source")
LEGAL_FRAMEWORKS: tuple[str, ...] = contract_values("participants", "legal_framework")
EXIT_STATUSES: tuple[str, ...] = contract_values("participants", "exit_status")
SESSION_TYPES: tuple[str, ...] = contract_values("sessions", "session_type")
ATTENDANCE: tuple[str, ...] = contract_values("sessions", "attendance")
TIMEPOINTS: tuple[str, ...] = contract_values("measures", "timepoint")
INFORMANTS: tuple[str, ...] = contract_values("measures", "informant")
EVENT_TYPES: tuple[str, ...] = contract_values("events", "event_type")
EVALUATION_OUTCOMES: tuple[str, ...] = contract_values("participants", "evaluation_outcome")

_ADULT_AGES = {"18-24": 0.10, "25-34": 0.35, "35-44": 0.33, "45-54": 0.16, "55+": 0.06}
_UK_ETHNICITY = {"white": 0.78, "asian": 0.10, "black": 0.05, "mixed": 0.04, "other": 0.03}
_NL_ETHNICITY = {"white": 0.70, "asian": 0.06, "black": 0.10, "mixed": 0.05, "other": 0.09}
_NL_EXCLUSIONS = {
    "denies_abuse": 0.35,
    "substance_misuse": 0.30,
    "mental_health": 0.20,
    "unsuitable": 0.15,
}

#: Parameters used for a programme added through registry overrides that has
#: no entry of its own under ``programmes``.
GENERIC_PROGRAMME: dict[str, Any] = {
    "share": 0.05,
    "sites": None,  # one site named after the programme
    "funnel": {"p_assessed": 0.85, "p_eligible": 0.85, "p_start": 0.85},
    "wait_days_median": 28,
    "group_interval_days": 84,
    "risk_level": {"low": 0.25, "medium": 0.40, "high": 0.25, "very_high": 0.10},
    "dropout_hazard_medium": 0.04,
    "p_attend_low": 0.90,
    "age_band": _ADULT_AGES,
    "ethnicity_group": _UK_ETHNICITY,
    "n_children": {"minimum": 0, "poisson_mean": 1.4},
    "referral_source": {"probation": 0.4, "children_social_care": 0.4, "self": 0.2},
    "legal_framework": {"criminal": 0.4, "child_protection": 0.4, "voluntary": 0.2},
    "exclusion_reason": _NL_EXCLUSIONS,
    "instruments": ["cts2"],
    "review_offsets_days": None,  # evenly spread over the registry's review window
    "session_order": None,  # core session types in registry order, one block each
}

DEFAULT_PARAMETERS: dict[str, Any] = {
    "referral_years": 6.0,
    "programmes": {
        "caring_dads": {
            "share": 0.15,
            "sites": {"Leeds": 0.40, "Amsterdam": 0.20, "Rotterdam": 0.20, "Utrecht": 0.20},
            "funnel": {"p_assessed": 0.68, "p_eligible": 0.80, "p_start": 0.82},
            "wait_days_median": 30,
            "group_interval_days": 126,
            "risk_level": {"low": 0.25, "medium": 0.40, "high": 0.25, "very_high": 0.10},
            "dropout_hazard_medium": 0.030,
            "p_attend_low": 0.92,
            "age_band": _ADULT_AGES,
            "ethnicity_group": _UK_ETHNICITY,
            "n_children": {"minimum": 1, "poisson_mean": 1.0},
            "referral_source": {
                "children_social_care": 0.60,
                "probation": 0.10,
                "self": 0.08,
                "health": 0.10,
                "other": 0.12,
            },
            "legal_framework": {"child_protection": 0.70, "voluntary": 0.20, "criminal": 0.10},
            "exclusion_reason": {
                "no_child_contact": 0.30,
                "denies_abuse": 0.25,
                "substance_misuse": 0.25,
                "sexual_offending": 0.20,
            },
            "instruments": ["sdq", "psi_sf", "parenting_scale", "cts2"],
            "review_offsets_days": [35, 150],
            "session_order": None,
        },
        "borg": {
            "share": 0.25,
            "sites": {
                "Amsterdam": 0.22,
                "Rotterdam": 0.22,
                "Utrecht": 0.18,
                "Eindhoven": 0.14,
                "Groningen": 0.12,
                "Den Haag": 0.12,
            },
            "funnel": {"p_assessed": 0.92, "p_eligible": 0.85, "p_start": 0.90},
            "wait_days_median": 28,
            "group_interval_days": None,
            "risk_level": {"low": 0.15, "medium": 0.40, "high": 0.33, "very_high": 0.12},
            "dropout_hazard_medium": 0.028,
            "p_attend_low": 0.90,
            "age_band": _ADULT_AGES,
            "ethnicity_group": _NL_ETHNICITY,
            "n_children": {"minimum": 0, "poisson_mean": 1.4},
            "referral_source": {"probation": 0.75, "court": 0.15, "police": 0.10},
            "legal_framework": {"criminal": 1.0},
            "exclusion_reason": _NL_EXCLUSIONS,
            "instruments": ["cts2"],
            "review_offsets_days": None,
            # intake interview, four group sessions, a second interview, four
            # group sessions, a third interview, the last four group sessions
            "session_order": [
                ["individual", 1],
                ["group", 4],
                ["individual", 1],
                ["group", 4],
                ["individual", 1],
                ["group", 4],
            ],
        },
        "carrousel": {
            "share": 0.07,
            "sites": {"Eindhoven": 0.70, "Helmond": 0.30},
            "funnel": {"p_assessed": 0.88, "p_eligible": 0.90, "p_start": 0.88},
            "wait_days_median": 10,
            "group_interval_days": None,
            "risk_level": {"low": 0.35, "medium": 0.40, "high": 0.20, "very_high": 0.05},
            "dropout_hazard_medium": 0.040,
            "p_attend_low": 0.90,
            "age_band": _ADULT_AGES,
            "ethnicity_group": _NL_ETHNICITY,
            "n_children": {"minimum": 0, "poisson_mean": 1.4},
            "referral_source": {"probation": 0.35, "police": 0.25, "health": 0.20, "other": 0.20},
            "legal_framework": {"voluntary": 0.60, "criminal": 0.30, "child_protection": 0.10},
            "exclusion_reason": _NL_EXCLUSIONS,
            "instruments": ["cts2"],
            "review_offsets_days": None,
            "session_order": None,
        },
        "journey": {
            "share": 0.06,
            "sites": {"Leeds": 1.0},
            "funnel": {"p_assessed": 0.80, "p_eligible": 0.85, "p_start": 0.85},
            "wait_days_median": 21,
            "group_interval_days": None,
            "risk_level": {"low": 0.30, "medium": 0.40, "high": 0.22, "very_high": 0.08},
            "dropout_hazard_medium": 0.050,
            "p_attend_low": 0.93,
            "age_band": _ADULT_AGES,
            "ethnicity_group": {"asian": 0.50, "black": 0.30, "mixed": 0.12, "other": 0.08},
            "n_children": {"minimum": 1, "poisson_mean": 0.9},
            "referral_source": {
                "children_social_care": 0.55,
                "self": 0.15,
                "health": 0.10,
                "other": 0.20,
            },
            "legal_framework": {"child_protection": 0.60, "voluntary": 0.40},
            "exclusion_reason": _NL_EXCLUSIONS,
            "instruments": ["sdq", "psi_sf", "parenting_scale"],
            "review_offsets_days": None,
            "session_order": None,
        },
        "plus_one": {
            "share": 0.07,
            "sites": {"Leeds": 1.0},
            "funnel": {"p_assessed": 0.75, "p_eligible": 0.85, "p_start": 0.80},
            "wait_days_median": 21,
            "group_interval_days": 63,
            "risk_level": {"low": 0.30, "medium": 0.40, "high": 0.22, "very_high": 0.08},
            "dropout_hazard_medium": 0.060,
            "p_attend_low": 0.88,
            "age_band": {"16-17": 0.35, "18-24": 0.65},
            "ethnicity_group": _UK_ETHNICITY,
            "n_children": {"minimum": 0, "poisson_mean": 0.2},
            "referral_source": {
                "children_social_care": 0.30,
                "police": 0.20,
                "self": 0.20,
                "health": 0.10,
                "other": 0.20,
            },
            "legal_framework": {"voluntary": 0.60, "child_protection": 0.30, "criminal": 0.10},
            "exclusion_reason": _NL_EXCLUSIONS,
            "instruments": ["cts2"],
            "review_offsets_days": None,
            "session_order": None,
        },
        "stop_gap": {
            "share": 0.12,
            "sites": {"Leeds": 1.0},
            "funnel": {"p_assessed": 0.85, "p_eligible": 0.90, "p_start": 0.88},
            "wait_days_median": 14,
            "group_interval_days": None,
            "risk_level": {"low": 0.35, "medium": 0.40, "high": 0.20, "very_high": 0.05},
            "dropout_hazard_medium": 0.050,
            "p_attend_low": 0.92,
            "age_band": _ADULT_AGES,
            "ethnicity_group": _UK_ETHNICITY,
            "n_children": {"minimum": 0, "poisson_mean": 1.4},
            "referral_source": {
                "children_social_care": 0.50,
                "police": 0.20,
                "self": 0.15,
                "other": 0.15,
            },
            "legal_framework": {"child_protection": 0.60, "voluntary": 0.40},
            "exclusion_reason": _NL_EXCLUSIONS,
            "instruments": ["cts2", "parenting_scale"],
            "review_offsets_days": None,
            "session_order": None,
        },
        "caledonian": {
            "share": 0.28,
            "sites": {"Edinburgh": 0.30, "Glasgow": 0.30, "Aberdeen": 0.20, "Lanarkshire": 0.20},
            "funnel": {"p_assessed": 0.95, "p_eligible": 0.88, "p_start": 0.92},
            "wait_days_median": 42,
            "group_interval_days": None,
            "risk_level": {"low": 0.08, "medium": 0.32, "high": 0.40, "very_high": 0.20},
            "dropout_hazard_medium": 0.016,
            "p_attend_low": 0.93,
            "age_band": _ADULT_AGES,
            "ethnicity_group": _UK_ETHNICITY,
            "n_children": {"minimum": 0, "poisson_mean": 1.4},
            "referral_source": {"court": 0.85, "probation": 0.15},
            "legal_framework": {"criminal": 1.0},
            "exclusion_reason": _NL_EXCLUSIONS,
            "instruments": ["cts2"],
            # monthly maintenance sessions after the group stage
            "review_offsets_days": [30 * k for k in range(1, 13)],
            "session_order": None,
        },
    },
    "site_country": {
        "Leeds": "england",
        "Edinburgh": "scotland",
        "Glasgow": "scotland",
        "Aberdeen": "scotland",
        "Lanarkshire": "scotland",
    },
    "wait_days_sdlog": 0.6,
    "engagement": {
        "dropout_hazard_multiplier": {"low": 0.7, "medium": 1.0, "high": 1.4, "very_high": 1.9},
        "p_attend_decrement": {"low": 0.0, "medium": 0.02, "high": 0.05, "very_high": 0.08},
        "excluded_hazard": 0.003,
        "transferred_hazard": 0.0015,
        "p_excused_given_absent": 0.45,
        "p_review_attend": 0.85,
        "exit_reasons": {
            "dropped_out": {
                "disengaged": 0.5,
                "non_attendance": 0.3,
                "moved_away": 0.1,
                "custody": 0.1,
            },
            "excluded": {"non_compliance": 0.6, "further_offence": 0.4},
            "transferred": {"moved_area": 0.6, "other_programme": 0.4},
        },
        "exit_status_missing_share": 0.04,
        "exit_status_disagreement_share": 0.002,
        "exit_status_disagreement_min": 4,
        # Off by default (the committed sample is made without them); see
        # FAMILY_PARAMETERS. {programme: {stage: probability of leaving just
        # before the stage's first session}} for the registry's stages; a
        # review stage's probability is that of a completer skipping it.
        "stage_dropout": {},
        # {programme: {positive: p, concerns: p, not_held: p}}: outcome of
        # the evaluation meeting of completers whose reviews are all past.
        "evaluation_outcome": {},
    },
    "comparison": {
        "risk_level": {"low": 0.35, "medium": 0.35, "high": 0.20, "very_high": 0.10},
        "prior_offences_multiplier": 0.7,
        "index_offset_days": 30,
    },
    "prior_offences": {
        "mean_by_risk": {"low": 1.0, "medium": 2.5, "high": 4.5, "very_high": 7.0},
        "dispersion": 2.0,
        "max": 500,
    },
    "reoffending": {
        "baseline_hazard_per_year": 0.18,
        "hr_programme": 0.80,
        # {programme: hazard ratio}: a programme listed here has its own
        # effect instead of hr_programme (off by default, so the committed
        # sample stays as it is; see PROGRAMME_EFFECT_PARAMETERS)
        "hr_by_programme": {},
        "hr_risk": {"low": 1.0, "medium": 1.5, "high": 2.2, "very_high": 3.2},
        "hr_prior_offence": 1.04,
        "offence_type_probabilities": {
            "dv_offence": 0.55,
            "violent_offence": 0.20,
            "other_offence": 0.25,
        },
        "p_proven": 0.75,
        "proof_delay": {"distribution": "lognormal", "median_days": 110.0, "sdlog": 0.7},
        "non_counting_rate_per_year": {
            "order_breach": 0.10,
            "dv_incident": 0.25,
            "child_protection_referral": 0.08,
        },
        "p_breach_proven": 0.5,
        "pre_index_window_days": 365,
        "p_followup_end": 0.03,
        "window_days": 365,
        "proof_deadline_days": 548,
        "sources": {
            "england": "police_national_computer",
            "scotland": "scottish_criminal_history_system",
            "nl": "justitiele_documentatie",
            "dv_incident": "police_incident_log",
            "child_protection_referral": "social_care",
        },
    },
    "prepost": {
        "informant": {
            "sdq": "partner",
            "psi_sf": "father",
            "cts2": "partner",
            "parenting_scale": "father",
        },
        "p_pre_missing": 0.05,
        "p_post_missing": {"father": 0.12, "partner": 0.22},
        "p_post_dropout": 0.25,
        "p_follow_up": 0.5,
        "follow_up_days": 180,
        "follow_up_change_ratio": 0.8,
        # instruments answered once per child (subject_id), for fathers with
        # children; off by default (see FAMILY_PARAMETERS)
        "per_child": [],
        "scales": {
            "sdq": {
                "total": {
                    "baseline_mean": 17.0,
                    "baseline_sd": 4.5,
                    "true_change_sd": -0.35,
                    "resolution": 1,
                },
            },
            "psi_sf": {
                "total": {
                    "baseline_mean": 95.0,
                    "baseline_sd": 18.0,
                    "true_change_sd": -0.30,
                    "resolution": 1,
                    "reliability": 0.90,
                    "reliability_source": "synth default: Abidin (1995), PSI-SF total alpha 0.91",
                },
            },
            "cts2": {
                "psychological_aggression": {
                    "baseline_mean": 70.0,
                    "baseline_sd": 15.0,
                    "true_change_sd": -0.45,
                    "resolution": 1,
                },
                "physical_assault": {
                    "baseline_mean": 60.0,
                    "baseline_sd": 12.0,
                    "true_change_sd": -0.50,
                    "resolution": 1,
                },
                "injury": {
                    "baseline_mean": 30.0,
                    "baseline_sd": 7.0,
                    "true_change_sd": -0.40,
                    "resolution": 1,
                },
                "negotiation": {
                    "baseline_mean": 60.0,
                    "baseline_sd": 15.0,
                    "true_change_sd": 0.30,
                    "resolution": 1,
                },
                "sexual_coercion": {
                    "baseline_mean": 40.0,
                    "baseline_sd": 6.0,
                    "true_change_sd": -0.20,
                    "resolution": 1,
                },
            },
            "parenting_scale": {
                "total": {
                    "baseline_mean": 3.4,
                    "baseline_sd": 0.55,
                    "true_change_sd": -0.50,
                    "resolution": 0.01,
                    "reliability": 0.84,
                    "reliability_source": "synth default: Arnold et al. (1993), total alpha 0.84",
                },
            },
        },
    },
}

#: Overrides that switch on the family features of the generator: stage-wise
#: dropout (Caledonian: before the group stage and the maintenance stage),
#: evaluation meeting outcomes (Caring Dads), one SDQ per child and the services
#: table (partner support and the children's service). Pass as
#: ``generate(..., parameters=FAMILY_PARAMETERS)``; the truth document then
#: has a ``family`` section with the implied stage transition probabilities.
FAMILY_PARAMETERS: dict[str, Any] = {
    "engagement": {
        "stage_dropout": {"caledonian": {"group": 0.15, "maintenance": 0.10}},
        "evaluation_outcome": {
            "caring_dads": {"positive": 0.55, "concerns": 0.30, "not_held": 0.15}
        },
    },
    "prepost": {"per_child": ["sdq"]},
    # the services table: P(step | the step before) per service, for every starter
    "services": {
        "partner_support": {"offered": 0.85, "contacted": 0.8, "accepted": 0.75, "engaged": 0.7},
        "childrens_service": {"offered": 0.5, "contacted": 0.7, "accepted": 0.8, "engaged": 0.75},
    },
}


#: Overrides that give every programme its own true reoffending effect, some
#: of them harmful (hazard ratio above 1): pass as ``generate(...,
#: parameters=PROGRAMME_EFFECT_PARAMETERS)`` or ``cdanalytics synth
#: --programme-effects``. ``truth["reoffending"]["by_programme"]`` then gives
#: each programme's true matched effect, of opposite signs.
PROGRAMME_EFFECT_PARAMETERS: dict[str, Any] = {
    "reoffending": {
        "hr_by_programme": {
            "caring_dads": 0.75,
            "borg": 0.65,
            "carrousel": 0.85,
            "journey": 1.00,
            "plus_one": 1.30,
            "stop_gap": 0.90,
            "caledonian": 1.35,
        }
    }
}


def merged_parameters(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The default parameters with ``overrides`` merged in recursively."""
    params = deep_merge(DEFAULT_PARAMETERS, overrides or {})
    if float(params["referral_years"]) <= 0:
        raise ConfigError("Synthetic parameter 'referral_years' must be positive.")
    return params


def programme_parameters(params: Mapping[str, Any], code: str) -> dict[str, Any]:
    """Parameters of one programme, falling back to :data:`GENERIC_PROGRAMME`."""
    own = params["programmes"].get(code) or {}
    entry = {**copy.deepcopy(GENERIC_PROGRAMME), **copy.deepcopy(own)}
    entry["funnel"] = {**GENERIC_PROGRAMME["funnel"], **own.get("funnel", {})}
    if entry["sites"] is None:
        entry["sites"] = {f"{code}_site": 1.0}
    for field in ("sites", "risk_level", "age_band", "ethnicity_group", "referral_source"):
        total = sum(entry[field].values())
        if total <= 0 or any(v < 0 for v in entry[field].values()):
            raise ConfigError(
                f"Synthetic {field} shares of programme {code!r} must be non-negative."
            )
    return entry
