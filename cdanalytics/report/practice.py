"""The report section "Practice (Safe & Together)": case-file audits and family outcomes.

Shown only when the export carries case-file audits (``Export.has_audits``);
an export without them gets no section, no table and no ``practice`` key.
:func:`practice_section` runs the analyses of :mod:`cdanalytics.practice` for
every audit tool of the registry whose items the audits score, and protects
every table with the disclosure gate (:func:`~cdanalytics.disclosure.protect_frame`)
before anything is published:

``practice_teams``
    Files meeting each item by team and period, with an ``All`` row per
    period and item. Each (period, item) block is protected as one two-way
    table: files met and not met within a row, teams adding up to ``All``
    down the column, so a withheld team count cannot be recovered by
    subtracting the other teams from the total.
``practice_items``
    The ``All`` rows of ``practice_teams`` (the same protected numbers): the
    share of files meeting each item per period.
``practice_change``
    Change in the share met between the first two periods in untrained and
    trained teams and their difference in differences (percentage points,
    cluster-robust CIs; :func:`cdanalytics.practice.change`); withheld when
    the files behind it are fewer than the threshold.
``practice_agreement``
    Agreement between readers per item (Cohen's weighted kappa, quadratic
    weights) on double-read files; withheld on fewer than threshold files.
``practice_family``
    Family outcomes by period and training (:func:`cdanalytics.practice.family_outcomes`)
    with an ``All`` row per period and outcome, each (period, outcome) block
    protected like a ``practice_teams`` block.

The section's headline figures go under the ``practice`` key of
``outcomes.json`` (``docs/outcomes.md``), withheld ones ``null`` with their
marker under ``withheld``. The audit tools are the export's
(``export.registries.audit_tools``: the built-in registry with the evaluation
config's ``audit_tools:`` merged in by :func:`~cdanalytics.load_export`), so a
site's own items or tool are analysed like the built-in ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import practice
from ..disclosure import DisclosurePolicy, SuppressedTable, protect_frame, round_counts
from ..errors import AnalysisError
from ..i18n import percent
from ..io.export import Export
from .compute import OVERALL, distinct_from_overall
from .notes import Note, failure_note
from .practice_headlines import AGREEMENT_STATISTIC, practice_headlines
from .published import PublishedTable, TableSpec

__all__ = ["PRACTICE_TABLES", "PracticeSection", "practice_section"]

#: Tables of the section, in the order the report shows them.
PRACTICE_TABLES: tuple[str, ...] = (
    "practice_items",
    "practice_change",
    "practice_agreement",
    "practice_family",
    "practice_teams",
)

_SHARE = ("rate", "ci_low", "ci_high")
_SHARE_RATES = {"rate": ("n_met", "n_files", "ci_low", "ci_high", 1.0)}
_FAMILY_RATES = {"rate": ("n_yes", "n_cases", "ci_low", "ci_high", 1.0)}


@dataclass
class PracticeSection:
    """The protected tables and headline figures of the practice section.

    Attributes
    ----------
    tables
        Published tables by name (:data:`PRACTICE_TABLES`); empty when the
        export has no audits.
    figures
        The ``practice`` entry of ``outcomes.json`` (``None`` without audits).
    withheld
        ``withheld`` entries of ``outcomes.json`` for the figures withheld here.
    notes
        Analyses that could not be computed, each with its reason.
    """

    tables: dict[str, PublishedTable] = field(default_factory=dict)
    figures: dict[str, Any] | None = None
    withheld: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add_to(self, outcomes: dict[str, Any], notes: list[str] | None = None) -> None:
        """Put the section's figures (key ``practice``) and withheld entries into ``outcomes``.

        Without audits nothing is added. ``notes`` (the report's list of
        analyses not computed) receives the section's notes.
        """
        if notes is not None:
            notes.extend(self.notes)
        listed = outcomes.get("not_computed")
        if isinstance(listed, list) and listed is not notes:
            listed.extend(self.notes)
        if self.figures is None:
            return
        outcomes["practice"] = self.figures
        outcomes.setdefault("withheld", {}).update(self.withheld)


@dataclass
class _LabelledTable(PublishedTable):
    """A published table whose code cells (items, outcomes) show the registry's labels."""

    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)

    def display(self, lang: str = "en") -> pd.DataFrame:
        """As :meth:`PublishedTable.display`, codes replaced by their label in ``lang``.

        A difference of shares (``estimate`` of ``practice_change``) reads as a
        percentage like its interval.
        """
        out = super().display(lang)
        names = self.labels.get(lang, {})
        for column in ("item", "outcome"):
            if column in out:
                out[column] = out[column].map(lambda v: names.get(v, v))
        if "estimate" in out:
            shown = self.published["estimate"].notna() & ~self.protected.mask["estimate"]
            values = self.published.loc[shown, "estimate"]
            out.loc[shown, "estimate"] = [percent(float(v), lang, 1) for v in values]
        return out


