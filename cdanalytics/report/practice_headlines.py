"""The ``practice`` entry of ``outcomes.json``, read from the published practice tables.

Every figure comes from a table after disclosure control
(:mod:`cdanalytics.report.practice`), so a withheld figure is ``null`` here
too, with its marker and reason under ``withheld`` (``docs/outcomes.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .published import PublishedTable, headline

__all__ = ["AGREEMENT_STATISTIC", "practice_headlines"]

#: The agreement statistic the report shows (ordinal scales: quadratic weights).
AGREEMENT_STATISTIC = "weighted_kappa_quadratic"


def practice_headlines(
    tables: Mapping[str, PublishedTable], tool: str, withheld: dict[str, Any]
) -> dict[str, Any]:
    """The ``practice`` entry of ``outcomes.json`` (keys in ``docs/outcomes.md``).

    Parameters
    ----------
    tables
        The published practice tables (``practice_items`` and, where
        computed, ``practice_change``, ``practice_agreement``,
        ``practice_family``).
    tool
        The audit tool analysed.
    withheld
        Receives ``<key>: {marker, reason}`` for each withheld figure.

    Returns
    -------
    dict
        ``tool``, ``items``, and ``change``, ``agreement`` (with
        ``agreement_statistic``) and ``family`` where their tables exist.
    """
    figures: dict[str, Any] = {"tool": tool}
    items = tables["practice_items"]
    share = {"n_files": "n_files", "n_met": "n_met", "rate": "rate"}
    share |= {"ci_low": "ci_low", "ci_high": "ci_high"}
    figures["items"] = {}
    for i, row in items.published.iterrows():
        path = f"practice.items.{row['item']}.{row['period']}"
        entry = headline(items, i, share, path, withheld)
        figures["items"].setdefault(str(row["item"]), {})[str(row["period"])] = entry
    if "practice_change" in tables:
        change = tables["practice_change"]
        cols = {"n_files": "n_files", "estimate": "estimate", "ci_low": "ci_low"}
        cols |= {"ci_high": "ci_high", "p_value": "p_value"}
        figures["change"] = {}
        for i, row in change.published.iterrows():
            path = f"practice.change.{row['item']}.{row['contrast']}"
            entry = headline(change, i, cols, path, withheld)
            figures["change"].setdefault(str(row["item"]), {})[str(row["contrast"])] = entry
    if "practice_agreement" in tables:
        agree = tables["practice_agreement"]
        cols = {"n_files": "n_files", "kappa": "kappa"}
        cols |= {"ci_low": "kappa_ci_low", "ci_high": "kappa_ci_high"}
        figures["agreement"] = {
            str(row["item"]): headline(
                agree, i, cols, f"practice.agreement.{row['item']}", withheld
            )
            for i, row in agree.published.iterrows()
        }
        figures["agreement_statistic"] = AGREEMENT_STATISTIC
    if "practice_family" in tables:
        fam = tables["practice_family"]
        cols = {"n_cases": "n_cases", "n_yes": "n_yes", "rate": "rate"}
        cols |= {"ci_low": "ci_low", "ci_high": "ci_high"}
        figures["family"] = {}
        for i, row in fam.published.iterrows():
            group = f"{row['period']} / {row['arm']}"
            path = f"practice.family.{row['outcome']}.{group}"
            entry = headline(fam, i, cols, path, withheld)
            figures["family"].setdefault(str(row["outcome"]), {})[group] = entry
    return figures
