"""The batch index's funnel plot of exports: read from published outcomes only,
an export with a true excess falls outside the 99.8% limits and the others do not."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from cdanalytics.report.batch_funnel import export_funnel_svg, export_funnel_table
from cdanalytics.report.batch_index import index_page


def write_exports(out, figures):
    """One report folder per export holding only its published ``outcomes.json``."""
    entries = []
    for name, programme in figures.items():
        (out / name).mkdir()
        outcomes = {
            "extract_date": "2025-06-30",
            "engagement": {},
            "reoffending": {"programme": programme},
        }
        (out / name / "outcomes.json").write_text(json.dumps(outcomes), encoding="utf-8")
        entries.append(
            SimpleNamespace(export=name, report=name, status="written", message="", problems="")
        )
    for entry in entries:
        entry.failed = False
    return entries


@pytest.fixture
def excess(tmp_path):
    rng = np.random.default_rng(11)
    figures = {}
    for i in range(8):
        n = int(rng.integers(200, 600))
        rate = 0.40 if i == 3 else 0.20
        figures[f"site_{i}"] = {"n_eligible": n, "n_reoffenders": int(rng.binomial(n, rate))}
    return tmp_path, write_exports(tmp_path, figures), figures


def test_an_export_with_a_true_excess_lies_outside_and_the_others_inside(excess):
    out, entries, figures = excess
    table = export_funnel_table(out, entries).set_index("export")
    assert list(table.index[table["outside_998"]]) == ["site_3"]
    # the expected counts: the pooled rate of the published figures times each n
    pooled = sum(f["n_reoffenders"] for f in figures.values()) / sum(
        f["n_eligible"] for f in figures.values()
    )
    for name, f in figures.items():
        assert table.loc[name, "expected"] == pytest.approx(f["n_eligible"] * pooled)
        assert table.loc[name, "oe_ratio"] == pytest.approx(
            f["n_reoffenders"] / (f["n_eligible"] * pooled)
        )
    # the 99.8% flag agrees with exact Poisson quantiles at each expected count
    for name, row in table.iterrows():
        low = stats.poisson.ppf(0.001, row["expected"]) / row["expected"]
        high = stats.poisson.ppf(0.999, row["expected"]) / row["expected"]
        clearly_out = row["oe_ratio"] < low * 0.97 or row["oe_ratio"] > high * 1.03
        clearly_in = low * 1.03 < row["oe_ratio"] < high * 0.97
        if clearly_out:
            assert row["outside_998"], name
        if clearly_in:
            assert not row["outside_998"], name


def test_withheld_or_failed_exports_are_left_out_and_one_export_gives_no_plot(tmp_path):
    entries = write_exports(
        tmp_path,
        {
            "shown": {"n_eligible": 300, "n_reoffenders": 60},
            "withheld": {"n_eligible": 300, "n_reoffenders": None},
        },
    )
    assert export_funnel_table(tmp_path, entries) is None
    failed = SimpleNamespace(export="bad", report="bad", failed=True)
    assert export_funnel_table(tmp_path, [*entries, failed]) is None


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_the_index_shows_the_funnel_with_a_text_alternative_and_the_same_bytes(excess, lang):
    out, entries, _ = excess
    page = index_page(out, entries, "Evaluation", lang)
    assert page == index_page(out, entries, "Evaluation", lang)
    assert page.count("<svg") == 1 and 'role="img"' in page and "<title>" in page
    table = export_funnel_table(out, entries)
    assert export_funnel_svg(table, lang) in page
