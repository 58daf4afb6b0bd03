"""Charts draw what the analyses computed, in English and Dutch, and respect disclosure control.

Every chart is drawn from the real analyses of one synthetic export and the
test inspects what is on the Axes: artists, their data, labels, limits and
the notes. Disclosure tests use a threshold high enough to withhold some
groups and check those are gone and the note names them.
"""

from __future__ import annotations

import os

os.environ["MPLBACKEND"] = "Agg"

import warnings

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from _svg import savefig_svg
from matplotlib.container import ErrorbarContainer
from matplotlib.patches import StepPatch
from scipy import stats

from cdanalytics import charts
from cdanalytics import engagement as eng
from cdanalytics import prepost as pp
from cdanalytics import reoffending as reo
from cdanalytics.disclosure import DisclosurePolicy
from cdanalytics.errors import ConfigError
from cdanalytics.i18n import label
from cdanalytics.matching import match, matched_effect
from cdanalytics.report.figures import accessible_svg, render_figure
from cdanalytics.synth import generate

COVARIATES = ["risk_level", "prior_offences", "age_band"]


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def export():
    export, _ = generate(3000, seed=21)
    return export


@pytest.fixture(scope="module")
def engagement(export):
    return eng.prepare_engagement(export)


@pytest.fixture(scope="module")
def outcomes(export):
    return reo.person_outcomes(export)


@pytest.fixture(scope="module")
def matched(outcomes):
    eligible = outcomes[outcomes["window_eligible"].fillna(False)].set_index("participant_id")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return match(eligible, covariates=COVARIATES)


@pytest.fixture(scope="module")
def scores(export):
    return pp.score_table(export, by="programme")


@pytest.fixture(scope="module")
def reliable(scores):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pp.reliable_change(scores, by="programme")


