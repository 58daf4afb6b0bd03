"""The synthetic services table: valid under the contract, and its true reach recovered.

``generate(..., parameters=FAMILY_PARAMETERS)`` writes a services table whose
step probabilities are known (truth["services"]); written and loaded back, it
passes every rule of the contract, and ``engagement.service_reach`` recovers
each step's true reach among starters within its 99% interval (Bonferroni
over the steps and services checked).
"""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats

from cdanalytics import engagement
from cdanalytics.errors import ConfigError
from cdanalytics.io import load_export
from cdanalytics.io.write import write_export
from cdanalytics.synth import FAMILY_PARAMETERS, generate

N, SEED = 3_000, 11


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    export, truth = generate(N, seed=SEED, parameters=FAMILY_PARAMETERS)
    folder = write_export(export, tmp_path_factory.mktemp("services") / "x")
    return load_export(folder), truth


def test_the_default_export_has_no_services_and_other_tables_do_not_change():
    plain, truth = generate(300, seed=SEED)
    assert plain.services.empty and "services" not in truth
    only = {"services": FAMILY_PARAMETERS["services"]}
    with_services, _ = generate(300, seed=SEED, parameters=only)
    assert len(with_services.services) > 0
    for table in ("participants", "sessions", "measures", "events"):
        pd.testing.assert_frame_equal(plain.table(table), with_services.table(table))


def test_the_services_table_passes_the_contract(family):
    export, truth = family
    assert export.report.problems.empty
    row = export.report.tables.loc["services"]
    assert row["rows_read"] == row["rows_accepted"] == truth["services"]["rows"] > 0
    assert export.services["offered"].notna().all()  # a row is an offer


def test_service_reach_recovers_the_true_reach(family):
    export, truth = family
    reach = engagement.service_reach(export.services, export, by=None, alpha=0.01 / 16)
    pooled = reach.groupby("service", observed=True)[
        ["n_men", "n_offered", "n_contacted", "n_accepted", "n_engaged"]
    ].sum()
    starters = truth["services"]["starters"]
    checked = 0
    for service in ("partner_support", "childrens_service"):
        expected = truth["services"][service]["reach_of_starters"]
        n_men = int(pooled.loc[service, "n_men"])
        assert n_men == starters
        for step, p in expected.items():
            k = int(pooled.loc[service, f"n_{step}"])
            # exact binomial test of the true reach at the Bonferroni-corrected 1% level
            assert stats.binomtest(k, n_men, p).pvalue > 0.01 / 8, (service, step, k, n_men, p)
            checked += 1
    assert checked == 8


def test_unknown_services_or_bad_probabilities_are_config_errors():
    with pytest.raises(ConfigError, match="unknown service"):
        generate(50, seed=1, parameters={"services": {"yoga": {"offered": 0.5}}})
    bad = {"offered": 1.5, "contacted": 1, "accepted": 1, "engaged": 1}
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        generate(50, seed=1, parameters={"services": {"partner_support": bad}})
