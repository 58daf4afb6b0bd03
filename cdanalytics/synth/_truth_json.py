"""Assemble ``truth.json``: every true parameter and the exact implied probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._params import AGE_BANDS, LEGAL_FRAMEWORKS, REFERRAL_SOURCES, RISK_LEVELS
from ._plan import Plan
from ._truth import engagement_probabilities, offence_intensity_factor, p12

__all__ = ["build_truth"]

_ENGAGEMENT_KEYS = (
    "p_complete",
    "p_dropout",
    "p_excluded",
    "p_transferred",
    "p_other_exits",
    "p_reach_last_core",
    "expected_core_sessions_enrolled",
)


def _dist(prob: np.ndarray, categories) -> dict[str, float]:
    return {c: float(p) for c, p in zip(categories, prob, strict=True) if p > 0}


def _programmes(plan: Plan) -> dict[str, Any]:
    out = {}
    for i, code in enumerate(plan.programmes):
        entry, prog = plan.registry[code], plan.prog[i]
        out[code] = {
            "share": float(plan.share[i]),
            "sites": _dist(plan.site_p[i], plan.sites),
            "rolling_entry": bool(plan.rolling[i]),
            "group_interval_days": None if plan.rolling[i] else int(plan.group_interval[i]),
            "wait_days": {
                "distribution": "lognormal, rounded up to whole days (at least 1)",
                "median": float(plan.wait_median[i]),
                "sdlog": float(plan.params["wait_days_sdlog"]),
            },
            "core_sessions": int(plan.core_k[i]),
            "needed_sessions": int(plan.needed[i]),
            "require_last_core": bool(plan.require_last[i]),
            "completion_rule": entry["completion_rule"]["text"],
            "session_interval_days": int(plan.interval[i]),
            "session_order": [[t, int(n)] for t, n in plan.orders[i]],
            "review_offsets_days": [int(x) for x in plan.review_offsets[i]],
            "instruments": list(prog["instruments"]),
            "covariates": {
                "risk_level": _dist(plan.risk_p[i], RISK_LEVELS),
                "age_band": _dist(plan.age_p[i], AGE_BANDS),
                "ethnicity_group": _dist(plan.ethnicity_p[i], plan.ethnicities),
                "referral_source": _dist(plan.source_p[i], REFERRAL_SOURCES),
                "legal_framework": _dist(plan.framework_p[i], LEGAL_FRAMEWORKS),
                "n_children": {
                    "distribution": "minimum + Poisson(poisson_mean)",
                    "minimum": int(plan.children_min[i]),
                    "poisson_mean": float(plan.children_mean[i]),
                },
            },
        }
    return out


def _engagement(plan: Plan) -> tuple[dict[str, Any], dict[str, Any]]:
    eng = plan.params["engagement"]
    by_risk, overall = {}, {}
    for i, code in enumerate(plan.programmes):
        cells = {
            risk: engagement_probabilities(
                int(plan.core_k[i]),
                int(plan.needed[i]),
                bool(plan.require_last[i]),
                float(plan.dropout_hazard[i, r]),
                float(eng["excluded_hazard"]),
                float(eng["transferred_hazard"]),
                float(plan.p_attend[i, r]),
            )
            for r, risk in enumerate(RISK_LEVELS)
        }
        by_risk[code] = cells
        mix = plan.risk_p[i]
        overall[code] = {
            key: float(sum(mix[r] * cells[risk][key] for r, risk in enumerate(RISK_LEVELS)))
            for key in _ENGAGEMENT_KEYS
        }
        overall[code]["risk_level_mix"] = _dist(mix, RISK_LEVELS)
    return by_risk, overall


def _p12(plan: Plan) -> dict[str, Any]:
    comp_row = len(plan.programmes)
    risks = range(len(RISK_LEVELS))
    cell = {
        (g, r): p12(plan, r, comparison=g == "comparison", treated=g == "programme")
        for g in ("programme", "starters_untreated", "comparison")
        for r in risks
    }
    # each programme's starters under its own hazard ratio, by risk level
    own = np.array(
        [
            [p12(plan, r, False, True, float(plan.hr_programme[i])) for r in risks]
            for i in range(comp_row)
        ]
    )
    starters_weight = plan.share * plan.funnel.prod(axis=1)
    starters_weight = starters_weight / starters_weight.sum()
    starter_mix = starters_weight @ plan.risk_p[:comp_row]
    if len(set(plan.hr_programme.tolist())) > 1:  # starters of every programme, mixed
        weight = starters_weight[:, None] * plan.risk_p[:comp_row]
        for r in risks:
            cell["programme", r] = float(weight[:, r] @ own[:, r] / weight[:, r].sum())
    mixes = {
        "programme": starter_mix,
        "starters_untreated": starter_mix,
        "comparison": plan.risk_p[comp_row],
    }
    by_group = {}
    for g, mix in mixes.items():
        values = {risk: cell[g, r] for r, risk in enumerate(RISK_LEVELS)}
        values["overall"] = float(sum(mix[r] * cell[g, r] for r in risks))
        by_group[g] = values
    by_programme, effects = {}, {}
    for i, code in enumerate(plan.programmes):
        mix = plan.risk_p[i]
        by_programme[code] = {
            "programme": float(mix @ own[i]),
            "starters_untreated": float(sum(mix[r] * cell["starters_untreated", r] for r in risks)),
            "comparison": float(
                sum(plan.risk_p[comp_row][r] * cell["comparison", r] for r in risks)
            ),
        }
        effects[code] = {
            "hazard_ratio": float(plan.hr_programme[i]),
            "p12_programme": by_programme[code]["programme"],
            "p12_untreated": by_programme[code]["starters_untreated"],
            "att_rate_difference": by_programme[code]["programme"]
            - by_programme[code]["starters_untreated"],
            "att_rate_difference_by_risk": {
                risk: float(own[i, r] - cell["starters_untreated", r])
                for r, risk in enumerate(RISK_LEVELS)
            },
        }
    return {
        "p12_by_group": by_group,
        "p12_by_programme": by_programme,
        "att_rate_difference": by_group["programme"]["overall"]
        - by_group["starters_untreated"]["overall"],
        "starter_programme_mix": {
            c: float(w) for c, w in zip(plan.programmes, starters_weight, strict=True)
        },
        "by_programme": effects,
    }


def build_truth(
    plan: Plan,
    header: dict[str, Any],
    slots,
    data_quality: dict[str, Any],
    realised: dict[str, int],
) -> dict[str, Any]:
    """The whole truth document (see the :mod:`cdanalytics.synth` docstring for each key)."""
    params = plan.params
    engagement, engagement_overall = _engagement(plan)
    reoff = params["reoffending"]
    pp = params["prepost"]
    prepost: dict[str, dict[str, Any]] = {}
    for slot in slots:
        users = [
            c
            for c, p in zip(plan.programmes, plan.prog, strict=True)
            if slot.instrument in p["instruments"]
        ]
        prepost.setdefault(slot.instrument, {})[slot.scale] = {
            **slot.truth,
            "informant": slot.informant,
            "range": [slot.low, slot.high],
            "programmes": users,
            "p_pre_missing": float(pp["p_pre_missing"]),
            "p_post_missing": float(pp["p_post_missing"][slot.informant]),
            "p_post_dropout": float(pp["p_post_dropout"]),
            "p_follow_up": float(pp["p_follow_up"]),
        }
    return {
        "generator": header,
        "programmes": _programmes(plan),
        "funnel": {
            code: {
                "p_assessed": float(plan.funnel[i, 0]),
                "p_eligible": float(plan.funnel[i, 1]),
                "p_start": float(plan.funnel[i, 2]),
                "exclusion_reason": _dist(plan.exclusion_p[i], plan.exclusion_reasons),
            }
            for i, code in enumerate(plan.programmes)
        },
        "engagement": engagement,
        "engagement_overall": engagement_overall,
        "engagement_design": {
            "session_1_attended": True,
            "attendance_counted": "attended only (excused absences are not attendance)",
            "rows_while_enrolled": True,
            "p_excused_given_absent": float(params["engagement"]["p_excused_given_absent"]),
            "p_review_attend": float(params["engagement"]["p_review_attend"]),
            "dropout_hazard_multiplier": dict(params["engagement"]["dropout_hazard_multiplier"]),
            "p_attend_decrement": dict(params["engagement"]["p_attend_decrement"]),
            "exit_reasons": params["engagement"]["exit_reasons"],
        },
        "comparison": {
            "risk_level": _dist(plan.risk_p[len(plan.programmes)], RISK_LEVELS),
            "prior_offences_multiplier": float(params["comparison"]["prior_offences_multiplier"]),
            "index_offset_days": int(params["comparison"]["index_offset_days"]),
        },
        "prior_offences": {
            "distribution": "negative binomial: variance mean + mean^2 / dispersion; clipped",
            **params["prior_offences"],
        },
        "reoffending": {
            "baseline_hazard_per_year": float(reoff["baseline_hazard_per_year"]),
            "hr_programme": float(reoff["hr_programme"]),
            "hr_by_programme": {
                c: float(h) for c, h in zip(plan.programmes, plan.hr_programme, strict=True)
            },
            "hr_risk": {k: float(v) for k, v in reoff["hr_risk"].items()},
            "hr_prior_offence": float(reoff["hr_prior_offence"]),
            "counting_event_types": list(reoff["offence_type_probabilities"]),
            "offence_type_probabilities": dict(reoff["offence_type_probabilities"]),
            "p_proven": float(reoff["p_proven"]),
            "proof_delay": {
                **reoff["proof_delay"],
                "unit": "days",
                "meanlog": float(np.log(reoff["proof_delay"]["median_days"])),
            },
            "window_days": int(reoff["window_days"]),
            "proof_deadline_days": int(reoff["proof_deadline_days"]),
            "intensity_factor": offence_intensity_factor(reoff),
            "non_counting_rate_per_year": dict(reoff["non_counting_rate_per_year"]),
            "p_breach_proven": float(reoff["p_breach_proven"]),
            "pre_index_window_days": int(reoff["pre_index_window_days"]),
            "p_followup_end": float(reoff["p_followup_end"]),
            "sources": dict(reoff["sources"]),
            **_p12(plan),
        },
        "prepost": prepost,
        "prepost_design": {
            "informant": dict(pp["informant"]),
            "p_pre_missing": float(pp["p_pre_missing"]),
            "p_post_missing": dict(pp["p_post_missing"]),
            "p_post_dropout": float(pp["p_post_dropout"]),
            "p_follow_up": float(pp["p_follow_up"]),
            "follow_up_days": int(pp["follow_up_days"]),
            "follow_up_change_ratio": float(pp["follow_up_change_ratio"]),
        },
        "data_quality": data_quality,
        "realised": realised,
        "notes": NOTES,
    }


#: How to estimate each quantity without bias from the export (in truth.json).
NOTES = {
    "funnel": (
        "Eligible people due to start after the extract date are on a waiting list "
        "(exit_status ongoing, no start_date). Estimate p_start on referrals old enough "
        "for every would-be starter to have started (about 400 days before the extract)."
    ),
    "completion": (
        "p_complete, p_dropout, p_excluded and p_transferred are per starter followed to the "
        "end of the core programme: estimate them on starters with start_date + "
        "(core_sessions - 1) x session_interval_days <= extract_date, who have all concluded. "
        "Adding recently closed cases of later starters over-represents early leavers. "
        "p_dropout includes starters who stayed to the last session but missed the rule."
    ),
    "dropout_hazard": (
        "Session rows exist only while enrolled, so exits before core session k among "
        "participants with a row for session k-1 estimate dropout_hazard + excluded_hazard + "
        "transferred_hazard. A leaver who already met a rule without require_last_core "
        "(carrousel) is recorded completed, whatever the reason for leaving."
    ),
    "reoffending": (
        "The 12-month window is 365 days and the proof deadline 548 days after the index date; "
        "calendar-month windows differ by a day or two (negligible). People whose "
        "followup_end falls before index + 548 days are not eligible for the fixed-window rate. "
        "The programme hazard ratio is conditional on risk_level and prior_offences, the only "
        "covariates that affect the hazard; starters_untreated is the counterfactual for a "
        "matched comparison (att_rate_difference). The 'overall' values mix the risk levels "
        "by the expected starter mix (programme share x funnel; starter_programme_mix); among "
        "starters old enough for the window, programmes with longer waits or group starts "
        "are slightly fewer, so exact comparisons should be made per risk level."
    ),
    "prepost": (
        "The true change is the same for completers and dropouts with a post score; which "
        "scores are missing does not depend on the scores."
    ),
}