@pytest.fixture(autouse=True)
def no_show_and_close(monkeypatch):
    """Charts never call plt.show(); every figure is closed after the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a chart called plt.show()")

    monkeypatch.setattr(plt, "show", refuse)
    yield
    plt.close("all")


# --- helpers ---------------------------------------------------------------------------


def by_gid(ax, gid, kind="patches"):
    return [a for a in getattr(ax, kind) if a.get_gid() == gid]


def note_text(ax):
    notes = [t for t in ax.texts if t.get_gid() == "suppressed_note"]
    return notes[0].get_text() if notes else None


def errorbar_points(ax):
    """x, y data of the markers of every errorbar container on the Axes."""
    containers = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    xs = np.concatenate([c.lines[0].get_xdata() for c in containers]) if containers else []
    ys = np.concatenate([c.lines[0].get_ydata() for c in containers]) if containers else []
    return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)


def assert_limits_contain(ax, low, high, axis="x"):
    lim = ax.dataLim
    lo, hi = (lim.x0, lim.x1) if axis == "x" else (lim.y0, lim.y1)
    assert lo <= np.nanmin(low) + 1e-12
    assert hi >= np.nanmax(high) - 1e-12


def stair_heights(patch):
    """Bar heights of a StepPatch (the first field of its StairData)."""
    return patch.get_data()[0]


def ytick_texts(ax):
    return [t.get_text() for t in ax.get_yticklabels()]


# --- participant flow ------------------------------------------------------------------


def test_flow_draws_five_stage_boxes_with_their_counts_and_exit_boxes(engagement):
    flow, exits = eng.flow(engagement), eng.flow_exits(engagement)
    ax = charts.participant_flow(flow, exits)
    stages = by_gid(ax, "flow_stage")
    assert len(stages) == 5
    steps_with_leavers = exits["stage"].astype(str).nunique()
    assert len(by_gid(ax, "flow_exit")) == steps_with_leavers
    assert len(by_gid(ax, "flow_arrow")) == 4 + steps_with_leavers
    stage_text = [t.get_text() for t in by_gid(ax, "flow_stage_text", "texts")]
    for text, stage in zip(stage_text, eng.STAGES, strict=True):
        assert text == f"{label(stage)}\nn = {int(flow[f'n_{stage}'].iloc[0]):,}"
    lines = "\n".join(t.get_text() for t in by_gid(ax, "flow_exit_text", "texts")).split("\n")
    expected = {f"{label(str(r.reason))}: {r.n_left:,}" for r in exits.itertuples()}
    assert set(lines) == expected
    assert not ax.axison
    assert ax.get_title("left") == "From referral to completion"
    assert note_text(ax) is None


def test_flow_in_dutch_uses_dutch_words_and_number_format(engagement):
    flow = eng.flow(engagement)
    ax = charts.participant_flow(flow, eng.flow_exits(engagement), lang="nl")
    first = by_gid(ax, "flow_stage_text", "texts")[0].get_text()
    referred = int(flow["n_referred"].iloc[0])
    assert first == f"Aangemeld\nn = {referred:,}".replace(",", ".")
    assert ax.get_title("left") == "Van aanmelding tot afronding"


def test_flow_with_disclosure_hides_small_reasons_so_none_can_be_worked_out(engagement):
    flow, exits = eng.flow(engagement), eng.flow_exits(engagement)
    policy = DisclosurePolicy(threshold=30)
    small = exits.loc[exits["n_left"] < 30]
    assert len(small), "the synthetic flow should have small exit reasons"
    ax = charts.participant_flow(flow, exits, disclosure=policy)
    lines = "\n".join(t.get_text() for t in by_gid(ax, "flow_exit_text", "texts")).split("\n")
    shown = {
        line.rsplit(": ", 1)[0]: int(line.rsplit(": ", 1)[1].replace(",", "")) for line in lines
    }
    for row in small.itertuples():
        assert label(str(row.reason)) not in shown
    assert all(n >= 30 for n in shown.values())
    # At each step the reasons add up to the (shown) drop between two stages, so a
    # step either shows all its reasons or withholds at least two of them.
    for stage, part in exits.groupby(exits["stage"].astype(str)):
        hidden = sum(label(str(r)) not in shown for r in part["reason"].astype(str))
        assert hidden != 1, stage
    note = note_text(ax)
    assert "fewer than 30" in note
    for row in small.itertuples():
        assert label(str(row.reason)) in note


def test_flow_refuses_several_groups_and_exits_that_do_not_add_up(engagement):
    flows = eng.flow(engagement, by="programme")
    with pytest.raises(ConfigError, match="one group"):
        charts.participant_flow(flows, eng.flow_exits(engagement, by="programme"))
    exits = eng.flow_exits(engagement)
    with pytest.raises(ConfigError, match="add up"):
        charts.participant_flow(eng.flow(engagement), exits.iloc[1:])


# --- completion ------------------------------------------------------------------------


def test_completion_draws_one_point_and_wilson_interval_per_site(engagement):
    table = eng.completion(engagement, by="site")
    ax = charts.completion_chart(table)
    x, y = errorbar_points(ax)
    np.testing.assert_allclose(x, table["completion_rate"])
    np.testing.assert_array_equal(y, np.arange(len(table)))
    assert_limits_contain(ax, table["completion_ci_low"], table["completion_ci_high"])
    ticks = ytick_texts(ax)
    for tick, row in zip(ticks, table.itertuples(), strict=True):
        assert tick == f"{row.site} (n = {row.n_potential:,})"
    assert ax.get_xlabel() == "Completion rate"
    assert ax.get_title("left") == "Completion"
    values = [t.get_text() for t in by_gid(ax, "value_label", "texts")]
    assert values == [f"{100 * r:.0f}%" for r in table["completion_rate"]]


def test_completion_of_clear_outcomes_in_dutch(engagement):
    table = eng.completion(engagement, by="programme")
    ax = charts.completion_chart(table, base="clear_outcome", lang="nl")
    x, _ = errorbar_points(ax)
    np.testing.assert_allclose(x, table["completion_rate_clear"])
    assert_limits_contain(ax, table["completion_ci_low_clear"], table["completion_ci_high_clear"])
    assert ax.get_xlabel() == "Percentage afgerond"
    assert ytick_texts(ax)[0].startswith(label(str(table["programme"].iloc[0]), "nl"))


def test_completion_with_disclosure_leaves_out_small_sites_and_says_so(engagement):
    table = eng.completion(engagement, by="site")
    threshold = 40
    small = (table["n_completed"] < threshold) | (
        table["n_potential"] - table["n_completed"] < threshold
    )
    assert 0 < small.sum() < len(table)
    ax = charts.completion_chart(table, disclosure=DisclosurePolicy(threshold=threshold))
    drawn_sites = [tick.split(" (n = ")[0] for tick in ytick_texts(ax)]
    assert not set(table.loc[small, "site"]) & set(drawn_sites)
    x, _ = errorbar_points(ax)
    assert len(x) == len(drawn_sites) <= (~small).sum()
    note = note_text(ax)
    for site in table.loc[small, "site"]:
        assert site in note


# --- retention -------------------------------------------------------------------------


def test_retention_draws_a_step_curve_and_band_per_programme(engagement):
    table = eng.retention(engagement, by="programme")
    ax = charts.retention_chart(table)
    programmes = list(dict.fromkeys(table["programme"].astype(str)))
    assert len(ax.lines) == len(programmes)
    assert len(by_gid(ax, "ci_band", "collections")) == len(programmes)
    for line, programme in zip(ax.lines, programmes, strict=True):
        rows = table.loc[table["programme"] == programme]
        np.testing.assert_allclose(line.get_ydata(), rows["retained"])
        assert line.get_drawstyle() == "steps-pre"
        assert line.get_label() == label(programme)
    assert_limits_contain(ax, table["ci_low"], table["ci_high"], axis="y")
    assert ax.get_xlabel() == "Core session number"
    assert ax.get_ylabel() == "Share still attending"
    assert {line.get_color().upper() for line in ax.lines} <= set(charts.PALETTE)


def test_retention_with_disclosure_stops_curves_where_few_remain(engagement):
    table = eng.retention(engagement, by="programme")
    threshold = 70
    ax = charts.retention_chart(table, lang="nl", disclosure=DisclosurePolicy(threshold=threshold))
    starters = table.loc[table["session"] == 0]
    starters = starters.set_index(starters["programme"].astype(str))
    too_small = starters.index[starters["n_at_risk"] < threshold]
    assert len(too_small) and len(too_small) < len(starters)
    names = [line.get_label() for line in ax.lines]
    assert not {label(p, "nl") for p in too_small} & set(names)
    for line in ax.lines:
        programme = next(p for p in starters.index if label(p, "nl") == line.get_label())
        rows = table.loc[table["programme"] == programme]
        assert line.get_xdata().max() == rows.loc[rows["n_at_risk"] >= threshold, "session"].max()
    note = note_text(ax)
    assert "minder dan 70" in note and "gevolgd" in note
    assert all(label(p, "nl") in note for p in too_small)
    assert ax.get_ylabel() == "Aandeel nog aanwezig"


# --- dropout timing --------------------------------------------------------------------


def test_dropout_timing_bars_are_the_counts_per_last_session(engagement):
    table = eng.dropout_timing(engagement, by="programme")
    ax = charts.dropout_timing_chart(table)
    bars = by_gid(ax, "dropout_bar")
    assert len(bars) == len(table)
    np.testing.assert_array_equal(
        sorted(b.get_height() for b in bars), sorted(table["n_dropped_out"])
    )
    assert ax.get_xlabel() == "Last core session attended"
    assert ax.get_ylabel() == "Dropouts"
    shares = charts.dropout_timing_chart(eng.dropout_timing(engagement), value="share", lang="nl")
    heights = [b.get_height() for b in by_gid(shares, "dropout_bar")]
    assert np.isclose(sum(heights), 1.0)
    assert shares.get_ylabel() == "Aandeel van de uitvallers"


def test_dropout_timing_with_disclosure_draws_no_small_bar(engagement):
    table = eng.dropout_timing(engagement, by="programme")
    assert (table["n_dropped_out"] < 10).any()
    ax = charts.dropout_timing_chart(table, disclosure=DisclosurePolicy())
    heights = np.array([b.get_height() for b in by_gid(ax, "dropout_bar")])
    assert len(heights) and (heights >= 10).all()
    assert "session" in note_text(ax)


# --- cumulative reoffending ------------------------------------------------------------

HORIZONS = (0, 6, 12, 18, 24)


def test_km_curves_bands_and_numbers_at_risk_match_the_tables(outcomes):
    result = reo.cumulative_reoffending(outcomes, by="group")
    at_risk = reo.at_risk_table(outcomes, by="group", horizons_months=HORIZONS)
    ax = charts.cumulative_reoffending_chart(result.curve, at_risk)
    assert len(ax.lines) == 2
    assert len(by_gid(ax, "ci_band", "collections")) == 2
    for line, group in zip(ax.lines, ["programme", "comparison"], strict=True):
        rows = result.curve.loc[(result.curve["group"] == group)]
        rows = rows.loc[rows["time_months"] <= 24]
        np.testing.assert_allclose(line.get_ydata()[: len(rows)], rows["cumulative"])
        assert line.get_xdata().max() <= 24
    texts = [t.get_text() for t in by_gid(ax, "at_risk", "texts")]
    assert texts == [f"{n:,}" for n in at_risk["n_at_risk"]]
    positions = [t.xy[0] for t in by_gid(ax, "at_risk", "texts")]
    assert positions == list(at_risk["horizon_months"])
    np.testing.assert_array_equal(ax.get_xticks(), HORIZONS)
    within = result.curve["time_months"] <= 24
    assert_limits_contain(
        ax, result.curve.loc[within, "ci_low"], result.curve.loc[within, "ci_high"], axis="y"
    )
    assert ax.get_ylabel() == "Cumulative proven reoffending"
    assert ax.get_xlabel() == "Months since start of follow-up"
    groups = [t.get_text() for t in by_gid(ax, "at_risk_group", "texts")]
    assert groups == ["Programme", "Comparison"]


def test_km_in_dutch(outcomes):
    result = reo.cumulative_reoffending(outcomes, by="group")
    at_risk = reo.at_risk_table(outcomes, by="group", horizons_months=HORIZONS)
    ax = charts.cumulative_reoffending_chart(result.curve, at_risk, lang="nl")
    assert ax.get_ylabel() == "Cumulatieve bewezen recidive"
    header = by_gid(ax, "at_risk_header", "texts")[0].get_text()
    assert header == "Aantal nog gevolgd"
    texts = [t.get_text() for t in by_gid(ax, "at_risk", "texts")]
    assert texts == [f"{n:,}".replace(",", ".") for n in at_risk["n_at_risk"]]


def test_km_with_disclosure_drops_a_small_group_and_marks_small_numbers(outcomes):
    result = reo.cumulative_reoffending(outcomes, by="group")
    at_risk = reo.at_risk_table(outcomes, by="group", horizons_months=HORIZONS)
    sizes = at_risk.loc[at_risk["horizon_months"] == 0].set_index("group")["n_at_risk"]
    threshold = int(sizes.min()) + 1  # the smaller group is withheld entirely
    policy = DisclosurePolicy(threshold=threshold)
    ax = charts.cumulative_reoffending_chart(result.curve, at_risk, disclosure=policy)
    small = sizes.idxmin()
    assert len(ax.lines) == 1
    assert ax.lines[0].get_label() == label(str(sizes.idxmax()))
    groups = [t.get_text() for t in by_gid(ax, "at_risk_group", "texts")]
    assert label(str(small)) not in groups
    big = at_risk.loc[at_risk["group"] == sizes.idxmax()]
    texts = [t.get_text() for t in by_gid(ax, "at_risk", "texts")]
    assert len(texts) == len(big)
    for text, n in zip(texts, big["n_at_risk"], strict=True):
        assert text in (f"<{threshold}", "[c]") if n < threshold else text == f"{n:,}"
    rows = result.curve.loc[result.curve["group"] == sizes.idxmax()]
    assert (
        ax.lines[0].get_xdata().max()
        <= rows.loc[rows["n_at_risk"] >= threshold, "time_months"].max() + 1e-9
    )
    note = note_text(ax)
    assert label(str(small)) in note and "remain at risk" in note


def test_km_refuses_tables_grouped_differently(outcomes):
    result = reo.cumulative_reoffending(outcomes, by="group")
    at_risk = reo.at_risk_table(outcomes, by="risk_level")
    with pytest.raises(ConfigError, match="same by"):
        charts.cumulative_reoffending_chart(result.curve, at_risk)


# --- forest plot -----------------------------------------------------------------------


def in_percentage_points(summary: pd.DataFrame) -> pd.DataFrame:
    """A matched_effect summary (shares) with its difference and limits in percentage
    points, the columns the forest plot draws (percentages only for display)."""
    pp = {f"{c}_pp": 100 * summary[c] for c in ("difference", "ci_low", "ci_high")}
    return summary.assign(**pp)


def test_forest_of_percentage_point_differences(matched):
    effects = pd.concat(
        [
            in_percentage_points(matched_effect(matched, o).summary)
            for o in ("reoffended_in_window", "event")
        ],
        ignore_index=True,
    )
    ax = charts.forest_plot(effects)
    x, y = errorbar_points(ax)
    order = np.argsort(y)
    np.testing.assert_allclose(x[order], effects["difference_pp"])
    assert_limits_contain(ax, effects["ci_low_pp"], effects["ci_high_pp"])
    null = by_gid(ax, "null_line", "lines")[0]
    assert list(null.get_xdata()) == [0, 0]
    assert ytick_texts(ax) == ["Proven reoffending", "event"]
    values = [t.get_text() for t in by_gid(ax, "value_label", "texts")]
    expected = [
        f"{r.difference_pp:.1f} ({r.ci_low_pp:.1f} to {r.ci_high_pp:.1f})"
        for r in effects.itertuples()
    ]
    assert values == expected
    assert ax.get_xlabel() == "Difference (percentage points) (95% confidence interval)"
    dutch = charts.forest_plot(effects, lang="nl")
    assert dutch.get_xlabel() == "Verschil (procentpunten) (95%-betrouwbaarheidsinterval)"
    assert " tot " in by_gid(dutch, "value_label", "texts")[0].get_text()


def test_forest_of_effect_sizes_colours_significant_rows(scores):
    change = pp.change(scores, by="programme", subset=["cts2"])
    ax = charts.forest_plot(change, estimate="g_av")
    significant = (change["g_av_ci_low"] > 0) | (change["g_av_ci_high"] < 0)
    blue = [c for c in ax.containers if c.lines[0].get_color() == charts.OKABE_ITO["blue"]]
    grey = [c for c in ax.containers if c not in blue]
    assert len(blue[0].lines[0].get_xdata()) == significant.sum()
    assert len(grey[0].lines[0].get_xdata()) == (~significant).sum()
    assert_limits_contain(ax, change["g_av_ci_low"], change["g_av_ci_high"])
    assert ax.get_xlabel().startswith("Effect size")
    dutch = charts.forest_plot(change, estimate="g_av", lang="nl")
    dutch.figure.canvas.draw()
    ticks = [t.get_text() for t in dutch.get_xticklabels() if t.get_text() not in ("0", "−0")]
    assert ticks and all("," in t and "." not in t for t in ticks)
    assert ytick_texts(ax)[0] == f"{label(str(change['programme'].iloc[0]))} · CTS2 · Injury"


def test_forest_with_disclosure_leaves_out_small_groups(scores):
    change = pp.change(scores, by="programme", subset=["cts2"])
    threshold = 60
    small = change["n_paired"] < threshold
    assert 0 < small.sum() < len(change)
    ax = charts.forest_plot(
        change, estimate="g_av", disclosure=DisclosurePolicy(threshold=threshold)
    )
    x, _ = errorbar_points(ax)
    assert len(x) == (~small).sum()
    note = note_text(ax)
    for programme in change.loc[small, "programme"].astype(str).unique():
        assert label(programme) in note
        assert not any(t.startswith(label(programme)) for t in ytick_texts(ax))


def test_forest_of_hazard_ratios_is_on_a_log_axis_around_one(outcomes):
    summary = reo.cox(outcomes, ["group", "risk_level", "prior_offences"]).summary
    ax = charts.forest_plot(summary, estimate="hazard_ratio")
    assert ax.get_xscale() == "log"
    assert list(by_gid(ax, "null_line", "lines")[0].get_xdata()) == [1, 1]
    assert len(ytick_texts(ax)) == len(summary)
    assert {"Risk level: High", "Prior offences"} <= set(ytick_texts(ax))
    with pytest.raises(ConfigError, match="n_cols"):
        charts.forest_plot(summary, estimate="hazard_ratio", disclosure=DisclosurePolicy())


# --- matching --------------------------------------------------------------------------


def test_love_plot_shows_absolute_smd_before_and_after_with_reference_lines(matched):
    balance = matched.balance
    ax = charts.love_plot(balance)
    before = by_gid(ax, "smd_before", "lines")[0]
    after = by_gid(ax, "smd_after", "lines")[0]
    np.testing.assert_allclose(before.get_xdata(), balance["smd_before"].abs())
    np.testing.assert_allclose(after.get_xdata(), balance["smd_after"].abs())
    assert sorted(r.get_xdata()[0] for r in by_gid(ax, "reference", "lines")) == [0.1, 0.25]
    ticks = ytick_texts(ax)
    assert ticks[0] == "Propensity score"
    assert "Risk level: High" in ticks and "Prior offences" in ticks
    assert ax.get_xlabel() == "Absolute standardised mean difference"
    dutch = charts.love_plot(balance, lang="nl")
    assert "Risiconiveau: Hoog" in ytick_texts(dutch)
    assert [t.get_text() for t in dutch.get_legend().get_texts()] == [
        "Voor matching",
        "Na matching",
    ]


def test_love_plot_with_disclosure_needs_counts_and_hides_a_small_sample(matched):
    with pytest.raises(ConfigError, match="counts"):
        charts.love_plot(matched.balance, disclosure=DisclosurePolicy())
    n_matched = int(matched.counts["n_matched"].min())
    policy = DisclosurePolicy(threshold=n_matched + 1)
    ax = charts.love_plot(matched.balance, counts=matched.counts, disclosure=policy)
    assert by_gid(ax, "smd_after", "lines") == []
    assert len(by_gid(ax, "smd_before", "lines")) == 1
    assert "After matching" in note_text(ax)


def test_propensity_overlap_mirrors_the_densities_before_and_after(matched):
    scores = matched.scores
    ax = charts.propensity_overlap(scores, bins=20)
    steps = {p.get_gid(): p for p in ax.patches if isinstance(p, StepPatch)}
    assert set(steps) == {
        "ps_before_programme",
        "ps_before_comparison",
        "ps_after_programme",
        "ps_after_comparison",
    }
    edges = np.linspace(0, 1, 21)
    treated = scores["treated"].to_numpy()
    ps = scores["propensity_score"].to_numpy()
    w = scores["weights"].to_numpy()
    expected = np.histogram(ps[treated], bins=edges, density=True)[0]
    np.testing.assert_allclose(stair_heights(steps["ps_before_programme"]), expected)
    control = ~treated & (w > 0)
    expected = np.histogram(ps[control], bins=edges, weights=w[control], density=True)[0]
    np.testing.assert_allclose(stair_heights(steps["ps_after_comparison"]), -expected)
    assert ax.get_xlabel() == "Propensity score"
    assert ax.get_ylabel() == "Density"
    assert charts.propensity_overlap(scores, lang="nl").get_ylabel() == "Dichtheid"


def test_propensity_overlap_with_disclosure_draws_no_small_bin(matched):
    scores = matched.scores
    edges = np.linspace(0, 1, 21)
    ps = scores["propensity_score"].to_numpy()
    treated = scores["treated"].to_numpy()
    people = np.histogram(ps[treated], bins=edges)[0]
    assert ((people > 0) & (people < 10)).any()
    ax = charts.propensity_overlap(scores, bins=20, disclosure=DisclosurePolicy())
    drawn = stair_heights(by_gid(ax, "ps_before_programme")[0])
    assert (drawn[(people > 0) & (people < 10)] == 0).all()
    assert "Programme" in note_text(ax)


# --- pre/post --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed_means(export):
    results = [
        pp.mixed_model(export, "sdq", "total", "partner"),
        pp.mixed_model(export, "psi_sf", "total", "father"),
    ]
    return results, charts.mixed_model_means(results)


def test_mixed_model_means_are_the_mean_rows_of_the_summaries(mixed_means):
    results, means = mixed_means
    for result in results:
        rows = means.loc[means["instrument"] == result.instrument]
        mean_rows = result.summary.loc[result.summary["kind"] == "mean"]
        np.testing.assert_allclose(rows["mean"], mean_rows["estimate"])
        np.testing.assert_allclose(rows["ci_high"], mean_rows["ci_high"])
        assert list(rows["timepoint"]) == list(mean_rows["term"])


def test_change_means_are_t_intervals_of_the_paired_scores(export, scores):
    change = pp.change(scores, by="programme", subset=["sdq"])
    means = charts.change_means(change)
    row = change.iloc[0]
    measures = export.measures
    pick = (
        (measures["instrument"] == "sdq")
        & (measures["scale"] == "total")
        & (measures["informant"] == "partner")
    )
    programme = export.participants.set_index("participant_id")["programme"]
    wide = measures.loc[pick].pivot_table(
        index="participant_id", columns="timepoint", values="score", observed=True
    )
    wide = wide.loc[programme.reindex(wide.index) == row["programme"], ["pre", "post"]].dropna()
    for timepoint in ("pre", "post"):
        x = wide[timepoint].to_numpy()
        low, high = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
        got = means.loc[
            (means["programme"] == row["programme"]) & (means["timepoint"] == timepoint)
        ].iloc[0]
        assert got["n"] == len(x)
        assert got["ci_low"] == pytest.approx(low)
        assert got["ci_high"] == pytest.approx(high)


def test_change_means_takes_one_pair_of_timepoints(scores):
    both = pd.concat(
        [
            pp.change(scores, subset=["sdq"]),
            pp.change(scores, subset=["sdq"], timepoints=("pre", "follow_up")),
        ]
    )
    with pytest.raises(ConfigError, match="one pair of timepoints"):
        charts.change_means(both)


def test_prepost_means_draws_each_series_over_the_timepoints(mixed_means):
    _, means = mixed_means
    ax = charts.prepost_means(means)
    assert len(ax.containers) == 2
    _, y = errorbar_points(ax)
    np.testing.assert_allclose(y, means["mean"])
    assert_limits_contain(ax, means["ci_low"], means["ci_high"], axis="y")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Pre", "Post", "Follow-up"]
    assert ax.get_ylabel() == "Mean score"
    dutch = charts.prepost_means(means, lang="nl")
    assert [t.get_text() for t in dutch.get_xticklabels()] == [
        "Voormeting",
        "Nameting",
        "Follow-up",
    ]


def test_prepost_means_with_disclosure_leaves_out_small_timepoints(mixed_means):
    _, means = mixed_means
    threshold = int(means["n"].min()) + 1
    ax = charts.prepost_means(means, disclosure=DisclosurePolicy(threshold=threshold))
    _, y = errorbar_points(ax)
    np.testing.assert_allclose(np.sort(y), np.sort(means.loc[means["n"] >= threshold, "mean"]))


def test_jacobson_truax_plot_band_cutoffs_and_classes(reliable):
    sdq = reliable.loc[(reliable["instrument"] == "sdq")]
    ax = charts.jacobson_truax_plot(sdq)
    classified = sdq.loc[
        sdq["change_class"].isin(["recovered", "improved", "unchanged", "deteriorated"])
    ]
    points = {
        c.get_gid(): c.get_offsets() for c in ax.collections if c.get_gid().startswith("points")
    }
    assert sum(len(p) for p in points.values()) == len(classified)
    s_diff = sdq["s_diff"].dropna().iloc[0]
    cutoff = sdq["cutoff"].dropna().iloc[0]
    # Every unchanged point lies inside the band; every reliable one outside.
    inside = np.abs(points["points_unchanged"][:, 1] - points["points_unchanged"][:, 0])
    assert (inside <= 1.96 * s_diff).all()
    for name in ("recovered", "improved"):
        if name in (g.removeprefix("points_") for g in points):
            change = points[f"points_{name}"][:, 1] - points[f"points_{name}"][:, 0]
            assert (change < -1.96 * s_diff).all()  # SDQ: higher is worse
    recovered = points["points_recovered"]
    assert (recovered[:, 0] >= cutoff).all() and (recovered[:, 1] < cutoff).all()
    band = by_gid(ax, "rc_band", "collections")[0].get_paths()[0].vertices
    width = band[:, 1].max() - band[:, 1].min() - (band[:, 0].max() - band[:, 0].min())
    assert width == pytest.approx(2 * 1.96 * s_diff)
    lines = by_gid(ax, "cutoff", "lines")
    assert {tuple(line.get_xdata()) for line in lines} >= {(cutoff, cutoff)}
    assert {tuple(line.get_ydata()) for line in lines} >= {(cutoff, cutoff)}
    identity = by_gid(ax, "identity", "lines")[0]
    np.testing.assert_allclose(identity.get_xdata(), identity.get_ydata())
    assert ax.get_xlabel() == "Pre score" and ax.get_ylabel() == "Post score"
    dutch = charts.jacobson_truax_plot(sdq, lang="nl")
    assert dutch.get_xlabel() == "Score (Voormeting)"
    legend = [t.get_text() for t in dutch.get_legend().get_texts()]
    assert f"Hersteld ({len(recovered)})" in legend


def test_jacobson_truax_plot_refuses_several_scales(reliable):
    with pytest.raises(ConfigError, match="one instrument"):
        charts.jacobson_truax_plot(reliable)


def test_jacobson_truax_with_disclosure_hides_small_classes(reliable):
    sdq = reliable.loc[(reliable["instrument"] == "sdq")]
    counts = sdq["change_class"].value_counts()
    small = [c for c in ("improved", "deteriorated") if 0 < counts.get(c, 0) < 10]
    assert small
    ax = charts.jacobson_truax_plot(sdq, disclosure=DisclosurePolicy())
    gids = {c.get_gid() for c in ax.collections}
    for name in small:
        assert f"points_{name}" not in gids
        assert label(name) in note_text(ax)


def test_reliable_change_bars_stack_the_class_shares(reliable):
    summary = pp.reliable_change_summary(reliable)
    ax = charts.reliable_change_bars(summary)
    bars = summary.loc[summary["n_classified"] > 0]
    n_bars = bars[["instrument", "scale", "informant", "baseline"]].drop_duplicates().shape[0]
    total = np.zeros(n_bars)
    for name in ("recovered", "improved", "unchanged", "deteriorated"):
        patches = by_gid(ax, f"bar_{name}")
        assert len(patches) == n_bars
        total += [p.get_width() for p in patches]
    np.testing.assert_allclose(total, 1.0)
    first = bars.iloc[0]
    widths = {
        name: by_gid(ax, f"bar_{name}")[0].get_width()
        for name in ("recovered", "improved", "unchanged", "deteriorated")
    }
    expected = bars.loc[
        (bars["instrument"] == first["instrument"]) & (bars["baseline"] == first["baseline"])
    ].set_index("change_class")["rate"]
    for name, rate in expected.items():
        assert widths[name] == pytest.approx(rate)
    assert ax.get_xlabel() == "Share of participants"
    assert any("Clinical at start" in t for t in ytick_texts(ax))
    assert charts.reliable_change_bars(summary, lang="nl").get_xlabel() == "Aandeel deelnemers"


def test_reliable_change_bars_with_disclosure_leave_out_bars_with_small_classes(reliable):
    summary = pp.reliable_change_summary(reliable)
    bars = summary.loc[summary["n_classified"] > 0]
    small = bars.loc[(bars["n"] > 0) & (bars["n"] < 10)]
    assert len(small)
    ax = charts.reliable_change_bars(summary, disclosure=DisclosurePolicy())
    drawn = ytick_texts(ax)
    for row in small.itertuples():
        name = f"{label(row.instrument)} · {label(row.scale)}"
        assert not any(t.startswith(name) and label(f"baseline_{row.baseline}") in t for t in drawn)
    assert note_text(ax)


# --- every chart -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def every_chart(engagement, outcomes, matched, scores, reliable, mixed_means):
    cumulative = reo.cumulative_reoffending(outcomes, by="group")
    at_risk = reo.at_risk_table(outcomes, by="group")
    effect = in_percentage_points(matched_effect(matched, "reoffended_in_window").summary)
    return {
        "flow": lambda **kw: charts.participant_flow(
            eng.flow(engagement), eng.flow_exits(engagement), **kw
        ),
        "completion": lambda **kw: charts.completion_chart(eng.completion(engagement), **kw),
        "retention": lambda **kw: charts.retention_chart(eng.retention(engagement), **kw),
        "dropout": lambda **kw: charts.dropout_timing_chart(eng.dropout_timing(engagement), **kw),
        "km": lambda **kw: charts.cumulative_reoffending_chart(cumulative.curve, at_risk, **kw),
        "forest": lambda **kw: charts.forest_plot(effect, **kw),
        "love": lambda **kw: charts.love_plot(matched.balance, counts=matched.counts, **kw),
        "overlap": lambda **kw: charts.propensity_overlap(matched.scores, **kw),
        "means": lambda **kw: charts.prepost_means(mixed_means[1], **kw),
        "jt": lambda **kw: charts.jacobson_truax_plot(
            reliable.loc[reliable["instrument"] == "sdq"], **kw
        ),
        "bars": lambda **kw: charts.reliable_change_bars(
            pp.reliable_change_summary(reliable), **kw
        ),
    }


CHARTS = ["flow", "completion", "retention", "dropout", "km", "forest", "love", "overlap"]
CHARTS += ["means", "jt", "bars"]


@pytest.mark.parametrize("name", CHARTS)
def test_a_chart_draws_on_the_axes_it_is_given_and_leaves_global_style_alone(every_chart, name):
    before = dict(mpl.rcParams)
    fig, ax = plt.subplots()
    assert every_chart[name](ax=ax) is ax
    assert len(fig.axes) == 1
    assert dict(mpl.rcParams) == before
    assert ax.get_title("left")


@pytest.mark.parametrize("name", CHARTS)
def test_a_chart_has_a_dutch_title_and_refuses_bad_options(every_chart, name):
    english = every_chart[name]().get_title("left")
    dutch = every_chart[name](lang="nl").get_title("left")
    assert dutch and dutch != english
    with pytest.raises(ConfigError, match="choose one of"):
        every_chart[name](lang="fr")
    with pytest.raises(ConfigError, match="DisclosurePolicy"):
        every_chart[name](disclosure=10)


@pytest.mark.parametrize("name", CHARTS)
def test_the_report_saves_a_chart_as_matplotlib_does(every_chart, name):
    """:func:`charts.svg_text` and the report's SVG (:func:`render_figure`),
    which measure each text once for all the renderers of a save, are
    matplotlib's own ``savefig`` of the same chart, byte for byte (element ids
    made repeatable by a fixed salt)."""
    with mpl.rc_context({"svg.hashsalt": "cdanalytics"}):
        svg = savefig_svg(every_chart[name])
        again = every_chart[name]()
        canvas = again.figure.canvas
        assert charts.svg_text(again.figure) == svg
        assert again.figure.canvas is canvas  # the figure keeps its canvas
        plt.close(again.figure)
        figure = render_figure(name, "charts", every_chart[name](), "en")
    assert figure.svg == accessible_svg(svg[svg.index("<svg") :], figure.alt)


def test_a_new_figure_takes_the_chart_style(every_chart):
    ax = every_chart["completion"]()
    ax.figure.canvas.draw()
    assert not ax.spines["top"].get_visible()
    assert ax.get_xticklabels()[0].get_fontsize() == charts.RC_PARAMS["xtick.labelsize"]
    assert mpl.rcParams["axes.spines.top"]  # the caller's settings are untouched


def test_a_chart_refuses_a_table_without_its_columns(engagement):
    with pytest.raises(ConfigError, match="missing"):
        charts.completion_chart(eng.flow(engagement))
