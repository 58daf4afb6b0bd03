"""cdanalytics.practice agreement: Cohen's, weighted and Fleiss' kappa, Krippendorff's alpha.

References are independent: hand-worked tables, published examples (Fleiss'
kappa page of Wikipedia, 10 subjects x 14 raters; Krippendorff 2011),
statsmodels.stats.inter_rater, brute-force jackknives and, where installed,
the krippendorff package.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from _practice_fixtures import ITEMS, synthetic_set
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

from cdanalytics.errors import ConfigError
from cdanalytics.practice import (
    AGREEMENT_COLUMNS,
    agreement,
    agreement_weights,
    alpha_from_counts,
    fleiss_from_counts,
    kappa_from_table,
)

TABLE_3 = [[10, 4, 1], [3, 12, 5], [1, 2, 12]]  # reader 1 (rows) by reader 2, levels 0-2

# Fleiss' kappa, Wikipedia worked example: 10 subjects, 14 raters, 5 categories.
WIKIPEDIA = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)

# Krippendorff (2011), section C: 4 observers x 12 units, values 1-5, NaN missing.
NAN = np.nan
KRIPPENDORFF_C = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
)


def _value_counts(data: np.ndarray, values) -> np.ndarray:
    """Units x values counts of an observers x units matrix."""
    return np.stack([(data == v).sum(axis=0) for v in values], axis=1)


def test_cohens_kappa_of_a_2x2_table_by_hand():
    # agreement 35/50; chance 0.5*0.6 + 0.5*0.4 = 0.5; kappa = (0.7 - 0.5) / 0.5
    kappa, se, p_o, p_e, n = kappa_from_table(np.array([[20, 5], [10, 15]]), np.eye(2))
    assert (p_o, p_e, n) == pytest.approx((0.7, 0.5, 50))
    assert round(float(kappa), 3) == 0.400
    ref = cohens_kappa(np.array([[20, 5], [10, 15]]))
    assert float(se) == pytest.approx(ref.std_kappa, rel=1e-12)


def test_weighted_kappa_of_a_3_level_table_worked_by_hand():
    n = Fraction(50)
    p = [[Fraction(c) / n for c in row] for row in TABLE_3]
    rows = [sum(r) for r in p]  # 15, 20, 15 of 50
    cols = [sum(p[i][j] for i in range(3)) for j in range(3)]  # 14, 18, 18 of 50
    disagreement = {
        "unweighted": lambda i, j: Fraction(int(i != j)),
        "linear": lambda i, j: Fraction(abs(i - j), 2),
        "quadratic": lambda i, j: Fraction((i - j) ** 2, 4),
    }
    printed = {"unweighted": 0.518, "linear": 0.579, "quadratic": 0.645}
    for name, v in disagreement.items():
        observed = sum(v(i, j) * p[i][j] for i in range(3) for j in range(3))
        chance = sum(v(i, j) * rows[i] * cols[j] for i in range(3) for j in range(3))
        by_hand = 1 - observed / chance
        kappa, se, *_ = kappa_from_table(np.array(TABLE_3), agreement_weights(3, name))
        assert float(kappa) == pytest.approx(float(by_hand), abs=1e-12)
        assert round(float(kappa), 3) == printed[name]
        ref = cohens_kappa(np.array(TABLE_3), wt=None if name == "unweighted" else name)
        assert float(kappa) == pytest.approx(ref.kappa, abs=1e-12)
        assert float(se) == pytest.approx(ref.std_kappa, rel=1e-9)
    assert by_hand == Fraction(20, 31)  # the quadratic kappa, exactly


def test_fleiss_kappa_reproduces_the_published_worked_example():
    m = 14
    p_j = WIKIPEDIA.sum(axis=0) / WIKIPEDIA.sum()
    assert np.round(p_j, 3).tolist() == [0.143, 0.200, 0.279, 0.150, 0.229]
    p_i = ((WIKIPEDIA**2).sum(axis=1) - m) / (m * (m - 1))
    assert np.round(p_i, 3).tolist() == [
        1.0,
        0.253,
        0.308,
        0.440,
        0.330,
        0.462,
        0.242,
        0.176,
        0.286,
        0.286,
    ]
    assert (round(p_i.mean(), 3), round((p_j**2).sum(), 3)) == (0.378, 0.213)
    kappa, _, se_jack = fleiss_from_counts(WIKIPEDIA)
    assert round(kappa, 3) == 0.210
    assert kappa == pytest.approx(fleiss_kappa(WIKIPEDIA), abs=1e-12)
    loo = [fleiss_kappa(np.delete(WIKIPEDIA, i, axis=0)) for i in range(10)]
    assert se_jack == pytest.approx(np.sqrt(9 / 10 * np.sum((loo - np.mean(loo)) ** 2)), rel=1e-10)


def test_fleiss_null_standard_error_matches_the_spread_of_kappa_under_chance():
    rng = np.random.default_rng(5)
    probs = [0.5, 0.3, 0.2]
    draws = [rng.multinomial(4, probs, size=60) for _ in range(2000)]
    spread = np.std([fleiss_kappa(d) for d in draws])
    se_null = np.mean([fleiss_from_counts(d)[1] for d in draws[:50]])
    assert se_null == pytest.approx(spread, rel=0.08)


def test_krippendorffs_alpha_reproduces_krippendorff_2011():
    binary = np.array([[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]])
    assert round(alpha_from_counts(_value_counts(binary, (0, 1)), "nominal")[0], 3) == 0.095
    counts = _value_counts(KRIPPENDORFF_C, range(1, 6))
    printed = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849}
    for level, value in printed.items():
        assert round(alpha_from_counts(counts, level)[0], 3) == value


def test_alpha_jackknife_equals_a_brute_force_leave_one_out():
    counts = _value_counts(KRIPPENDORFF_C, range(1, 6))
    pairable = counts[counts.sum(axis=1) >= 2]
    for level in ("nominal", "ordinal"):
        _, se = alpha_from_counts(counts, level)
        loo = [
            alpha_from_counts(np.delete(pairable, u, axis=0), level)[0]
            for u in range(len(pairable))
        ]
        n = len(pairable)
        assert se == pytest.approx(
            np.sqrt((n - 1) / n * np.sum((loo - np.mean(loo)) ** 2)), rel=1e-10
        )


def test_estimated_agreement_contains_the_true_kappa_of_the_synthetic_readers():
    audits, truth = synthetic_set()
    out = agreement(audits, alpha=0.01 / len(ITEMS))
    assert list(out.columns) == AGREEMENT_COLUMNS
    true_for = {
        "cohen_kappa": "unweighted",
        "weighted_kappa_linear": "linear",
        "weighted_kappa_quadratic": "quadratic",
        "fleiss_kappa": "unweighted",
        "krippendorff_alpha_nominal": "unweighted",
    }
    checked = out[out["statistic"].isin(true_for)]
    assert len(checked) == len(ITEMS) * len(true_for)
    for row in checked.itertuples():
        true = truth["kappa"][row.item][true_for[row.statistic]]
        assert row.ci_low <= true <= row.ci_high, (row.item, row.statistic, true)
        assert row.n_files == truth["n_double_read"]


def test_agreement_matches_statsmodels_and_the_krippendorff_package_per_item():
    audits, _ = synthetic_set()
    out = agreement(audits).set_index(["item", "statistic"])
    firsts = audits.sort_values("audit_date", kind="stable")
    firsts["reading"] = firsts.groupby(["case_id", "period", "item"]).cumcount()
    item = ITEMS[11]  # blaming language: met is the low score, agreement is on the scale
    wide = (
        firsts[firsts["item"] == item]
        .pivot_table(index=["case_id", "period"], columns="reading", values="score")
        .dropna()
    )
    table = (
        pd.crosstab(wide[0], wide[1])
        .reindex(index=[0, 1, 2], columns=[0, 1, 2], fill_value=0)
        .to_numpy()
    )
    for stat, wt in (
        ("cohen_kappa", None),
        ("weighted_kappa_linear", "linear"),
        ("weighted_kappa_quadratic", "quadratic"),
    ):
        ref = cohens_kappa(table, wt=wt)
        assert out.loc[(item, stat), "estimate"] == pytest.approx(ref.kappa, abs=1e-12)
        assert out.loc[(item, stat), "se"] == pytest.approx(ref.std_kappa, rel=1e-9)
    ratings = wide[[0, 1]].to_numpy().astype(int)
    assert out.loc[(item, "fleiss_kappa"), "estimate"] == pytest.approx(
        fleiss_kappa(aggregate_raters(ratings)[0]), abs=1e-12
    )
    import krippendorff  # a test dependency: the independent reference

    for level in ("ordinal", "nominal"):
        ref = krippendorff.alpha(
            reliability_data=ratings.T, level_of_measurement=level, value_domain=[0, 1, 2]
        )
        assert out.loc[(item, f"krippendorff_alpha_{level}"), "estimate"] == pytest.approx(
            ref, abs=1e-12
        )


def test_three_readers_fleiss_on_files_with_three_and_alpha_on_all_pairable():
    scores = {  # file: scores by successive readers
        "C1": [2, 2, 2],
        "C2": [0, 0, 1],
        "C3": [1, 1, 1],
        "C4": [2, 1, 2],
        "C5": [0, 0, 0],
        "C6": [2, 2],
        "C7": [1, 0],
        "C8": [2],
    }
    rows = [
        (case, "T1", "p", f"R{k}", False, "cc1_coercive_control", s)
        for case, ss in scores.items()
        for k, s in enumerate(ss)
    ]
    audits = pd.DataFrame(
        rows, columns=["case_id", "team", "period", "reader_id", "trained", "item", "score"]
    )
    out = agreement(audits).set_index("statistic")
    three = np.array([s for s in scores.values() if len(s) == 3])
    assert out.loc["fleiss_kappa", ["n_files", "n_readers"]].tolist() == [5, 3]
    assert out.loc["fleiss_kappa", "estimate"] == pytest.approx(
        fleiss_kappa(aggregate_raters(three)[0])
    )
    data = np.full((3, 8), np.nan)
    for u, ss in enumerate(scores.values()):
        data[: len(ss), u] = ss
    counts = _value_counts(data, (0, 1, 2))
    assert out.loc["krippendorff_alpha_ordinal", "n_files"] == 7
    assert out.loc["krippendorff_alpha_ordinal", "estimate"] == pytest.approx(
        alpha_from_counts(counts, "ordinal")[0]
    )
    assert out.loc["cohen_kappa", "n_files"] == 7
    assert (out["ci_low"] >= -1).all() and (out["ci_high"] <= 1).all()


def test_unknown_statistics_and_weights_are_rejected():
    audits, _ = synthetic_set()
    with pytest.raises(ConfigError, match="Unknown agreement statistic"):
        agreement(audits.head(10), statistics=["scotts_pi"])
    with pytest.raises(ConfigError, match="weights must be one of"):
        agreement_weights(3, "cubic")
    with pytest.raises(ConfigError, match="same m >= 2"):
        fleiss_from_counts(np.array([[2, 0], [1, 2]]))


def test_alpha_with_many_levels_and_readers_matches_the_krippendorff_package():
    import krippendorff  # a test dependency: the independent reference

    rng = np.random.default_rng(11)
    truth = rng.integers(0, 20, 40)
    data = np.where(rng.random((13, 40)) < 0.7, truth, rng.integers(0, 20, (13, 40))).astype(float)
    counts = _value_counts(data, range(20))  # 20 values x up to 13 readers: no integer code
    for level in ("nominal", "ordinal"):
        ref = krippendorff.alpha(value_counts=counts, level_of_measurement=level)
        assert alpha_from_counts(counts, level)[0] == pytest.approx(ref, abs=1e-12)


def test_audits_without_double_reads_give_an_empty_table_with_the_columns():
    from cdanalytics.synth import synthetic_audits

    audits, truth = synthetic_audits(
        4, 10, None, {"a": 0.3, "b": 0.4}, {}, 0.5, seed=1, double_read_share=0
    )
    assert truth["n_double_read"] == 0
    out = agreement(audits)
    assert out.empty
    assert list(out.columns) == AGREEMENT_COLUMNS
