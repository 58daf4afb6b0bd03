"""Each programme on its own: gated matched comparisons in the report (issue 12).

Acceptance: on a 20,000-person synthetic export whose programmes have true
reoffending effects of opposite signs (``PROGRAMME_EFFECT_PARAMETERS``), the
report's per-programme matched effects (intention to treat) contain each
programme's true effect (``truth.json``: ``reoffending.by_programme``) within
their confidence intervals, Bonferroni-corrected across the programmes; the
summary has no pooled matched figure. On a small export, a programme with
fewer window-eligible starters than the minimum (counted here from the export
with pandas, not with the package) is "not computed" with its reason; a
deliberately unbalanced comparison (a high-risk programme against the
low-risk comparison rows of another programme, no caliper) is withheld, and
flagged results are published with a balance caution.
"""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cdanalytics.i18n import label
from cdanalytics.report import build_report
from cdanalytics.synth import PROGRAMME_EFFECT_PARAMETERS, write_synthetic_export

pytestmark = pytest.mark.filterwarnings("ignore::cdanalytics.errors.CdaWarning")

ALPHA = 0.05
PROGRAMMES = tuple(PROGRAMME_EFFECT_PARAMETERS["reoffending"]["hr_by_programme"])


def _report(folder: Path, out: Path, config: dict, figures: bool = True) -> tuple[dict, str]:
    base = {"prepost": {"timepoints": ["pre", "post"]}}
    run = build_report(folder, out, config={**base, **config}, figures=figures)
    html = (out / "report.html").read_text(encoding="utf-8")
    return run.outcomes, html


