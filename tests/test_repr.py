"""``repr()`` of an export and of the result objects: one short line of shape and
key figures (like lifelines' ``<lifelines.CoxPHFitter: fitted with 432 total
observations, 318 right-censored observations>``), never a dump of the tables.

The key figures each repr must show are read from the object's own fields,
so a repr that shows a wrong or stale figure fails.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cdanalytics import compare, engagement, matching, prepost, reoffending
from cdanalytics.errors import ExportValidationError
from cdanalytics.io import load_export
from cdanalytics.io.export import ALL_TABLES, Export
from cdanalytics.synth import write_synthetic_export

LIMIT = 500  # characters, whatever the size of the data


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Export:
    folder = tmp_path_factory.mktemp("repr") / "export"
    write_synthetic_export(folder, n_participants=1500, seed=3)
    return load_export(folder)


@pytest.fixture(scope="module")
def large(export) -> Export:
    """The export 200 times over (300,000 participants), built in memory."""
    copies = 200

    def copy(frame: pd.DataFrame, k: int) -> pd.DataFrame:
        return frame.assign(participant_id=frame["participant_id"].astype(str) + f"-{k}")

    tables = {
        name: pd.concat([copy(getattr(export, name), k) for k in range(copies)], ignore_index=True)
        for name in ("participants", "sessions", "measures", "events")
    }
    return Export(**tables, manifest=export.manifest, source=export.source)


@pytest.fixture(scope="module")
def results(export) -> dict[str, object]:
    """One result object of every class, fitted on the synthetic export."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        people = reoffending.person_outcomes(export).set_index("participant_id")
        eligible = people[people["in_cohort"] & people["window_eligible"]]
        matched = matching.match(eligible, covariates=["risk_level", "prior_offences", "age_band"])
        casemix = compare.casemix_model(export)
        n_rows = 1_000_000
        rng = np.random.default_rng(1)
        return {
            # many terms (sites, age bands, ...): the repr names the first few only
            "cox": reoffending.cox(
                export, ["group", "risk_level", "age_band", "ethnicity_group", "site"]
            ),
            "cumulative": reoffending.cumulative_reoffending(export, by="group"),
            "logrank": reoffending.logrank(export, by="group"),
            "time_varying": reoffending.cox_time_varying(export),
            "landmark": reoffending.landmark(export),
            "match": matched,
            "propensity": matching.propensity_model(
                eligible, covariates=["risk_level", "age_band"]
            ),
            "effect": matching.matched_effect(matched, "reoffended_in_window"),
            "matched_cox": matching.matched_cox(matched),
            "mixed": prepost.mixed_model(
                export, "cts2", "psychological_aggression", "partner", ("pre", "post")
            ),
            "casemix_model": casemix,
            "casemix": compare.casemix_comparison(casemix, "site"),
            "dropout": engagement.dropout_model(export, ["risk_level"]),
            "imputed": prepost.ImputedScores(
                scores=rng.normal(size=(20, n_rows)),
                imputed=rng.uniform(size=n_rows) < 0.3,
                predictors=("age_band", "risk_level"),
                seed=7,
            ),
        }


def key_figures(name: str, result) -> list[str]:
    """What the repr of ``result`` must contain, from its own fields."""
    if name in ("cox", "time_varying"):
        first = result.summary.iloc[0]
        return [
            f"{result.n:,} people",
            f"{result.n_events:,} first reoffences",
            f"{first['term']} HR {first['hazard_ratio']:.3g}",
            f"({first['ci_low']:.3g} to {first['ci_high']:.3g})",
        ]
    if name == "cumulative":
        return [f"curve of {len(result.curve):,} steps", f"{result.horizons['group'].nunique()} "]
    if name == "logrank":
        return [f"chi-square {result.statistic:.4g}", f"p = {result.p_value:.3g}"]
    if name == "landmark":
        return [f"{result.n_at_risk:,} of {result.n_in_cohort:,} people at risk"]
    if name == "match":
        row = result.summary.iloc[0]
        return [
            f"{int(row['n_treated_matched']):,} of {int(row['n_treated']):,} programme",
            f"{row['max_abs_smd_after']:.3g} after",
        ]
    if name == "propensity":
        return [f"{len(result.coefficients)} terms", f"{result.fit['n']:,} rows"]
    if name == "effect":
        row = result.summary.iloc[0]
        return [f"difference {row['difference']:.3g}", f"{int(row['n_treated']):,} programme"]
    if name == "matched_cox":
        row = result.summary.iloc[0]
        return [f"HR {row['hr']:.3g}", f"p = {row['p_value']:.3g}"]
    if name == "mixed":
        return [f"{result.n_participants:,} participants", f"ICC {result.icc:.3g}"]
    if name == "casemix_model":
        return [f"{len(result.people):,} people", f"observed {result.observed.sum():,.0f}"]
    if name == "casemix":
        return [f"{len(result.table):,} units", f"overall rate {result.overall_rate:.3g}"]
    if name == "dropout":
        return [f"{result.n_used:,} people", f"{result.n_events:,} dropouts"]
    if name == "imputed":
        return [f"m = {result.m} imputations", f"{int(result.imputed.sum()):,} imputed"]
    raise KeyError(name)


