"""The report's added methods (issue 15): missing questionnaires, dose, seriousness, case mix.

- **Completers and imputed** pre/post change side by side
  (:func:`cdanalytics.prepost.change` with ``missing="impute"``, ``m`` =
  :data:`IMPUTATIONS`, seed :data:`SEED`). The completers' change is the
  headline (see :data:`HEADLINE`); the imputed change is its check.
- **Landmark** dose-response (:func:`cdanalytics.reoffending.landmark`):
  reoffending from :data:`LANDMARK_DAYS` after the index date by sessions
  attended before it. Shown only when every attendance band has at least
  the disclosure threshold of men at risk *and* of reoffences after the
  landmark (:data:`LANDMARK_RULE`); otherwise a note says which band falls
  short.
- **Seriousness and custody** variants of the fixed-window rate, when the
  events carry ``seriousness`` / ``disposal``.
- **Case mix**: observed against expected reoffending per site (when the
  export has more than one) and per referral quarter
  (:func:`cdanalytics.compare.casemix_comparison`), with a funnel plot and a
  cohort trend chart.

Every published number passes the gate (:mod:`.gated`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from .. import charts, compare, prepost, reoffending
from .._memory import release_free_memory
from ..disclosure import DisclosurePolicy
from ..errors import AnalysisError
from ..i18n import label, number
from .compute import OVERALL, Outcomes
from .figures import Figure, render_figure
from .gated import publish_gated, withhold_rows
from .methods_headlines import add_headlines
from .methods_specs import (
    COMPLETERS,
    HEADLINE,
    IMPUTATIONS,
    IMPUTED,
    LANDMARK_BANDS,
    LANDMARK_DAYS,
    LANDMARK_RULE,
    LANDMARK_SPEC,
    MISSING_SPEC,
    SEED,
    VARIANT_SPEC,
    VARIANTS,
    casemix_spec,
    landmark_shown,
)
from .notes import Note
from .published import PublishedTable

__all__ = [
    "HEADLINE",
    "IMPUTATIONS",
    "LANDMARK_BANDS",
    "LANDMARK_DAYS",
    "LANDMARK_RULE",
    "SEED",
    "add_headlines",
    "compute",
    "compute_imputed",
    "context",
    "draw",
    "publish",
]


def compute_imputed(out: Outcomes) -> None:
    """Add the imputed pre/post change (``prepost_missing``) to ``out.tables``.

    Run right after the pre/post step (:func:`~cdanalytics.report.compute_outcomes`
    ``sections``), it reads the score table that step made instead of making
    it again.
    """
    export = out.export
    completers = out.tables.get("change")
    if export.measures.empty or completers is None or completers.empty:
        return
    imputed = out.attempt(
        "note_what_imputed_change",
        lambda: prepost.change(
            export,
            registry=export.registries.instruments,
            missing="impute",
            m=IMPUTATIONS,
            seed=SEED,
        ),
    )
    if imputed is None:
        return
    keys = ["instrument", "scale", "informant"]
    left = completers[[*keys, "n_paired", "mean_change", "change_ci_low", "change_ci_high"]]
    right = imputed[
        [*keys, "n_analysed", "n_imputed", "mean_change", "change_ci_low", "change_ci_high", "fmi"]
    ]
    table = left.merge(right, on=keys, suffixes=("_completers", "_imputed"), validate="1:1")
    table = table.rename(
        columns={
            "change_ci_low_completers": "ci_low_completers",
            "change_ci_high_completers": "ci_high_completers",
            "change_ci_low_imputed": "ci_low_imputed",
            "change_ci_high_imputed": "ci_high_imputed",
        }
    )
    out.tables["prepost_missing"] = table
    out.models["imputation"] = imputed.attrs.get("imputation", {})


def _bands(sessions: pd.Series) -> pd.Categorical:
    bounds = list(LANDMARK_BANDS)
    labels = [f"{a}" if b == a + 1 else f"{a}-{b - 1}" for a, b in pairwise(bounds)]
    labels.append(f"{bounds[-1]}+")
    position = np.searchsorted(bounds, sessions.to_numpy(), "right") - 1
    return pd.Categorical.from_codes(position, categories=labels, ordered=True)


def _is_programme(group: pd.Series) -> np.ndarray:
    """Rows of the programme group (``group.astype(str) == "programme"``, compared
    without making a string per row)."""
    return (group == "programme").to_numpy(dtype=bool, na_value=False)


def _landmark(out: Outcomes, people: pd.DataFrame) -> None:
    # only what the landmark model reads: the analysis keeps its cohort (for the
    # bands), and every other column of a million people would be held with it
    needed = ["participant_id", "index_date", "in_cohort", "duration_days", "event"]
    programme = people.loc[_is_programme(people["group"]), needed]
    if programme.empty or out.export.sessions.empty:
        return
    result = out.attempt(
        "note_what_landmark",
        lambda: reoffending.landmark(programme, sessions=out.export, landmark_days=LANDMARK_DAYS),
    )
    if result is None:
        return
    cohort = result.cohort
    frame = pd.DataFrame(
        {
            "sessions_band": _bands(cohort[reoffending.ATTENDANCE_TERM]),
            "n_at_risk": 1,
            "n_reoffended": cohort["event"].astype(bool).to_numpy(),
        }
    )
    bands = frame.groupby("sessions_band", observed=True)[["n_at_risk", "n_reoffended"]].sum()
    out.tables["landmark_bands"] = bands.astype(np.int64).reset_index()
    # what the report reads of it later: the Cox summary, not its per-person rows
    out.models["landmark"] = dataclasses.replace(result, cox=result.cox.without_rows())


def _variants(out: Outcomes, people: pd.DataFrame) -> None:
    events = out.export.events
    definition = out.config.reoffending.definition
    frames = []
    for name, (fields, column, needed) in VARIANTS.items():
        if column not in events.columns or not events[column].isin(needed).any():
            continue
        if any(getattr(definition, k) is not None for k in fields):
            continue  # the main measure already selects on it
        variant = dataclasses.replace(definition, **fields)
        table = reoffending.person_outcomes(out.export, variant)
        window = reoffending.fixed_window(table, ["group"])
        frames.append(window.assign(variant=name))
    if frames:
        table = pd.concat(frames, ignore_index=True)
        table["group"] = table["group"].astype(str)
        out.tables["reoffending_variants"] = table.rename(
            columns={"ci_low": "rate_ci_low", "ci_high": "rate_ci_high"}
        )


def _people(out: Outcomes) -> pd.DataFrame:
    """The person-level outcomes of the config's definition, shared with the main
    sections (``out.models["person_outcomes"]``), made here only when absent."""
    people = out.models.get("person_outcomes")
    if people is None:
        people = reoffending.person_outcomes(out.export, out.config.reoffending.definition)
    return people


def _casemix(out: Outcomes, people: pd.DataFrame) -> None:
    participants = out.export.participants
    definition = out.config.reoffending.definition
    model = out.attempt(
        "note_what_casemix_model", lambda: compare.casemix_model(people, definition=definition)
    )
    if model is None:
        return
    units = ["referral_quarter"]
    if "site" in participants.columns and (
        len(pd.unique(participants["site"][_is_programme(participants["group"])].dropna())) > 1
    ):
        units.insert(0, "site")
    for unit in units:
        result = out.attempt(
            "note_what_casemix_comparison",
            lambda u=unit: compare.casemix_comparison(model, u),
            unit=Note(unit, unit),
        )
        if result is None:
            continue
        table = result.table.rename(columns={"n": "n_people", "observed": "n_observed"})
        table[unit] = table[unit].astype(str)
        out.tables[f"casemix_{unit}"] = table
        out.models[f"casemix_{unit}"] = result


def compute(out: Outcomes) -> None:
    """Add the tables of the other added methods to ``out.tables`` (and their
    models): the landmark analysis, the reoffending variants and case mix."""
    people = _people(out)
    for analysis in (_landmark, _variants, _casemix):
        analysis(out, people)
        release_free_memory()


def _protect_against_main(
    table: PublishedTable,
    variants: pd.DataFrame,
    window: pd.DataFrame | None,
    out: Outcomes,
    policy: DisclosurePolicy,
) -> None:
    """Withhold a variant's reoffenders when the main measure's give a small count away.

    The main measure's reoffenders of a group (the overall rows of the
    fixed-window table) minus a variant's are the men who reoffended only
    without a serious offence, or without custody: withheld when small.
    """
    if window is None:
        return
    first = out.config.groupings[0]
    overall = window[window[first].astype(str) == OVERALL]
    main = overall.set_index(overall["group"].astype(str))["n_reoffenders"]
    frame = variants.reset_index(drop=True)
    rest = main.reindex(frame["group"].astype(str)).to_numpy(dtype=float) - frame["n_reoffenders"]
    hide = policy.is_small(np.nan_to_num(rest.to_numpy(dtype=float)).astype(np.int64))
    if hide.any():
        withhold_rows(table, hide, ["n_reoffenders"])


#: Columns of ``prepost_missing`` that repeat a cell of the published ``change`` table.
_FROM_CHANGE = {
    "n_paired": "n_paired",
    "n_imputed": "n_pre_only",
    COMPLETERS[0]: "mean_change",
    COMPLETERS[1]: "change_ci_low",
    COMPLETERS[2]: "change_ci_high",
}


def _follow_change(
    table: PublishedTable, raw: pd.DataFrame, main: PublishedTable, policy: DisclosurePolicy
) -> None:
    """Make ``prepost_missing`` repeat the published ``change`` table, never re-decide it.

    The completers' columns and ``n_imputed`` are cells of the ``change``
    table (its ``n_paired``, ``mean_change``, CI and ``n_pre_only``): each is
    shown exactly as that table shows it, or withheld where it is withheld, so
    no number is shown in one table and withheld in the other. ``n_analysed``
    is ``n_paired + n_imputed``: withheld, with the imputed estimate resting
    on it, whenever either part is (a sum beside one withheld part gives the
    part away). When both parts are shown, so is the sum (without rounding or
    noise it is their sum exactly; otherwise it is the gate's protected value,
    or withheld where the gate withheld it) and the imputed estimate with it.
    """
    keys = ["instrument", "scale", "informant"]
    protected = table.protected
    published, mask, primary = protected.published, protected.mask, protected.primary

    def _align(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        mine = published[keys].astype(str).agg("|".join, axis=1)
        theirs = frame[keys].astype(str).agg("|".join, axis=1)
        where = pd.Index(theirs).get_indexer(mine)
        return np.where(where >= 0, where, 0), where >= 0

    rows, found = _align(main.published)
    source = main.protected
    for column, theirs_col in _FROM_CHANGE.items():
        values = source.published[theirs_col].to_numpy()[rows]
        hidden = source.mask[theirs_col].to_numpy(dtype=bool)[rows] | ~found
        if column.startswith("n_"):
            shown = pd.Series(pd.array(values, dtype="Int64"), index=published.index)
        else:
            shown = pd.Series(values, index=published.index, dtype=float)
        published[column] = shown.mask(hidden)
        mask[column] = hidden
        primary[column] = source.primary[theirs_col].to_numpy(dtype=bool)[rows] & found
    either = mask["n_paired"].to_numpy(dtype=bool) | mask["n_imputed"].to_numpy(dtype=bool)
    exact = policy.method == "suppression" and policy.round_to is None
    if exact:  # both parts shown: so is their sum (nothing more than the two parts)
        published["n_analysed"] = (published["n_paired"] + published["n_imputed"]).astype("Int64")
        mask["n_analysed"] = either
        primary["n_analysed"] = False
    else:
        hide = either & ~mask["n_analysed"].to_numpy(dtype=bool)
        published.loc[hide, "n_analysed"] = pd.NA
        mask.loc[hide, "n_analysed"] = True
    # the imputed estimate is shown exactly where its base n_analysed is
    rows, found = _align(raw)
    base = mask["n_analysed"].to_numpy(dtype=bool) | ~found
    for column in IMPUTED:
        values = pd.Series(raw[column].to_numpy(dtype=float)[rows], index=published.index)
        published[column] = values.mask(base)
        mask[column] = base
        primary[column] = False


def publish(
    out: Outcomes, policy: DisclosurePolicy, published: Mapping[str, PublishedTable]
) -> dict[str, PublishedTable]:
    """The added methods' tables, protected by the gate."""
    t = out.tables
    added: dict[str, PublishedTable] = {}
    if "prepost_missing" in t:
        table = publish_gated("prepost_missing", t["prepost_missing"], MISSING_SPEC, policy)
        main = published.get("change")
        if main is not None:
            _follow_change(table, t["prepost_missing"], main, policy)
        added["prepost_missing"] = table
    if "landmark_bands" in t:
        added["landmark_bands"] = publish_gated(
            "landmark_bands", t["landmark_bands"], LANDMARK_SPEC, policy
        )
    if "reoffending_variants" in t:
        table = publish_gated(
            "reoffending_variants", t["reoffending_variants"], VARIANT_SPEC, policy
        )
        _protect_against_main(table, t["reoffending_variants"], t.get("fixed_window"), out, policy)
        added["reoffending_variants"] = table
    for unit in ("site", "referral_quarter"):
        name = f"casemix_{unit}"
        if name in t:
            frame = t[name].astype({"outside_95": float, "outside_998": float})
            added[name] = publish_gated(name, frame, casemix_spec(unit), policy)
    return added