def _text(html: str) -> str:
    html = re.sub(r"<svg.*?</svg>", " ", html, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


# ---------------------------------------------------------------- 20,000 people: recovery


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """A 20,000-person export with a true effect per programme, and its report."""
    root = tmp_path_factory.mktemp("programmes_large")
    truth = write_synthetic_export(
        root / "export", n_participants=20_000, seed=2024, parameters=PROGRAMME_EFFECT_PARAMETERS
    )
    outcomes, html = _report(root / "export", root / "report", {})
    return truth, outcomes, html


@pytest.mark.slow
def test_per_programme_matched_effects_contain_the_truth_bonferroni(large):
    truth, outcomes, _ = large
    by = truth["reoffending"]["by_programme"]
    signs = {np.sign(v["att_rate_difference"]) for v in by.values()}
    assert {-1.0, 1.0} <= signs, "the truth has effects of both signs"
    k = len(PROGRAMMES)
    z95 = stats.norm.ppf(1 - ALPHA / 2)
    z = stats.norm.ppf(1 - ALPHA / (2 * k))
    for code in PROGRAMMES:
        itt = outcomes["programmes"][code]["matched"]["all_starters"]
        assert itt["status"] in ("computed", "flagged"), (code, itt["status"], itt["reason"])
        assert itt["share_matched"] is None or itt["share_matched"] > 0.9  # None: withheld
        se = (itt["ci_high"] - itt["ci_low"]) / (2 * z95)
        assert itt["ci_low"] == pytest.approx(itt["difference"] - z95 * se)
        true = by[code]["att_rate_difference"]
        assert abs(itt["difference"] - true) <= z * se, (code, itt["difference"], true, se)
        assert itt["rate_programme"] - itt["rate_comparison"] == pytest.approx(itt["difference"])


@pytest.mark.slow
def test_the_summary_has_one_result_per_programme_and_no_pooled_figure(large):
    _, outcomes, html = large
    assert "matched_difference" not in outcomes["reoffending"]
    assert "matched_hazard_ratio" not in outcomes["reoffending"]
    summary = _text(html[html.index('<section id="summary">') : html.index("</section>")])
    assert "(matched comparison group)" not in summary  # the pooled sentence's wording
    assert summary.count(f", {label('all_starters', 'en')}:") == len(PROGRAMMES)
    for code in PROGRAMMES:
        assert f'id="programme-{code}"' in html
    assert 'id="figure-programme_effects"' in html


@pytest.mark.slow
def test_secondary_analyses_are_labelled_with_the_selection_caution(large):
    _, outcomes, html = large
    text = _text(html)
    assert label("matched_secondary_caution", "en") in text
    for code in PROGRAMMES:
        matched = outcomes["programmes"][code]["matched"]
        assert matched["completers"]["secondary"] and matched["non_completers"]["secondary"]
        assert not matched["all_starters"]["secondary"]


# ---------------------------------------------------------------- small export: the gates


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("programmes_small")
    write_synthetic_export(root / "export", n_participants=2_500, seed=31)
    return root


def _window_eligible_starters(folder: Path, months: int = 18) -> pd.Series:
    """Window-eligible starters per programme, from the CSV files alone."""
    p = pd.read_csv(folder / "participants.csv", parse_dates=["start_date", "followup_end"])
    extract = pd.Timestamp(json.loads((folder / "manifest.json").read_text())["extract_date"])
    starters = p[(p["group"] != "comparison") & p["start_date"].notna()]
    end = starters["followup_end"].fillna(extract).clip(upper=extract)
    ok = starters["start_date"] + pd.DateOffset(months=months) <= end
    return starters[ok].groupby("programme").size()


def test_a_programme_under_the_minimum_is_not_computed_with_its_reason(small, tmp_path):
    outcomes, html = _report(small / "export", tmp_path / "r", {}, figures=False)
    counts = _window_eligible_starters(small / "export")
    under = [c for c in PROGRAMMES if counts.get(c, 0) < 60]
    over = [c for c in PROGRAMMES if counts.get(c, 0) >= 60]
    assert under and over  # the export has both kinds
    text = _text(html)
    names = {"journey": "The Journey Project", "plus_one": "+1"}
    for code in under:
        itt = outcomes["programmes"][code]["matched"]["all_starters"]
        assert (itt["status"], itt["reason"]) == ("not_computed", "too_few_treated")
        assert "difference" not in itt and "n_treated" not in itt
        if code in names:
            sentence = label(
                "matched_not_computed_too_few_treated",
                "en",
                name=names[code],
                analysis=label("all_starters", "en"),
                who=label("who_all_starters", "en"),
                window=12,
                minimum=60,
            )
            assert sentence in text
    for code in over:
        itt = outcomes["programmes"][code]["matched"]["all_starters"]
        assert itt["reason"] != "too_few_treated"
        assert itt["n_treated"] in (None, counts[code])  # None: withheld by the disclosure gate


def test_a_deliberately_unbalanced_comparison_is_withheld(small, tmp_path):
    """Caledonian (high risk) against the few comparison rows labelled journey, no caliper."""
    config = {
        "reoffending": {
            "matching": {"comparison_pools": {"caledonian": ["journey"]}, "caliper": None}
        }
    }
    outcomes, html = _report(small / "export", tmp_path / "r", config)
    itt = outcomes["programmes"]["caledonian"]["matched"]["all_starters"]
    assert (itt["status"], itt["reason"]) == ("withheld", "imbalance")
    assert itt["max_abs_smd_after"] is None or itt["max_abs_smd_after"] > 0.25
    assert "difference" not in itt and "rate_programme" not in itt
    table = pd.read_csv(tmp_path / "r" / "tables" / "matched_comparisons.csv", dtype=str)
    row = table[(table["programme"] == "caledonian") & (table["analysis"] == "all_starters")]
    assert row[["rate_treated", "difference"]].isna().all(axis=None)  # empty, not a marker
    assert "withheld because the groups could not be balanced" in _text(html)
    forest = (tmp_path / "r" / "figures" / "programme_effects.svg").read_text(encoding="utf-8")
    assert "Caledonian" in forest and "Not drawn" in forest


def test_flagged_results_are_published_with_a_balance_caution(small, tmp_path):
    config = {"reoffending": {"matching": {"balance_flag": 0.001, "balance_withhold": 10}}}
    outcomes, html = _report(small / "export", tmp_path / "r", config, figures=False)
    flagged = [
        code
        for code, entry in outcomes["programmes"].items()
        if entry["matched"]["all_starters"]["status"] == "flagged"
    ]
    assert flagged
    for code in flagged:
        itt = outcomes["programmes"][code]["matched"]["all_starters"]
        assert itt["reason"] == "imbalance"
        assert itt["max_abs_smd_after"] is None or itt["max_abs_smd_after"] > 0.001
    assert "Balance caution" in _text(html)
    statuses = {e["matched"]["all_starters"]["status"] for e in outcomes["programmes"].values()}
    assert "withheld" not in statuses
