"""The added methods' entry in ``outcomes.json`` (its ``methods`` key) and its withheld figures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .compute import Outcomes
from .methods_specs import (
    COMPLETERS,
    HEADLINE,
    IMPUTATIONS,
    IMPUTED,
    LANDMARK_DAYS,
    LANDMARK_RULE,
    SEED,
    landmark_shown,
)
from .published import PublishedTable, Withheld, headline

__all__ = ["add_headlines"]


def _rows(table: PublishedTable, key: str, columns: Mapping[str, str], path: str, w: Withheld):
    return {
        str(row[key]): headline(table, i, columns, f"{path}.{row[key]}", w)
        for i, row in table.published.iterrows()
    }


def add_headlines(
    outcomes: dict[str, Any], out: Outcomes, published: Mapping[str, PublishedTable]
) -> None:
    """Add ``prepost_missing``, ``landmark``, ``reoffending_variants`` and ``casemix``."""
    withheld = Withheld()
    policy = out.config.disclosure
    missing = published.get("prepost_missing")
    if missing is not None:
        measures: dict[str, Any] = {}
        section: dict[str, Any] = {
            "headline": HEADLINE,
            "m": IMPUTATIONS,
            "seed": SEED,
            "measures": measures,
        }
        for i, row in missing.published.iterrows():
            key = f"{row['instrument']}.{row['scale']}.{row['informant']}"
            path = f"prepost_missing.measures.{key}"
            measures[key] = {
                "completers": headline(
                    missing,
                    i,
                    {
                        "n_paired": "n_paired",
                        "mean_change": COMPLETERS[0],
                        "ci_low": COMPLETERS[1],
                        "ci_high": COMPLETERS[2],
                    },
                    f"{path}.completers",
                    withheld,
                ),
                "imputed": headline(
                    missing,
                    i,
                    {
                        "n_analysed": "n_analysed",
                        "n_imputed": "n_imputed",
                        "mean_change": IMPUTED[0],
                        "ci_low": IMPUTED[1],
                        "ci_high": IMPUTED[2],
                        "fmi": "fmi",
                    },
                    f"{path}.imputed",
                    withheld,
                ),
            }
        outcomes["prepost_missing"] = section
    bands = published.get("landmark_bands")
    if bands is not None:
        shown = landmark_shown(out, policy)
        section = {
            "landmark_days": LANDMARK_DAYS,
            "rule": LANDMARK_RULE,
            "threshold": policy.threshold,
            "shown": shown,
            "bands": _rows(
                bands,
                "sessions_band",
                {"n_at_risk": "n_at_risk", "n_reoffended": "n_reoffended"},
                "landmark.bands",
                withheld,
            ),
            "hazard_ratio_per_session": None,
        }
        if shown:
            row = out.models["landmark"].cox.summary.iloc[0]
            section["hazard_ratio_per_session"] = {
                k: float(row[k]) for k in ("hazard_ratio", "ci_low", "ci_high", "p_value")
            }
        outcomes["landmark"] = section
    variants = published.get("reoffending_variants")
    if variants is not None:
        section = {}
        frame = variants.published
        for i, row in frame.iterrows():
            section.setdefault(str(row["variant"]), {})[str(row["group"])] = headline(
                variants,
                i,
                {
                    "n_eligible": "n_eligible",
                    "n_reoffenders": "n_reoffenders",
                    "rate": "rate",
                    "ci_low": "rate_ci_low",
                    "ci_high": "rate_ci_high",
                },
                f"reoffending_variants.{row['variant']}.{row['group']}",
                withheld,
            )
        outcomes["reoffending_variants"] = section
    casemix: dict[str, Any] = {}
    for unit in ("site", "referral_quarter"):
        table = published.get(f"casemix_{unit}")
        if table is None:
            continue
        model = out.models[f"casemix_{unit}"]
        columns = {
            "n_people": "n_people",
            "n_observed": "n_observed",
            "expected": "expected",
            "oe_ratio": "oe_ratio",
            "oe_ci_low": "oe_ci_low",
            "oe_ci_high": "oe_ci_high",
            "standardised_rate": "standardised_rate",
            "outside_998": "outside_998",
        }
        units = _rows(table, unit, columns, f"casemix.{unit}.units", withheld)
        for figures in units.values():
            if figures["outside_998"] is not None:
                figures["outside_998"] = bool(figures["outside_998"])
        casemix[unit] = {
            "covariates": list(model.covariates),
            "phi": float(model.phi),
            "overdispersed": bool(model.overdispersed),
            "units": units,
        }
    if casemix:
        outcomes["casemix"] = casemix
    outcomes.setdefault("withheld", {}).update(withheld)
