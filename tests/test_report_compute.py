"""Group labels never collide with the overall row (:mod:`cdanalytics.report.compute`).

A site literally named "All" used to collide with the overall row of every
grouped table (a MergeError and a traceback). The report must now run, show
that site under a distinct label with its own counts, and keep one overall row.
"""

from __future__ import annotations

import pandas as pd
import pytest
from _cli_run import run_cli

from cdanalytics.cli import EXIT_OK
from cdanalytics.errors import GroupLabelWarning
from cdanalytics.report.compute import OVERALL, distinct_from_overall
from cdanalytics.synth import write_synthetic_export


def test_labels_that_read_like_the_overall_row_are_renamed_one_to_one():
    frame = pd.DataFrame(
        {"site": ["All", " all ", "All (site)", "Leeds", "Allerton"], "n": [1, 2, 3, 4, 5]}
    )
    with pytest.warns(GroupLabelWarning, match="3 group label"):
        renamed = distinct_from_overall(frame, ["site"])
    assert list(renamed["site"]) == [
        "All (site)",
        " all  (site)",
        "All (site) (site)",
        "Leeds",
        "Allerton",
    ]
    assert renamed["site"].is_unique and OVERALL not in set(renamed["site"])
    assert frame["site"].iloc[0] == "All"  # the input is not changed


def test_labels_that_cannot_be_taken_for_the_overall_row_are_left_alone(recwarn):
    frame = pd.DataFrame({"programme": ["borg", "stop_gap"]})
    assert distinct_from_overall(frame, ["programme"]) is frame
    assert not [w for w in recwarn if issubclass(w.category, GroupLabelWarning)]


def test_a_report_by_site_with_a_site_named_all(tmp_path):
    export = tmp_path / "export"
    write_synthetic_export(export, n_participants=300, seed=1)
    path = export / "participants.csv"
    participants = pd.read_csv(path, dtype=str, keep_default_na=False)
    biggest = participants["site"].value_counts().index[0]
    participants["site"] = participants["site"].replace({biggest: "All"})
    participants.to_csv(path, index=False)
    config = tmp_path / "evaluation.yaml"
    config.write_text("groupings: [site]\n", encoding="utf-8")
    out = tmp_path / "report"
    argv = ["report", str(export), "--out", str(out), "--config", str(config), "--quiet"]
    argv.append("--no-figures")  # the test reads a table
    code, text = run_cli(argv)
    assert code == EXIT_OK, text
    assert "Traceback" not in text
    table = pd.read_csv(out / "tables" / "engagement.csv", dtype=str, keep_default_na=False)
    overall = table[table["site"] == OVERALL]
    site = table[table["site"] == "All (site)"]
    assert len(overall) == 1 and len(site) == 1
    referred = participants[participants["group"] == "programme"]  # not the comparison rows
    assert int(overall["n_referred"].iloc[0]) == len(referred)
    assert int(site["n_referred"].iloc[0]) == int((referred["site"] == "All").sum())
