"""Headline figures under stable keys: ``outcomes.json`` and the managers' summary.

Every figure is read from a *published* (disclosure-controlled) table, so a
withheld figure is ``null`` here too. The keys are documented in
``docs/outcomes.md`` and are stable: new keys may be added, existing ones keep
their meaning.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .compute import OVERALL, Outcomes
from .tables import PublishedTable

__all__ = ["OUTCOMES_SCHEMA_VERSION", "headline_figures"]

#: Version of the ``outcomes.json`` layout.
OUTCOMES_SCHEMA_VERSION = 1


def _value(row: pd.Series, column: str) -> Any:
    value = row.get(column)
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _figures(row: pd.Series, columns: dict[str, str]) -> dict[str, Any]:
    return {key: _value(row, column) for key, column in columns.items()}


def _overall_row(table: PublishedTable, **where: str) -> pd.Series:
    frame = table.published
    keep = pd.Series(True, index=frame.index)
    for column, value in where.items():
        keep &= frame[column].astype(str) == value
    return frame[keep].iloc[0]


_RATE = {"rate": "rate", "ci_low": "ci_low", "ci_high": "ci_high"}
_COMPLETION = {
    "rate": "completion_rate",
    "ci_low": "completion_ci_low",
    "ci_high": "completion_ci_high",
}


def _engagement(published: dict[str, PublishedTable], groupings: list[str]) -> dict[str, Any]:
    first_key = groupings[0]
    row = _overall_row(published["engagement"], **{first_key: OVERALL})
    by_group = {}
    frame = published["engagement"].published
    for _, group in frame[frame[first_key].astype(str) != OVERALL].iterrows():
        by_group[" / ".join(str(group[k]) for k in groupings)] = _figures(
            group, {"n_potential": "n_potential", "n_completed": "n_completed", **_COMPLETION}
        )
    return {
        "referred": _value(row, "n_referred"),
        "assessed": _value(row, "n_assessed"),
        "eligible": _value(row, "n_eligible"),
        "started": _value(row, "n_started"),
        "completed": _value(row, "n_completed"),
        "completion": _figures(
            row,
            {
                "n_potential": "n_potential",
                "n_completed": "n_completed",
                **_COMPLETION,
                "n_clear_outcome": "n_clear_outcome",
                "rate_clear": "completion_rate_clear",
                "ci_low_clear": "completion_ci_low_clear",
                "ci_high_clear": "completion_ci_high_clear",
            },
        ),
        "dropout": _figures(
            row,
            {
                "n_potential": "n_potential",
                "n_dropped_out": "n_dropped_out",
                "rate": "dropout_rate",
                "ci_low": "dropout_ci_low",
                "ci_high": "dropout_ci_high",
            },
        ),
        "completion_by_group": by_group,
    }


def _reoffending(out: Outcomes, published: dict[str, PublishedTable], first_key: str) -> dict:
    section: dict[str, Any] = {
        "window_months": out.config["reoffending"]["window_months"],
        "waiting_months": out.config["reoffending"]["waiting_months"],
    }
    window = published.get("fixed_window")
    if window is not None:
        for group in ("programme", "comparison"):
            rows = window.published
            rows = rows[(rows[first_key].astype(str) == OVERALL) & (rows["group"] == group)]
            if len(rows):
                section[group] = _figures(
                    rows.iloc[0],
                    {
                        "n_eligible": "n_eligible",
                        "n_not_yet_eligible": "n_not_yet_eligible",
                        "n_reoffenders": "n_reoffenders",
                        **_RATE,
                        "per_100": "per_100",
                    },
                )
    effect = published.get("matched_effect")
    if effect is not None:
        row = effect.published.iloc[0]
        section["matched_difference"] = {
            **_figures(
                row,
                {
                    "n_programme": "n_treated",
                    "n_comparison": "n_control",
                    "rate_programme_pct": "rate_treated_pct",
                    "rate_comparison_pct": "rate_control_pct",
                    "difference_pp": "difference_pp",
                    "ci_low_pp": "ci_low_pp",
                    "ci_high_pp": "ci_high_pp",
                    "p_value": "p_value",
                },
            ),
            "statement": out.models["matched_effect"].statement
            if not effect.protected.mask.iloc[0].any()
            else None,
        }
    hazard = out.tables.get("matched_cox")
    if hazard is not None and _enough(out, hazard):
        row = hazard.iloc[0]
        section["matched_hazard_ratio"] = {
            **_hazard(row, "hr"),
            "statement": out.models["matched_cox"].statement,
        }
    cox = out.tables.get("cox")
    if cox is not None and _enough_events(out, out.models["cox"].n_events):
        term = cox[cox["term"] == "group[programme]"]
        if len(term):
            row = term.iloc[0]
            section["adjusted_hazard_ratio"] = {
                **_hazard(row, "hazard_ratio"),
                "covariates": list(out.config["reoffending"]["cox_covariates"]),
                "ph_global_p_value": _ph_global_p(out.tables.get("cox_ph")),
            }
    return section


def _hazard(row: pd.Series, column: str) -> dict[str, float]:
    return {
        "hazard_ratio": float(row[column]),
        "ci_low": float(row["ci_low"]),
        "ci_high": float(row["ci_high"]),
        "p_value": float(row["p_value"]),
    }


def _ph_global_p(ph: pd.DataFrame | None) -> float | None:
    """Global p-value of the scaled-Schoenfeld proportional-hazards test."""
    if ph is None:
        return None
    row = ph[ph["term"] == "GLOBAL"]
    return float(row["p_value"].iloc[0]) if len(row) else None


def _enough_events(out: Outcomes, n: int) -> bool:
    return n >= out.config["disclosure"]["threshold"]


def _enough(out: Outcomes, hazard: pd.DataFrame) -> bool:
    row = hazard.iloc[0]
    counts = [row["n_treated"], row["n_control"], row["events_treated"], row["events_control"]]
    return min(counts) >= out.config["disclosure"]["threshold"]


def _prepost(published: dict[str, PublishedTable]) -> dict[str, Any]:
    change = published.get("change")
    if change is None:
        return {}
    section = {}
    for _, row in change.published.iterrows():
        key = f"{row['instrument']}.{row['scale']}.{row['informant']}"
        section[key] = _figures(
            row,
            {
                "n_paired": "n_paired",
                "mean_pre": "mean_pre",
                "mean_post": "mean_post",
                "mean_change": "mean_change",
                "ci_low": "change_ci_low",
                "ci_high": "change_ci_high",
                "p_value": "p_value",
                "d_z": "d_z",
                "g_av": "g_av",
            },
        )
    return section


def headline_figures(out: Outcomes, published: dict[str, PublishedTable]) -> dict[str, Any]:
    """The content of ``outcomes.json``: headline figures from the published tables.

    Parameters
    ----------
    out
        The computed outcomes (for the config and model statements).
    published
        The protected tables of :func:`~cdanalytics.report.tables.publish_tables`.

    Returns
    -------
    dict
        JSON-ready figures; withheld values are ``None``.
    """
    groupings = list(out.config["groupings"])
    return {
        "schema_version": OUTCOMES_SCHEMA_VERSION,
        "title": out.config["title"],
        "extract_date": out.export.extract_date.date().isoformat(),
        "disclosure": dict(out.config["disclosure"]),
        "engagement": _engagement(published, groupings),
        "reoffending": _reoffending(out, published, groupings[0]),
        "prepost": _prepost(published),
        "not_computed": list(out.notes),
    }
