"""The stage table beside the engagement table: no small group by subtraction.

The stage table (issue 13) and the engagement table count the potential
completers of one programme under two definitions. A reader who subtracts a
stage's count from the engagement table's count of the same programme (or
two stages' counts) must never get a small number of people. The first tests
read only what ``cdanalytics report`` wrote; the last makes a stage table that
differs from the engagement table by a small group and checks that the gate
(``report.linked.protect_beside``) withholds it, and that without it the
count would have been shown.
"""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _attack_reports import disclosure, published
from _report_added_fixtures import as_number, read_csv

import cdanalytics as cda
from cdanalytics.config import load_config
from cdanalytics.report import family
from cdanalytics.report.compute import compute_outcomes
from cdanalytics.report.family_specs import STAGE_SPEC
from cdanalytics.report.gated import publish_gated
from cdanalytics.report.linked import protect_beside
from cdanalytics.report.tables import publish_tables

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"

#: Counts of the engagement table that count the same kind of people as the stage table.
SAME = ("n_potential", "n_completed", "n_started")


def _pairs(engagement: pd.DataFrame, stages: pd.DataFrame) -> list[tuple[str, float]]:
    """(what, difference) for every pair a reader would subtract, per programme."""
    out = []
    overall = engagement[engagement["programme"] == "All"]
    for programme, rows in stages.groupby("programme"):
        theirs = pd.concat([engagement[engagement["programme"] == programme], overall])
        columns = [c for c in rows.columns if c.startswith("n_")]
        for column in columns:
            mine = as_number(rows[column]).dropna().to_numpy()
            for a, b in itertools.combinations(mine, 2):
                out.append((f"{programme} {column} between stages", a - b))
            for other in {column, "n_started"} & set(SAME):
                for b in as_number(theirs[other]).dropna():
                    out += [(f"{programme} {column} - engagement {other}", a - b) for a in mine]
    return out


def _small(difference: float, threshold: int) -> bool:
    return 0 < abs(difference) < threshold


@pytest.mark.parametrize("threshold", [5, 10, 30])
def test_no_stage_count_is_a_small_group_beside_the_engagement_table(attack_reports, threshold):
    report = published(
        attack_reports, "sample", disclosure(threshold, "suppression"), "suppression"
    )
    engagement = read_csv(report.folder, "engagement")
    stages = read_csv(report.folder, "family_stages")
    pairs = _pairs(engagement, stages)
    assert len(pairs) > 20  # the tables were read and compared
    leaks = [(what, d) for what, d in pairs if _small(d, threshold)]
    assert not leaks


def test_the_stage_cohort_is_the_engagement_tables_potential_completers(attack_reports):
    """Every first stage counts the programme's potential completers, as published."""
    report = published(attack_reports, "sample", disclosure(10, "suppression"), "suppression")
    engagement = read_csv(report.folder, "engagement").set_index("programme")
    stages = read_csv(report.folder, "family_stages")
    first = stages.groupby("programme", sort=False).head(1)
    shown = as_number(first["n_potential"]).notna()
    assert shown.sum() >= 2
    for _, row in first[shown].iterrows():
        assert row["n_potential"] == engagement.loc[row["programme"], "n_potential"]


def _sample_tables():
    export = cda.load_export(SAMPLE)
    config = load_config(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = compute_outcomes(export, config)
        family.compute(out)
    main = publish_tables(out.tables, config.disclosure, tuple(config.groupings))
    return out, main, config.disclosure


def test_a_stage_count_a_small_group_away_from_the_programme_count_is_withheld():
    out, main, policy = _sample_tables()
    original = out.tables["family_stages"]
    stages = original.copy()
    engagement = main["engagement"].published.set_index("programme")
    row = int(np.flatnonzero(stages["programme"] == "borg")[0])  # its first stage
    assert stages.loc[row, "n_potential"] == engagement.loc["borg", "n_potential"]
    # three potential completers fewer, all of whom had reached the stage and not entered it
    moved = 3
    assert stages.loc[row, "n_reached_not_entered"] >= moved
    for column in ("n_potential", "n_reached", "n_reached_not_entered"):
        stages.loc[row, column] -= moved

    plain = publish_gated("family_stages", stages, STAGE_SPEC, policy)
    assert plain.published.loc[row, "n_potential"] == engagement.loc["borg", "n_potential"] - moved

    protected = publish_gated("family_stages", stages, STAGE_SPEC, policy)
    protect_beside(main, protected, policy)
    shown = protected.published.loc[row]
    assert pd.isna(shown["n_potential"])
    assert pd.isna(shown["n_reached"])  # equal to n_potential: it would give it back
    assert pd.isna(shown["through_stage"])  # its base is withheld
    assert protected.protected.mask.loc[row, "n_potential"]
    # the other programmes' rows are as without the change
    before = publish_gated("family_stages", original, STAGE_SPEC, policy)
    protect_beside(main, before, policy)
    other = (stages["programme"] != "borg").to_numpy()
    pd.testing.assert_frame_equal(protected.published[other], before.published[other])
