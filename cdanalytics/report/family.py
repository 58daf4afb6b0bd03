"""The report's programme-structure and family section (issue 13).

Shown only when the export has the data:

- **stage completion** for programmes whose registry entry lists stages
  (Caledonian System: pre-group, group, maintenance), with a stage funnel
  figure (:func:`cdanalytics.charts.stage_funnel_chart`);
- **review attendance and timing** and the **evaluation meeting** outcome
  for programmes with review sessions (Caring Dads);
- **what partners and children report**: pre/post change, per programme, of
  the questionnaires answered by a partner or a child (the measures'
  ``informant``), beside **what the records show** (the fixed-window
  reoffending table).

Every published number passes the gate (:mod:`.gated`): each stage's
potential completers are split into six parts (reached the stage or not x
completed it / entered without completing / did not enter), so entered,
completed, reached and progressed are sums of parts and are withheld with
any part they add up; review attendance is a part of the men due; evaluation
outcomes partition the men due; services' steps are parts of the men who
started; and the partner and child change is a view of the per-programme
change table (``change_by_programme``), protected there together with the
all-programmes change table: this section publishes no new number for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import engagement
from .._groups import group_by
from .._memory import release_free_memory
from ..charts.stages import stage_funnel_chart
from ..disclosure import DisclosurePolicy, SuppressedTable
from ..engagement.stages import per_stage_row, programme_codes
from ..engagement.status import is_potential
from ..i18n import label
from .compute import Outcomes
from .family_specs import (
    CONTACT,
    CONTACT_SPEC,
    REVIEW_SPEC,
    SERVICE_SPEC,
    STAGE_CELLS,
    STAGE_SPEC,
    STEPS,
    evaluation_spec,
)
from .figures import Figure, render_figure
from .gated import publish_gated, rates, withhold_rows
from .linked import protect_beside
from .notes import Note
from .published import PROGRAMME_CHANGE_STATS, PublishedTable, Withheld, headline

__all__ = ["FAMILY_INFORMANTS", "TABLES", "add_headlines", "compute", "context", "draw", "publish"]

#: The section's published tables.
TABLES: tuple[str, ...] = (
    "family_stages",
    "family_reviews",
    "family_evaluation",
    "family_services",
    "family_partner_contact",
    "family_change",
)

#: Informants whose questionnaires are "what partners and children report".
FAMILY_INFORMANTS: tuple[str, ...] = ("partner", "child")


def _staged(prepared: engagement.EngagementData) -> list[str]:
    """Programmes of the export whose registry lists more than one stage."""
    present = programme_codes(prepared.episodes["programme"])[0]
    return [
        str(p)
        for p in present
        if len((prepared.registry.get(str(p)) or {}).get("stages") or ()) > 1
    ]


def _stage_table(export: Any, prepared: engagement.EngagementData) -> pd.DataFrame:
    """Stage completion among the programme's potential completers.

    The cohort of each stage is the engagement table's potential completers
    (:func:`cdanalytics.engagement.completion`) who have had the time to
    finish the stage or have finished it: one cohort per programme, as in the
    Caledonian evaluation's funnel, nested in the engagement table's, so that
    the two tables do not differ by a small group of recent starters (the gate
    protects them together all the same, :func:`.linked.protect_beside`).
    """
    progress = engagement.stage_progress(export, prepared=prepared)
    ep = prepared.episodes
    programme = ep["started"].to_numpy(dtype=bool) & is_potential(ep, closed_cases=True)
    attrs = dict(progress.attrs)
    stage = progress["potential_completer"].to_numpy() | progress["completed"].to_numpy()
    progress = progress.assign(potential_completer=stage & programme[attrs["episode_row"]])
    progress.attrs.update(attrs)
    rates = engagement.stage_completion(export, "programme", prepared=prepared, progress=progress)
    potential = progress["potential_completer"].to_numpy()
    reached = progress["reached"].to_numpy()
    done = progress["completed"].to_numpy()
    entered = progress["entered"].to_numpy()
    marks = {"reached": reached, "other": ~reached}
    states = {"completed": done, "entered_only": entered & ~done, "not_entered": ~entered & ~done}
    flags = {cell: potential & marks[r] & states[s] for cell, (r, s) in STAGE_CELLS.items()}
    counted = per_stage_row(progress, flags)
    if counted is not None:  # one row per programme and stage, with its counts
        first, flags = counted
        progress = progress.iloc[first].reset_index(drop=True)
    frame = pd.DataFrame(
        {"programme": progress["programme"].astype(str).to_numpy(), "stage": progress["stage"]}
    )
    for cell, flag in flags.items():
        frame[cell] = flag
    cells = group_by(frame, ["programme", "stage"])[list(STAGE_CELLS)].sum().reset_index()
    cells = cells.astype({c: np.int64 for c in STAGE_CELLS})
    rates = rates.assign(programme=rates["programme"].astype(str))
    table = rates.merge(cells, on=["programme", "stage"], how="left", validate="one_to_one")
    table = table.sort_values(["programme", "order"], kind="stable").reset_index(drop=True)
    return table


def compute(out: Outcomes) -> None:
    """Add the family section's result tables (``family_*``) to ``out.tables``."""
    export = out.export
    prepared = out.models.get("engagement")  # prepared once, by compute_outcomes
    if prepared is None:
        prepared = engagement.prepare_engagement(export)
    staged = _staged(prepared)
    t = out.tables
    if staged:
        stages = _stage_table(export, prepared)
        t["family_stages"] = stages[stages["programme"].isin(staged)].reset_index(drop=True)
        release_free_memory()  # the stage sequences' memory, before the review facts'
    facts = engagement.review_facts(export, prepared=prepared)  # once, for both tables
    reviews = engagement.review_attendance(export, "programme", prepared=prepared, facts=facts)
    if len(reviews) and int(reviews["n_due"].sum()) > 0:
        t["family_reviews"] = reviews.assign(programme=reviews["programme"].astype(str))
    if "evaluation_outcome" in export.participants.columns:
        meeting = engagement.evaluation_outcomes(
            export, "programme", prepared=prepared, facts=facts
        )
        if len(meeting):
            t["family_evaluation"] = meeting.assign(programme=meeting["programme"].astype(str))
    services = export.services
    if services is not None and not services.empty:
        reach = engagement.service_reach(services, export, "programme", prepared=prepared)
        reach = reach[reach["n_offered"].to_numpy() > 0]
        steps = reach[[f"n_{s}" for s in ("men", *STEPS)]].to_numpy()
        nested = bool((np.diff(steps, axis=1) <= 0).all())  # each step within the one before
        if len(reach) and nested:
            t["family_services"] = reach.assign(
                programme=reach["programme"].astype(str), service=reach["service"].astype(str)
            ).reset_index(drop=True)
        elif len(reach):
            out.notes.append(Note("note_family_services_not_nested"))
        contact = engagement.partner_contact_by_completion(
            services, export, "programme", prepared=prepared
        )
        contact = contact.assign(
            programme=contact["programme"].astype(str),
            n_potential=contact["n_completers"] + contact["n_others"],
        )
        contact = contact[contact["n_potential"].to_numpy() > 0].reset_index(drop=True)
        if len(contact):
            t["family_partner_contact"] = contact


