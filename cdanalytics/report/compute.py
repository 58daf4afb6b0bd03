"""Compute every outcome of an evaluation report from a validated export.

:func:`compute_outcomes` runs the analyses the evaluation config asks for and
keeps their tidy results, unsuppressed, in one :class:`Outcomes` object. An
analysis that cannot be computed on this export (too few events, no
comparison group) is recorded in ``Outcomes.notes`` with its reason instead of
stopping the report; anything else is a bug and propagates.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .. import engagement, matching, prepost, reoffending
from ..config import EvaluationConfig, validate_config
from ..errors import AnalysisError, GroupLabelWarning
from ..io.export import Export

__all__ = ["Outcomes", "compute_outcomes", "distinct_from_overall"]

log = logging.getLogger(__name__)

#: Label of the overall row of a grouped table.
OVERALL = "All"

#: Steps of :func:`compute_outcomes`, in order (for progress bars).
STEPS: tuple[str, ...] = ("engagement", "reoffending", "matching", "prepost")


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
        Fitted result objects: ``cox``, ``match``, ``matched_effect``,
        ``matched_cox``, ``cumulative``, where they could be computed.
    notes
        Analyses that could not be computed, each with its reason.
    """

    export: Export
    config: EvaluationConfig
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def attempt(self, what: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn``; on an :class:`AnalysisError` note why and return ``None``."""
        try:
            return fn()
        except AnalysisError as exc:
            self.notes.append(f"{what}: not computed ({exc})")
            log.warning("%s not computed: %s", what, exc)
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
    rates = {
        "rate": "completion_rate",
        "ci_low": "completion_ci_low",
        "ci_high": "completion_ci_high",
        "rate_clear": "completion_rate_clear",
        "ci_low_clear": "completion_ci_low_clear",
        "ci_high_clear": "completion_ci_high_clear",
    }
    table = flow.drop(columns="completion_rule").merge(
        completion[[*groupings, "n_potential", "n_clear_outcome", *rates]].rename(columns=rates),
        on=groupings,
        validate="one_to_one",
    )
    drop = dropout[
        [*groupings, "n_dropped_out", "n_early_dropout", "rate", "ci_low", "ci_high", "early_rate"]
    ].rename(
        columns={
            "rate": "dropout_rate",
            "ci_low": "dropout_ci_low",
            "ci_high": "dropout_ci_high",
            "early_rate": "early_dropout_rate",
        }
    )
    table = table.merge(drop, on=groupings, validate="one_to_one")
    table["n_late_dropout"] = table["n_dropped_out"] - table["n_early_dropout"]
    table["n_excluded"] = table["n_clear_outcome"] - table["n_completed"] - table["n_dropped_out"]
    table["n_unclear"] = table["n_potential"] - table["n_clear_outcome"]
    table["n_not_due"] = table["n_started"] - table["n_potential"]
    return table


def _engagement(out: Outcomes) -> None:
    data = engagement.prepare_engagement(out.export)
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


def _reoffending(out: Outcomes) -> pd.DataFrame:
    cfg = out.config.reoffending
    definition = cfg.definition
    people = reoffending.person_outcomes(out.export, definition)
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
            "Cox model",
            lambda: reoffending.cox(people, ["group", *cfg.cox_covariates], missing="drop"),
        )
        if model is not None:
            out.models["cox"] = model
            t["cox"] = model.summary
            t["cox_ph"] = model.proportional_hazards()
    else:
        out.notes.append("Comparison with a comparison group: the export has no comparison rows.")
    return people


def _matching(out: Outcomes, people: pd.DataFrame) -> None:
    cfg = out.config.reoffending.matching
    eligible = people[people["window_eligible"].fillna(False).astype(bool)]
    if eligible["group"].nunique() < 2:
        out.notes.append("Matched comparison: no comparison people eligible for the window.")
        return
    result = out.attempt(
        "Matched comparison group",
        lambda: matching.match(
            eligible.set_index("participant_id"),
            covariates=list(cfg.covariates),
            exact=list(cfg.exact) if cfg.exact else None,
            ratio=cfg.ratio,
            replace=cfg.replace,
            caliper=cfg.caliper,
        ),
    )
    if result is None:
        return
    window = out.config.reoffending.window_months
    out.models["match"] = result
    out.tables["balance"] = result.balance
    out.tables["match_counts"] = result.counts
    out.tables["propensity"] = result.scores
    effect = out.attempt(
        "Matched difference in reoffending",
        lambda: matching.matched_effect(
            result, "reoffended_in_window", label=f"proven reoffending within {window} months"
        ),
    )
    if effect is not None:
        out.models["matched_effect"] = effect
        out.tables["matched_effect"] = effect.summary
    hazard = out.attempt("Matched Cox model", lambda: matching.matched_cox(result))
    if hazard is not None:
        out.models["matched_cox"] = hazard
        out.tables["matched_cox"] = hazard.summary


def _prepost(out: Outcomes) -> None:
    export = out.export
    if export.measures.empty:
        out.notes.append("Pre/post change: the export has no questionnaire scores.")
        return
    t = out.tables
    instruments = export.registries.instruments
    t["change"] = prepost.change(export, registry=instruments)
    reliable = reliable_instruments(instruments)
    present = export.measures["instrument"].astype(str).unique()
    if any(code in reliable for code in present):
        # Only where the registry gives a reliability: nothing else can be computed
        # (the report says why, by instrument; see report.page.unreliable_scales).
        changes = prepost.reliable_change(
            export, registry=instruments, instruments=[c for c in present if c in reliable]
        )
        t["reliable_change_summary"] = prepost.reliable_change_summary(changes)


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
        Called with each step's name (:data:`STEPS`) when it is done, for
        progress bars.

    Returns
    -------
    Outcomes
        The unsuppressed tables and fitted models.
    """
    out = Outcomes(export=export, config=validate_config(config))
    done = on_step or (lambda _step: None)
    _engagement(out)
    done("engagement")
    people = _reoffending(out)
    done("reoffending")
    _matching(out, people)
    done("matching")
    _prepost(out)
    done("prepost")
    return out
