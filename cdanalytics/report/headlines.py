"""Headline figures under stable keys: ``outcomes.json`` and the managers' summary.

Every figure is read from a *published* (disclosure-controlled) table, so a
withheld figure is ``null`` here too. The keys are documented in
``docs/outcomes.md`` and are stable: new keys may be added, existing ones keep
their meaning.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..disclosure import DisclosurePolicy
from ..engagement import COMPLETION_CLEAR_COLUMNS, COMPLETION_COLUMNS, DROPOUT_COLUMNS
from .compute import OVERALL, Outcomes
from .published import _RATE as _RATE_COLUMNS
from .published import PublishedTable, Withheld, headline

__all__ = ["OUTCOMES_SCHEMA_VERSION", "headline_figures"]

#: Version of the ``outcomes.json`` layout.
OUTCOMES_SCHEMA_VERSION = 1


def _overall_row(table: PublishedTable, **where: str) -> int:
    frame = table.published
    keep = pd.Series(True, index=frame.index)
    for column, value in where.items():
        keep &= frame[column].astype(str) == value
    return frame.index[keep.to_numpy()][0]


def _keyed(keys: tuple[str, ...], columns: tuple[str, ...]) -> dict[str, str]:
    """``outcomes.json`` keys (stable, whatever the analyses call their columns) -> columns."""
    return dict(zip(keys, columns, strict=True))


#: ``outcomes.json`` keys of a rate and its interval.
_RATE_KEYS = ("rate", "ci_low", "ci_high")
_RATE = _keyed(_RATE_KEYS, _RATE_COLUMNS)
_COMPLETION = _keyed(_RATE_KEYS, COMPLETION_COLUMNS)


def _engagement(
    published: dict[str, PublishedTable], groupings: list[str], withheld: Withheld
) -> dict[str, Any]:
    first_key = groupings[0]
    table = published["engagement"]
    i = _overall_row(table, **{first_key: OVERALL})
    by_group = {}
    frame = table.published
    for j, group in frame[frame[first_key].astype(str) != OVERALL].iterrows():
        name = " / ".join(str(group[k]) for k in groupings)
        by_group[name] = headline(
            table,
            j,
            {"n_potential": "n_potential", "n_completed": "n_completed", **_COMPLETION},
            f"engagement.completion_by_group.{name}",
            withheld,
        )
    flow = headline(
        table,
        i,
        {
            "referred": "n_referred",
            "assessed": "n_assessed",
            "eligible": "n_eligible",
            "started": "n_started",
            "completed": "n_completed",
        },
        "engagement",
        withheld,
    )
    return {
        **flow,
        "completion": headline(
            table,
            i,
            {
                "n_potential": "n_potential",
                "n_completed": "n_completed",
                **_COMPLETION,
                "n_clear_outcome": "n_clear_outcome",
                **_keyed(tuple(f"{k}_clear" for k in _RATE_KEYS), COMPLETION_CLEAR_COLUMNS),
            },
            "engagement.completion",
            withheld,
        ),
        "dropout": headline(
            table,
            i,
            {
                "n_potential": "n_potential",
                "n_dropped_out": "n_dropped_out",
                **_keyed(_RATE_KEYS, DROPOUT_COLUMNS),
            },
            "engagement.dropout",
            withheld,
        ),
        "completion_by_group": by_group,
    }


def _reoffending(
    out: Outcomes, published: dict[str, PublishedTable], first_key: str, withheld: Withheld
) -> dict:
    section: dict[str, Any] = {
        "window_months": out.config.reoffending.window_months,
        "waiting_months": out.config.reoffending.waiting_months,
        "matching_gates": {
            key: getattr(out.config.reoffending.matching, key)
            for key in ("min_treated", "balance_flag", "balance_withhold")
        },
    }
    window = published.get("fixed_window")
    if window is not None:
        for group in ("programme", "comparison"):
            rows = window.published
            rows = rows[(rows[first_key].astype(str) == OVERALL) & (rows["group"] == group)]
            if len(rows):
                section[group] = headline(
                    window,
                    rows.index[0],
                    {
                        "n_eligible": "n_eligible",
                        "n_not_yet_eligible": "n_not_yet_eligible",
                        "n_reoffenders": "n_reoffenders",
                        **_RATE,
                        "per_100": "per_100",
                    },
                    f"reoffending.{group}",
                    withheld,
                )
    policy = _policy(published)
    cox = out.tables.get("cox")
    if cox is not None and policy.enough(out.models["cox"].n_events):
        term = cox[cox["term"] == "group[programme]"]
        if len(term):
            row = term.iloc[0]
            section["adjusted_hazard_ratio"] = {
                **_hazard(row, "hazard_ratio"),
                "covariates": list(out.config.reoffending.cox_covariates),
                "ph_global_p_value": _ph_global_p(out.tables.get("cox_ph")),
            }
    return section


#: Figures of one matched comparison in ``outcomes.json`` -> published column.
_MATCHED_COVERAGE = {
    "n_treated": "n_treated",
    "n_matched": "n_matched",
    "n_outside_common_support": "n_outside_common_support",
    "n_no_comparison_within_caliper": "n_no_comparison_within_caliper",
    "n_comparisons_used_up": "n_comparisons_used_up",
    "share_matched": "share_matched",
}
_MATCHED_SAMPLE = {"n_control": "n_control", "max_abs_smd_after": "max_abs_smd_after"}
_MATCHED_EFFECT = {
    "rate_programme": "rate_treated",
    "rate_comparison": "rate_control",
    "difference": "difference",
    "ci_low": "difference_ci_low",
    "ci_high": "difference_ci_high",
    "p_value": "p_value",
}
_PROGRAMME_ENGAGEMENT = {
    "n_referred": "n_referred",
    "n_started": "n_started",
    "n_potential": "n_potential",
    "n_completed": "n_completed",
    **_keyed(("completion_rate", "completion_ci_low", "completion_ci_high"), COMPLETION_COLUMNS),
}


def _matched(
    out: Outcomes, published: dict[str, PublishedTable], code: str, withheld: Withheld
) -> dict[str, Any]:
    """Each analysis of one programme: what its gates decided, and its published figures."""
    gates = out.tables.get("matching_gates")
    table = published.get("matched_comparisons")
    coverage = published.get("matched_coverage")
    section: dict[str, Any] = {}
    if gates is None:
        return section
    mine = gates[gates["programme"].astype(str) == code]
    for row in mine.itertuples(index=False):
        path = f"programmes.{code}.matched.{row.analysis}"
        entry: dict[str, Any] = {
            "status": row.status,
            "reason": None if pd.isna(row.reason) else row.reason,
            "secondary": row.analysis != "all_starters",
            "min_treated": int(row.min_treated),
        }
        where = {"programme": code, "analysis": row.analysis}
        rows = [] if coverage is None else _rows(coverage, **where)
        if rows:
            entry.update(headline(coverage, rows[0], _MATCHED_COVERAGE, path, withheld))
        rows = [] if table is None else _rows(table, **where)
        if rows:
            entry.update(headline(table, rows[0], _MATCHED_SAMPLE, path, withheld))
            if row.status in ("computed", "flagged"):
                entry.update(headline(table, rows[0], _MATCHED_EFFECT, path, withheld))
        section[row.analysis] = entry
    return section


def _rows(table: PublishedTable, **where: str) -> list[int]:
    frame = table.published
    keep = pd.Series(True, index=frame.index)
    for column, value in where.items():
        keep &= frame[column].astype(str) == value
    return list(frame.index[keep.to_numpy()])


def _programmes(
    out: Outcomes, published: dict[str, PublishedTable], groupings: list[str], withheld: Withheld
) -> dict[str, Any]:
    """Per programme: key engagement figures (when the report is grouped by programme
    alone) and the gated matched comparisons."""
    gates = out.tables.get("matching_gates")
    codes = [] if gates is None else list(dict.fromkeys(gates["programme"].astype(str)))
    engagement = published.get("engagement")
    by_programme = groupings == ["programme"] and engagement is not None
    section: dict[str, Any] = {}
    for code in codes:
        entry: dict[str, Any] = {}
        if by_programme:
            rows = _rows(engagement, programme=code)
            if rows:
                entry.update(
                    headline(
                        engagement, rows[0], _PROGRAMME_ENGAGEMENT, f"programmes.{code}", withheld
                    )
                )
        entry["matched"] = _matched(out, published, code, withheld)
        section[code] = entry
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


def _policy(published: dict[str, PublishedTable]) -> DisclosurePolicy:
    return next(iter(published.values())).protected.policy


#: Reliable-change classes as ``outcomes.json`` gives them: improved reliably
#: counts the recovered too (recovered = improved reliably into the normal range).
_CLASSES = {
    "recovered": ("recovered",),
    "improved": ("recovered", "improved"),
    "unchanged": ("unchanged",),
    "deteriorated": ("deteriorated",),
    "n": ("n_total",),
}


def _reliable_change(
    classes: PublishedTable | None, instrument: str, scale: str, informant: str
) -> dict[str, int] | bool | None:
    """Published reliable-change counts of one measure, summed over its baseline rows.

    ``False`` when reliable change was not computed for it, ``None`` when a
    count it needs is withheld (the sums then could not be published).
    """
    if classes is None:
        return False
    frame = classes.published
    rows = frame[
        (frame["instrument"].astype(str) == instrument)
        & (frame["scale"].astype(str) == scale)
        & (frame["informant"].astype(str) == informant)
    ]
    if rows.empty:
        return False
    columns = sorted({c for parts in _CLASSES.values() for c in parts})
    if rows[columns].isna().to_numpy().any():
        return None
    return {
        name: int(rows[list(parts)].to_numpy(dtype="int64").sum())
        for name, parts in _CLASSES.items()
    }


def _prepost(
    out: Outcomes, published: dict[str, PublishedTable], withheld: Withheld
) -> dict[str, Any]:
    change = published.get("change")
    if change is None:
        return {}
    registry = out.export.registries.instruments
    section = {}
    for i, row in change.published.iterrows():
        key = f"{row['instrument']}.{row['scale']}.{row['informant']}"
        info = registry.get(str(row["instrument"]), {}).get("scales", {}).get(str(row["scale"]))
        classes = _reliable_change(
            published.get("reliable_change"), *(str(row[c]) for c in _MEASURE)
        )
        section[key] = headline(
            change,
            i,
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
            f"prepost.{key}",
            withheld,
        )
        section[key]["direction"] = info["direction"] if info else None
        if classes is not False:
            section[key]["reliable_change"] = classes
    return section


_MEASURE = ("instrument", "scale", "informant")


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
        JSON-ready figures; withheld values are ``None`` and listed under
        ``"withheld"`` (dotted key -> ``marker`` and ``reason``).
    """
    groupings = list(out.config.groupings)
    withheld = Withheld()
    return {
        "schema_version": OUTCOMES_SCHEMA_VERSION,
        "title": out.config.title,
        "extract_date": out.export.extract_date.date().isoformat(),
        "disclosure": out.config.as_dict()["disclosure"],
        "engagement": _engagement(published, groupings, withheld),
        "reoffending": _reoffending(out, published, groupings[0], withheld),
        "prepost": _prepost(out, published, withheld),
        "programmes": _programmes(out, published, groupings, withheld),
        "not_computed": list(out.notes),
        "withheld": dict(withheld),
    }
