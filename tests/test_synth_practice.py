"""`cdanalytics synth --audits`: the practice tables of a synthetic export and their truth.

Run as a user would (the command line, then the loader and the analyses on
what it wrote); without --audits the files are those of a run before the
flag existed.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _cli_run import run_cli

from cdanalytics.io import load_export
from cdanalytics.practice import family_outcomes, shares
from cdanalytics.synth import TRUTH_FILE, write_synthetic_export
from cdanalytics.synth._practice import FAMILY_PROBABILITIES

TABLE_FILES = ("participants", "sessions", "measures", "events")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    base = ["synth", "--participants", "150", "--seed", "11"]
    with_audits = root / "with"
    without = root / "without"
    assert run_cli([*base, "--out", str(with_audits), "--audits"])[0] == 0
    assert run_cli([*base, "--out", str(without)])[0] == 0
    return with_audits, without


def test_the_flag_adds_two_files_and_changes_no_other(written):
    with_audits, without = written
    assert {p.name for p in with_audits.iterdir()} - {p.name for p in without.iterdir()} == {
        "case_audits.csv",
        "family_outcomes.csv",
    }
    for name in TABLE_FILES:
        assert (with_audits / f"{name}.csv").read_bytes() == (without / f"{name}.csv").read_bytes()
    truth = json.loads((with_audits / TRUTH_FILE).read_text("utf-8"))
    practice = truth.pop("practice")
    assert truth == json.loads((without / TRUTH_FILE).read_text("utf-8"))
    assert practice["family"] == FAMILY_PROBABILITIES


def test_the_practice_tables_are_a_valid_export(written):
    with_audits, _ = written
    export = load_export(with_audits)  # strict: any problem raises
    truth = json.loads((with_audits / TRUTH_FILE).read_text("utf-8"))["practice"]
    assert len(export.case_audits) == truth["realised"]["case_audits"]
    assert len(export.family_outcomes) == truth["realised"]["family_outcomes"]
    assert export.case_audits["audit_date"].max() <= export.extract_date
    dates = export.family_outcomes.filter(like="_date")
    assert (dates.max() <= export.extract_date).all()
    known = export.family_outcomes["re_referral_12m"].notna()
    assert known.sum() == truth["realised"]["re_referral_known"]
    closure = export.family_outcomes["closure_date"]
    assert (closure[known] + pd.Timedelta(days=365) <= export.extract_date).all()


def test_the_audit_shares_recover_the_truth(written):
    with_audits, _ = written
    export = load_export(with_audits)
    truth = json.loads((with_audits / TRUTH_FILE).read_text("utf-8"))["practice"]["audits"]
    untrained = export.case_audits[~export.case_audits["trained"]]
    untrained = untrained[untrained["team"].astype(str) > f"T{truth['n_trained_teams']:02d}"]
    table = shares(untrained.astype({"trained": bool}), by=("period",), alpha=0.01 / 30)
    for row in table.itertuples():
        true = truth["share"][row.item][row.period]["untrained"]
        assert row.ci_low <= true <= row.ci_high, (row.item, row.period)


def test_the_family_outcomes_recover_their_probabilities(written):
    with_audits, _ = written
    family = load_export(with_audits).family_outcomes.astype({"trained": bool})
    table = family_outcomes(family, by=("trained",), alpha=0.01 / 8)
    assert len(table) == 8
    for row in table.itertuples():
        values = family.loc[family["trained"] == row.trained, row.outcome]
        assert (row.n_cases, row.n_yes) == (values.notna().sum(), (values == True).sum())  # noqa: E712
        if row.n_cases == 0:
            # trained files are all of the follow-up period, closed less than 12 months ago
            assert (row.outcome, row.trained) == ("re_referral_12m", True)
            continue
        true = FAMILY_PROBABILITIES[row.outcome]["trained" if row.trained else "untrained"]
        assert row.ci_low <= true <= row.ci_high, (row.outcome, row.trained)


@pytest.mark.parametrize("fmt", ["parquet", "xlsx"])
def test_other_formats_carry_the_practice_tables(fmt, tmp_path):
    write_synthetic_export(tmp_path, n_participants=60, seed=2, fmt=fmt, audits=True)
    export = load_export(tmp_path)
    assert export.has_audits
    assert set(export.case_audits["period"].astype(str)) == {"baseline", "follow_up"}
    assert np.isin(export.case_audits["score"].to_numpy(dtype=int), [0, 1, 2]).all()


def test_same_seed_same_bytes(tmp_path):
    for name in ("a", "b"):
        write_synthetic_export(tmp_path / name, n_participants=40, seed=5, audits=True)
    for file in ("case_audits.csv", "family_outcomes.csv", TRUTH_FILE):
        assert Path(tmp_path / "a" / file).read_bytes() == Path(tmp_path / "b" / file).read_bytes()
