"""Per-participant engagement facts: core session sequence, attendance, exit status.

Everything the engagement outcomes need is derived once per export, one row
per programme participant, by :func:`prepare_engagement`; the outcome
functions only group and count that frame.

Definitions
-----------
Core session sequence
    All of a participant's sessions whose ``session_type`` is a core type of
    the programme in the registry (``core:``; review sessions are never core),
    ordered by ``session_date``, then by the order of the types in the
    registry, then by ``session_number``. Position 1 is the participant's
    first core session. For mixed programmes (BORG: 12 group + 3 individual;
    Caledonian: 14 individual + 25 group) the sequence interleaves the types
    by date. For rolling-entry programmes a participant who joins a running
    group part-way still has positions 1..K in their own sequence, whatever
    the group's session numbers were. The registry's K (the sum of ``core``)
    is the length of a complete sequence and position K is "the last core
    session" of the completion rule.
Completion rule
    At least ``ceil(min_core_share * K)`` core sessions attended and, when
    ``require_last_core``, position K attended
    (:func:`cdanalytics.registry.completion_rule_text` states it in words).
Started
    A ``start_date`` is recorded, or a core session was attended, or the
    recorded exit status is ``completed`` or ``dropped_out``. The start used
    is ``start_date``, else the date of the first attended core session.
Derived exit status
    ``excluded`` (not started and found not eligible), ``not_started`` (not
    started), missing (started but no core session recorded: attendance
    cannot tell), ``completed`` (the completion rule is met), ``dropped_out``
    (rule not met and the case is closed by an ``end_date`` or the expected
    end, start + ``expected_duration_days`` + ``completion_grace_days``, is on
    or before the extract date), else ``ongoing``. The status used is the
    recorded ``exit_status`` where present, else the derived one; a recorded
    status is never overwritten (see :func:`exit_status_disagreements`).
Potential completer
    A starter whose expected end is on or before the extract date
    (``due_by_extract``) or, unless the caller says otherwise, whose case is
    closed (``case_closed``: an ``end_date`` or a final exit status:
    completed, dropped_out, excluded, transferred), after the Caledonian
    evaluation (Ipsos MORI 2016).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from .._dates import day_numbers
from .._lookup import index_type, rows_in
from ..errors import AnalysisError, ConfigError
from ..io.export import Export
from ..io.schema import contract_values
from ..registry import core_session_count, core_sessions_needed
from ._features import _session_features
from ._sessions import _SESSION_TYPES, _codes

__all__ = [
    "CLEAR_OUTCOMES",
    "EXIT_STATUSES",
    "FINAL_STATUSES",
    "STAGES",
    "EngagementData",
    "prepare_engagement",
]

#: Exit statuses of the export contract, in this order in every output.
EXIT_STATUSES: tuple[str, ...] = contract_values("participants", "exit_status")
#: Statuses that close a case.
FINAL_STATUSES: tuple[str, ...] = ("completed", "dropped_out", "excluded", "transferred")
#: Statuses that are a clear outcome of a started episode (transfers are not).
CLEAR_OUTCOMES: tuple[str, ...] = ("completed", "dropped_out", "excluded")
#: Steps of the referral-to-completion flow.
STAGES: tuple[str, ...] = ("referred", "assessed", "eligible", "started", "completed")

#: Parameters the engagement functions share, with their descriptions.
PARAMETER_DOCS: dict[str, str] = {
    "data": "Export or prepared engagement data.",
    "by": "Grouping column(s), or None.",
    "programmes": "Registry overrides (only with an Export).",
    "closed_cases": "Count closed cases as potential completers before their expected end "
    "(see :func:`~cdanalytics.engagement.potential_completers`).",
    "alpha": "1 - confidence level of the intervals.",
}
_Function = TypeVar("_Function", bound=Callable[..., Any])


def parameter_docs(docs: Mapping[str, str]) -> Callable[[_Function], _Function]:
    """A decorator writing each docstring line that holds only ``{name}`` out as
    the entry of parameter ``name`` in ``docs`` (as pandas' ``@doc`` does)."""

    def entry(line: re.Match) -> str:
        indent, name = line.group(1), line.group(2)
        return f"{indent}{name}\n{indent}    {docs[name]}"

    def decorate(func: _Function) -> _Function:
        func.__doc__ = re.sub(r"^( *)\{(\w+)\}$", entry, func.__doc__ or "", flags=re.MULTILINE)
        return func

    return decorate


#: Fills in the entries of :data:`PARAMETER_DOCS` in the engagement outcomes.
shared_parameters = parameter_docs(PARAMETER_DOCS)


@dataclass(frozen=True)
class EngagementData:
    """An export prepared for the engagement outcomes.

    Every outcome function accepts either an :class:`~cdanalytics.io.export.Export`
    or this object; prepare once with :func:`prepare_engagement` to compute
    several outcomes of a large export without repeating the per-session work.

    Attributes
    ----------
    episodes
        One row per programme participant (comparison rows are left out): every
        column of ``participants`` plus the derived columns listed in
        :func:`prepare_engagement`.
    registry
        The programme registry used (with the caller's overrides).
    extract_date
        End of observation.
    """

    episodes: pd.DataFrame
    registry: dict[str, dict[str, Any]]
    extract_date: pd.Timestamp

    def __repr__(self) -> str:
        """Shape and key figures, never the table: episodes, programmes, extract date."""
        programmes = ""
        if "programme" in self.episodes.columns:
            counts = self.episodes["programme"].value_counts().head(4)
            more = ", ..." if self.episodes["programme"].nunique() > 4 else ""
            programmes = (
                " (" + ", ".join(f"{n:,} {str(p)[:20]}" for p, n in counts.items()) + more + ")"
            )
        extract = pd.Timestamp(self.extract_date).date().isoformat()
        return (
            f"<cdanalytics.EngagementData: {len(self.episodes):,} programme episodes"
            f"{programmes} x {self.episodes.shape[1]} columns, extract {extract};"
            f" {len(self.registry)} programmes in the registry>"
        )

    def rule_texts(self) -> dict[str, str]:
        """Completion rule in words for each programme in the registry."""
        return {code: entry["completion_rule"]["text"] for code, entry in self.registry.items()}


def as_engagement_data(
    data: Export | EngagementData, programmes: Mapping[str, Any] | None
) -> EngagementData:
    """Return ``data`` prepared; prepare an :class:`Export` with ``programmes``."""
    if isinstance(data, EngagementData):
        if programmes is not None:
            raise ConfigError(
                "programmes= was given with already prepared engagement data; pass the "
                "registry overrides to prepare_engagement instead."
            )
        return data
    if isinstance(data, Export):
        return prepare_engagement(data, programmes)
    raise ConfigError(
        f"Expected an Export or EngagementData, got {type(data).__name__}; load the export "
        "with cdanalytics.io.load_export first."
    )


def contract_column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A contract column, or an all-missing one when an in-memory frame lacks it."""
    if name in frame.columns:
        return frame[name]
    return pd.Series(pd.NA, index=frame.index, dtype="object")


def _participant_index(ids: pd.Series, session_ids: pd.Series) -> np.ndarray:
    """Row position in ``ids`` of each session's participant (-1 if unknown), both
    compared as text."""
    if not ids.is_unique:
        raise AnalysisError(
            "participant_id is not unique in participants; each programme episode needs its "
            "own identifier. Validate the export with `cdanalytics validate` first."
        )
    return rows_in(ids.astype("str"), session_ids.astype("str"))


def _known_rows(rows: np.ndarray, what: str) -> np.ndarray:
    """``rows`` (the participant row of each row of a table) when every one
    names a participant; else the error naming ``what`` ("session rows")."""
    if rows.min(initial=0) < 0:
        raise AnalysisError(
            f"{int((rows < 0).sum())} {what} name participants that are not in the "
            "participants table. Validate the export with `cdanalytics validate` first."
        )
    return rows


def _episode_of(people: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Whether each participant is in the programme group (a missing group is the
    programme's; compared as codes where the column is categorical) and his row
    among the programme participants, the prepared episodes (-1: comparison), in
    int32 when that holds every participant."""
    comparison = contract_column(people, "group") == "comparison"
    is_programme = ~comparison.to_numpy(dtype=bool, na_value=False)
    index = index_type(len(people))
    episode = np.where(is_programme, np.cumsum(is_programme, dtype=index) - 1, -1)
    return is_programme, episode.astype(index, copy=False)


def _programme_table(programme: pd.Series, registry: Mapping[str, Any]) -> pd.DataFrame:
    """Registry figures per programme code present in ``programme``."""
    present = sorted(map(str, programme.dropna().unique()))
    unknown = [code for code in present if code not in registry]
    if unknown:
        raise ConfigError(
            f"Programme(s) {', '.join(unknown)} are not in the programme registry; "
            "register them under `programmes:` in the evaluation config."
        )
    rows = []
    for code in present:
        entry = registry[code]
        rows.append(
            {
                "programme": code,
                "n_core_sessions": core_session_count(entry),
                "n_core_needed": core_sessions_needed(entry),
                "require_last_core": bool(entry["completion_rule"].get("require_last_core")),
                "due_days": int(entry["expected_duration_days"])
                + int(entry["completion_grace_days"]),
                "core_types": tuple(entry["core"]),
            }
        )
    columns = ["programme", "n_core_sessions", "n_core_needed", "require_last_core"]
    return pd.DataFrame(rows, columns=[*columns, "due_days", "core_types"]).set_index("programme")


def _quarter_labels(dates: pd.Series) -> pd.Categorical:
    """Ordered ``YYYYQn`` labels of dates (missing where the date is)."""
    dates = pd.to_datetime(dates)
    key = (dates.dt.year * 4 + dates.dt.quarter - 1).to_numpy(dtype=float, na_value=np.nan)
    valid = ~np.isnan(key)
    levels = np.unique(key[valid]).astype(np.int64)
    codes = np.full(len(key), -1, dtype=np.int64)
    codes[valid] = np.searchsorted(levels, key[valid].astype(np.int64))
    labels = [f"{k // 4}Q{k % 4 + 1}" for k in levels]
    return pd.Categorical.from_codes(codes, categories=labels, ordered=True)


def _status(codes: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=list(EXIT_STATUSES))


def prepare_engagement(
    export: Export, programmes: Mapping[str, Any] | None = None
) -> EngagementData:
    """Derive the per-participant engagement facts of an export.

    Parameters
    ----------
    export
        A loaded, validated export.
    programmes
        Programme registry overrides (see
        :func:`cdanalytics.registry.programme_registry`), merged over the
        export's own registry (``export.registries``, which already holds the
        evaluation config's overrides).

    Returns
    -------
    EngagementData
        ``episodes`` has one row per programme participant (``group`` other
        than ``comparison``): all participant columns, then

        - ``referral_quarter``: ``YYYYQn`` of ``referral_date`` (ordered category);
        - ``n_core_sessions``, ``n_core_needed``: K and the attendances the rule needs;
        - ``n_core_scheduled``, ``n_core_attended``, ``n_core_excused``,
          ``n_core_unexcused``: core sessions in the participant's sequence so far;
        - ``last_core_attended``: position of the last attended core session (0: none);
        - ``attended_last_core``: position K attended;
        - ``longest_absence_run``: most consecutive core sessions missed;
        - ``rule_met``: the completion rule is met;
        - ``started``, ``start`` (date used), ``expected_end`` (start +
          expected_duration_days + completion_grace_days), ``due_by_extract``,
          ``case_closed``;
        - ``exit_status_recorded``, ``exit_status_derived``, ``exit_status_used``,
          ``exit_status_source`` (``recorded`` or ``derived``);
        - ``stage_reached``: last flow step reached (ordered category of
          referred, assessed, eligible, started, completed);
        - ``wait_days`` (referral to start), ``duration_days`` (start to end).

    Raises
    ------
    ConfigError
        A programme in the export is not in the registry.
    AnalysisError
        Sessions name unknown participants, identifiers are not unique, or an
        enumerated column holds a value outside the contract.
    """
    registry = export.registries.with_overrides(programmes=programmes).programmes
    people = export.participants
    is_programme, episode = _episode_of(people)
    ep = people.loc[is_programme].reset_index(drop=True)

    table = _programme_table(ep["programme"], registry)
    prog = np.asarray(
        pd.Categorical(ep["programme"].astype("object"), categories=table.index).codes
    )
    if (prog < 0).any():
        raise AnalysisError(
            f"{int((prog < 0).sum())} programme rows have no programme; every participant "
            "needs a programme code. Validate the export with `cdanalytics validate` first."
        )
    k = table["n_core_sessions"].to_numpy(dtype=np.int64)[prog]
    core_rank = np.full((len(table), len(_SESSION_TYPES)), -1, dtype=np.int64)
    for row, types in enumerate(table["core_types"]):
        for rank, session_type in enumerate(types):
            core_rank[row, _SESSION_TYPES.index(session_type)] = rank

    sessions = export.sessions
    # hashed once, by the load (int32)
    all_rows = _known_rows(export.participant_rows("sessions"), "session rows")
    pidx = episode[all_rows]  # each session's episode row (-1: comparison): one gather
    features = _session_features(sessions, pidx, prog, core_rank, k)

    needed = table["n_core_needed"].to_numpy(dtype=np.int64)[prog]
    require_last = table["require_last_core"].to_numpy(dtype=bool)[prog]
    rule_met = (features["n_core_attended"] >= needed) & (
        features["attended_last_core"] | ~require_last
    )
    recorded = _codes(contract_column(ep, "exit_status"), EXIT_STATUSES, "participants.exit_status")
    start_day = day_numbers(contract_column(ep, "start_date"))
    end_day = day_numbers(contract_column(ep, "end_date"))
    start_day = np.where(np.isnan(start_day), features["first_attended_day"], start_day)
    started = (
        ~np.isnan(start_day)
        | (features["n_core_attended"] > 0)
        | np.isin(recorded, [EXIT_STATUSES.index(s) for s in ("completed", "dropped_out")])
    )
    expected_end = start_day + table["due_days"].to_numpy(dtype=np.int64)[prog]
    extract_day = day_numbers(pd.Series([export.extract_date]))[0]
    due = expected_end <= extract_day
    eligible = contract_column(ep, "eligible").astype("boolean")
    not_eligible = np.asarray(eligible.eq(False).fillna(False), dtype=bool)
    derived = np.select(
        [
            ~started & not_eligible,
            ~started,
            features["n_core_scheduled"] == 0,
            rule_met,
            ~np.isnan(end_day) | due,
        ],
        [EXIT_STATUSES.index(s) for s in ("excluded", "not_started")]
        + [-1]
        + [EXIT_STATUSES.index(s) for s in ("completed", "dropped_out")],
        default=EXIT_STATUSES.index("ongoing"),
    )
    used = np.where(recorded >= 0, recorded, derived)
    closed = ~np.isnan(end_day) | np.isin(used, [EXIT_STATUSES.index(s) for s in FINAL_STATUSES])

    assessed = contract_column(ep, "assessed").astype("boolean")
    reached_started = started
    reached_eligible = np.asarray(eligible.fillna(False), dtype=bool) | reached_started
    reached_assessed = np.asarray(assessed.fillna(eligible.notna()), dtype=bool) | reached_eligible
    completed = started & (used == EXIT_STATUSES.index("completed"))
    stage = reached_assessed.astype(np.int64) + reached_eligible + reached_started + completed
    referral_day = day_numbers(contract_column(ep, "referral_date"))

    derived_cols = {
        "referral_quarter": _quarter_labels(contract_column(ep, "referral_date")),
        "n_core_sessions": k,
        "n_core_needed": needed,
        **{
            name: features[name]
            for name in (
                "n_core_scheduled",
                "n_core_attended",
                "n_core_excused",
                "n_core_unexcused",
                "last_core_attended",
                "attended_last_core",
                "longest_absence_run",
            )
        },
        "rule_met": rule_met,
        "started": started,
        "start": pd.to_datetime(start_day, unit="D"),
        "expected_end": pd.to_datetime(expected_end, unit="D"),
        "due_by_extract": started & due,
        "case_closed": started & closed,
        "exit_status_recorded": _status(recorded),
        "exit_status_derived": _status(derived),
        "exit_status_used": _status(used),
        "exit_status_source": pd.Categorical.from_codes(
            np.where(recorded >= 0, 0, np.where(derived >= 0, 1, -1)),
            categories=["recorded", "derived"],
        ),
        "stage_reached": pd.Categorical.from_codes(stage, categories=list(STAGES), ordered=True),
        "wait_days": np.where(started, start_day - referral_day, np.nan),
        "duration_days": np.where(started, end_day - start_day, np.nan),
    }
    clash = sorted(set(derived_cols) & set(ep.columns))
    if clash:
        raise ConfigError(
            f"participants has column(s) {', '.join(clash)} that engagement analyses derive; "
            "rename them in the export or its mapping file."
        )
    # the derived arrays are fresh and held nowhere else: taken over as they are,
    # not stacked into one copy per type (0.7 GiB at 10M participants)
    derived = pd.DataFrame(derived_cols, index=ep.index, copy=False)
    episodes = pd.concat([ep, derived], axis=1)
    return EngagementData(episodes=episodes, registry=registry, extract_date=export.extract_date)
