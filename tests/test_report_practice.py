"""The report's "Practice (Safe & Together)" section, read only from what the report wrote.

As a user would: ``cdanalytics synth --audits`` writes an export with case
audits, ``cdanalytics report`` reports on it (in English and in Dutch), and
the test reads ``outcomes.json``, ``tables/*.csv`` and ``report.html``. The
published counts are checked against counts made here with pandas from the
export's own ``case_audits.csv`` (first reading of each file and item, met
by the registry's scores): every count below the threshold is withheld, and
every published count is the true one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cdanalytics.cli import main
from cdanalytics.registry import audit_tool_registry

THRESHOLD = 10  # the default config's disclosure threshold
MARKERS = (f"<{THRESHOLD}", "[c]")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("practice")
    export = root / "export"
    synth = ["synth", "--participants", "150", "--seed", "5", "--out", str(export), "--audits"]
    assert main(synth) == 0
    plain = root / "plain"
    shutil.copytree(export, plain)
    for name in ("case_audits.csv", "family_outcomes.csv"):
        (plain / name).unlink()
    out = {"export": export}
    for name, folder, args in (
        ("en", export, []),
        ("nl", export, ["--lang", "nl"]),
        ("plain", plain, []),
    ):
        out[name] = root / f"report-{name}"
        code = main(["report", str(folder), "--out", str(out[name]), "--quiet", *args])
        assert code == 0
    return out


def _true_counts(export: Path) -> pd.DataFrame:
    """Files and files met per team, period and item, by hand from case_audits.csv."""
    audits = pd.read_csv(export / "case_audits.csv", dtype={"case_id": str, "team": str})
    items = audit_tool_registry()["safe_and_together"]["items"]
    audits["order"] = range(len(audits))
    audits = audits.sort_values(["audit_date", "order"], kind="stable")
    first = audits.drop_duplicates(["case_id", "period", "item"], keep="first")
    met_scores = first["item"].map({code: set(info["met"]) for code, info in items.items()})
    first = first.assign(met=[s in m for s, m in zip(first["score"], met_scores, strict=True)])
    counts = first.groupby(["period", "item", "team"]).agg(
        n_files=("met", "size"), n_met=("met", "sum")
    )
    overall = first.groupby(["period", "item"]).agg(n_files=("met", "size"), n_met=("met", "sum"))
    overall["team"] = "All"
    overall = overall.set_index("team", append=True)
    return pd.concat([counts, overall]).astype(int)


def _published(report: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(report / "tables" / f"{name}.csv", dtype=str, keep_default_na=False)


def test_the_section_appears_in_english_and_dutch(runs):
    en = (runs["en"] / "report.html").read_text("utf-8")
    nl = (runs["nl"] / "report.html").read_text("utf-8")
    assert 'id="practice"' in en and "Practice (Safe &amp; Together)" in en
    assert 'id="practice"' in nl and "Praktijk (Safe &amp; Together)" in nl
    # items shown by the registry's label in the report's language, not by code
    assert "Perpetrator named in the case plan" in en
    assert "cc1_coercive_control" not in en.split('id="practice"')[1].split("</section>")[0]
    for lang in ("en", "nl"):
        outcomes = json.loads((runs[lang] / "outcomes.json").read_text("utf-8"))
        assert outcomes["practice"]["tool"] == "safe_and_together"
        assert set(outcomes["practice"]) >= {"items", "change", "agreement", "family"}


def test_an_export_without_audits_has_no_practice_section(runs):
    html = (runs["plain"] / "report.html").read_text("utf-8")
    assert 'id="practice"' not in html
    assert "Safe &amp; Together" not in html
    outcomes = json.loads((runs["plain"] / "outcomes.json").read_text("utf-8"))
    assert "practice" not in outcomes
    assert not list((runs["plain"] / "tables").glob("practice_*"))


def test_published_team_counts_are_true_and_small_ones_withheld(runs):
    truth = _true_counts(runs["export"])
    table = _published(runs["en"], "practice_teams").set_index(["period", "item", "team"])
    assert set(table.index) == set(truth.index)
    small = 0
    for key, row in table.iterrows():
        for column in ("n_files", "n_met"):
            true, shown = int(truth.loc[key, column]), row[column]
            if 0 < true < THRESHOLD:
                assert shown == f"<{THRESHOLD}", (key, column, true, shown)
                small += 1
            elif shown not in MARKERS:
                assert int(shown) == true, (key, column)
        # a share is shown only with its count
        if row["n_met"] in MARKERS:
            assert row["rate"] in MARKERS and row["ci_low"] in MARKERS
        else:
            rate = float(row["rate"])
            assert rate == pytest.approx(truth.loc[key, "n_met"] / truth.loc[key, "n_files"])
    assert small > 0, "the fixture must have small counts for this test to mean anything"


def test_a_withheld_team_count_cannot_be_worked_out_from_the_total(runs):
    table = _published(runs["en"], "practice_teams")
    for _, block in table.groupby(["period", "item"]):
        for column in ("n_met",):
            withheld = block[column].isin(MARKERS)
            # one withheld cell in a column with a published total is recoverable
            assert withheld.sum() != 1, block


def test_outcomes_json_withholds_what_the_tables_withhold(runs):
    outcomes = json.loads((runs["en"] / "outcomes.json").read_text("utf-8"))
    items = _published(runs["en"], "practice_items")
    truth = _true_counts(runs["export"]).xs("All", level="team")
    for _, row in items.iterrows():
        figures = outcomes["practice"]["items"][row["item"]][row["period"]]
        for column in ("n_files", "n_met"):
            key = f"practice.items.{row['item']}.{row['period']}.{column}"
            if row[column] in MARKERS:
                assert figures[column] is None and key in outcomes["withheld"]
            else:
                assert figures[column] == int(truth.loc[(row["period"], row["item"]), column])
    for outcome, groups in outcomes["practice"]["family"].items():
        for group, figures in groups.items():
            for column, value in figures.items():
                key = f"practice.family.{outcome}.{group}.{column}"
                if column.startswith("n_") and value is not None:
                    assert value == 0 or value >= THRESHOLD, (key, value)
                if key in outcomes["withheld"]:
                    assert value is None


def test_an_item_the_site_adds_under_audit_tools_is_reported(runs, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(runs["export"], export)
    audits = pd.read_csv(export / "case_audits.csv", dtype=str, keep_default_na=False)
    own = audits[audits["item"] == "cc1_coercive_control"].assign(item="site_safety_plan")
    pd.concat([audits, own]).to_csv(export / "case_audits.csv", index=False)
    config = tmp_path / "evaluation.yaml"
    config.write_text(
        "audit_tools:\n"
        "  safe_and_together:\n"
        "    items:\n"
        "      site_safety_plan:\n"
        "        group: practice_marker\n"
        "        label: {en: Safety plan made with the mother, nl: Veiligheidsplan met de moeder}\n"
        "        scale: {0: {en: no, nl: nee}, 1: {en: partly, nl: deels},"
        " 2: {en: yes, nl: ja}}\n"
        "        met: [2]\n"
        "        direction: higher_better\n"
        "        source: the site's own audit\n",
        "utf-8",
    )
    out = tmp_path / "report"
    argv = ["report", str(export), "--out", str(out), "--quiet", "--config", str(config)]
    assert main([*argv, "--no-figures"]) == 0  # the test reads tables and words
    items = _published(out, "practice_items")
    own_rows = items[items["item"] == "site_safety_plan"].set_index("period")
    cc1 = items[items["item"] == "cc1_coercive_control"].set_index("period")
    # the same scores under a new code: the same published figures
    pd.testing.assert_frame_equal(own_rows.drop(columns="item"), cc1.drop(columns="item"))
    assert "Safety plan made with the mother" in (out / "report.html").read_text("utf-8")


def test_a_team_called_all_is_not_taken_for_the_total(runs, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(runs["export"], export)
    for name in ("case_audits.csv", "family_outcomes.csv"):
        frame = pd.read_csv(export / name, dtype=str, keep_default_na=False)
        frame["team"] = frame["team"].replace({"T01": "All"})
        frame.to_csv(export / name, index=False)
    out = tmp_path / "report"
    with pytest.warns(UserWarning, match="read like the overall row"):
        assert main(["report", str(export), "--out", str(out), "--quiet", "--no-figures"]) == 0
    teams = _published(out, "practice_teams")
    assert "All (team)" in set(teams["team"])
    # one total row per period and item, and it is the sum of the teams where all are shown
    totals = teams[teams["team"] == "All"]
    assert len(totals) == len(teams.drop_duplicates(["period", "item"]))
    for _, block in teams.groupby(["period", "item"]):
        files = block.loc[block["team"] != "All", "n_files"]
        if not files.isin(MARKERS).any():
            total = block.loc[block["team"] == "All", "n_files"].iloc[0]
            assert int(total) == files.astype(int).sum()


def test_family_arms_add_up_to_all_and_a_withheld_arm_is_not_recoverable(runs):
    family = _published(runs["en"], "practice_family")
    assert set(family["arm"]) == {"trained", "untrained", "All"}
    for _, block in family.groupby(["period", "outcome"]):
        for column in ("n_cases", "n_yes"):
            arms = block.loc[block["arm"] != "All", column]
            total = block.loc[block["arm"] == "All", column].iloc[0]
            withheld = int(arms.isin(MARKERS).sum())
            if withheld == 0 and total not in MARKERS:
                assert int(total) == arms.astype(int).sum()
            # one withheld arm beside a published total and arm would be recoverable
            assert not (withheld == 1 and total not in MARKERS), block