def draw(
    out: Outcomes, published: Mapping[str, PublishedTable], lang: str, *, png: bool = False
) -> list[Figure]:
    """Funnel plot by site and cohort trend by referral quarter, from the published tables."""
    figures = []
    plans = []
    site = published.get("casemix_site")
    if site is not None:
        model = out.models["casemix_site"]
        phi = max(model.phi, 1.0) if model.overdispersed else 1.0
        plans.append(
            ("casemix_funnel", site, "site", lambda f: charts.funnel_plot(f, phi=phi, lang=lang))
        )
    quarter = published.get("casemix_referral_quarter")
    if quarter is not None:
        plans.append(
            (
                "casemix_trend",
                quarter,
                "referral_quarter",
                lambda f: charts.cohort_trend_chart(f, lang=lang),
            )
        )
    for name, table, unit, plot in plans:
        frame = table.published.rename(columns={"n_people": "n", "n_observed": "observed"})
        frame = frame.astype({c: float for c in frame.columns if c != unit})
        frame["outside_95"] = frame["outside_95"] == 1
        frame["outside_998"] = frame["outside_998"] == 1
        if not np.isfinite(frame["oe_ratio"].to_numpy()).any():
            continue
        try:
            ax = plot(frame)
        except AnalysisError:
            continue
        figures.append(render_figure(name, "methods_extra", ax, lang, png))
    return figures


