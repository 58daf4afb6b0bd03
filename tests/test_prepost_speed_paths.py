"""The faster paths of change, reliable change and its summary (issue 16)
pinned to the plain computations they replace: statsmodels' Wilson interval
to the last bit, scipy's Wilcoxon signed-rank test on changes without ties,
the group numbers of categorical keys against pandas' own grouping, the
summary of a reliable-change table with categorical keys against the same
table with plain text keys, and the counting, first-row, per-row and
branch-free picking helpers against the numpy they replace."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from _prepost_fixtures import make_export
from scipy import special, stats
from statsmodels.stats.proportion import proportion_confint

from cdanalytics._groups import group_by
from cdanalytics._stats import wilson_ci
from cdanalytics.prepost import change, reliable_change, reliable_change_summary
from cdanalytics.prepost._grouping import first_rows, group_numbers, grouped_moments
from cdanalytics.prepost._reshape import bincount
from cdanalytics.prepost._rows import by_direction, scale_values_per_row, set_where
from cdanalytics.prepost._signed_rank import _wilcoxon_asymptotic


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.01, 0.3])
def test_wilson_ci_is_statsmodels_to_the_last_bit(alpha):
    rng = np.random.default_rng(7)
    nobs = rng.integers(0, 5000, 400)
    nobs[:6] = [0, 1, 1, 2, 3, 10]
    count = np.floor(rng.random(400) * (nobs + 1)).astype(np.int64)
    count[:6] = [0, 0, 1, 2, 0, 10]
    low, high = wilson_ci(count, nobs, alpha=alpha)
    safe = np.where(nobs > 0, nobs, 1)
    ref_low, ref_high = proportion_confint(count, safe, alpha=alpha, method="wilson")
    empty = nobs == 0
    np.testing.assert_array_equal(low[~empty], ref_low[~empty])
    np.testing.assert_array_equal(high[~empty], ref_high[~empty])
    assert np.isnan(low[empty]).all() and np.isnan(high[empty]).all()


def _plain_wilcoxon(d: np.ndarray, correction: bool) -> tuple[float, float]:
    """The two-sided normal approximation written out for changes without
    ties or zeros: ranks of |d|, R+ and R-, the continuity-corrected z."""
    ranks = stats.rankdata(np.abs(d))
    r_plus, r_minus = ranks[d > 0].sum(), ranks[d < 0].sum()
    n = len(d)
    mean = n * (n + 1.0) * 0.25
    se = np.sqrt(n * (n + 1.0) * (2.0 * n + 1.0) / 24)
    z = (r_plus - mean) / se
    if correction:
        z = z - np.sign(z) * 0.5 / se
    return min(r_plus, r_minus), float(np.clip(2 * special.ndtr(-abs(z)), 0, 1))


@pytest.mark.parametrize("correction", [True, False])
def test_wilcoxon_of_changes_without_ties_equals_the_plain_test_group_by_group(correction):
    """Every group at once (groups 2 and 5 empty, group 3 one pair, group 4
    all improving, group 6 all worsening) against the test written out per
    group and against scipy."""
    rng = np.random.default_rng(3)
    sizes = [60, 75, 0, 1, 52, 0, 58, 300]
    codes = np.repeat(np.arange(len(sizes)), sizes)
    changes = rng.normal(0.3, 2.0, codes.size)
    first = np.cumsum(sizes) - sizes
    changes[first[4] : first[4] + sizes[4]] = -np.abs(changes[first[4] : first[4] + sizes[4]])
    changes[first[6] : first[6] + sizes[6]] = np.abs(changes[first[6] : first[6] + sizes[6]])
    assert len(np.unique(np.abs(changes))) == changes.size  # no ties, no zeros
    order = rng.permutation(codes.size)  # rows in any order
    statistic, p_value = _wilcoxon_asymptotic(codes[order], len(sizes), changes[order], correction)
    for g, size in enumerate(sizes):
        if not size:
            assert np.isnan(statistic[g]) and np.isnan(p_value[g])
            continue
        d = changes[codes == g]
        plain = _plain_wilcoxon(d, correction)
        assert statistic[g] == plain[0]
        assert p_value[g] == plain[1]
        ref = stats.wilcoxon(d, correction=correction, method="asymptotic")
        assert statistic[g] == ref.statistic
        assert p_value[g] == pytest.approx(ref.pvalue, rel=1e-12)


def _frame_with_keys(missing: bool) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 500
    a = pd.Categorical.from_codes(rng.integers(0, 3, n), categories=["x", "y", "z", "unused"])
    b = pd.Categorical.from_codes(rng.integers(0, 2, n), categories=["p", "q"])
    if missing:
        codes = a.codes.copy()
        codes[::7] = -1
        a = pd.Categorical.from_codes(codes, dtype=a.dtype)
    return pd.DataFrame({"a": a, "b": b})


@pytest.mark.parametrize("missing", [False, True])
def test_group_numbers_of_categorical_keys_are_pandas_groups(missing):
    frame = _frame_with_keys(missing)
    expected = group_by(frame.astype(object), ["a", "b"]).ngroup().to_numpy()
    np.testing.assert_array_equal(group_numbers(frame, ["a", "b"]), expected)


def _export_with_missing_post_and_text(seed: int):
    rng = np.random.default_rng(seed)
    rows, people = [], []
    for i in range(240):
        pid = f"p{i}"
        people.append((pid, ["a", "b", "c"][i % 3]))
        for instrument, scale in (("sdq", "total"), ("cts2", "physical_assault")):
            pre = float(rng.normal(20, 5))
            rows.append((pid, instrument, scale, "partner", "pre", pre))
            if i % 5:
                rows.append((pid, instrument, scale, "partner", "post", pre + rng.normal(-2, 4)))
    participants = pd.DataFrame(people, columns=["participant_id", "programme"])
    return make_export(rows, participants)


@pytest.mark.parametrize("missing", [False, True])
def test_summary_of_categorical_keys_equals_that_of_text_keys(missing):
    export = _export_with_missing_post_and_text(5)
    rc = reliable_change(export, by="programme")
    assert isinstance(rc["programme"].dtype, pd.CategoricalDtype)
    if missing:  # a group of rows without a programme: its own group, sorted last
        rc.loc[rc.index[::7], "programme"] = np.nan
        assert rc["programme"].isna().any()
    ours = reliable_change_summary(rc, by="programme")
    text = rc.astype({c: object for c in ["programme", "instrument", "scale", "informant"]})
    plain = reliable_change_summary(text, by="programme")
    keys = ["programme", "instrument", "scale", "informant"]
    pd.testing.assert_frame_equal(
        ours.astype({c: object for c in keys}).reset_index(drop=True),
        plain.astype({c: object for c in keys}).reset_index(drop=True),
        check_exact=True,
        check_dtype=False,
    )


def test_sample_baseline_sd_with_every_first_score_present_is_pandas_std():
    export = _export_with_missing_post_and_text(9)
    rc = reliable_change(export, by="programme", sd_source="sample")
    assert rc["score_pre"].notna().all()
    sd = rc.groupby(["instrument", "scale"], observed=True)["score_pre"].std()
    for (instrument, scale), value in sd.items():
        got = rc.loc[(rc["instrument"] == instrument) & (rc["scale"] == scale), "sd"].unique()
        assert got.tolist() == [pytest.approx(value, rel=1e-13)]


def test_change_text_columns_are_str_with_the_arguments():
    export = _export_with_missing_post_and_text(2)
    out = change(export, by="programme", timepoints=("pre", "post"), zero_method="pratt")
    for column, value in (
        ("timepoint_from", "pre"),
        ("timepoint_to", "post"),
        ("wilcoxon_zero_method", "pratt"),
    ):
        assert out[column].dtype == "str"
        assert out[column].tolist() == [value] * len(out)
    assert out["direction"].dtype == "str"
    assert set(out["direction"]) == {"higher_worse"}


def test_change_and_reliable_change_leave_the_shared_score_table_as_it_was():
    """change and reliable change read the export's shared score table
    without a copy; a table handed out by select_scores is a copy, and
    editing it or a result changes nothing the next analysis sees."""
    from cdanalytics.prepost._data import select_scores

    export = _export_with_missing_post_and_text(4)
    before_change = change(export, by="programme")
    before_rows = reliable_change(export, by="programme")
    wide = select_scores(export, ("pre", "post"), ["programme"])
    wide["pre"] = 0.0
    wide.loc[wide.index[:10], "post"] = -5.0
    before_rows.loc[before_rows.index[:10], "score_post"] = 99.0
    pd.testing.assert_frame_equal(change(export, by="programme"), before_change)
    again = reliable_change(export, by="programme")
    assert (again["score_post"].iloc[:10] != 99.0).all()
    assert (again["score_pre"] != 0.0).all()


@pytest.mark.parametrize("programmes", [["a", "b", "c"], ["a", "b", None], ["a", "a", "a"]])
@pytest.mark.parametrize("categories", [["a", "b", "c"], ["a", "b", "c", "unused"]])
def test_groups_of_an_export_with_every_series_equal_those_of_its_score_table(
    programmes, categories
):
    """Every participant with every series: the groups numbered from the
    export's layout (the programme's levels without one for missing values
    when none is missing) against the same analyses of the score table,
    with a missing programme and with unused programme categories."""
    from cdanalytics.prepost import score_table

    export = _export_with_missing_post_and_text(6)
    people = export.participants.copy()
    values = [programmes[i % 3] for i in range(len(people))]
    people["programme"] = pd.Categorical(values, categories=categories)
    export = replace(export, participants=people)
    table = score_table(export, by="programme")
    assert (table.groupby(["participant_id"]).size() == 2).all()  # every series
    for ours, plain in (
        (change(export, by="programme"), change(table, by="programme")),
        (reliable_change(export, by="programme"), reliable_change(table, by="programme")),
    ):
        pd.testing.assert_frame_equal(ours, plain, check_exact=True)


def test_editing_the_groups_of_a_change_result_leaves_the_next_result_alone():
    """The group keys of an export's layout are kept for the next analysis;
    a result edited in place must not change them."""
    export = _export_with_missing_post_and_text(8)
    first = change(export, by="programme")
    expected = first.copy()
    first.loc[first.index[0], "programme"] = "c"
    first.loc[first.index[0], "scale"] = "physical_assault"
    pd.testing.assert_frame_equal(change(export, by="programme"), expected)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.intp])
def test_counting_a_block_at_a_time_is_numpy_bincount(dtype):
    rng = np.random.default_rng(7)
    values = rng.integers(0, 90, 100_000).astype(dtype)  # more rows than a block
    for minlength in (90, 120):  # the values below minlength
        got = bincount(values, minlength=minlength)
        expected = np.bincount(values, minlength=minlength)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


def test_first_rows_of_the_groups_wanted_are_those_of_every_group():
    rng = np.random.default_rng(8)
    codes = rng.integers(0, 50, 30_000)
    codes[codes == 7] = 3  # a number without rows
    codes[-1] = 60  # one seen only in the last row
    every = first_rows(codes)
    expected = np.array([np.flatnonzero(codes == g)[0] for g in range(61) if (codes == g).any()])
    np.testing.assert_array_equal(every[every < len(codes)], expected)
    wanted = np.array([0, 3, 49])
    np.testing.assert_array_equal(first_rows(codes, wanted)[wanted], every[wanted])


def test_branch_free_picking_is_numpy_where_and_masked_assignment():
    rng = np.random.default_rng(9)
    n = 5_000
    higher_better = rng.random(n) < 0.5
    a, b = rng.random(n) < 0.3, rng.random(n) < 0.6
    better = (higher_better, ~higher_better)
    np.testing.assert_array_equal(by_direction(better, a, b), np.where(higher_better, a, b))
    klass = np.full(n, 2, dtype=np.int8)
    expected = klass.copy()
    scratch = np.empty_like(klass)
    for value in (3, 1, 0, 4, 5, 6, 2):  # later masks win, as in reliable_change
        mask = rng.random(n) < 0.2
        set_where(klass, mask, value, scratch)
        expected[mask] = value
    np.testing.assert_array_equal(klass, expected)


def test_scale_values_repeated_for_tiled_rows_are_those_looked_up():
    scale = {
        "cutoff": np.array([17.0, np.nan, 60.0]),
        "s_diff": np.array([2.5, 3.0, np.nan]),
        "reliability": np.array([0.73, 0.9, np.nan]),
        "sd": np.array([4.5, 18.0, 12.0]),
        "sign": np.array([-1.0, 1.0, -1.0]),
        "direction": np.array(["higher_worse", "higher_better", "higher_worse"], dtype=object),
        "reliability_source": np.array(["registry", "registry", None], dtype=object),
        "sd_source": np.array(["sample_baseline"] * 3, dtype=object),
        "cutoff_type": np.array(["threshold", "none", "a"], dtype=object),
    }
    codes = np.tile(np.arange(3), 4)
    looked_up = scale_values_per_row(scale, codes)
    repeated = scale_values_per_row(scale, codes, repeats=4)
    np.testing.assert_array_equal(repeated[0], looked_up[0])
    for col, values in looked_up[1].items():
        np.testing.assert_array_equal(repeated[1][col], values)
        np.testing.assert_array_equal(values, scale[col][codes])
    for col, values in looked_up[2].items():
        pd.testing.assert_extension_array_equal(repeated[2][col], values)
        expected = pd.Categorical(scale[col][codes])
        pd.testing.assert_extension_array_equal(values, expected)


@pytest.mark.parametrize("n_groups", [1, 2, 3, 4, 7, 28])
def test_moments_of_rows_in_turn_are_those_of_the_counted_groups_to_the_last_bit(n_groups):
    # Values where the order of the additions shows in the last bits: large
    # and small magnitudes mixed, many rows per group.
    rng = np.random.default_rng(n_groups)
    repeats = 20_001
    values = rng.normal(size=repeats * n_groups) * 1e8 + rng.normal(size=repeats * n_groups)
    codes = np.tile(np.arange(n_groups), repeats)
    counted = grouped_moments(codes, n_groups, values.copy())
    in_turn = grouped_moments(codes.astype(np.int8), n_groups, values.copy(), repeats)
    for a, b in zip(counted, in_turn, strict=True):
        np.testing.assert_array_equal(a, b)
    # and both are the plain mean and SD of each group's values
    grid = values.reshape(repeats, n_groups)
    np.testing.assert_allclose(in_turn[1], grid.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(in_turn[2], grid.std(axis=0, ddof=1), rtol=1e-9)


@pytest.mark.parametrize("storage", ["python", "pyarrow"])
def test_change_text_columns_follow_pandas_string_storage(storage):
    rows = [
        (f"P{i}", "psi_sf", "total", "father", point, 90.0 + i + (point == "post"))
        for i in range(4)
        for point in ("pre", "post")
    ]
    with pd.option_context("mode.string_storage", storage):
        table = change(make_export(rows))
        expected = pd.array(["x"], dtype="str").dtype
    assert table["timepoint_from"].dtype == expected and expected.storage == storage
