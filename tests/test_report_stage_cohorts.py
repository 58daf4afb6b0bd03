"""The published stage table, recounted from the raw export with plain pandas.

``cdanalytics report data/sample`` publishes ``tables/family_stages.csv``:
for every programme whose registry lists stages, and every stage, the cohort
(``n_potential``) and how many of it entered, completed, reached and
progressed through the stage, with the shares ``completion_of_entered``,
``transition`` and ``through_stage`` and their Wilson intervals. This file
recounts all of it without cdanalytics' engagement code, from
``data/sample/*.csv`` (read with plain pandas), the extract date of its
``manifest.json`` and the programme registry
``cdanalytics/registries/programmes.yaml`` (read with plain YAML), following
the definitions of ``engagement/_prepare.py``, ``engagement/stages.py``,
``report/family.py::_stage_table`` and ``docs/outcomes.md``:

- *programme participants* are the rows whose ``group`` is not
  ``comparison``;
- a programme's *core sequence* is a participant's sessions of the registry's
  ``core`` types, by date, then the types' registry order, then session
  number; the core rule is ``ceil(min_core_share * K)`` attended and, if the
  rule says so, position ``K`` attended;
- a *starter* has a ``start_date``, an attended core session, or a recorded
  exit status ``completed`` / ``dropped_out``; the start is ``start_date``,
  else the first attended core session;
- the *exit status used* is the recorded one, else (for a starter with core
  sessions) ``completed`` if the core rule is met, ``dropped_out`` if the case
  has an ``end_date`` or its expected end (start + expected duration + grace)
  has passed, else ``ongoing``; a case is *closed* with an ``end_date`` or a
  final status (completed, dropped out, excluded, transferred);
- a *potential completer of the programme* is a starter whose expected end is
  on or before the extract date, or whose case is closed (the engagement
  table's ``n_potential``, checked here too);
- a stage's sessions are the participant's sessions of the stage's types, by
  date then session number; *entered*: one attended; *completed*:
  ``ceil(min_share * n)`` attended and, if the rule says so, position ``n``
  attended; *reached*: every stage of every earlier order completed;
  *progressed*: reached and completed;
- the stage's *cohort* is the programme's potential completers who have had
  the time to finish the stage (start + ``potential_after_days`` on or before
  the extract date), or whose case closed without completing, or who
  completed the stage.

Every count published as a number must equal the recount; a count published
as ``<T`` must have a true value below ``T``; ``[c]`` or a blank says nothing.
Every share published must equal the recounted ratio (to 1e-9), and its
interval statsmodels' Wilson interval of the recounted counts. Later stages
(order > 1) must be among what is compared. The reports are the attacker
suite's (``attack_reports``), shared with ``test_report_stages_gate.py``.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from _attack_reports import Reports, disclosure, published
from _report_added_fixtures import read_csv
from statsmodels.stats.proportion import proportion_confint

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
REGISTRY = ROOT / "cdanalytics" / "registries" / "programmes.yaml"

FINAL = ("completed", "dropped_out", "excluded", "transferred")
COUNTS = ("n_potential", "n_entered", "n_completed", "n_reached", "n_progressed")
#: share -> (numerator, base)
SHARES = {
    "completion_of_entered": ("n_completed", "n_entered"),
    "transition": ("n_progressed", "n_reached"),
    "through_stage": ("n_progressed", "n_potential"),
}
#: Thresholds of the reports read (both built by the stage gate test as well);
#: the lower one publishes more of the later stages.
THRESHOLDS = (5, 10)


# --------------------------------------------------------------------------
# The recount: plain pandas on the export's CSV files and the registry YAML
# --------------------------------------------------------------------------


def _needed(share: float, n: int) -> int:
    return math.ceil(round(share * n, 9))


def _people_and_sessions() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Programme participants (one row each) and their sessions."""
    people = pd.read_csv(SAMPLE / "participants.csv", dtype=str)
    people = people[people["group"].fillna("programme") != "comparison"].copy()
    for column in ("start_date", "end_date"):
        people[column] = pd.to_datetime(people[column])
    sessions = pd.read_csv(SAMPLE / "sessions.csv", dtype=str)
    sessions["session_date"] = pd.to_datetime(sessions["session_date"])
    sessions["session_number"] = pd.to_numeric(sessions["session_number"]).fillna(0)
    sessions["attended"] = sessions["attendance"] == "attended"
    sessions = sessions.merge(people[["participant_id", "programme"]], on="participant_id")
    return people.set_index("participant_id"), sessions


def _positions(sessions: pd.DataFrame, sequence: list[str], order: list[str]) -> pd.Series:
    """Position (1, 2, ...) of each session in its ``sequence``, sorted by ``order``."""
    ranked = sessions.sort_values(order, kind="stable")
    return ranked.groupby(sequence).cumcount().add(1).reindex(sessions.index)


