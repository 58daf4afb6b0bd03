"""Per-programme true reoffending effects of the synthetic generator
(``reoffending.hr_by_programme``; ``truth["reoffending"]["by_programme"]``).

The realised 12-month proven-reoffending share of each programme's starters,
per risk level, is checked against the exact probability the truth implies
(``p12_by_group.starters_untreated`` + ``att_rate_difference_by_risk``) with a
99.9% Wilson interval, Bonferroni-split over the cells: the realised data, not
our own formula, is the independent side.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from cdanalytics._stats import wilson_ci
from cdanalytics.errors import ConfigError
from cdanalytics.synth import DEFAULT_PARAMETERS, PROGRAMME_EFFECT_PARAMETERS, generate

FAMILY_ALPHA = 0.001


@pytest.fixture(scope="module")
def effects():
    return generate(40_000, seed=23, parameters=PROGRAMME_EFFECT_PARAMETERS)


def _realised(export, reoff) -> pd.DataFrame:
    """Starters eligible for the 12-month window, with whether a counting offence was proven."""
    p = export.participants
    people = p[(p["group"] == "programme") & p["start_date"].notna()].copy()
    deadline = people["start_date"] + pd.Timedelta(days=reoff["proof_deadline_days"])
    people = people[deadline <= people["followup_end"].fillna(export.extract_date)]
    ev = export.events[export.events["event_type"].isin(reoff["counting_event_types"])].merge(
        people[["participant_id", "start_date"]], on="participant_id"
    )
    after = (ev["event_date"] - ev["start_date"]).dt.days
    proven = (ev["proven_date"] - ev["start_date"]).dt.days
    hit = (after > 0) & (after <= reoff["window_days"]) & (proven <= reoff["proof_deadline_days"])
    return people.assign(
        reoffended=people["participant_id"].isin(set(ev.loc[hit, "participant_id"]))
    )


def test_truth_gives_each_programme_its_hazard_ratio_and_effects_of_both_signs(effects):
    _, truth = effects
    reoff = truth["reoffending"]
    given = PROGRAMME_EFFECT_PARAMETERS["reoffending"]["hr_by_programme"]
    assert reoff["hr_by_programme"] == given
    by = reoff["by_programme"]
    assert {c: v["hazard_ratio"] for c, v in by.items()} == given
    diffs = {c: v["att_rate_difference"] for c, v in by.items()}
    assert min(diffs.values()) < -0.02 and max(diffs.values()) > 0.02
    for code, v in by.items():
        assert v["att_rate_difference"] == pytest.approx(v["p12_programme"] - v["p12_untreated"])
        assert np.sign(v["att_rate_difference"]) == np.sign(round(given[code] - 1, 9))


def test_realised_reoffending_of_each_programme_matches_its_own_effect(effects):
    export, truth = effects
    reoff = truth["reoffending"]
    people = _realised(export, reoff)
    cells = people.groupby(["programme", "risk_level"], observed=True)["reoffended"].agg(
        ["sum", "size"]
    )
    cells = cells[cells["size"] >= 50]
    untreated = reoff["p12_by_group"]["starters_untreated"]
    expected = np.array(
        [
            untreated[r] + reoff["by_programme"][c]["att_rate_difference_by_risk"][r]
            for c, r in cells.index
        ]
    )
    assert len(cells) >= 20
    low, high = wilson_ci(
        cells["sum"].to_numpy(), cells["size"].to_numpy(), FAMILY_ALPHA / len(cells)
    )
    inside = (low <= expected) & (expected <= high)
    assert inside.all(), cells.assign(expected=expected)[~inside]
    # The untreated probability alone is rejected where the effect is large.
    caledonian = people[people["programme"] == "caledonian"]
    p_untreated = np.mean([untreated[r] for r in caledonian["risk_level"].astype(str)])
    low, high = wilson_ci(caledonian["reoffended"].sum(), len(caledonian), FAMILY_ALPHA)
    assert low > p_untreated


def test_default_parameters_keep_one_effect_for_every_programme():
    assert DEFAULT_PARAMETERS["reoffending"]["hr_by_programme"] == {}
    _, truth = generate(300, seed=2)
    reoff = truth["reoffending"]
    assert set(reoff["hr_by_programme"].values()) == {reoff["hr_programme"]}
    by = reoff["by_programme"]
    assert all(v["att_rate_difference"] < 0 for v in by.values())


def test_unknown_programme_or_bad_hazard_ratio_is_a_config_error():
    with pytest.raises(ConfigError, match="nonesuch"):
        generate(100, parameters={"reoffending": {"hr_by_programme": {"nonesuch": 0.5}}})
    with pytest.raises(ConfigError, match="positive"):
        generate(100, parameters={"reoffending": {"hr_by_programme": {"borg": -1}}})


def test_cli_programme_effects_flag_writes_them_to_truth_json(tmp_path):
    out = tmp_path / "synth"
    cmd = [sys.executable, "-m", "cdanalytics", "synth", "--participants", "300"]
    subprocess.run([*cmd, "--out", str(out), "--programme-effects"], check=True)
    truth = json.loads((out / "truth.json").read_text("utf-8"))
    given = PROGRAMME_EFFECT_PARAMETERS["reoffending"]["hr_by_programme"]
    assert truth["reoffending"]["hr_by_programme"] == given