def context(out: Outcomes, published: Mapping[str, PublishedTable], lang: str) -> dict[str, Any]:
    """What the added-methods partial of the template shows."""
    policy = out.config.disclosure
    landmark = None
    if "landmark" in out.models and "landmark_bands" in published:
        if landmark_shown(out, policy):
            row = out.models["landmark"].cox.summary.iloc[0]
            landmark = label(
                "landmark_result",
                lang,
                days=LANDMARK_DAYS,
                hr=number(float(row["hazard_ratio"]), lang, 3),
                low=number(float(row["ci_low"]), lang, 3),
                high=number(float(row["ci_high"]), lang, 3),
            )
        else:
            landmark = label("landmark_not_shown", lang, threshold=policy.threshold)
    return {
        "shown": any(
            n in published
            for n in (
                "prepost_missing",
                "landmark_bands",
                "reoffending_variants",
                "casemix_site",
                "casemix_referral_quarter",
            )
        ),
        "missing_text": label("methods_missing_headline", lang, m=IMPUTATIONS, seed=SEED),
        "landmark_rule": label(
            "landmark_rule", lang, days=LANDMARK_DAYS, threshold=policy.threshold
        ),
        "landmark": landmark,
        "alt": {
            "casemix_funnel": label("alt_casemix_funnel", lang),
            "casemix_trend": label("alt_casemix_trend", lang),
        },
    }