def _programme_cohort(
    people: pd.DataFrame, sessions: pd.DataFrame, registry: dict, extract: pd.Timestamp
) -> pd.DataFrame:
    """Per programme participant: started, start, closed, exit status used, potential."""
    core = pd.DataFrame(
        [
            {"programme": p, "session_type": t, "type_rank": rank}
            for p, entry in registry.items()
            for rank, t in enumerate(entry["core"])
        ]
    )
    rules = pd.DataFrame(
        [
            {
                "programme": p,
                "k": sum(e["core"].values()),
                "needed": _needed(e["completion_rule"]["min_core_share"], sum(e["core"].values())),
                "require_last": bool(e["completion_rule"].get("require_last_core")),
                "due_days": e["expected_duration_days"] + e["completion_grace_days"],
            }
            for p, e in registry.items()
        ]
    ).set_index("programme")
    seq = sessions.merge(core, on=["programme", "session_type"])
    seq["position"] = _positions(
        seq, ["participant_id"], ["participant_id", "session_date", "type_rank", "session_number"]
    )
    seq["last"] = seq["position"] == seq["programme"].map(rules["k"])
    attended = seq[seq["attended"]]
    by_person = pd.DataFrame(
        {
            "n_scheduled": seq.groupby("participant_id").size(),
            "n_attended": attended.groupby("participant_id").size(),
            "attended_last": attended.groupby("participant_id")["last"].any(),
            "first_attended": attended.groupby("participant_id")["session_date"].min(),
        }
    ).reindex(people.index)
    n_attended = by_person["n_attended"].fillna(0)
    rule = rules.reindex(people["programme"]).set_axis(people.index)
    rule_met = (n_attended >= rule["needed"]) & (
        by_person["attended_last"].fillna(False).astype(bool) | ~rule["require_last"]
    )
    recorded = people["exit_status"]
    started = (
        people["start_date"].notna()
        | (n_attended > 0)
        | recorded.isin(["completed", "dropped_out"])
    )
    start = people["start_date"].fillna(by_person["first_attended"])
    due = started & (start + pd.to_timedelta(rule["due_days"], unit="D") <= extract)
    derived = pd.Series(
        np.select(
            [by_person["n_scheduled"].isna(), rule_met, people["end_date"].notna() | due],
            [None, "completed", "dropped_out"],
            default="ongoing",
        ),
        index=people.index,
    )
    used = recorded.fillna(derived.where(started))
    closed = started & (people["end_date"].notna() | used.isin(FINAL))
    return pd.DataFrame(
        {
            "programme": people["programme"],
            "started": started,
            "start": start,
            "used": used,
            "closed": closed,
            "potential": started & (due | closed),
        }
    )


def _stages(registry: dict) -> pd.DataFrame:
    """One row per programme and stage of the programmes that list stages."""
    return pd.DataFrame(
        [
            {
                "programme": p,
                "stage": code,
                "order": s["order"],
                "types": tuple(s["sessions"]),
                "n": sum(s["sessions"].values()),
                "needed": _needed(s["completion_rule"]["min_share"], sum(s["sessions"].values())),
                "require_last": bool(s["completion_rule"].get("require_last", False)),
                "after_days": s["potential_after_days"],
            }
            for p, entry in registry.items()
            for code, s in (entry.get("stages") or {}).items()
        ]
    )


def recount() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stage table and the programmes' starters / potential completers, recounted."""
    registry = yaml.safe_load(REGISTRY.read_text(encoding="utf-8"))
    manifest = json.loads((SAMPLE / "manifest.json").read_text(encoding="utf-8"))
    extract = pd.Timestamp(manifest["extract_date"])
    people, sessions = _people_and_sessions()
    cohort = _programme_cohort(people, sessions, registry, extract)
    stages = _stages(registry)

    # each session of a stage type, with its position among the stage's sessions
    stage_of = stages[["programme", "stage", "types"]].explode("types")
    stage_of = stage_of.rename(columns={"types": "session_type"})
    seq = sessions.merge(stage_of, on=["programme", "session_type"])
    seq["position"] = _positions(
        seq,
        ["participant_id", "stage"],
        ["participant_id", "stage", "session_date", "session_number"],
    )
    seq = seq.merge(stages[["programme", "stage", "n"]], on=["programme", "stage"])
    seq["attended_last"] = seq["attended"] & (seq["position"] == seq["n"])
    facts = seq.groupby(["participant_id", "stage"])[["attended", "attended_last"]].sum()

    # every starter x every stage of their programme
    starters = cohort[cohort["started"]].reset_index()
    grid = starters.merge(stages, on="programme")
    grid = grid.join(facts, on=["participant_id", "stage"]).fillna(
        {"attended": 0, "attended_last": 0}
    )
    grid["entered"] = grid["attended"] > 0
    grid["completed"] = (grid["attended"] >= grid["needed"]) & (
        (grid["attended_last"] > 0) | ~grid["require_last"]
    )
    missed = grid.loc[~grid["completed"]].groupby("participant_id")["order"].min()
    first_missed = grid["participant_id"].map(missed).fillna(np.inf)
    grid["reached"] = grid["order"] <= first_missed
    grid["progressed"] = grid["reached"] & grid["completed"]
    had_time = grid["start"] + pd.to_timedelta(grid["after_days"], unit="D") <= extract
    left = grid["closed"] & (grid["used"] != "completed")
    grid["in_cohort"] = grid["potential"] & (had_time | left | grid["completed"])

    counted = grid[grid["in_cohort"]]
    table = pd.DataFrame(
        {
            "n_potential": counted.groupby(["programme", "stage"]).size(),
            **{
                f"n_{what}": counted.groupby(["programme", "stage"])[what].sum()
                for what in ("entered", "completed", "reached", "progressed")
            },
        }
    )
    table = stages.set_index(["programme", "stage"])[["order"]].join(table).fillna(0)
    table = table.astype("int64")
    programmes = cohort.groupby("programme")[["started", "potential"]].sum().astype("int64")
    programmes = programmes.rename(columns={"started": "n_started", "potential": "n_potential"})
    return table, programmes