# -- analyses ---------------------------------------------------------------------------------


def _tools_in(audits: pd.DataFrame, tools: Mapping[str, Any]) -> list[str]:
    """Tools of the registry with every item the audits score (the first such tool first)."""
    scored = set(audits["item"].astype(str).unique())
    return [code for code, tool in tools.items() if scored <= set(tool["items"])]


def _labels(tool: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    entries = {**tool["items"], **tool.get("family_outcomes", {})}
    return {
        lang: {code: str(info["label"][lang]) for code, info in entries.items()}
        for lang in ("en", "nl")
    }


def _team_shares(prepared: pd.DataFrame, registry: Mapping[str, Any], tool: str) -> pd.DataFrame:
    """Files and files met by team, period and item, with an ``All`` row per period and item."""
    by_team = practice.shares(prepared, by=("period", "team"), tool=tool, registry=registry)
    by_team["team"] = by_team["team"].astype(str)
    by_team = distinct_from_overall(by_team, ["team"])  # a team called "All" is not the total
    overall = practice.shares(prepared, by=("period",), tool=tool, registry=registry)
    overall["team"] = OVERALL
    frame = pd.concat([by_team, overall[by_team.columns]], ignore_index=True)
    frame["period"] = frame["period"].astype(str)
    frame["item"] = frame["item"].astype(str)
    return frame.rename(columns={"share": "rate"})


# -- protection -------------------------------------------------------------------------------


def _protect_blocks(
    frame: pd.DataFrame,
    policy: DisclosurePolicy,
    *,
    name: str,
    blocks: list[str],
    group: str,
    total: str,
    part: str,
    rates: Mapping[str, tuple],
) -> SuppressedTable:
    """Protect ``frame`` one block at a time, the ``group`` rows adding up to an ``All`` row.

    Each block (for example one period and item) is one two-way table: ``part``
    and its remainder within a row add up to ``total``, and the rows of the
    block add up to its ``All`` row down the columns, so a withheld count can
    be recovered neither by subtraction within a row nor from the total.
    """
    published, mask, primary = [], [], []
    shown = [*blocks, group, total, part, *_SHARE]
    for _, block in frame.groupby(blocks, sort=False, observed=True):
        block = pd.concat(
            [block[block[group] != OVERALL], block[block[group] == OVERALL]], ignore_index=True
        )
        has_total = bool((block[group] == OVERALL).any())
        protected = protect_frame(
            block[shown],
            policy,
            count_cols=[part],
            base_cols=dict.fromkeys(_SHARE, total),
            numerator_cols=dict.fromkeys(_SHARE, part),
            row_total=total,
            col_total=len(block) - 1 if has_total else None,
            table=name,
            key_columns=[*blocks, group],
            rates=rates,
        )
        published.append(protected.published)
        mask.append(protected.mask)
        primary.append(protected.primary)
    return SuppressedTable(
        published=round_counts(pd.concat(published, ignore_index=True), [total, part], policy),
        mask=pd.concat(mask, ignore_index=True),
        primary=pd.concat(primary, ignore_index=True),
        policy=policy,
    )


def _table(
    name: str,
    protected: SuppressedTable,
    keys: tuple[str, ...],
    counts: tuple[str, ...],
    bases: Mapping[str, str],
    numerators: Mapping[str, str],
    labels: Mapping[str, Mapping[str, str]],
) -> _LabelledTable:
    columns = tuple(c for c in protected.published.columns if c not in keys)
    spec = TableSpec(
        source=name,
        keys=keys,
        columns=columns,
        counts=counts,
        bases=dict(bases),
        numerators=dict(numerators),
        fixed_keys=True,
    )
    return _LabelledTable(name=name, spec=spec, protected=protected, labels=labels)


def _rows(table: SuppressedTable, rows: np.ndarray) -> SuppressedTable:
    """The same protected numbers, only ``rows`` (a boolean mask)."""
    return SuppressedTable(
        published=table.published[rows].reset_index(drop=True),
        mask=table.mask[rows].reset_index(drop=True),
        primary=table.primary[rows].reset_index(drop=True),
        policy=table.policy,
    )


def _simple(
    frame: pd.DataFrame,
    policy: DisclosurePolicy,
    name: str,
    keys: list[str],
    base: str,
    stats: list[str],
) -> SuppressedTable:
    """Protect a table of estimates resting on ``base`` (withheld below the threshold)."""
    frame = frame[[*keys, base, *stats]].reset_index(drop=True)
    protected = protect_frame(
        frame,
        policy,
        count_cols=[base],
        base_cols=dict.fromkeys(stats, base),
        table=name,
        key_columns=keys,
    )
    return SuppressedTable(
        published=round_counts(protected.published, [base], policy),
        mask=protected.mask,
        primary=protected.primary,
        policy=policy,
    )


def _family_table(
    family: pd.DataFrame, policy: DisclosurePolicy, registry: Mapping[str, Any], tool: str
) -> SuppressedTable:
    """Family outcomes by period and arm, with an ``All`` row per period and outcome.

    The arms of a period add up to its ``All`` row (whose cases are about the
    files of the period in ``practice_items``), so each (period, outcome) is
    protected as one table: a small arm is not recoverable as the total minus
    the other arm.
    """
    by_arm = practice.family_outcomes(
        family, by=("period", "trained"), tool=tool, registry=registry
    )
    by_arm["arm"] = np.where(by_arm["trained"].astype(bool), "trained", "untrained")
    overall = practice.family_outcomes(family, by=("period",), tool=tool, registry=registry)
    overall["arm"] = OVERALL
    columns = ["period", "arm", "outcome", "n_cases", "n_yes", "share", "ci_low", "ci_high"]
    frame = pd.concat([by_arm[columns], overall[columns]], ignore_index=True)
    frame["period"] = frame["period"].astype(str)
    frame["outcome"] = frame["outcome"].astype(str)
    return _protect_blocks(
        frame.rename(columns={"share": "rate"}),
        policy,
        name="practice_family",
        blocks=["period", "outcome"],
        group="arm",
        total="n_cases",
        part="n_yes",
        rates=_FAMILY_RATES,
    )


# -- the section ------------------------------------------------------------------------------


def _attempt(notes: list[str], what: str, fn):
    """``fn()``, or ``None`` with a note (``what``: a ``note_what_*`` key) if it fails."""
    try:
        return fn()
    except AnalysisError as exc:
        notes.append(failure_note(what, exc))
        return None


def practice_section(export: Export, policy: DisclosurePolicy) -> PracticeSection:
    """Compute and protect the practice section of a report.

    Parameters
    ----------
    export
        A validated export.
    policy
        The disclosure policy of the report.

    Returns
    -------
    PracticeSection
        Empty (no tables, no figures) when the export has no audits or no
        audit tool of the registry holds the items scored (then with a note).
    """
    if not export.has_audits:
        return PracticeSection()
    registry = export.registries.audit_tools
    audits = export.case_audits
    tools = _tools_in(audits, registry)
    if not tools:
        return PracticeSection(notes=[Note("note_practice_no_tool")])
    tool = tools[0]
    labels = _labels(registry[tool])
    notes: list[str] = []
    prepared = practice.prepare_audits(audits, tool, registry)
    teams = _protect_blocks(
        _team_shares(prepared, registry, tool),
        policy,
        name="practice_teams",
        blocks=["period", "item"],
        group="team",
        total="n_files",
        part="n_met",
        rates=_SHARE_RATES,
    )
    bases = dict.fromkeys(_SHARE, "n_files")
    numerators = dict.fromkeys(_SHARE, "n_met")
    keys = ("period", "item", "team")
    tables: dict[str, PublishedTable] = {}
    overall = (teams.published["team"] == OVERALL).to_numpy()
    items = _rows(teams, overall)
    items = SuppressedTable(
        published=items.published.drop(columns="team"),
        mask=items.mask.drop(columns="team"),
        primary=items.primary.drop(columns="team"),
        policy=policy,
    )
    tables["practice_items"] = _table(
        "practice_items", items, ("period", "item"), ("n_files", "n_met"), bases, numerators, labels
    )
    change = _attempt(
        notes,
        "note_what_practice_change",
        lambda: practice.change(prepared, tool=tool, registry=registry),
    )
    if change is not None:
        change = change.assign(item=change["item"].astype(str))
        stats = ["estimate", "ci_low", "ci_high", "p_value"]
        change[stats[:3]] = change[stats[:3]].round(4)
        protected = _simple(
            change, policy, "practice_change", ["item", "contrast"], "n_files", stats
        )
        tables["practice_change"] = _table(
            "practice_change",
            protected,
            ("item", "contrast"),
            ("n_files",),
            dict.fromkeys(stats, "n_files"),
            {},
            labels,
        )
    agreement = _attempt(
        notes,
        "note_what_practice_agreement",
        lambda: practice.agreement(
            prepared, statistics=(AGREEMENT_STATISTIC,), tool=tool, registry=registry
        ),
    )
    if agreement is not None and len(agreement):
        agreement = agreement.assign(item=agreement["item"].astype(str)).rename(
            columns={"estimate": "kappa", "ci_low": "kappa_ci_low", "ci_high": "kappa_ci_high"}
        )
        stats = ["kappa", "kappa_ci_low", "kappa_ci_high"]
        agreement[stats] = agreement[stats].round(2)
        protected = _simple(agreement, policy, "practice_agreement", ["item"], "n_files", stats)
        tables["practice_agreement"] = _table(
            "practice_agreement",
            protected,
            ("item",),
            ("n_files",),
            dict.fromkeys(stats, "n_files"),
            {},
            labels,
        )
    if len(export.family_outcomes):
        family = _attempt(
            notes,
            "note_what_practice_family",
            lambda: _family_table(export.family_outcomes, policy, registry, tool),
        )
        if family is not None:
            tables["practice_family"] = _table(
                "practice_family",
                family,
                ("period", "outcome", "arm"),
                ("n_cases", "n_yes"),
                dict.fromkeys(_SHARE, "n_cases"),
                dict.fromkeys(_SHARE, "n_yes"),
                labels,
            )
    tables["practice_teams"] = _table(
        "practice_teams", teams, keys, ("n_files", "n_met"), bases, numerators, labels
    )
    withheld: dict[str, Any] = {}
    figures = practice_headlines(tables, tool, withheld)
    return PracticeSection(tables=tables, figures=figures, withheld=withheld, notes=notes)
