"""Reach of the partner and children's services, and the man's completion against his
partner's contact.

The ``services`` table of the contract (``data/schemas/services.yaml``) has one
row per participant and service (``partner_support``, ``womens_service``,
``childrens_service``) with the dates the service was offered, made contact,
was accepted and was engaged with. :func:`~cdanalytics.load_export` reads
it (validated and quarantined with its participant; ``export.services``);
the functions here take it as a DataFrame with the contract's columns (dates
as datetimes), so a table built in memory works too.

Definitions
-----------
Men
    Programme participants who started (comparison rows and non-starters are
    not in the base).
Reached a step
    The step's date is recorded on the man's row for that service (a man
    without a row was not offered the service). The order of the dates is a
    matter for validation, not for these counts.
Partner contacted
    ``contacted`` recorded for ``partner_support`` or ``womens_service``.

References
----------
Ipsos MORI (2016). Evaluation of the Caledonian System (the Women's Service:
contact, acceptance and engagement of 598 women).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from .._dates import day_numbers
from .._groups import group_by
from ..errors import AnalysisError, ConfigError
from ..io.export import Export
from ..io.schema import TableSchema, read_table_schema
from ._family import add_rate, episode_rows, family_docs, grouping, prepared_from
from ._prepare import EngagementData
from .stages import progress_for
from .status import is_potential

__all__ = [
    "PARTNER_SERVICES",
    "SERVICE_STEPS",
    "partner_contact_by_completion",
    "service_reach",
    "services_schema",
]

By = str | Sequence[str] | None
#: Steps of a service, in order (date columns of the services table).
SERVICE_STEPS: tuple[str, ...] = ("offered", "contacted", "accepted", "engaged")
#: Services for the partner or ex-partner.
PARTNER_SERVICES: tuple[str, ...] = ("partner_support", "womens_service")


@cache
def services_schema() -> TableSchema:
    """The ``services`` table of the contract, read from ``services.yaml``.

    Returns
    -------
    TableSchema
        As :func:`cdanalytics.io.schema.table_schema` gives for the other
        tables (which will serve it once the loader lists the table).
    """
    return read_table_schema("services")


def _service_names() -> tuple[str, ...]:
    return services_schema().column("service").allowed or ()


def _check_services(services: pd.DataFrame) -> None:
    if not isinstance(services, pd.DataFrame):
        raise ConfigError(
            f"services must be a DataFrame with the contract's columns, not "
            f"{type(services).__name__}."
        )
    missing = [c for c in ("participant_id", "service", *SERVICE_STEPS) if c not in services]
    if missing:
        raise ConfigError(
            f"The services table lacks column(s) {', '.join(missing)}; see "
            "data/schemas/services.yaml."
        )
    known = _service_names()
    values = services["service"].astype("object")
    bad = sorted({str(v) for v in pd.unique(values.dropna())} - set(known))
    if bad or values.isna().any():
        shown = ", ".join(bad) if bad else "an empty service"
        raise AnalysisError(
            f"services.service holds {shown}; allowed: {', '.join(known)}. Validate the "
            "services table first."
        )


def _step_matrix(services: pd.DataFrame, export: Export, n_episodes: int) -> dict[str, np.ndarray]:
    """``{service: bool array (episodes x steps)}``: step date recorded, per episode row."""
    episode = episode_rows(export, "services", services)
    service = services["service"].astype("str").to_numpy()
    recorded = np.column_stack([~np.isnan(day_numbers(services[step])) for step in SERVICE_STEPS])
    out = {}
    for name in _service_names():
        mine = (service == name) & (episode >= 0)
        matrix = np.zeros((n_episodes, len(SERVICE_STEPS)), dtype=bool)
        np.logical_or.at(matrix, episode[mine], recorded[mine])
        out[name] = matrix
    return out


def _stage_labels(
    export: Export, prepared: EngagementData, progress: pd.DataFrame | None
) -> np.ndarray:
    """Furthest stage(s) each episode progressed through (``none`` when none; NaN for
    non-starters); parallel stages of one order are joined with ``+``.

    The rows of :func:`~cdanalytics.engagement.stage_progress` come sorted by
    episode and stage order, so each episode's furthest order is that of its
    last progressed row; the stages progressed at that order form a bit mask,
    and each distinct (programme, mask) is labelled once.
    """
    progress = progress_for(export, prepared, True, progress)
    rows = progress.attrs["episode_row"]
    labels = np.full(len(prepared.episodes), np.nan, dtype=object)
    labels[rows] = "none"
    done = progress["progressed"].to_numpy()
    if not done.any():
        return labels
    stage_code, stage_names = pd.factorize(progress["stage"])
    programme_code = pd.factorize(progress["programme"])[0]
    row, order = rows[done], progress["order"].to_numpy()[done]
    last = np.r_[row[1:] != row[:-1], True]
    top = np.zeros(len(prepared.episodes), dtype=np.int64)
    top[row[last]] = order[last]
    at_top = order == top[row]
    bits = np.left_shift(1, stage_code[done][at_top]).astype(np.int64)
    n = len(prepared.episodes)
    mask = np.bincount(row[at_top], weights=bits, minlength=n).astype(np.int64)
    people = row[last]
    prog = np.zeros(len(prepared.episodes), dtype=np.int64)
    prog[row] = programme_code[done]
    combo = prog[people] * (int(mask.max()) + 1) + mask[people]
    uniques, inverse = np.unique(combo, return_inverse=True)
    names = np.array(
        [
            "+".join(str(stage_names[j]) for j in range(len(stage_names)) if m >> j & 1)
            for m in uniques % (int(mask.max()) + 1)
        ],
        dtype=object,
    )
    labels[people] = names[inverse]
    return labels


@family_docs
def service_reach(
    services: pd.DataFrame,
    export: Export,
    by: By = "programme",
    *,
    stage: bool = False,
    programmes: Mapping[str, Any] | None = None,
    alpha: float = 0.05,
    prepared: EngagementData | None = None,
    progress: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """How far the partner and children's services reached, per programme (and stage).

    Parameters
    ----------
    {services}
    {export}
    {by}
    stage
        Also group by ``stage_completed``: the furthest programme stage the
        man completed (and every stage before it), ``none``, or parallel
        stages joined with ``+`` (see :mod:`cdanalytics.engagement.stages`).
    {programmes}
    {alpha}
    {prepared}
    {progress}
        Used only with ``stage=True`` (made with ``closed_cases=True``).

    Returns
    -------
    DataFrame
        One row per programme, group and service: ``programme, <by>...,
        [stage_completed,] service, n_men, n_offered, n_contacted,
        n_accepted, n_engaged``, then the proportions of ``n_men`` (the
        service's reach) ``offered``, ``contacted``, ``accepted``,
        ``engaged`` and ``engaged_of_offered`` (n_engaged / n_offered), each
        with ``_ci_low`` / ``_ci_high`` (Wilson).

    Raises
    ------
    ConfigError
        ``services`` lacks a contract column.
    AnalysisError
        Unknown service values, or rows naming participants not in the export.
    """
    _check_services(services)
    prepared = prepared_from(export, programmes, prepared)
    ep = prepared.episodes
    keys = grouping(by, prepared)
    started = ep["started"].to_numpy(dtype=bool)
    steps = _step_matrix(services, export, len(ep))
    base = ep.loc[started, keys].reset_index(drop=True)
    if stage:
        base["stage_completed"] = _stage_labels(export, prepared, progress)[started]
        keys = [*keys, "stage_completed"]
    parts = []
    for name, matrix in steps.items():
        part = base.copy()
        part["service"] = name
        part["n_men"] = 1
        for j, step in enumerate(SERVICE_STEPS):
            part[f"n_{step}"] = matrix[started, j]
        parts.append(part)
    long = pd.concat(parts, ignore_index=True)
    long["service"] = pd.Categorical(long["service"], categories=list(_service_names()))
    counts = ["n_men", *(f"n_{s}" for s in SERVICE_STEPS)]
    out = group_by(long, [*keys, "service"])[counts].sum().astype(np.int64).reset_index()
    for step in SERVICE_STEPS:
        add_rate(out, step, f"n_{step}", "n_men", alpha)
    add_rate(out, "engaged_of_offered", "n_engaged", "n_offered", alpha)
    return out


@family_docs
def partner_contact_by_completion(
    services: pd.DataFrame,
    export: Export,
    by: By = "programme",
    *,
    programmes: Mapping[str, Any] | None = None,
    closed_cases: bool = True,
    alpha: float = 0.05,
    prepared: EngagementData | None = None,
) -> pd.DataFrame:
    """Partner contact among men who completed and men who did not.

    Among potential completers (see
    :func:`cdanalytics.engagement.potential_completers`), the share whose
    partner was contacted by a partner service (:data:`PARTNER_SERVICES`),
    for completers (exit status used ``completed``) and the others, and the
    difference in percentage points with Newcombe's hybrid score interval.
    This describes an association, not an effect of either on the other.

    Parameters
    ----------
    {services}
    {export}
    {by}
    {programmes}
    closed_cases
        Count closed cases as potential completers before their expected end.
    {alpha}
    {prepared}

    Returns
    -------
    DataFrame
        One row per programme and group: ``programme, <by>...,
        n_completers, n_completers_contacted, contact_completers`` (with
        ``_ci_low`` / ``_ci_high``), ``n_others, n_others_contacted,
        contact_others`` (with limits), ``difference_pp`` (completers minus
        others, in percentage points) with ``difference_pp_ci_low`` /
        ``difference_pp_ci_high``.

    References
    ----------
    Newcombe, R. G. (1998). Interval estimation for the difference between
    independent proportions. Statistics in Medicine 17:873-890 (method 10).
    """
    _check_services(services)
    prepared = prepared_from(export, programmes, prepared)
    ep = prepared.episodes
    keys = grouping(by, prepared)
    steps = _step_matrix(services, export, len(ep))
    contacted = np.zeros(len(ep), dtype=bool)
    for name in PARTNER_SERVICES:
        contacted |= steps[name][:, SERVICE_STEPS.index("contacted")]
    potential = ep["started"].to_numpy(dtype=bool) & is_potential(ep, closed_cases)
    completed = (ep["exit_status_used"] == "completed").to_numpy()
    frame = ep.loc[potential, keys].reset_index(drop=True)
    done, reached = completed[potential], contacted[potential]
    frame["n_completers"] = done
    frame["n_completers_contacted"] = done & reached
    frame["n_others"] = ~done
    frame["n_others_contacted"] = ~done & reached
    columns = ["n_completers", "n_completers_contacted", "n_others", "n_others_contacted"]
    out = group_by(frame, keys)[columns].sum().astype(np.int64).reset_index()
    add_rate(out, "contact_completers", "n_completers_contacted", "n_completers", alpha)
    add_rate(out, "contact_others", "n_others_contacted", "n_others", alpha)
    p1, l1, u1 = (out[f"contact_completers{s}"].to_numpy() for s in ("", "_ci_low", "_ci_high"))
    p2, l2, u2 = (out[f"contact_others{s}"].to_numpy() for s in ("", "_ci_low", "_ci_high"))
    diff = p1 - p2
    out["difference_pp"] = 100 * diff
    out["difference_pp_ci_low"] = 100 * (diff - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2))
    out["difference_pp_ci_high"] = 100 * (diff + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))
    return out