def _evaluation_wide(meeting: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    outcomes = [str(o) for o in meeting["evaluation_outcome"].cat.categories]
    wide = meeting.pivot_table(
        index="programme", columns="evaluation_outcome", values="n", aggfunc="sum", observed=False
    ).reindex(columns=outcomes, fill_value=0)
    wide = wide.fillna(0).astype(np.int64)
    wide.columns = [f"n_{o}" for o in outcomes]
    wide["n_due"] = wide.sum(axis=1)
    for o in outcomes:
        wide[f"share_{o}"] = wide[f"n_{o}"] / wide["n_due"].where(wide["n_due"] > 0)
    return wide.reset_index(), outcomes


def _protect_every_review(
    table: PublishedTable, reviews: pd.DataFrame, policy: DisclosurePolicy
) -> None:
    """Withhold the ``all`` row where it would give a small count away with the others.

    Beside the men who attended review k, the men who attended every review
    give away those who attended review k but missed another; with two
    reviews, also those who attended neither (due - attended 1 - attended 2
    + attended both). The ``all`` row is withheld when one of these is small.
    """
    frame = reviews.reset_index(drop=True)
    published = table.published
    hide = np.zeros(len(frame), dtype=bool)
    for _, rows in frame.groupby("programme", sort=False):
        every = rows[rows["review"] == "all"]
        single = rows[rows["review"] != "all"]
        if every.empty:
            continue
        both = int(every["n_attended"].iloc[0])
        shown = published.loc[single.index, "n_attended"].notna().to_numpy()
        derived = [int(n) - both for n in single.loc[shown, "n_attended"]]
        if len(single) == 2 and shown.all():
            due = int(every["n_due"].iloc[0])
            derived.append(due - int(single["n_attended"].sum()) + both)
        if policy.is_small(np.array(derived, dtype=np.int64)).any():
            hide[every.index] = True
    if hide.any():
        withhold_rows(table, hide, ["n_attended"])


def _reports_of_partners_and_children(by_programme: PublishedTable) -> PublishedTable | None:
    """The rows of the per-programme change table answered by a partner or a child.

    A view of the protected table (no new number): the programmes' counts are
    protected there together with the all-programmes change table.
    """
    frame = by_programme.published
    rows = frame["informant"].astype(str).isin(FAMILY_INFORMANTS).to_numpy()
    if not rows.any():
        return None
    protected = by_programme.protected
    return PublishedTable(
        name="family_change",
        spec=by_programme.spec,
        protected=SuppressedTable(
            **{
                part: getattr(protected, part).loc[rows].reset_index(drop=True)
                for part in ("published", "mask", "primary")
            },
            policy=protected.policy,
        ),
    )


def publish(
    out: Outcomes, policy: DisclosurePolicy, published: Mapping[str, PublishedTable]
) -> dict[str, PublishedTable]:
    """The family section's tables, protected by the gate."""
    t = out.tables
    added: dict[str, PublishedTable] = {}
    if "family_stages" in t:
        stages = publish_gated("family_stages", t["family_stages"], STAGE_SPEC, policy)
        protect_beside(published, stages, policy)  # stage and programme potential completers
        added["family_stages"] = stages
    if "family_reviews" in t:
        reviews = t["family_reviews"].assign(review=lambda df: df["review"].astype(str))
        table = publish_gated("family_reviews", reviews, REVIEW_SPEC, policy)
        _protect_every_review(table, reviews, policy)
        added["family_reviews"] = table
    if "family_evaluation" in t:
        wide, outcomes = _evaluation_wide(t["family_evaluation"])
        added["family_evaluation"] = publish_gated(
            "family_evaluation", wide, evaluation_spec(outcomes), policy
        )
    if "family_services" in t:
        added["family_services"] = publish_gated(
            "family_services", t["family_services"], SERVICE_SPEC, policy
        )
    if "family_partner_contact" in t:
        table = publish_gated(
            "family_partner_contact", t["family_partner_contact"], CONTACT_SPEC, policy
        )
        # the difference of the two shares gives either back from the other
        mask = table.protected.mask
        rows = mask[[*CONTACT, "n_completers_contacted", "n_others_contacted"]].any(axis=1)
        withhold_rows(table, rows.to_numpy(), list(CONTACT_SPEC.columns[-3:]))
        added["family_partner_contact"] = table
    by_programme = published.get("change_by_programme")
    if by_programme is not None:
        table = _reports_of_partners_and_children(by_programme)
        if table is not None:
            added["family_change"] = table
    return added


def add_headlines(
    outcomes: dict[str, Any], out: Outcomes, published: Mapping[str, PublishedTable]
) -> None:
    """Add the ``family`` key to ``outcomes`` (``outcomes.json``) and its withheld figures."""
    withheld = Withheld()
    section: dict[str, Any] = {}
    stages = published.get("family_stages")
    if stages is not None:
        columns = {
            c: c
            for c in stages.spec.columns
            if not c.endswith(("_ci_low", "_ci_high")) or c.startswith(("transition", "through"))
        }
        names = stages.published[["programme", "stage"]]
        section["stages"] = _nested(stages, names, columns, "family.stages", withheld)
    reviews = published.get("family_reviews")
    if reviews is not None:
        columns = {c: c for c in ("n_due", "n_attended", *rates("attended"), "days_median")}
        names = reviews.published[["programme", "review"]]
        section["reviews"] = _nested(reviews, names, columns, "family.reviews", withheld)
    meeting = published.get("family_evaluation")
    if meeting is not None:
        columns = {c: c for c in meeting.spec.columns}
        section["evaluation_outcomes"] = _nested(
            meeting,
            meeting.published[["programme"]],
            columns,
            "family.evaluation_outcomes",
            withheld,
        )
    services = published.get("family_services")
    if services is not None:
        columns = {c: c for c in services.spec.columns}
        names = services.published[["programme", "service"]]
        section["services"] = _nested(services, names, columns, "family.services", withheld)
    contact = published.get("family_partner_contact")
    if contact is not None:
        columns = {c: c for c in contact.spec.columns}
        names = contact.published[["programme"]]
        section["partner_contact"] = _nested(
            contact, names, columns, "family.partner_contact", withheld
        )
    change = published.get("family_change")
    if change is not None:
        frame = change.published
        names = pd.DataFrame(
            {
                "programme": frame["programme"].astype(str),
                "measure": frame[["instrument", "scale", "informant"]]
                .astype(str)
                .agg(".".join, axis=1),
            }
        )
        columns = {c: c for c in ("n_paired", *PROGRAMME_CHANGE_STATS) if c in frame}
        section["partner_child_change"] = _nested(
            change, names, columns, "family.partner_child_change", withheld
        )
    if section:
        outcomes["family"] = section
        outcomes.setdefault("withheld", {}).update(withheld)


def _nested(
    table: PublishedTable,
    keys: pd.DataFrame,
    columns: Mapping[str, str],
    path: str,
    withheld: Withheld,
) -> dict[str, Any]:
    """Figures of every row of ``table``, nested by the row's ``keys`` (one level each)."""
    section: dict[str, Any] = {}
    for i, row in keys.astype(str).iterrows():
        where = section
        names = list(row)
        for name in names[:-1]:
            where = where.setdefault(name, {})
        where[names[-1]] = headline(table, i, columns, ".".join([path, *names]), withheld)
    return section


def draw(
    out: Outcomes, published: Mapping[str, PublishedTable], lang: str, *, png: bool = False
) -> list[Figure]:
    """The stage funnel figure of each programme with stages (from the published table)."""
    stages = published.get("family_stages")
    if stages is None:
        return []
    figures = []
    source = out.tables["family_stages"]
    frame = stages.published.copy()
    where = pd.MultiIndex.from_frame(frame[["programme", "stage"]].astype(str))
    extra = source.set_index(["programme", "stage"]).reindex(where)
    # the chart reads the columns between programme and order as groups: none here
    frame.insert(1, "order", extra["order"].to_numpy())
    frame.insert(3, "name_en", extra["name_en"].to_numpy())
    frame.insert(4, "name_nl", extra["name_nl"].to_numpy())
    for programme, rows in frame.groupby("programme", sort=False):
        shown = rows[rows[["through_stage", "n_potential", "n_progressed"]].notna().all(axis=1)]
        if shown.empty:
            continue
        shown = shown.astype({"n_potential": "int64", "n_progressed": "int64"})
        ax = stage_funnel_chart(shown.reset_index(drop=True), lang=lang)
        figures.append(render_figure(f"stage_funnel_{programme}", "family", ax, lang, png))
    return figures


def context(out: Outcomes, published: Mapping[str, PublishedTable], lang: str) -> dict[str, Any]:
    """What the family partial of the template shows."""
    programmes = out.export.registries.programmes
    stages = published.get("family_stages")
    funnels = []
    if stages is not None:
        for programme in pd.unique(stages.published["programme"].astype(str)):
            name = (programmes.get(programme) or {}).get("name", {}).get(lang, programme)
            alt = label("alt_stage_funnel", lang, programme=name)
            funnels.append({"name": f"stage_funnel_{programme}", "alt": alt, "programme": name})
    return {
        "shown": any(n in published for n in TABLES),
        "funnels": funnels,
        "has_change": "family_change" in published,
        "has_records": "fixed_window" in published,
    }
