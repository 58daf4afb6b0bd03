"""Programme stages: the registry entries, stage completion, and whole-programme completion.

The hand fixture (tests/_stage_fixtures.py) registers ``tri``, a three-stage
programme, through overrides:

- stage ``a``: 2 individual sessions (days 0 and 7 after the start), both to
  be attended; potential completer 14 days after the start;
- stage ``b``: 3 group sessions (days 14, 21, 28), 2 attended including the
  last; potential completer after 35 days;
- stage ``c``: 1 review session (day 56), attended; after 70 days.

Attendance patterns are written ``a|b|c`` (A attended, E excused, U
unexcused, ``-`` no session). Extract date 2024-06-30. Every expected figure
below was counted by hand from the table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _stage_fixtures import TRI, _stage, hand_export

from cdanalytics import engagement as eng
from cdanalytics._stats import wilson_ci
from cdanalytics.errors import ConfigError
from cdanalytics.io.export import Export
from cdanalytics.registry import core_session_count, core_sessions_needed, programme_registry
from cdanalytics.stages import stage_table


@pytest.fixture(scope="module")
def export() -> Export:
    return hand_export()


def one(frame: pd.DataFrame, **where) -> pd.Series:
    mask = np.ones(len(frame), dtype=bool)
    for key, value in where.items():
        mask &= (frame[key] == value).to_numpy()
    assert mask.sum() == 1, where
    return frame.loc[mask].iloc[0]


# -- the registry --------------------------------------------------------------------------


def test_registry_lists_the_issue_stages_and_keeps_core_keys():
    reg = programme_registry()
    table = stage_table(reg)
    cal = table[table["programme"] == "caledonian"]
    assert list(cal["stage"]) == ["pre_group", "group", "maintenance"]
    assert list(cal["n_sessions"]) == [14, 25, 12]
    assert list(cal["order"]) == [1, 2, 3]
    borg = table[table["programme"] == "borg"]
    assert sorted(borg["stage"]) == ["group", "individual"]
    assert set(borg["order"]) == {1}  # parallel strands
    dads = table[table["programme"] == "caring_dads"].set_index("stage")
    assert dads.loc["group", "n_sessions"] == 17 and dads.loc["review", "n_sessions"] == 2
    assert bool(dads.loc["review", "required"]) is False
    # the older keys are untouched
    assert core_session_count(reg["caledonian"]) == 39
    assert core_sessions_needed(reg["caledonian"]) == 32
    assert reg["caring_dads"]["review"]["count"] == 2
    assert all(isinstance(n, str) and n for n in table["name_nl"])


def test_a_site_overrides_one_stage_value_like_any_registry_value():
    reg = programme_registry({"caledonian": {"stages": {"group": {"sessions": {"group": 20}}}}})
    table = stage_table(reg).set_index(["programme", "stage"])
    assert table.loc[("caledonian", "group"), "n_sessions"] == 20
    assert table.loc[("caledonian", "group"), "n_needed"] == 16
    assert table.loc[("caledonian", "pre_group"), "n_sessions"] == 14


def test_a_programme_without_stages_has_one_core_stage_from_its_rule():
    table = stage_table(programme_registry()).set_index(["programme", "stage"])
    row = table.loc[("carrousel", "core")]
    assert row["n_sessions"] == 8 and row["n_needed"] == 6 and not row["require_last"]
    assert row["potential_after_days"] == 90 + 30


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"order": 0}, "programmes.caledonian.stages.group.order"),
        ({"sessions": {"group": -1}}, "programmes.caledonian.stages.group.sessions"),
        ({"completion_rule": {"min_share": 1.5}}, "stages.group.completion_rule"),
        ({"potential_after_days": "soon"}, "stages.group.potential_after_days"),
        ({"name": {"en": "Group", "nl": None}}, "stages.group.name"),
        ({"required": "yes"}, "stages.group.required"),
        ({"colour": "red"}, "programmes.caledonian.stages.group has unknown key(s) colour"),
    ],
)
def test_a_malformed_stage_is_refused_naming_its_key(change, key):
    with pytest.raises(ConfigError, match=key.replace("(", r"\(").replace(")", r"\)")):
        programme_registry({"caledonian": {"stages": {"group": change}}})


def test_a_session_type_in_two_stages_is_refused():
    with pytest.raises(ConfigError, match="already belongs to stage 'pre_group'"):
        programme_registry({"caledonian": {"stages": {"group": {"sessions": {"individual": 3}}}}})


def test_a_new_stage_lacking_fields_is_refused():
    with pytest.raises(ConfigError, match=r"stages\.extra lacks"):
        programme_registry({"caledonian": {"stages": {"extra": {"order": 4}}}})


def test_an_unknown_session_type_is_refused_when_stages_are_analysed(export):
    bad = {**TRI, "par": {**TRI["par"], "stages": {"g": _stage(1, {"phone": 1}, 1.0, False, 1)}}}
    with pytest.raises(ConfigError, match=r"programmes\.par\.stages\.g\.sessions"):
        eng.stage_completion(export, programmes=bad)


# -- stage completion on the hand fixture -------------------------------------------------


def test_progress_of_each_starter_matches_the_hand_count(export):
    progress = eng.stage_progress(export, programmes=TRI)
    tri = progress[progress["programme"] == "tri"]
    assert len(tri) == 20 * 3
    completed = tri.pivot(index="participant_id", columns="stage", values="completed")
    assert sorted(completed.index[completed["a"]]) == [
        f"T{i:02d}" for i in (1, 2, 3, 4, 6, 8, 9, 10, 12, 13, 14, 15, 16, 17, 19, 20)
    ]
    assert sorted(completed.index[completed["b"]]) == [
        f"T{i:02d}" for i in (1, 2, 4, 5, 9, 10, 12, 13, 14, 17, 20)
    ]
    c = one(tri, participant_id="T05", stage="c")
    assert c["completed"] and c["entered"] and not c["reached"] and not c["progressed"]
    t04 = one(tri, participant_id="T04", stage="c")
    assert t04["n_scheduled"] == 1 and t04["n_attended"] == 0 and not t04["entered"]
    t10 = one(tri, participant_id="T10", stage="b")
    assert (t10["n_attended"], bool(t10["attended_last"]), bool(t10["completed"])) == (
        2,
        True,
        True,
    )


def test_stage_funnel_counts_match_the_hand_count(export):
    out = eng.stage_completion(export, programmes=TRI)
    tri = out[out["programme"] == "tri"].set_index("stage")
    counts = ["n_potential", "n_entered", "n_completed", "n_reached", "n_progressed"]
    assert tri.loc["a", counts].tolist() == [20, 20, 16, 20, 16]
    assert tri.loc["b", counts].tolist() == [19, 14, 11, 15, 10]
    assert tri.loc["c", counts].tolist() == [18, 8, 8, 9, 7]
    assert tri.loc["b", "completion_of_entered"] == pytest.approx(11 / 14)
    assert tri.loc["b", "completion_of_starters"] == pytest.approx(11 / 19)
    assert tri.loc["c", "transition"] == pytest.approx(7 / 9)
    assert tri.loc["c", "through_stage"] == pytest.approx(7 / 18)
    low, high = wilson_ci(11, 14)
    assert tri.loc["b", "completion_of_entered_ci_low"] == pytest.approx(float(low))
    assert tri.loc["b", "completion_of_entered_ci_high"] == pytest.approx(float(high))
    assert list(out.columns[:6]) == [
        "programme",
        "order",
        "stage",
        "name_en",
        "name_nl",
        "required",
    ]


def test_time_elapsed_only_leaves_out_the_recent_closed_case(export):
    out = eng.stage_completion(export, programmes=TRI, closed_cases=False)
    tri = out[out["programme"] == "tri"].set_index("stage")
    # T16 (closed after 10 days) drops out of b and c; T15 and T17 as before
    assert tri.loc["b", "n_potential"] == 18 and tri.loc["c", "n_potential"] == 17


def test_whole_programme_completion_is_the_product_of_the_stage_transitions(export):
    out = eng.programme_completion_from_stages(export, programmes=TRI).set_index("programme")
    tri = out.loc["tri"]
    # clear outcome: everyone but T15 and T17 (not yet due for c, case open)
    assert (tri["n_started"], tri["n_clear_outcome"], tri["n_completed"]) == (20, 18, 7)
    assert tri["completion"] == pytest.approx(7 / 18)
    # hand-counted transitions among the 18: a 14/18, then b 9/14, then c 7/9
    assert tri["transitions"] == " x ".join(f"{f:.4f}" for f in (14 / 18, 9 / 14, 7 / 9))
    assert tri["completion_from_stages"] == pytest.approx((14 / 18) * (9 / 14) * (7 / 9))
    assert tri["completion_from_stages"] == pytest.approx(tri["completion"], abs=1e-12)


def test_parallel_strands_are_both_reached_and_both_needed(export):
    funnel = eng.stage_completion(export, programmes=TRI)
    par = funnel[funnel["programme"] == "par"].set_index("stage")
    assert par.loc["g", ["n_reached", "n_completed"]].tolist() == [4, 3]
    assert par.loc["i", ["n_reached", "n_completed"]].tolist() == [4, 3]
    whole = eng.programme_completion_from_stages(export, programmes=TRI).set_index("programme")
    assert whole.loc["par", "n_completed"] == 2  # Q1 and Q4 completed both strands
    assert whole.loc["par", "transitions"] == f"{2 / 4:.4f}"


def test_grouping_splits_the_counts_and_keeps_every_starter(export):
    by_site = eng.stage_completion(export, by=["programme", "site"], programmes=TRI)
    overall = eng.stage_completion(export, programmes=TRI)
    summed = by_site.groupby(["programme", "stage"])["n_potential"].sum()
    assert summed.to_dict() == overall.set_index(["programme", "stage"])["n_potential"].to_dict()
    assert set(by_site["site"]) == {"East", "West"}


def test_prepared_data_gives_the_same_table(export):
    prepared = eng.prepare_engagement(export, TRI)
    pd.testing.assert_frame_equal(
        eng.stage_completion(export, prepared=prepared),
        eng.stage_completion(export, programmes=TRI),
    )
    with pytest.raises(ConfigError, match="programmes= was given"):
        eng.stage_completion(export, programmes=TRI, prepared=prepared)


def test_progress_computed_once_serves_several_analyses(export):
    prepared = eng.prepare_engagement(export, TRI)
    progress = eng.stage_progress(export, prepared=prepared)
    pd.testing.assert_frame_equal(
        eng.stage_completion(export, prepared=prepared, progress=progress),
        eng.stage_completion(export, prepared=prepared),
    )
    pd.testing.assert_frame_equal(
        eng.programme_completion_from_stages(export, prepared=prepared, progress=progress),
        eng.programme_completion_from_stages(export, prepared=prepared),
    )
    with pytest.raises(ConfigError, match="closed_cases=True, but closed_cases=False"):
        eng.stage_completion(export, prepared=prepared, progress=progress, closed_cases=False)
    smaller = progress.iloc[:3].copy()
    smaller.attrs = {**progress.attrs, "n_episodes": 3}
    with pytest.raises(ConfigError, match="not the stage_progress of this prepared export"):
        eng.stage_completion(export, prepared=prepared, progress=smaller)


def test_counts_per_stage_equal_the_sums_over_every_row(export):
    """stage_completion sums each stage's counts (numbered in progress.attrs) rather
    than every starter's row: the table equals the one summed row by row (no stage
    numbers) and a plain pandas groupby of the progress flags."""
    prepared = eng.prepare_engagement(export, TRI)
    progress = eng.stage_progress(export, prepared=prepared)
    assert len(progress.attrs["stage_row"]) == len(progress)
    plain = progress.copy()
    plain.attrs = {k: v for k, v in progress.attrs.items() if k != "stage_row"}
    fast = eng.stage_completion(export, prepared=prepared, progress=progress)
    pd.testing.assert_frame_equal(
        fast, eng.stage_completion(export, prepared=prepared, progress=plain)
    )
    potential = progress["potential_completer"]
    flags = pd.DataFrame(
        {
            "programme": progress["programme"].astype(str),
            "stage": progress["stage"].astype(str),
            "n_potential": potential,
            "n_entered": potential & progress["entered"],
            "n_completed": potential & progress["completed"],
            "n_reached": potential & progress["reached"],
            "n_progressed": potential & progress["progressed"],
        }
    )
    want = flags.groupby(["programme", "stage"]).sum().astype(np.int64)
    got = fast.assign(programme=fast["programme"].astype(str)).set_index(["programme", "stage"])
    pd.testing.assert_frame_equal(got[want.columns].sort_index(), want.sort_index())
    assert want["n_completed"].sum() > 0


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_session_days_equal_the_cast_to_whole_days(unit):
    """The session days of the stage, review, reoffending and dose analyses, read
    from the datetime ticks of a column or an array, are those of the cast to
    datetime64[D] (dates before 1970 and missing dates included), bit for bit."""
    from cdanalytics._dates import day_numbers

    rng = np.random.default_rng(3)
    seconds = rng.integers(-2 * 10**9, 2 * 10**9, 5000)
    values = pd.Series((seconds * 10**9).astype("datetime64[ns]")).astype(f"datetime64[{unit}]")
    values[::9] = pd.NaT
    dates = values.to_numpy().astype("datetime64[D]")
    want = dates.astype(np.int64).astype(float)
    want[np.isnat(dates)] = np.nan
    got = day_numbers(values)
    assert np.array_equal(got.view(np.int64), want.view(np.int64))
    assert np.array_equal(day_numbers(values.to_numpy()).view(np.int64), want.view(np.int64))
    assert np.array_equal(day_numbers(dates).view(np.int64), want.view(np.int64))  # whole days
    single = day_numbers(values, dtype=np.float32)  # the validation rules' float32 days
    assert single.dtype == np.float32
    assert np.array_equal(single, want.astype(np.float32), equal_nan=True)
    assert (got[~np.isnan(got)] < 0).any()
    text = pd.Series(["2024-01-02", None], dtype=object)  # not datetimes: converted first
    assert day_numbers(text)[0] == 19724.0 and np.isnan(day_numbers(text)[1])
