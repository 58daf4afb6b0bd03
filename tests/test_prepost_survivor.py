"""Survivor-reported instruments: partners' and children's accounts (Project Mirabal domains).

The registry holds the six measures of success of Project Mirabal (Kelly &
Westmarland 2015) as partner- and child-reported instruments. Here they are
loaded from the hand-written fixture export with made-up ratings, and the
pre/post statistics are checked against scipy computed on the same numbers by
hand. No reliability is published for them, so reliable change must be
"not computed", never computed from a zero or guessed coefficient.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _io_exports import tables, write_csv_export
from scipy import stats

from cdanalytics import prepost
from cdanalytics.cli import main
from cdanalytics.errors import ConfigError, ExportValidationError
from cdanalytics.i18n import label
from cdanalytics.io import load_export
from cdanalytics.registry import instrument_registry

# (pre, post) ratings of the women (P001-P003) on each partner scale, and of
# P001's two children on the child scales
PARTNER = {
    "respectful_relationship": {"P001": (3, 7), "P002": (2, 2), "P003": (4, 6)},
    "space_for_action": {"P001": (2, 6), "P002": (3, 4), "P003": (5, 5)},
    "safety": {"P001": (4, 8), "P002": (1, 3), "P003": (6, 9)},
    "shared_parenting": {"P001": (5, 6), "P002": (2, 1), "P003": (3, 5)},
    "mens_awareness": {"P001": (1, 5), "P002": (2, 4), "P003": (3, 4)},
}
CHILD = {"feel_safe": {"C1": (4, 8), "C2": (6, 7)}, "feel_heard": {"C1": (3, 6), "C2": (5, 5)}}
DATES = {"P001": ("2024-02-05", "2024-05-27"), "P002": ("2024-02-05", "2024-03-04")}
DATES["P003"] = ("2024-04-02", "2024-09-02")
COLUMNS = [
    "participant_id",
    "instrument",
    "scale",
    "informant",
    "timepoint",
    "measured_on",
    "score",
    "subject_id",
]


def _rows() -> list[tuple]:
    rows = []
    for scale, people in PARTNER.items():
        for pid, pair in people.items():
            for tp, date, score in zip(("pre", "post"), DATES[pid], pair, strict=True):
                rows.append((pid, "mirabal_partner", scale, "partner", tp, date, str(score), ""))
    for scale, children in CHILD.items():
        for child, pair in children.items():
            for tp, date, score in zip(("pre", "post"), DATES["P001"], pair, strict=True):
                rows.append(("P001", "mirabal_child", scale, "child", tp, date, str(score), child))
    return rows


def _write(folder, rows):
    frames = tables()
    frames["measures"] = pd.DataFrame(rows, columns=COLUMNS)
    return write_csv_export(folder, frames)


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    return load_export(_write(tmp_path_factory.mktemp("survivor") / "x", _rows()))


def test_the_registry_holds_the_six_mirabal_domains_with_respondent_and_labels():
    registry = instrument_registry()
    partner, child = registry["mirabal_partner"], registry["mirabal_child"]
    assert partner["respondent"] == "partner" and child["respondent"] == "child"
    assert set(partner["scales"]) == set(PARTNER) and set(child["scales"]) == set(CHILD)
    for entry in (partner, child):
        assert entry["name"] and entry["name_nl"] and "Mirabal" in entry["source"]
        for info in entry["scales"].values():
            assert info["label"] and info["label_nl"]
            assert info["direction"] == "higher_better"
            assert (info["min"], info["max"]) == (0, 10)
            # no published reliability: absent, never a made-up number
            assert info["reliability"] is None
            assert info.get("reliability_source") is None
    # the built-in instruments that depend on who answers keep the informant's word
    assert registry["sdq"]["respondent"] is None


def test_every_survivor_code_has_a_label_in_english_and_dutch():
    registry = instrument_registry()
    for code in ("mirabal_partner", "mirabal_child"):
        for key in (code, *registry[code]["scales"]):
            en, nl = label(key, "en"), label(key, "nl")
            assert en != key.replace("_", " "), f"{key} has no English label"
            assert nl != key.replace("_", " "), f"{key} has no Dutch label"


def test_an_unknown_respondent_is_a_config_error():
    with pytest.raises(ConfigError, match="respondent"):
        instrument_registry({"mirabal_partner": {"respondent": "neighbour"}})


def test_a_rating_off_the_scale_is_refused_on_load(tmp_path):
    rows = _rows()
    rows[0] = (*rows[0][:6], "11", "")
    with pytest.raises(ExportValidationError) as caught:
        load_export(_write(tmp_path / "x", rows))
    problems = caught.value.report.problems
    assert "score_range" in set(problems["rule"])
    assert "0 to 10" in " ".join(problems["message"])


def test_partner_change_matches_scipy_and_names_the_respondent(export):
    out = prepost.change(export, instruments=["mirabal_partner"])
    assert set(out["informant"]) == {"partner"}
    for scale, people in PARTNER.items():
        row = out[out["scale"] == scale].iloc[0]
        pre = np.array([p for p, _ in people.values()], dtype=float)
        post = np.array([q for _, q in people.values()], dtype=float)
        diff = post - pre
        assert row["n_paired"] == len(diff)
        assert row["mean_change"] == pytest.approx(diff.mean())
        if diff.std() == 0:
            continue
        test = stats.ttest_rel(post, pre)
        ci = test.confidence_interval(0.95)
        assert row["p_value"] == pytest.approx(test.pvalue, rel=1e-9)
        assert (row["change_ci_low"], row["change_ci_high"]) == pytest.approx((ci.low, ci.high))
        # higher is better: improvement has the sign of the change
        assert row["improvement"] == pytest.approx(diff.mean())


def test_childrens_ratings_are_combined_per_father_by_the_stated_rule(export):
    for rule, combine in (("mean", np.mean), ("worst", np.min)):  # higher_better: worst = min
        table = prepost.score_table(export, instruments=["mirabal_child"], subjects=rule)
        for scale, children in CHILD.items():
            row = table[table["scale"] == scale].iloc[0]
            assert row["informant"] == "child"
            assert row["pre"] == pytest.approx(combine([p for p, _ in children.values()]))
            assert row["post"] == pytest.approx(combine([q for _, q in children.values()]))


def test_reliable_change_is_not_computed_without_a_published_reliability(export):
    with pytest.warns(UserWarning, match="not computed"):
        out = prepost.reliable_change(export, instruments=["mirabal_partner"])
    paired = out[out["change_class"] != "pre_missing"]
    assert len(paired) == sum(len(p) for p in PARTNER.values())
    assert set(paired["change_class"]) == {"reliability_missing"}
    assert paired["rci"].isna().all()  # missing, not zero
    assert paired["reliability"].isna().all()


def test_the_report_shows_survivor_measures_by_respondent_and_withholds_small_counts(tmp_path):
    folder = _write(tmp_path / "x", _rows())
    out = tmp_path / "report"
    assert main(["report", str(folder), "--out", str(out), "--quiet", "--lang", "nl"]) == 0
    change = pd.read_csv(out / "tables" / "change.csv", dtype=str, keep_default_na=False)
    partner = change[change["instrument"] == "mirabal_partner"]
    assert set(partner["scale"]) == set(PARTNER) and set(partner["informant"]) == {"partner"}
    assert set(change.loc[change["instrument"] == "mirabal_child", "informant"]) == {"child"}
    # three women and one father's children: every count and mean is withheld
    assert set(partner["n_paired"]) == {"<10"}
    assert set(partner["mean_change"]) == {"[c]"}
    html = (out / "report.html").read_text("utf-8")
    assert "Ruimte om te handelen" in html and "Verslag van de partner (Mirabal)" in html
