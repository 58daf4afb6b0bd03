"""Compute every outcome of an evaluation report from a validated export.

:func:`compute_outcomes` runs the analyses the evaluation config asks for and
keeps their tidy results, unsuppressed, in one :class:`Outcomes` object. An
analysis that cannot be computed on this export (too few events, no
comparison group) is recorded in ``Outcomes.notes`` with its reason instead of
stopping the report; anything else is a bug and propagates.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import engagement, matching, prepost, reoffending
from .._lookup import codes_in, rows_in
from .._memory import release_free_memory
from ..config import EvaluationConfig, validate_config
from ..errors import AnalysisError, ConfigError, GroupLabelWarning
from ..io.export import Export
from .notes import Note, failure_note

__all__ = ["Outcomes", "Section", "compute_outcomes", "distinct_from_overall", "step_names"]

log = logging.getLogger(__name__)

#: Label of the overall row of a grouped table.
OVERALL = "All"

#: Steps of :func:`compute_outcomes`, in order (for progress bars).
STEPS: tuple[str, ...] = ("engagement", "prepost", "reoffending", "matching")


@dataclass(frozen=True)
class Section:
    """An analysis :func:`compute_outcomes` runs right after one of its steps.

    Attributes
    ----------
    name
        Its step name (given to ``on_step`` when it is done).
    after
        The step of :data:`STEPS` it follows.
    compute
        Adds its results to the :class:`Outcomes` (and may drop a model no
        later step reads).
    """

    name: str
    after: str
    compute: Callable[[Outcomes], None]


@dataclass
class Outcomes:
    """Everything a report shows, before disclosure control.

    Attributes
    ----------
    export
        The export the outcomes come from.
    config
        The validated evaluation config used.
    tables
        Tidy result tables by name: the sources of the published tables
        (:data:`cdanalytics.report.tables.SPECS`), of the figures and of
        ``outcomes.json``. Only what the report shows is computed; the
        notebooks go further (dropout model, log-rank, attrition, mixed
        models).
    models
        Fitted result objects: ``cox`` (without its rows:
        :meth:`~cdanalytics.reoffending.CoxResult.without_rows`; its
        proportional-hazards test is ``tables["cox_ph"]``), ``cumulative``,
        where they could be computed; ``love_plots`` (programme -> the balance and counts tables
        of its matched comparison of all starters, what its love plot draws;
        the matchings themselves are not kept: rerun
        :func:`~cdanalytics.matching.gated_comparison` to look at one);
        ``exit_status``
        (the exit status used for each participant); ``matching_seconds``
        (programme -> seconds its matched comparisons took); ``engagement``
        (the :class:`~cdanalytics.engagement.EngagementData`, prepared once
        and shared with a section after the engagement step; the report lets
        it go once its family section has run); ``person_outcomes`` (the
        :func:`~cdanalytics.reoffending.person_outcomes` table of the
        config's definition, made once and shared; never edit it in place).
    notes
        Analyses that could not be computed, each with its reason: English
        text, a :class:`~cdanalytics.report.notes.Note` that the page words
        in its own language.
    """

    export: Export
    config: EvaluationConfig
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def attempt(self, what: str, fn: Callable[[], Any], **values: Any) -> Any:
        """Run ``fn``; on an :class:`AnalysisError` note why and return ``None``.

        ``what`` is the locale key naming the analysis (``note_what_*``),
        ``values`` its placeholders. The English note reads
        ``"<analysis>: not computed (<the error's message>)"``; in another
        language the reason is worded by the class of the error.
        """
        try:
            return fn()
        except AnalysisError as exc:
            note = failure_note(what, exc, **values)
            self.notes.append(note)
            log.warning("%s not computed: %s", note.placeholders["what"], exc)
            return None


def with_overall(
    fn: Callable[..., pd.DataFrame], groupings: list[str], extra: list[str] | None = None
) -> pd.DataFrame:
    """``fn`` by ``groupings`` (+ ``extra``), followed by its overall rows labelled ``All``.

    The overall rows come from the analysis itself (``by=extra`` or ``None``),
    so rates and medians of the whole cohort are computed, not summed.
    """
    extra = extra or []
    detail = fn([*groupings, *extra])
    overall = fn(extra or None).assign(**dict.fromkeys(groupings, OVERALL))
    detail[groupings] = detail[groupings].astype(str)
    detail = distinct_from_overall(detail, groupings)
    return pd.concat([detail, overall[detail.columns]], ignore_index=True)


def _looks_overall(label: str, suffix: str) -> bool:
    while label.endswith(suffix):
        label = label[: -len(suffix)]
    return label.strip().casefold() == OVERALL.casefold()


def distinct_from_overall(frame: pd.DataFrame, groupings: list[str]) -> pd.DataFrame:
    """``frame`` with group labels that read like the overall row renamed.

    A site or programme literally called ``All`` (or ``all``, `` ALL``) would
    be taken for the overall row: it is shown as ``All (site)``. To keep
    labels distinct, a label that already reads ``All (site)`` becomes
    ``All (site) (site)``, and so on: the renaming is one-to-one, and no
    label of a group equals :data:`OVERALL`. A warning says how many labels
    were renamed. ``frame`` is returned unchanged when none is.
    """
    renamed = 0
    for column in groupings:
        suffix = f" ({column})"
        labels = frame[column].astype(str)
        clash = labels.map(lambda label, s=suffix: _looks_overall(label, s)).astype(bool)
        if clash.any():
            frame = frame.copy() if not renamed else frame
            frame[column] = labels.where(~clash, labels + suffix)
            renamed += int(labels[clash].nunique())
    if renamed:
        warnings.warn(
            f"{renamed} group label(s) read like the overall row {OVERALL!r}; they are"
            " shown with the grouping's name in brackets, e.g. 'All (site)'.",
            GroupLabelWarning,
            stacklevel=2,
        )
    return frame


def engagement_partition(
    flow: pd.DataFrame, completion: pd.DataFrame, dropout: pd.DataFrame, groupings: list[str]
) -> pd.DataFrame:
    """Flow, completion and dropout as one partition of the referrals of each group.

    Every referral falls in exactly one part: not assessed, not eligible,
    not started, started but not yet a potential completer, or, among
    potential completers, completed, dropped out early, dropped out later,
    excluded, or without a clear outcome (transferred, still ongoing). The
    report publishes this one table, so that no withheld count can be
    recovered by subtracting counts of different tables from each other.
    The rates of :func:`engagement.completion` and :func:`engagement.dropout`
    come along as statistics of their parts.
    """
    table = flow.drop(columns="completion_rule").merge(
        completion[
            [
                *groupings,
                "n_potential",
                "n_clear_outcome",
                *engagement.COMPLETION_COLUMNS,
                *engagement.COMPLETION_CLEAR_COLUMNS,
            ]
        ],
        on=groupings,
        validate="one_to_one",
    )
    drop = dropout[
        [
            *groupings,
            "n_dropped_out",
            "n_early_dropout",
            *engagement.DROPOUT_COLUMNS,
            engagement.EARLY_DROPOUT_COLUMNS[0],
        ]
    ]
    table = table.merge(drop, on=groupings, validate="one_to_one")
    table["n_late_dropout"] = table["n_dropped_out"] - table["n_early_dropout"]
    table["n_excluded"] = table["n_clear_outcome"] - table["n_completed"] - table["n_dropped_out"]
    table["n_unclear"] = table["n_potential"] - table["n_clear_outcome"]
    table["n_not_due"] = table["n_started"] - table["n_potential"]
    return table


def _engagement(out: Outcomes) -> None:
    data = engagement.prepare_engagement(out.export)
    out.models["engagement"] = data  # shared with the added sections (prepared once)
    groupings = list(out.config.groupings)
    early = out.config.engagement.early_dropout_before
    t = out.tables
    t["flow"] = with_overall(lambda by: engagement.flow(data, by), groupings)
    t["flow_exits"] = engagement.flow_exits(data)
    t["completion"] = with_overall(lambda by: engagement.completion(data, by), groupings)
    t["dropout"] = with_overall(
        lambda by: engagement.dropout(data, by, early_before=early), groupings
    )
    t["engagement"] = engagement_partition(t["flow"], t["completion"], t["dropout"], groupings)
    t["retention"] = engagement.retention(data, "programme")
    t["attendance"] = with_overall(lambda by: engagement.attendance_summary(data, by), groupings)
    t["waiting_times"] = distinct_from_overall(engagement.waiting_times(data, groupings), groupings)
    t["exit_status_findings"] = engagement.exit_status_disagreements(data)
    # the last episode's status of each participant (two columns, not every one, copied)
    status = data.episodes[["participant_id", "exit_status_used"]]
    status = status.drop_duplicates("participant_id", keep="last")
    out.models["exit_status"] = status.set_index("participant_id")["exit_status_used"]


def _reoffending(out: Outcomes) -> None:
    cfg = out.config.reoffending
    definition = cfg.definition
    people = reoffending.person_outcomes(out.export, definition)
    out.models["person_outcomes"] = people  # shared with the added sections (made once)
    t = out.tables
    t["fixed_window"] = with_overall(
        lambda by: reoffending.fixed_window(people, by), list(out.config.groupings), ["group"]
    )
    cumulative = reoffending.cumulative_reoffending(
        people, "group", horizons_months=list(cfg.horizons_months)
    )
    out.models["cumulative"] = cumulative
    t["km_horizons"] = cumulative.horizons
    t["km_curve"] = cumulative.curve
    has_both = people["group"].astype(str).drop_duplicates().size > 1
    if has_both:
        model = out.attempt(
            "note_what_cox_model",
            lambda: reoffending.cox(people, ["group", *cfg.cox_covariates], missing="drop"),
        )
        if model is not None:
            t["cox"] = model.summary
            t["cox_ph"] = model.proportional_hazards()
            # its per-person rows (0.4 GiB at 10M) are not kept past their last use
            out.models["cox"] = model.without_rows()
    else:
        out.notes.append(Note("note_no_comparison_rows"))


#: The matched comparisons of each programme: intention to treat (all
#: starters, the headline), then completers and non-completers (secondary).
ANALYSES: tuple[str, ...] = ("all_starters", "completers", "non_completers")

#: Exit statuses of the non-completers (a clear outcome other than completion).
NON_COMPLETION = ("dropped_out", "excluded")

#: Reasons an unmatched programme participant has no match -> column of the
#: published matched-comparison table.
_REASON_COLUMNS = {
    "matched": "n_matched",
    "outside_common_support": "n_outside_common_support",
    "no_comparison_within_caliper": "n_no_comparison_within_caliper",
    "comparisons_used_up": "n_comparisons_used_up",
}


def comparison_pool(pools: Mapping[str, Any], programme: str, pool: pd.DataFrame) -> pd.DataFrame:
    """The comparison rows that serve ``programme`` (config ``comparison_pools``).

    A programme the mapping does not name is compared with the one shared
    pool (every comparison row); one it names, with the comparison rows whose
    ``programme`` is one of the listed labels.
    """
    labels = pools.get(programme)
    if labels is None:
        return pool
    labels = [labels] if isinstance(labels, str) else list(labels)
    return pool[pool["programme"].astype(str).isin(labels).to_numpy()]


def _effect_row(code: str, analysis: str, gated: Any) -> dict[str, Any]:
    """One row of the matched-comparison table (before disclosure control)."""
    s = gated.summary.iloc[0]
    coverage = gated.coverage.set_index("reason")["n"]
    row: dict[str, Any] = {
        "programme": code,
        "analysis": analysis,
        "n_treated": int(s["n_treated"]),
        **{column: int(coverage.get(reason, 0)) for reason, column in _REASON_COLUMNS.items()},
        "share_matched": float(s["share_matched"]),
        "n_control": int(s["n_control_matched"]),
        "max_abs_smd_after": float(s["max_abs_smd_after"]),
    }
    effect = gated.effect.summary.iloc[0] if gated.publishable else None
    names = {"ci_low": "difference_ci_low", "ci_high": "difference_ci_high"}
    for column in ("rate_treated", "rate_control", "difference", "ci_low", "ci_high", "p_value"):
        value = float(effect[column]) if effect is not None else float("nan")
        row[names.get(column, column)] = value
    # the reoffenders each rate gives back with its base (for the disclosure gate)
    treated = round(row["rate_treated"] * row["n_matched"]) if effect is not None else 0
    control = round(row["rate_control"] * row["n_control"]) if effect is not None else 0
    row["n_reoffenders_fewest"] = min(treated, control)
    return row


def _exit_status(out: Outcomes) -> pd.Series:
    return out.models.get("exit_status", pd.Series(dtype="string"))


def _matching(out: Outcomes) -> None:
    """A gated matched comparison per programme and analysis (:data:`ANALYSES`).

    Each programme's window-eligible starters (and its completers and
    non-completers) are matched with their own comparison pool
    (:func:`comparison_pool`); :func:`cdanalytics.matching.gated_comparison`
    decides whether the comparison is computed (minimum group size) and
    published (balance). Every decision is kept, with its reason, in
    ``tables["matching_gates"]``; the figures of the matchings that ran in
    ``tables["matched_comparisons"]``.
    """
    cfg = out.config.reoffending.matching
    people = out.models["person_outcomes"]  # made by the reoffending step
    window_eligible = people["window_eligible"].fillna(False).astype(bool).to_numpy()
    # labelled by row of the participants table (people's row order): unique whole
    # numbers, which matching checks and looks up without hashing identifiers.
    # Each table holds only what the matchings read (not the identifiers, programme
    # and dates, copied with every matched comparison otherwise), its columns
    # chosen before its rows: no copy of every column of the eligible rows.
    is_comparison = (people["group"] == "comparison").to_numpy()
    pool_rows = np.flatnonzero(window_eligible & is_comparison)
    starter_rows = np.flatnonzero(
        window_eligible & ~is_comparison & people["start_date"].notna().to_numpy()
    )
    reads = ["group", "reoffended_in_window", *cfg.covariates, *(cfg.exact or ())]
    reads = [c for c in dict.fromkeys(reads) if c in people.columns]
    by_programme = [*reads, "programme"] if cfg.comparison_pools else reads
    pool_all = people[list(dict.fromkeys(by_programme))].take(pool_rows).set_axis(pool_rows)
    starters_read = people[reads].take(starter_rows).set_axis(starter_rows)
    rows_of = out.export.participants
    on_programme = {
        str(p)
        for p in pd.unique(
            rows_of.loc[(rows_of["group"] != "comparison").fillna(True), "programme"]
        )
    }
    present = [p for p in out.export.registries.programmes if p in on_programme]
    if pool_all.empty:
        out.notes.append(Note("note_no_eligible_comparison"))
    status = _exit_status(out)
    known = rows_in(pd.Series(status.index), people["participant_id"].take(starter_rows))
    # each starter's exit and programme, once (not per programme), as codes
    exits = codes_in(pd.Series(status.array), ["completed", *NON_COMPLETION])
    exit_of = np.full(len(known), -1, dtype=exits.dtype)
    exit_of[known >= 0] = exits[known[known >= 0]]
    completed, non_completion = exit_of == 0, exit_of > 0
    del known, exit_of
    programme_of = codes_in(people["programme"].take(starter_rows), present)
    release_free_memory()  # the identifiers' look-up (Arrow's pool), before the matchings
    options = {
        "covariates": list(cfg.covariates),
        "min_treated": cfg.min_treated,
        "balance_flag": cfg.balance_flag,
        "balance_withhold": cfg.balance_withhold,
        "exact": list(cfg.exact) if cfg.exact else None,
        "ratio": cfg.ratio,
        "replace": cfg.replace,
        "caliper": cfg.caliper,
    }
    gates, rows, balance, love_plots = [], [], [], {}
    seconds: dict[str, float] = {}
    pools: dict[Any, pd.DataFrame] = {}  # one copy per distinct pool, shared by programmes
    for place, code in enumerate(present):
        clock = time.perf_counter()
        labels = cfg.comparison_pools.get(code)
        key = (labels,) if labels is None or isinstance(labels, str) else tuple(labels)
        if key not in pools:
            pool = comparison_pool(cfg.comparison_pools, code, pool_all)
            pools[key] = pool if list(pool.columns) == reads else pool[reads]
        pool = pools[key]
        is_mine = programme_of == place
        mine = starters_read[is_mine]
        groups = {
            "all_starters": mine,
            "completers": mine[completed[is_mine]],
            "non_completers": mine[non_completion[is_mine]],
        }
        for analysis in ANALYSES:
            df = pd.concat([groups[analysis], pool])
            gated = matching.gated_comparison(df, "reoffended_in_window", **options)
            gates.append(gated.summary.assign(programme=code, analysis=analysis))
            if gated.match is not None:
                rows.append(_effect_row(code, analysis, gated))
                if analysis == "all_starters":
                    balance.append(gated.balance.assign(programme=code))
                    # what the love plot draws; the whole match (a table of every
                    # person matched) is not kept: at 1M participants it is ~0.35 GiB
                    love_plots[code] = (gated.match.balance, gated.match.counts)
            if gated.status != "computed":
                log.info("matched comparison %s / %s: %s", code, analysis, gated.detail)
            del df, gated  # before the next comparison is made, not after
        seconds[code] = round(time.perf_counter() - clock, 3)
    out.models["love_plots"] = love_plots
    out.models["matching_seconds"] = seconds
    if gates:
        table = pd.concat(gates, ignore_index=True)
        out.tables["matching_gates"] = table[
            [
                "programme",
                "analysis",
                *[c for c in table.columns if c not in ("programme", "analysis")],
            ]
        ]
    if rows:
        out.tables["matched_comparisons"] = pd.DataFrame(rows)
    if balance:
        out.tables["balance_by_programme"] = pd.concat(balance, ignore_index=True)


def _prepost(out: Outcomes) -> None:
    export = out.export
    if export.measures.empty:
        out.notes.append(Note("note_no_scores"))
        return
    t = out.tables
    instruments = export.registries.instruments
    if export.participants["programme"].notna().any():  # each programme's own section
        t["change_by_programme"] = prepost.change(export, by="programme")
        release_free_memory()  # what each analysis freed, before the next allocates
    reliable = reliable_instruments(instruments)
    present = [str(code) for code in pd.unique(export.measures["instrument"].dropna())]
    if any(code in reliable for code in present):
        # Only where the registry gives a reliability: nothing else can be computed
        # (the report says why, by instrument; see report.page.unreliable_scales).
        changes = prepost.reliable_change(export, subset=[c for c in present if c in reliable])
        release_free_memory()
        t["reliable_change_summary"] = prepost.reliable_change_summary(changes)
        del changes
    # last, so that its score table is the one kept for a section after this step
    # (the imputed change asks for the same one)
    t["change"] = prepost.change(export)  # the export's registry (config overrides merged)


def reliable_instruments(instruments: dict[str, Any]) -> list[str]:
    """Instruments whose every scale has a reliability: reliable change is computable."""
    return [
        code
        for code, entry in instruments.items()
        if all(info.get("reliability") is not None for info in entry["scales"].values())
    ]


def compute_outcomes(
    export: Export,
    config: EvaluationConfig | Mapping[str, Any] | None = None,
    *,
    on_step: Callable[[str], None] | None = None,
    sections: Sequence[Section] = (),
) -> Outcomes:
    """Compute every outcome of the report.

    Parameters
    ----------
    export
        A validated export (:func:`cdanalytics.load_export`).
    config
        The evaluation config (:func:`cdanalytics.load_config`; a mapping is
        validated, ``None`` means the defaults). Its registry overrides are
        not read here: the export carries its registries
        (``export.registries``, merged by :func:`cdanalytics.load_export`).
    on_step
        Called with each step's name (:data:`STEPS`, and each section's) when
        it is done, for progress bars.
    sections
        More analyses to run on the outcomes (:class:`Section`), each right
        after the step it names, so that what only it reads can be let go
        before the next step allocates. The pre/post step's score tables
        (:func:`cdanalytics.prepost.release_score_tables`) are kept for the
        sections after it, then let go.

    Returns
    -------
    Outcomes
        The unsuppressed tables and fitted models.
    """
    step_names(sections)  # a section after a step that does not exist: refused first
    out = Outcomes(export=export, config=validate_config(config))
    done = on_step or (lambda _step: None)
    for step in STEPS:
        _STEP_RUNS[step](out)
        done(step)
        for section in sections:
            if section.after == step:
                section.compute(out)
                done(section.name)
        # no later step asks for a score table this one (or its sections) made: it
        # goes, with what they freed, before the next step allocates
        prepost.release_score_tables(export)
        release_free_memory()
    return out


#: What each step of :data:`STEPS` runs. Pre/post comes before the reoffending
#: steps: its score tables come and go before their person-level tables are made
#: (a lower peak; the results are independent).
_STEP_RUNS: dict[str, Callable[[Outcomes], None]] = {
    "engagement": _engagement,
    "prepost": _prepost,
    "reoffending": _reoffending,
    "matching": _matching,
}


def step_names(sections: Sequence[Section] = ()) -> tuple[str, ...]:
    """What :func:`compute_outcomes` reports to ``on_step``, in the order it runs:
    each step of :data:`STEPS`, then the ``sections`` that follow it.

    Raises
    ------
    ConfigError
        A section follows a step that is not one of :data:`STEPS`.

    Examples
    --------
    >>> step_names([Section("family", "engagement", print)])
    ('engagement', 'family', 'prepost', 'reoffending', 'matching')
    """
    unknown = {s.after for s in sections} - set(STEPS)
    if unknown:
        raise ConfigError(f"sections run after one of {', '.join(STEPS)}, not {sorted(unknown)}.")
    return tuple(
        name for step in STEPS for name in (step, *(s.name for s in sections if s.after == step))
    )
