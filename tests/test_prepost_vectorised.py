"""The grouped (vectorised) pre/post statistics against the plain per-group
scipy loop a researcher would write (issue 16): many groups at once, among
them groups of one and two pairs, ties, zero changes, changes of no spread,
missing scores, several scales per instrument (Holm families), and groups
large enough for the normal approximation of the Wilcoxon test."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from _prepost_fixtures import make_export
from scipy import optimize, special, stats
from statsmodels.stats.multitest import multipletests

from cdanalytics.prepost import change, reliable_change, reliable_change_summary
from cdanalytics.prepost._signed_rank import _by_sign_flips, _wilcoxon_sign_flips

# (instrument, scale): registry direction and reliability (instrument_registry()).
SCALES = {
    ("sdq", "total"): 0.73,
    ("cts2", "psychological_aggression"): 0.69,
    ("cts2", "physical_assault"): 0.76,
    ("cts2", "negotiation"): 0.60,
}
# Pairs per programme; "solo" and "duo" have one and two pairs per scale.
SIZES = {"solo": 1, "duo": 2, "trio": 3, "small": 12, "mid": 45, "large": 180, "flat": 9}


def _random_export(seed: int) -> tuple:
    """Integer scores (ties and zero changes) with known shifts; every scale
    of every programme also has people with only one of the two scores.
    "flat" has the same change for everyone (no spread of the changes)."""
    rng = np.random.default_rng(seed)
    rows, people = [], []
    for programme, n in SIZES.items():
        for i in range(n + 4):  # four more: two pre only, two post only
            pid = f"{programme}{i}"
            people.append((pid, programme))
            for (instrument, scale), _ in SCALES.items():
                pre = float(rng.integers(5, 30))
                post = pre + (3.0 if programme == "flat" else float(rng.integers(-14, 9)))
                if i == n or i == n + 1:
                    post = np.nan
                if i >= n + 2:
                    pre = np.nan
                for timepoint, value in (("pre", pre), ("post", post)):
                    if not np.isnan(value):
                        rows.append((pid, instrument, scale, "partner", timepoint, value))
    participants = pd.DataFrame(people, columns=["participant_id", "programme"])
    return make_export(rows, participants), rows, participants


def _peer_pairs(rows: list, participants: pd.DataFrame) -> pd.DataFrame:
    """Pre and post side by side with pandas (the peer's merge)."""
    m = pd.DataFrame(
        rows, columns=["participant_id", "instrument", "scale", "informant", "timepoint", "score"]
    )
    keys = ["participant_id", "instrument", "scale", "informant"]
    pre = m[m["timepoint"] == "pre"][[*keys, "score"]]
    post = m[m["timepoint"] == "post"][[*keys, "score"]]
    both = pre.merge(post, on=keys, how="outer", suffixes=("_pre", "_post"))
    return both.merge(participants, on="participant_id")


def _brentq_ncp(t: float, df: float, prob: float) -> float:
    """Noncentrality with P(T <= t) = prob by brentq, bracketed by a few SDs
    of the normal approximation (narrower where scipy's nct is NaN far out)."""
    sd = math.sqrt(1 + t * t / (2 * df))
    for width in (5, 4, 3):
        low, high = t - width * sd, t + width * sd
        values = stats.nct.cdf(t, df, np.array([low, high])) - prob
        if np.isfinite(values).all() and values[0] > 0 > values[1]:
            break
    return optimize.brentq(lambda ncp: stats.nct.cdf(t, df, ncp) - prob, low, high, xtol=1e-14)


@pytest.mark.parametrize("seed", [1, 2])
def test_change_equals_the_scipy_loop_group_by_group(seed):
    export, rows, participants = _random_export(seed)
    ours = change(export, by="programme").set_index(["programme", "instrument", "scale"])
    pairs = _peer_pairs(rows, participants)
    assert len(ours) == len(SIZES) * len(SCALES)
    close = {"rel": 1e-12, "abs": 1e-12}
    for (programme, instrument, scale), g in pairs.groupby(["programme", "instrument", "scale"]):
        row = ours.loc[(programme, instrument, scale)]
        both = g.dropna(subset=["score_pre", "score_post"])
        x, y = both["score_pre"].to_numpy(), both["score_post"].to_numpy()
        d = y - x
        n = len(d)
        assert row["n_paired"] == n == SIZES[programme]
        assert row["n_pre_only"] == 2 and row["n_post_only"] == 2
        assert row["n_zero_change"] == np.sum(d == 0)
        assert row["mean_pre"] == pytest.approx(x.mean(), **close)
        assert row["mean_post"] == pytest.approx(y.mean(), **close)
        assert row["mean_change"] == pytest.approx(d.mean(), **close)
        if n == 1:  # no spread, no test
            for name in ("sd_pre", "sd_change", "t", "p_value", "d_z", "g_av", "change_ci_low"):
                assert np.isnan(row[name])
            continue
        assert row["sd_pre"] == pytest.approx(x.std(ddof=1), **close)
        assert row["sd_post"] == pytest.approx(y.std(ddof=1), **close)
        assert row["sd_change"] == pytest.approx(d.std(ddof=1), **close)
        if x.std() > 0 and y.std() > 0:
            assert row["r_pre_post"] == pytest.approx(stats.pearsonr(x, y).statistic, **close)
        assert row["df"] == n - 1
        if d.std() == 0:  # the changes have no spread: t, p and d_z are undefined
            for name in ("t", "p_value", "d_z", "d_z_ci_low", "p_holm"):
                assert np.isnan(row[name])
            assert programme == "flat" or n == 2
        else:
            ref = stats.ttest_rel(y, x)
            ci = ref.confidence_interval(0.95)
            assert row["t"] == pytest.approx(ref.statistic, rel=1e-12)
            assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
            assert row["change_ci_low"] == pytest.approx(ci.low, **close)
            assert row["change_ci_high"] == pytest.approx(ci.high, **close)
            assert row["d_z"] == pytest.approx(d.mean() / d.std(ddof=1), rel=1e-12)
            t = ref.statistic
            assert row["d_z_ci_low"] == pytest.approx(
                _brentq_ncp(t, n - 1, 0.975) / math.sqrt(n), rel=1e-11, abs=1e-12
            )
            assert row["d_z_ci_high"] == pytest.approx(
                _brentq_ncp(t, n - 1, 0.025) / math.sqrt(n), rel=1e-11, abs=1e-12
            )
        sd_av = (x.std(ddof=1) + y.std(ddof=1)) / 2
        if n >= 3 and sd_av > 0:
            df = n - 1
            j = math.gamma(df / 2) / (math.sqrt(df / 2) * math.gamma((df - 1) / 2))
            assert row["g_av"] == pytest.approx(j * d.mean() / sd_av, rel=1e-12, abs=1e-14)
        if np.count_nonzero(d) == 0:
            assert np.isnan(row["wilcoxon_p_value"])
        else:
            w = stats.wilcoxon(d, correction=True)  # change() corrects by default
            assert row["wilcoxon_statistic"] == pytest.approx(w.statistic, rel=1e-12)
            assert row["wilcoxon_p_value"] == pytest.approx(w.pvalue, rel=1e-10)


@pytest.mark.parametrize("column", ["p_value", "wilcoxon_p_value"])
def test_holm_equals_statsmodels_within_each_programme_and_instrument(column):
    export, _, _ = _random_export(3)
    ours = change(export, by="programme")
    adjusted = "p_holm" if column == "p_value" else "wilcoxon_p_holm"
    families = 0
    for _, family in ours.groupby(["programme", "instrument", "informant"], observed=True):
        ok = family[column].notna().to_numpy()
        assert np.isnan(family[adjusted].to_numpy()[~ok]).all()
        if ok.any():
            ref = multipletests(family[column].to_numpy()[ok], method="holm")[1]
            assert family[adjusted].to_numpy()[ok] == pytest.approx(ref, rel=1e-12)
            families += ok.sum() > 1
    assert families >= 5  # cts2 has three scales in most programmes


def test_reliable_change_and_its_summary_equal_a_pandas_loop():
    export, rows, participants = _random_export(4)
    ours = reliable_change(export, by="programme")
    pairs = _peer_pairs(rows, participants)
    # Baseline SD of every pre score of the scale (all programmes), S_diff and RCI.
    sd = pairs.groupby(["instrument", "scale"])["score_pre"].std()
    rel = pd.Series(SCALES)
    s_diff = sd * np.sqrt(2 * (1 - rel.reindex(sd.index)))
    merged = ours.merge(
        pairs, on=["participant_id", "instrument", "scale"], suffixes=("", "_peer"), how="outer"
    )
    assert len(merged) == len(ours) == len(pairs)
    expected_rci = (merged["score_post"] - merged["score_pre"]) / [
        s_diff[(i, s)] for i, s in zip(merged["instrument"], merged["scale"], strict=True)
    ]
    both = expected_rci.notna().to_numpy()
    assert merged["rci"].to_numpy()[both] == pytest.approx(
        expected_rci.to_numpy()[both], rel=1e-12, abs=1e-15
    )
    assert merged["rci"].isna().sum() == (~both).sum()
    # Classes counted per programme and scale with a plain loop.
    summary = reliable_change_summary(ours, by="programme")
    for (programme, instrument, scale), g in merged.groupby(["programme", "instrument", "scale"]):
        sign = 1.0 if scale == "negotiation" else -1.0  # higher_better only for negotiation
        rci = sign * g["rci"].dropna()
        got = summary[
            (summary["programme"] == programme)
            & (summary["instrument"] == instrument)
            & (summary["scale"] == scale)
        ]
        counts = got.groupby("change_class", observed=True)["n"].sum()
        improved = counts.get("improved", 0) + counts.get("recovered", 0)
        assert improved == int((rci > 1.96).sum())
        assert counts.get("deteriorated", 0) == int((rci < -1.96).sum())
        assert counts.get("unchanged", 0) == int((rci.abs() <= 1.96).sum())
        # the two without a second score, in whichever baseline rows they fall
        assert got.drop_duplicates("baseline")["n_post_missing"].sum() == 2
        # Wilson intervals of the rates, by the formula.
        z = special.ndtri(0.975)
        for r in got.itertuples():
            if r.n_classified == 0:  # everyone there lacks the second score
                assert np.isnan(r.rate)
                continue
            p, m = r.n / r.n_classified, r.n_classified
            centre = (p + z * z / (2 * m)) / (1 + z * z / m)
            half = z * math.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / (1 + z * z / m)
            assert r.ci_low == pytest.approx(max(centre - half, 0), abs=1e-12)
            assert r.ci_high == pytest.approx(min(centre + half, 1), abs=1e-12)


def test_editing_a_result_leaves_the_shared_score_table_alone():
    # change and reliable_change share one score table per export and hand out
    # its columns without copying them: copy-on-write must keep edits apart.
    export, _, _ = _random_export(5)
    before = change(export, by="programme")
    rows = reliable_change(export, by="programme")
    rows.loc[rows.index[:50], "score_pre"] = -1000.0
    rows.loc[rows.index[:50], "instrument"] = "cts2"
    again = reliable_change(export, by="programme")
    assert (again["score_pre"] != -1000).all()
    pd.testing.assert_frame_equal(change(export, by="programme"), before)


def test_small_tied_groups_get_scipys_exact_permutation_test_to_the_last_bit():
    """Up to 13 pairs with ties or zero changes, scipy's ``wilcoxon`` sums all
    2^n sign flips (``permutation_test``); the same test by the subset-sum
    recursion gives the same statistic and p-value exactly."""
    rng = np.random.default_rng(2026)
    samples = [rng.integers(-4, 5, size=int(rng.integers(1, 10))) * 0.5 for _ in range(150)]
    samples += [np.array([1, 1, 2, 2, 3, -3, 4, 0, 5, 6, -6, 7, 8.0])]  # 13 pairs, a zero
    checked = 0
    for d in samples:
        if not np.count_nonzero(d) or not _by_sign_flips(d, "wilcox", "auto"):
            continue
        ref = stats.wilcoxon(d, zero_method="wilcox", correction=True, method="auto")
        assert _wilcoxon_sign_flips(d) == (ref.statistic, ref.pvalue), d
        checked += 1
    assert checked > 100
    # what the shortcut leaves to scipy: no ties or zeros, 14 pairs, other zero methods
    assert not _by_sign_flips(np.arange(1.0, 9.0), "wilcox", "auto")
    assert not _by_sign_flips(np.ones(14), "wilcox", "auto")
    assert not _by_sign_flips(np.ones(5), "pratt", "auto")
    assert not _by_sign_flips(np.ones(5), "wilcox", "asymptotic")