def test_export_repr_is_short_on_a_large_export(large):
    text = repr(large)
    assert len(large.participants) == 300_000
    assert len(text) < LIMIT and "\n" not in text
    assert text.startswith("<cdanalytics.Export: ") and text.endswith(">")


def test_export_repr_shows_shapes_and_key_figures(large):
    text = repr(large)
    people = large.participants
    assert f"{len(people):,} participants" in text
    for group, n in people["group"].value_counts().items():
        assert f"{n:,} {group}" in text
    for name in ALL_TABLES:
        frame = getattr(large, name)
        if len(frame):
            assert f"{name} {len(frame):,}x{frame.shape[1]}" in text
    assert large.extract_date.date().isoformat() in text


def test_export_repr_dumps_no_table(large):
    text = repr(large)
    first = large.participants.iloc[0]
    assert first["participant_id"] not in text  # no identifier, no row
    assert "referral_date" not in text and "session_date" not in text  # no column listing
    assert len(text) < len(repr(large.participants.head(3)))


def test_export_repr_counts_quarantined_rows(export):
    held = Export(
        participants=export.participants,
        sessions=export.sessions,
        measures=export.measures,
        events=export.events,
        manifest=export.manifest,
        quarantine={"sessions": export.sessions.head(12), "events": export.events.head(0)},
    )
    assert "12 rows quarantined" in repr(held)
    assert "quarantined" not in repr(export)


@pytest.mark.parametrize(
    "name",
    [
        "cox",
        "cumulative",
        "logrank",
        "time_varying",
        "landmark",
        "match",
        "propensity",
        "effect",
        "matched_cox",
        "mixed",
        "casemix_model",
        "casemix",
        "dropout",
        "imputed",
    ],
)
def test_result_repr_is_one_short_line_of_key_figures(results, name):
    result = results[name]
    text = repr(result)
    assert text.startswith(f"<cdanalytics.{type(result).__name__}: ") and text.endswith(">")
    assert len(text) < LIMIT and "\n" not in text
    for figure in key_figures(name, result):
        assert figure in text, (figure, text)


def test_a_cox_repr_names_the_first_terms_and_counts_the_rest(results):
    result = results["cox"]
    assert len(result.summary) > 10
    text = repr(result)
    assert all(term in text for term in result.terms[:3])
    assert result.terms[-1] not in text
    assert f"... {len(result.summary) - 3} more" in text


def test_validation_report_repr_counts_problems_and_rows(tmp_path, export):
    text = repr(export.report)
    assert text.startswith("<cdanalytics.ValidationReport: strict mode, 0 problems")
    assert len(text) < LIMIT and "\n" not in text
    for name, row in export.report.tables.iterrows():
        counts = f"{row['rows_read']:,}/{row['rows_accepted']:,}/{row['rows_quarantined']:,}"
        assert f"{name} {counts}" in text

    # an export with many problems: the count, never the list
    bad = tmp_path / "bad"
    write_synthetic_export(bad, n_participants=300, seed=4)
    participants = bad / "participants.csv"
    lines = participants.read_text(encoding="utf-8").splitlines()
    participants.write_text("\n".join([*lines, *lines[1:]]) + "\n", encoding="utf-8")
    with pytest.raises(ExportValidationError) as failed:
        load_export(bad)
    report = failed.value.report
    text = repr(report)
    assert f"{report.n_problems:,} problems" in text and report.n_problems >= 600
    assert len(text) < LIMIT and "P0000001" not in text


def test_engagement_data_repr_is_short(large):
    data = engagement.prepare_engagement(large)
    text = repr(data)
    assert len(text) < LIMIT and "\n" not in text
    assert f"{len(data.episodes):,} programme episodes" in text
    assert large.extract_date.date().isoformat() in text
