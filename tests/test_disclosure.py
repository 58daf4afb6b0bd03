"""Disclosure control: small counts withheld, and never recoverable from totals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from cdanalytics.disclosure import (
    DisclosurePolicy,
    check_recoverable,
    find_disclosive,
    protect_frame,
    protect_statistics,
    suppress_counts,
)
from cdanalytics.errors import AnalysisError, ConfigError

POLICY = DisclosurePolicy()


def withheld(table) -> set[tuple[str, str]]:
    """The (row, column) cells a SuppressedTable withheld."""
    stacked = table.mask.stack()
    return set(stacked[stacked].index)


# --------------------------------------------------------------------------- policy


class TestPolicy:
    def test_defaults_follow_the_uk_convention(self):
        assert POLICY.threshold == 10
        assert POLICY.label == "<10"
        assert POLICY.withheld_label == "[c]"
        assert POLICY.round_to is None

    def test_label_follows_a_configured_threshold(self):
        assert DisclosurePolicy(threshold=5).label == "<5"

    @pytest.mark.parametrize("threshold", [2, 0, -10])
    def test_threshold_below_three_is_rejected(self, threshold):
        with pytest.raises(ConfigError, match="never be below 3"):
            DisclosurePolicy(threshold=threshold)

    def test_threshold_of_three_is_the_floor(self):
        assert DisclosurePolicy(threshold=3).threshold == 3

    @pytest.mark.parametrize("threshold", [9.5, "10", True])
    def test_threshold_must_be_a_whole_number(self, threshold):
        with pytest.raises(ConfigError, match="whole number"):
            DisclosurePolicy(threshold=threshold)

    @pytest.mark.parametrize("base", [1, 3, 10])
    def test_only_rounding_to_base_five_is_offered(self, base):
        with pytest.raises(ConfigError, match="round_to"):
            DisclosurePolicy(round_to=base)

    @pytest.mark.parametrize("threshold", [6, 7, 11])
    def test_rounding_may_not_publish_a_count_below_the_threshold(self, threshold):
        # 7 would be published as 5, which reads as a count below 7.
        with pytest.raises(ConfigError, match="below the threshold"):
            DisclosurePolicy(threshold=threshold, round_to=5)

    @pytest.mark.parametrize("threshold", [3, 5, 8, 10])
    def test_rounding_works_with_thresholds_that_round_to_themselves_or_up(self, threshold):
        assert DisclosurePolicy(threshold=threshold, round_to=5).round_to == 5


# ------------------------------------------------------------------ one-way tables


class TestOneWay:
    def test_a_single_small_count_takes_the_next_smallest_with_it(self):
        # The overall total (80) is known, so A = 80 - 25 - 40 - 12 unless a
        # second site is withheld: the smallest other one, D.
        table = pd.DataFrame({"n": [3, 25, 40, 12]}, index=list("ABCD"))
        result = suppress_counts(table, ["n"], POLICY)
        assert withheld(result) == {("A", "n"), ("D", "n")}
        assert result.display["n"].tolist() == ["<10", "25", "40", "[c]"]
        assert result.primary["n"].tolist() == [True, False, False, False]

    def test_values_are_nullable_integers_with_withheld_cells_missing(self):
        table = pd.DataFrame({"n": [3, 25, 40, 12]}, index=list("ABCD"))
        values = suppress_counts(table, ["n"], POLICY).published
        assert values["n"].dtype == "Int64"
        assert values["n"].isna().tolist() == [True, False, False, True]
        assert values.loc["B", "n"] == 25

    def test_two_small_counts_protect_each_other(self):
        table = pd.DataFrame({"n": [3, 4, 30, 37]}, index=["A", "B", "C", "total"])
        result = suppress_counts(table, ["n"], POLICY, col_total="total")
        assert withheld(result) == {("A", "n"), ("B", "n")}

    def test_zero_is_shown_and_not_used_as_complement(self):
        table = pd.DataFrame({"n": [3, 0, 15, 40]}, index=list("ABCD"))
        result = suppress_counts(table, ["n"], POLICY)
        assert withheld(result) == {("A", "n"), ("C", "n")}
        assert result.display.loc["B", "n"] == "0"

    def test_zeros_can_be_withheld_on_request(self):
        table = pd.DataFrame({"n": [3, 0, 15, 40]}, index=list("ABCD"))
        result = suppress_counts(table, ["n"], DisclosurePolicy(suppress_zeros=True))
        assert withheld(result) == {("A", "n"), ("B", "n")}
        assert result.display.loc["B", "n"] == "<10"

    def test_a_small_shown_total_is_withheld_with_a_complement(self):
        # Total 8 is small; with it withheld, A and B still need each other.
        table = pd.DataFrame({"n": [5, 3, 8]}, index=["A", "B", "total"])
        result = suppress_counts(table, ["n"], POLICY, col_total="total")
        assert withheld(result) == {("A", "n"), ("B", "n"), ("total", "n")}

    def test_label_columns_pass_through(self):
        table = pd.DataFrame({"site": ["North", "South", "East"], "n": [3, 25, 40]})
        result = suppress_counts(table, ["n"], POLICY)
        assert result.published["site"].tolist() == ["North", "South", "East"]
        assert not result.mask["site"].any()


# ------------------------------------------------------------------ two-way tables


class TestTwoWay:
    def test_a_single_small_cell_is_protected_by_the_cheapest_rectangle(self):
        # Hand-derived: closing a cycle through (r2, x) costs
        # y,r1: 35+30+20=85; y,r3: 35+45+25=105; z,r1: 110; z,r3: 135.
        table = pd.DataFrame(
            {"x": [20, 4, 25], "y": [30, 35, 45], "z": [40, 50, 60]}, index=["r1", "r2", "r3"]
        )
        result = suppress_counts(table, ["x", "y", "z"], POLICY)
        assert withheld(result) == {("r1", "x"), ("r1", "y"), ("r2", "x"), ("r2", "y")}
        assert result.display.loc["r2", "x"] == "<10"
        assert result.display.loc["r1", "x"] == "[c]"

    def test_two_small_cells_share_one_rectangle(self):
        # (r1, x)=5 first: via (r1,y)=30 and (r2,x)=50, reusing (r2,y)=6: cost 82,
        # cheaper than every rectangle through r3 or z.
        table = pd.DataFrame(
            {"x": [5, 50, 25], "y": [30, 6, 45], "z": [40, 45, 60]}, index=["r1", "r2", "r3"]
        )
        result = suppress_counts(table, ["x", "y", "z"], POLICY)
        assert withheld(result) == {("r1", "x"), ("r1", "y"), ("r2", "x"), ("r2", "y")}

    def test_secondary_suppression_cascades_into_the_totals(self):
        # Row r1 is small throughout (3, 4, total 7). Withholding (r2, x) and
        # (r2, y) protects the cells, but the row totals column still gives
        # r1's total away: 117 - 50 - 60 = 7. So r2's total goes too.
        table = pd.DataFrame(
            {"x": [3, 20, 25, 48], "y": [4, 30, 35, 69], "total": [7, 50, 60, 117]},
            index=["r1", "r2", "r3", "total"],
        )
        result = suppress_counts(table, ["x", "y"], POLICY, row_total="total", col_total="total")
        assert withheld(result) == {
            ("r1", "x"),
            ("r1", "y"),
            ("r1", "total"),
            ("r2", "x"),
            ("r2", "y"),
            ("r2", "total"),
        }
        assert result.display.loc["r1"].tolist() == ["<10", "<10", "<10"]
        assert result.display.loc["r2"].tolist() == ["[c]", "[c]", "[c]"]
        assert result.recoverable().empty

    def test_a_one_row_table_protects_along_the_row(self):
        table = pd.DataFrame({"x": [3], "y": [50], "z": [60]})
        result = suppress_counts(table, ["x", "y", "z"], POLICY)
        assert withheld(result) == {(0, "x"), (0, "y")}

    def test_a_table_without_small_counts_is_unchanged(self):
        table = pd.DataFrame({"x": [20, 30], "y": [0, 45]})
        result = suppress_counts(table, ["x", "y"], POLICY)
        assert not result.mask.to_numpy().any()
        assert result.published.astype(int).equals(table)


class TestBadInput:
    @pytest.mark.parametrize(
        "counts",
        [[3.0, np.nan, 20.0], [3, -1, 20], [3, 2.5, 20], ["3", "a", "20"]],
    )
    def test_counts_must_be_complete_non_negative_whole_numbers(self, counts):
        with pytest.raises(AnalysisError):
            suppress_counts(pd.DataFrame({"n": counts}), ["n"], POLICY)

    def test_row_totals_must_add_up(self):
        table = pd.DataFrame({"x": [20, 30], "y": [25, 45], "total": [45, 76]})
        with pytest.raises(AnalysisError, match="do not equal"):
            suppress_counts(table, ["x", "y"], POLICY, row_total="total")

    def test_column_totals_must_add_up(self):
        table = pd.DataFrame({"n": [20, 30, 51]}, index=["a", "b", "total"])
        with pytest.raises(AnalysisError, match="do not add up"):
            suppress_counts(table, ["n"], POLICY, col_total="total")

    def test_missing_columns_and_rows_are_named(self):
        table = pd.DataFrame({"n": [20, 30]})
        with pytest.raises(ConfigError, match="m"):
            suppress_counts(table, ["m"], POLICY)
        with pytest.raises(ConfigError, match="total"):
            suppress_counts(table, ["n"], POLICY, col_total="total")

    def test_index_must_be_unique(self):
        table = pd.DataFrame({"n": [20, 30]}, index=["a", "a"])
        with pytest.raises(ConfigError, match="unique"):
            suppress_counts(table, ["n"], POLICY)


# --------------------------------------------------------------------- the checker


class TestCheckRecoverable:
    def test_subtraction_from_a_known_total_recovers_a_lone_withheld_cell(self):
        published = pd.DataFrame({"n": [np.nan, 25, 40, 12]}, index=list("ABCD"))
        found = check_recoverable(published, ["n"], col_margins={"n": 80})
        assert found[["row", "column"]].to_numpy().tolist() == [["A", "n"]]
        assert found["value"].iloc[0] == pytest.approx(3)

    def test_nothing_is_recovered_without_the_total(self):
        published = pd.DataFrame({"n": [np.nan, 25, 40, 12]}, index=list("ABCD"))
        assert check_recoverable(published, ["n"]).empty

    def test_two_blocks_joined_by_one_cell_give_that_cell_away(self):
        # Every row and column has two or more withheld cells, so no single
        # subtraction works, yet the joining cell (r0, c2) is determined:
        # column c2 minus rows r2, r3 plus column c3 pins it down.
        truth = np.array(
            [
                [4, 6, 3, 20],
                [7, 5, 30, 40],
                [30, 40, 8, 2],
                [50, 60, 9, 6],
            ]
        )
        cols = ["c0", "c1", "c2", "c3"]
        hidden = np.zeros(truth.shape, dtype=bool)
        hidden[np.ix_([0, 1], [0, 1])] = True
        hidden[np.ix_([2, 3], [2, 3])] = True
        hidden[0, 2] = True
        published = pd.DataFrame(np.where(hidden, np.nan, truth), columns=cols)
        found = check_recoverable(
            published,
            cols,
            row_margins=truth.sum(axis=1),
            col_margins=dict(zip(cols, truth.sum(axis=0), strict=True)),
            grand_total=truth.sum(),
        )
        assert found[["row", "column"]].to_numpy().tolist() == [[0, "c2"]]
        assert found["value"].iloc[0] == pytest.approx(3)

    def test_a_withheld_rectangle_is_safe(self):
        truth = np.array([[20, 30, 40], [4, 35, 50], [25, 45, 60]])
        published = pd.DataFrame(truth.astype(float), columns=["x", "y", "z"])
        published.iloc[[0, 0, 1, 1], [0, 1, 0, 1]] = np.nan
        found = check_recoverable(
            published,
            ["x", "y", "z"],
            row_margins=truth.sum(axis=1),
            col_margins=dict(zip(["x", "y", "z"], truth.sum(axis=0), strict=True)),
            grand_total=truth.sum(),
        )
        assert found.empty

    def test_margins_of_the_wrong_length_are_rejected(self):
        published = pd.DataFrame({"x": [1.0, np.nan], "y": [np.nan, 2.0]})
        with pytest.raises(ConfigError, match="row_margins"):
            check_recoverable(published, ["x", "y"], row_margins=[1, 2, 3])


class TestFindDisclosive:
    def test_lists_published_small_counts_only(self):
        published = pd.DataFrame(
            {"site": ["a", "b", "c"], "n": pd.array([4, None, 0], dtype="Int64"), "m": [12, 15, 9]}
        )
        found = find_disclosive(published, POLICY)
        assert found.to_numpy().tolist() == [[0, "n", 4], [2, "m", 9]]

    def test_zeros_are_disclosive_when_the_policy_says_so(self):
        published = pd.DataFrame({"n": [0, 12]})
        assert find_disclosive(published, DisclosurePolicy(suppress_zeros=True)).shape[0] == 1

    def test_protected_output_has_nothing_disclosive(self):
        table = pd.DataFrame({"x": [20, 4, 25], "y": [30, 35, 0], "z": [1, 50, 60]})
        result = suppress_counts(table, ["x", "y", "z"], POLICY)
        assert find_disclosive(result.published, POLICY).empty


# ---------------------------------------------------------------------- statistics


class TestStatistics:
    def test_statistics_on_a_base_below_the_threshold_are_withheld(self):
        df = pd.DataFrame(
            {
                "n": pd.array([9, 10, 120, None], dtype="Int64"),
                "mean": [3.2, 4.1, 5.0, 2.0],
                "median": [3.0, 4.0, 5.0, 2.0],
            }
        )
        result = protect_statistics(df, "n", ["mean", "median"], POLICY)
        assert result.published["mean"].isna().tolist() == [True, False, False, True]
        assert result.published["median"].isna().tolist() == [True, False, False, True]
        assert result.display["mean"].tolist() == ["[c]", "4.1", "5", "[c]"]
        # The base itself is left for protect_frame.
        assert result.published["n"].iloc[0] == 9

    def test_a_rate_goes_with_its_withheld_numerator(self):
        # 40 started at A and 37 completed: the 3 non-completers would follow
        # by subtraction, so completions at A (and B, to protect A in the
        # column) are withheld, and their rates with them.
        df = pd.DataFrame(
            {"n_started": [40, 50, 60], "n_completed": [37, 30, 45]}, index=list("ABC")
        )
        df["rate"] = df["n_completed"] / df["n_started"]
        result = protect_frame(
            df,
            POLICY,
            base_cols={"rate": "n_started"},
            numerator_cols={"rate": "n_completed"},
            row_total="n_started",
        )
        assert withheld(result) == {
            ("A", "n_completed"),
            ("A", "rate"),
            ("B", "n_completed"),
            ("B", "rate"),
        }
        assert result.recoverable().empty
        found = check_recoverable(
            result.published,
            ["n_completed"],
            row_total="n_started",
            remainder=True,
            col_margins={"n_completed": 112},
            grand_total=150,
        )
        assert found[found["value"] < POLICY.threshold].empty

    def test_the_same_table_without_withholding_gives_the_remainder_away(self):
        df = pd.DataFrame(
            {"n_started": [40, 50, 60], "n_completed": [37, 30, 45]}, index=list("ABC")
        )
        found = check_recoverable(df, ["n_completed"], row_total="n_started", remainder=True)
        remainder_a = found[(found["row"] == "A") & (found["column"] == "(remainder)")]
        assert remainder_a["value"].tolist() == pytest.approx([3])

    def test_rates_and_wilson_limits_on_small_or_withheld_bases(self):
        df = pd.DataFrame(
            {
                "n_started": [6, 40, 45, 200],
                "n_completed": [5, 20, 30, 150],
                "rate": [5 / 6, 0.5, 2 / 3, 0.75],
                "ci_low": [0.44, 0.35, 0.52, 0.69],
                "ci_high": [0.97, 0.65, 0.78, 0.80],
            },
            index=["A", "B", "C", "D"],
        )
        stats = ["rate", "ci_low", "ci_high"]
        result = protect_frame(
            df,
            POLICY,
            base_cols=dict.fromkeys(stats, "n_started"),
            numerator_cols=dict.fromkeys(stats, "n_completed"),
        )
        # A: both counts small. Column-wise complements: B (n_started 40 is the
        # smallest other) and B (n_completed 20). So A's and B's rates go.
        assert result.mask.loc["A"].all()
        assert result.mask.loc["B"].all()
        assert not result.mask.loc[["C", "D"]].to_numpy().any()
        assert result.display.loc["A", "n_started"] == "<10"
        assert result.display.loc["B", "n_started"] == "[c]"

    def test_each_count_column_is_protected_against_its_own_total(self):
        df = pd.DataFrame({"n_a": [3, 20, 30], "n_b": [15, 8, 12]}, index=list("xyz"))
        result = protect_frame(df, POLICY, count_cols=["n_a", "n_b"])
        assert withheld(result) == {("x", "n_a"), ("y", "n_a"), ("y", "n_b"), ("z", "n_b")}

    def test_an_overall_row_is_a_total(self):
        df = pd.DataFrame({"n": [3, 30, 45, 78]}, index=["a", "b", "c", "all"])
        result = protect_frame(df, POLICY, count_cols=["n"], col_total="all")
        assert withheld(result) == {("a", "n"), ("b", "n")}

    def test_the_base_of_a_mean_is_a_count_and_protected_too(self):
        # The 30 pairs are withheld to protect the 8 in the column total, but a
        # mean does not give its base away, so the second mean stays.
        df = pd.DataFrame({"n_pairs": [8, 30], "mean_change": [-1.5, -2.0]})
        result = protect_frame(df, POLICY, base_cols={"mean_change": "n_pairs"})
        assert result.published["n_pairs"].isna().tolist() == [True, True]
        assert result.published["mean_change"].isna().tolist() == [True, False]

    def test_formats_apply_to_published_values_only(self):
        df = pd.DataFrame(
            {"n": [3, 25, 40, 12], "rate": [0.5, 0.24, 0.3, 0.75]}, index=list("ABCD")
        )
        result = protect_frame(df, POLICY, base_cols={"rate": "n"})
        text = result.formatted({"rate": lambda r: f"{r:.0%}"})
        assert text["rate"].tolist() == ["[c]", "24%", "30%", "75%"]
        assert text["n"].tolist() == ["<10", "25", "40", "[c]"]

    def test_suppressed_rows_names_the_groups_a_chart_must_leave_out(self):
        df = pd.DataFrame({"n": [3, 25, 40, 12], "pct": [0.1, 0.2, 0.3, 0.4]}, index=list("ABCD"))
        result = protect_frame(df, POLICY, base_cols={"pct": "n"}, numerator_cols={})
        assert result.suppressed_rows().tolist() == ["A", "D"]
        assert result.suppressed_rows(["pct"]).tolist() == ["A"]


# ------------------------------------------------------------------------ rounding


class TestRounding:
    def test_counts_are_rounded_to_the_nearest_five_after_suppression(self):
        policy = DisclosurePolicy(round_to=5)
        table = pd.DataFrame({"x": [12, 3, 11], "y": [13, 40, 12], "total": [25, 43, 23]})
        result = suppress_counts(table, ["x", "y"], policy, row_total="total")
        # Row 1's 3 is withheld with its cheapest rectangle (x: 11, y: 12).
        assert withheld(result) == {(1, "x"), (1, "y"), (2, "x"), (2, "y")}
        assert result.published["x"].tolist()[0] == 10
        assert result.published["y"].tolist()[0] == 15
        # Totals are rounded independently: 43 -> 45, 23 -> 25.
        assert result.published["total"].tolist() == [25, 45, 25]
        assert result.display.loc[0].tolist() == ["10", "15", "25"]

    @pytest.mark.parametrize(("count", "rounded"), [(10, 10), (12, 10), (13, 15), (17, 15), (0, 0)])
    def test_rounding_is_to_the_nearest_multiple(self, count, rounded):
        result = suppress_counts(
            pd.DataFrame({"n": [count, 20]}), ["n"], DisclosurePolicy(round_to=5)
        )
        assert result.published["n"].iloc[0] == rounded


# ----------------------------------------------------------------- property tests


def lp_pins_down(table: pd.DataFrame, published, rows: int, cols: int, shown: dict) -> list:
    """Independent check by linear programming: which withheld small cells are fixed.

    Variables are every cell of the full table (interior, row totals, column
    totals, grand total). Equalities: the table adds up; every published
    number and every total the reader knows is fixed. A small withheld cell
    with a finite minimum equal to its maximum is disclosed. (Variables are
    free: the guarantee is against linear recovery; with non-negativity a
    zero-heavy table can narrow a cell further, see the module docstring.)
    """
    r, c = rows, cols
    n = r * c + r + c + 1

    def x(i, j):
        return i * c + j

    def rt(i):
        return r * c + i

    def ct(j):
        return r * c + r + j

    g = n - 1
    eqs, rhs = [], []

    def equation(terms, value=0.0):
        row = np.zeros(n)
        for k, coef in terms:
            row[k] += coef
        eqs.append(row)
        rhs.append(value)

    for i in range(r):
        equation([(x(i, j), 1) for j in range(c)] + [(rt(i), -1)])
    for j in range(c):
        equation([(x(i, j), 1) for i in range(r)] + [(ct(j), -1)])
    equation([(rt(i), 1) for i in range(r)] + [(g, -1)])
    equation([(ct(j), 1) for j in range(c)] + [(g, -1)])
    for i in range(r):
        for j in range(c):
            if not np.isnan(published[i][j]):
                equation([(x(i, j), 1)], published[i][j])
    truth = table.to_numpy(dtype=float)
    for i in range(r):
        if shown["row_total"]:
            if not np.isnan(published[i][c]):
                equation([(rt(i), 1)], published[i][c])
        elif c >= 2:
            equation([(rt(i), 1)], truth[i].sum())
    for j in range(c):
        if shown["col_total"]:
            if not np.isnan(published[r][j]):
                equation([(ct(j), 1)], published[r][j])
        elif r >= 2:
            equation([(ct(j), 1)], truth[:, j].sum())
    if shown["row_total"] and shown["col_total"]:
        if not np.isnan(published[r][c]):
            equation([(g, 1)], published[r][c])
    elif r >= 2 and c >= 2:
        equation([(g, 1)], truth.sum())

    pinned = []
    small_cells = [(x(i, j), truth[i, j]) for i in range(r) for j in range(c)]
    small_cells += [(rt(i), truth[i].sum()) for i in range(r) if shown["row_total"]]
    small_cells += [(ct(j), truth[:, j].sum()) for j in range(c) if shown["col_total"]]
    for k, value in small_cells:
        if not 0 < value < POLICY.threshold:
            continue
        objective = np.zeros(n)
        objective[k] = 1
        low = linprog(objective, A_eq=np.array(eqs), b_eq=rhs, bounds=(None, None))
        high = linprog(-objective, A_eq=np.array(eqs), b_eq=rhs, bounds=(None, None))
        assert low.status in (0, 3)  # optimal or unbounded, never infeasible
        if low.status == 0 and high.status == 0 and abs(low.fun + high.fun) < 1e-6:
            pinned.append((k, value))
    return pinned


count_value = st.one_of(st.integers(0, 12), st.integers(0, 80))


@st.composite
def count_tables(draw):
    rows = draw(st.integers(1, 5))
    cols = draw(st.integers(1, 4))
    cells = draw(st.lists(count_value, min_size=rows * cols, max_size=rows * cols))
    table = pd.DataFrame(
        np.array(cells, dtype=np.int64).reshape(rows, cols),
        columns=[f"c{j}" for j in range(cols)],
        index=[f"r{i}" for i in range(rows)],
    )
    return table, draw(st.booleans()), draw(st.booleans())


def with_totals(table: pd.DataFrame, row_total: bool, col_total: bool) -> pd.DataFrame:
    out = table.copy()
    if row_total:
        out["total"] = table.sum(axis=1)
    if col_total:
        out.loc["total"] = out.sum(axis=0)
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(count_tables())
def test_no_small_count_survives_or_can_be_recovered(case):
    table, row_total, col_total = case
    rows, cols = table.shape
    full = with_totals(table, row_total, col_total)
    result = suppress_counts(
        full,
        list(table.columns),
        POLICY,
        row_total="total" if row_total else None,
        col_total="total" if col_total else None,
    )
    shown_cols = [*table.columns, *(["total"] if row_total else [])]
    assert find_disclosive(result.published, POLICY, shown_cols).empty
    assert result.recoverable().empty

    published = result.published[shown_cols].to_numpy(dtype=float, na_value=np.nan)
    external = {
        "row_margins": None if row_total or cols < 2 else table.sum(axis=1).to_numpy(),
        "col_margins": None if col_total or rows < 2 else table.sum(axis=0),
        "grand_total": None if rows < 2 or cols < 2 else table.to_numpy().sum(),
    }
    found = check_recoverable(
        result.published,
        list(table.columns),
        row_total="total" if row_total else None,
        col_total="total" if col_total else None,
        **external,
    )
    assert found.empty

    pinned = lp_pins_down(
        table,
        published.tolist(),
        rows,
        cols,
        {"row_total": row_total, "col_total": col_total},
    )
    assert pinned == []


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)).map(sorted), min_size=1, max_size=6)
)
def test_tidy_rates_never_reveal_small_counts(pairs):
    completed, started = zip(*pairs, strict=True)
    df = pd.DataFrame({"n_started": started, "n_completed": completed})
    df["rate"] = df["n_completed"] / df["n_started"].where(df["n_started"] > 0)
    result = protect_frame(
        df,
        POLICY,
        base_cols={"rate": "n_started"},
        numerator_cols={"rate": "n_completed"},
        row_total="n_started",
    )
    values = result.published
    assert find_disclosive(values, POLICY, ["n_started", "n_completed"]).empty
    assert result.recoverable().empty
    # A shown rate never sits on a small or withheld base, or a withheld numerator.
    shown_rate = values["rate"].notna()
    assert (values.loc[shown_rate, "n_started"] >= POLICY.threshold).all()
    assert values.loc[shown_rate, "n_completed"].notna().all()
    # Where both counts are shown, the non-completers they imply are not small.
    both = values["n_started"].notna() & values["n_completed"].notna()
    rest = (values["n_started"] - values["n_completed"])[both].to_numpy(dtype=float)
    assert not POLICY.is_small(rest).any()