@pytest.fixture(scope="module")
def mine() -> tuple[pd.DataFrame, pd.DataFrame]:
    return recount()


# --------------------------------------------------------------------------
# Comparing with what the report published
# --------------------------------------------------------------------------

_BELOW = re.compile(r"^<(\d+)$")


def _check_count(cell: str, true: int, what: str) -> str:
    """Assert a published count cell against the true count; how it was compared."""
    below = _BELOW.match(cell)
    if below:
        assert true < int(below.group(1)), f"{what}: published {cell}, recounted {true}"
        return "below"
    if cell in ("", "[c]"):
        return "withheld"
    assert float(cell) == true, f"{what}: published {cell}, recounted {true}"
    return "equal"


def _report(attack_reports: Reports, threshold: int) -> Path:
    return published(
        attack_reports, "sample", disclosure(threshold, "suppression"), "suppression"
    ).folder


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_every_published_stage_count_and_share_is_the_recount(attack_reports, mine, threshold):
    """Counts equal (or, for ``<T``, lie below T); shares and intervals agree."""
    table, programmes = mine
    shown = read_csv(_report(attack_reports, threshold), "family_stages")
    # the export's programmes with more than one stage, every stage once
    sizes = table.groupby(level="programme").size()
    staged = set(sizes.index[sizes > 1]) & set(programmes.index)
    assert sorted(zip(shown["programme"], shown["stage"], strict=True)) == sorted(
        key for key in table.index if key[0] in staged
    )

    compared: list[tuple[int, str]] = []  # (order, how) of every count cell
    n_shares = 0
    for _, row in shown.iterrows():
        true = table.loc[(row["programme"], row["stage"])]
        where = f"threshold {threshold}, {row['programme']}.{row['stage']}"
        for column in COUNTS:
            how = _check_count(row[column], int(true[column]), f"{where}.{column}")
            compared.append((int(true["order"]), how))
        for share, (numerator, base) in SHARES.items():
            if row[share] in ("", "[c]"):
                continue
            k, n = int(true[numerator]), int(true[base])
            assert n > 0, f"{where}.{share} shown on a zero base"
            assert float(row[share]) == pytest.approx(k / n, abs=1e-9), f"{where}.{share}"
            low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
            for bound, value in (("ci_low", low), ("ci_high", high)):
                assert float(row[f"{share}_{bound}"]) == pytest.approx(value, abs=1e-9), (
                    f"{where}.{share}_{bound}"
                )
            n_shares += 1

    checked = [(order, how) for order, how in compared if how != "withheld"]
    assert len(checked) >= 8 and n_shares >= 3  # the table was read, not only its markers
    later = [how for order, how in checked if order > 1]
    assert len(later) >= 2, f"only {len(later)} later-stage counts compared"


def test_later_stages_of_every_programme_with_them_are_compared(attack_reports, mine):
    """Across both reports, each programme with a later stage has one of its counts shown."""
    table, _ = mine
    later = table[table["order"] > 1]
    programmes = set(later.index.get_level_values("programme"))
    assert {"caledonian", "caring_dads"} <= programmes
    seen = set()
    for threshold in THRESHOLDS:
        shown = read_csv(_report(attack_reports, threshold), "family_stages")
        for _, row in shown.iterrows():
            is_later = (row["programme"], row["stage"]) in later.index
            if is_later and any(row[c] not in ("", "[c]") for c in COUNTS):
                seen.add(row["programme"])
    assert seen == programmes


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_the_stage_cohort_rests_on_the_engagement_tables_potential_completers(
    attack_reports, mine, threshold
):
    """The engagement table's starters and potential completers are the recount's too,
    and no stage's cohort is larger than its programme's."""
    table, programmes = mine
    engagement = read_csv(_report(attack_reports, threshold), "engagement")
    engagement = engagement[engagement["programme"] != "All"].set_index("programme")
    assert set(engagement.index) == set(programmes.index)
    hows = []
    for programme, row in engagement.iterrows():
        for column in ("n_started", "n_potential"):
            true = int(programmes.loc[programme, column])
            hows.append(_check_count(row[column], true, f"engagement {programme}.{column}"))
    assert hows.count("equal") >= 5
    per_stage = table["n_potential"].droplevel("stage")
    assert (per_stage <= programmes["n_potential"].reindex(per_stage.index)).all()
