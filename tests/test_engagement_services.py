"""Reach of the partner and children's services, on the hand fixture of the stage tests.

Services (tests/_stage_fixtures.py people; o/c/a/e = offered, contacted,
accepted, engaged recorded):

- T01 partner_support o c a e; childrens_service o
- T02 partner_support o c
- T03 partner_support o
- T05 womens_service  o c a
- T07 partner_support o c a e
- Q1  partner_support o   (programme ``par``)

Completion of the core (derived from attendance; ``tri`` needs 4 of its 5 core
sessions including the last): among the 19 potential completers of ``tri``
(all but T15), the 11 completers are T01 T02 T04 T05 T09 T10 T12 T13 T14 T17
T20; partners contacted: T01, T02, T05 among completers, T07 among the others.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _stage_fixtures import TRI, hand_export
from statsmodels.stats.proportion import confint_proportions_2indep

from cdanalytics import engagement as eng
from cdanalytics._stats import wilson_ci
from cdanalytics.engagement.services import (
    SERVICE_STEPS,
    partner_contact_by_completion,
    service_reach,
    services_schema,
)
from cdanalytics.errors import AnalysisError, ConfigError

DAY = "2024-02-01"
ROWS = [
    ("T01", "partner_support", "ocae"),
    ("T01", "childrens_service", "o"),
    ("T02", "partner_support", "oc"),
    ("T03", "partner_support", "o"),
    ("T05", "womens_service", "oca"),
    ("T07", "partner_support", "ocae"),
    ("Q1", "partner_support", "o"),
]


def services_frame() -> pd.DataFrame:
    records = []
    for pid, service, steps in ROWS:
        record = {"participant_id": pid, "service": service, "source": "case_file"}
        for step in SERVICE_STEPS:
            record[step] = pd.Timestamp(DAY) if step[0] in steps else pd.NaT
        records.append(record)
    frame = pd.DataFrame(records)
    frame["service"] = frame["service"].astype("category")
    return frame


@pytest.fixture(scope="module")
def export():
    return hand_export()


def test_the_contract_table_is_described_and_keyed():
    schema = services_schema()
    assert schema.key == ("participant_id", "service")
    assert schema.parent == "participants"
    assert schema.column("service").allowed == (
        "partner_support",
        "womens_service",
        "childrens_service",
    )
    assert all(schema.column(step).type == "date" for step in SERVICE_STEPS)
    assert all(c.description for c in schema.columns)


def test_reach_per_programme_matches_the_hand_count(export):
    out = service_reach(services_frame(), export, programmes=TRI)
    tri = out[out["programme"] == "tri"].set_index("service")
    counts = ["n_men", "n_offered", "n_contacted", "n_accepted", "n_engaged"]
    assert tri.loc["partner_support", counts].tolist() == [20, 4, 3, 2, 2]
    assert tri.loc["womens_service", counts].tolist() == [20, 1, 1, 1, 0]
    assert tri.loc["childrens_service", counts].tolist() == [20, 1, 0, 0, 0]
    assert tri.loc["partner_support", "contacted"] == pytest.approx(3 / 20)
    assert tri.loc["partner_support", "engaged_of_offered"] == pytest.approx(2 / 4)
    low, high = wilson_ci(3, 20)
    assert tri.loc["partner_support", "contacted_ci_low"] == pytest.approx(float(low))
    assert tri.loc["partner_support", "contacted_ci_high"] == pytest.approx(float(high))
    par = out[out["programme"] == "par"].set_index("service")
    assert par.loc["partner_support", ["n_men", "n_offered"]].tolist() == [4, 1]


def test_reach_by_stage_completed(export):
    out = service_reach(services_frame(), export, stage=True, programmes=TRI)
    ps = out[(out["programme"] == "tri") & (out["service"] == "partner_support")]
    ps = ps.set_index("stage_completed")
    # furthest stage completed: c for T01 T02 T09 T10 T13 T14 T20; none for T05 T07 T11 T18
    assert ps.loc["c", ["n_men", "n_offered", "n_contacted"]].tolist() == [7, 2, 2]
    assert ps.loc["none", ["n_men", "n_offered", "n_contacted"]].tolist() == [4, 1, 1]
    assert int(ps["n_men"].sum()) == 20
    par = out[(out["programme"] == "par") & (out["service"] == "partner_support")]
    assert set(par["stage_completed"]) == {"g+i", "g", "i"}


def test_partner_contact_against_completion(export):
    out = partner_contact_by_completion(services_frame(), export, programmes=TRI)
    tri = out.set_index("programme").loc["tri"]
    assert (tri["n_completers"], tri["n_completers_contacted"]) == (11, 3)
    assert (tri["n_others"], tri["n_others_contacted"]) == (8, 1)
    assert tri["difference_pp"] == pytest.approx(100 * (3 / 11 - 1 / 8))
    low, high = confint_proportions_2indep(3, 11, 1, 8, method="newcomb", compare="diff")
    assert tri["difference_pp_ci_low"] == pytest.approx(100 * low)
    assert tri["difference_pp_ci_high"] == pytest.approx(100 * high)


def test_bad_services_tables_are_refused(export):
    frame = services_frame()
    with pytest.raises(ConfigError, match="lacks column"):
        service_reach(frame.drop(columns="engaged"), export, programmes=TRI)
    odd = frame.assign(service=frame["service"].astype(str).replace("womens_service", "mens"))
    with pytest.raises(AnalysisError, match="mens"):
        service_reach(odd, export, programmes=TRI)
    orphan = pd.concat([frame, frame.iloc[[0]].assign(participant_id="NOBODY")])
    with pytest.raises(AnalysisError, match="not in the participants table"):
        partner_contact_by_completion(orphan, export, programmes=TRI)
    assert np.isfinite(service_reach(frame, export, programmes=TRI)["offered"]).all()


def test_stage_progress_computed_once_gives_the_same_reach(export):
    prepared = eng.prepare_engagement(export, TRI)
    progress = eng.stage_progress(export, prepared=prepared)
    once = service_reach(services_frame(), export, stage=True, prepared=prepared, progress=progress)
    again = service_reach(services_frame(), export, stage=True, prepared=prepared)
    pd.testing.assert_frame_equal(once, again)
