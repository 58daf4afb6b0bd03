"""Synthetic exports: deterministic, valid against the contract, and faithful to truth.json.

The recovery tests compute each realised rate from the tables alone (the
registry completion rule applied to the sessions table, the proven-reoffending
definition applied to the events table, correlations of scores) and check it
against the exact probability in ``truth`` with a 99.9% interval, Bonferroni-
split over the cells compared, so a correct generator fails a test about once
in a thousand runs and a wrong parameter by a few points fails reliably.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cdanalytics._stats import wilson_ci
from cdanalytics.errors import ConfigError
from cdanalytics.registry import instrument_registry, programme_registry
from cdanalytics.synth import DEFAULT_PARAMETERS, TRUTH_FILE, generate, write_synthetic_export

FAMILY_ALPHA = 0.001
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
RISKS = ["low", "medium", "high", "very_high"]


@pytest.fixture(scope="module")
def big():
    """40,000 rows: large enough for tight intervals, generated in about a second."""
    return generate(40_000, seed=11)


@pytest.fixture(scope="module")
def core(big):
    """Per-starter core-session summary of ``big`` (see ``_core_summary``)."""
    return _core_summary(*big)


@pytest.fixture(scope="module")
def small():
    return generate(3_000, seed=5)


def _days(delta: pd.Series) -> pd.Series:
    return delta.dt.days


def _inside(count, nobs, truth, n_cells: int) -> np.ndarray:
    """Whether each true probability lies in the Wilson interval of its realised share."""
    low, high = wilson_ci(np.asarray(count), np.asarray(nobs), alpha=FAMILY_ALPHA / n_cells)
    return (low <= np.asarray(truth)) & (np.asarray(truth) <= high)


def load_export_or_skip():
    """The contract loader of helper "io", or skip while it does not exist yet."""
    load_export = getattr(importlib.import_module("cdanalytics.io"), "load_export", None)
    if load_export is None:
        pytest.skip("cdanalytics.io.load_export is not available yet")
    return load_export


def write_synthetic_export_folder(folder: Path, fmt: str) -> Path:
    write_synthetic_export(folder, n_participants=150 if fmt == "xlsx" else 600, seed=8, fmt=fmt)
    return folder


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ---------------------------------------------------------------- determinism


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path, fmt):
    write_synthetic_export(tmp_path / "a", n_participants=300, seed=4, fmt=fmt)
    write_synthetic_export(tmp_path / "b", n_participants=300, seed=4, fmt=fmt)
    write_synthetic_export(tmp_path / "c", n_participants=300, seed=5, fmt=fmt)
    first = _files(tmp_path / "a")
    assert set(first) == {
        f"{t}.{fmt}" for t in ("participants", "sessions", "measures", "events")
    } | {"manifest.json", TRUTH_FILE}
    assert first == _files(tmp_path / "b")
    other = _files(tmp_path / "c")
    assert all(first[name] != other[name] for name in first if name.endswith(fmt))


def test_xlsx_export_is_byte_identical_across_runs(tmp_path):
    write_synthetic_export(tmp_path / "a", n_participants=60, seed=2, fmt="xlsx")
    write_synthetic_export(tmp_path / "b", n_participants=60, seed=2, fmt="xlsx")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    sheets = pd.read_excel(tmp_path / "a" / "export.xlsx", sheet_name=None, engine="calamine")
    assert list(sheets) == ["participants", "sessions", "measures", "events"]


def test_truth_json_round_trips_and_matches_the_returned_truth(tmp_path):
    truth = write_synthetic_export(tmp_path, n_participants=200, seed=3)
    assert json.loads((tmp_path / TRUTH_FILE).read_text("utf-8")) == truth
    manifest = json.loads((tmp_path / "manifest.json").read_text("utf-8"))
    assert manifest["extract_date"] == "2025-06-30"
    assert manifest["schema_version"] == 1
    assert manifest["source_system"] == "cdanalytics synth"


# ---------------------------------------------------------------- truth document


def test_truth_has_the_keys_other_modules_rely_on(small):
    _, truth = small
    programmes = set(programme_registry())
    assert set(truth["funnel"]) == programmes
    for code in programmes:
        assert set(truth["funnel"][code]) >= {"p_assessed", "p_eligible", "p_start"}
        assert list(truth["engagement"][code]) == RISKS
        for cell in truth["engagement"][code].values():
            assert set(cell) >= {"dropout_hazard", "p_attend", "p_complete", "p_dropout"}
            assert cell["p_dropout"] == pytest.approx(
                1 - cell["p_complete"] - cell["p_other_exits"]
            )
    reoff = truth["reoffending"]
    assert set(reoff) >= {
        "baseline_hazard_per_year",
        "hr_programme",
        "hr_risk",
        "hr_prior_offence",
        "proof_delay",
        "p12_by_group",
    }
    assert set(reoff["p12_by_group"]) == {"programme", "starters_untreated", "comparison"}
    assert set(reoff["p12_by_group"]["comparison"]) == {*RISKS, "overall"}
    registry = instrument_registry()
    for instrument, scales in truth["prepost"].items():
        assert set(scales) == set(registry[instrument]["scales"])
        for cell in scales.values():
            assert set(cell) >= {
                "baseline_mean",
                "baseline_sd",
                "true_change_sd",
                "reliability",
                "p_post_missing",
            }


def test_p_complete_matches_a_hand_worked_case():
    """Journey-like: 6 sessions, 5 needed including the last, no other exits.

    Staying to session 6 has probability (1 - h)^5; then session 6 attended (p)
    and at least 3 of sessions 2-5 attended: P(Bin(4, p) >= 3) = 4p^3(1-p) + p^4.
    """
    from cdanalytics.synth._truth import engagement_probabilities

    h, p = 0.05, 0.9
    got = engagement_probabilities(6, 5, True, h, 0.0, 0.0, p)
    expected = (1 - h) ** 5 * p * (4 * p**3 * (1 - p) + p**4)
    assert got["p_complete"] == pytest.approx(expected, rel=1e-12)
    assert got["p_dropout"] == pytest.approx(1 - expected, rel=1e-12)


def test_p12_matches_a_monte_carlo_of_the_stated_definition():
    """1 - exp(-c * rate) against a direct simulation of offence and proof times."""
    from cdanalytics.synth._truth import offence_intensity_factor

    reoff = DEFAULT_PARAMETERS["reoffending"]
    rate = 0.6
    rng = np.random.default_rng(0)
    n = 200_000
    count = rng.poisson(rate * reoff["window_days"] / 365.25, n)
    person = np.repeat(np.arange(n), count)
    t = rng.random(person.size) * reoff["window_days"]
    delay = reoff["proof_delay"]["median_days"] * np.exp(
        reoff["proof_delay"]["sdlog"] * rng.standard_normal(person.size)
    )
    proven = (rng.random(person.size) < reoff["p_proven"]) & (
        t + delay <= reoff["proof_deadline_days"]
    )
    share = np.bincount(person[proven], minlength=n).astype(bool).mean()
    expected = -np.expm1(-offence_intensity_factor(reoff) * rate)
    assert share == pytest.approx(expected, abs=4 * np.sqrt(expected * (1 - expected) / n))


# ---------------------------------------------------------------- contract


def _contract_problems(export) -> list[str]:
    """The contract's key rules, checked directly on the tables."""
    problems = []
    reg = programme_registry()
    ins = instrument_registry()
    p, s, m, e = export.participants, export.sessions, export.measures, export.events
    extract = export.extract_date
    if not p["participant_id"].is_unique:
        problems.append("duplicate participant_id")
    if not set(p["programme"].dropna().unique()) <= set(reg):
        problems.append("unknown programme")
    if p[["participant_id", "programme", "site"]].isna().any().any():
        problems.append("missing required participant value")
    prog_rows = p["group"] == "programme"
    if p.loc[prog_rows, "referral_date"].isna().any():
        problems.append("programme row without referral_date")
    if p.loc[~prog_rows, "index_date"].isna().any():
        problems.append("comparison row without index_date")
    if (p["start_date"] < p["referral_date"]).any() or (p["end_date"] < p["start_date"]).any():
        problems.append("dates out of order")
    for col in ("referral_date", "start_date", "end_date", "index_date", "followup_end"):
        if (p[col] > extract).any():
            problems.append(f"{col} after extract")
    if not p["prior_offences"].dropna().between(0, 500).all():
        problems.append("prior_offences out of range")
    if not p["n_children"].dropna().between(0, 30).all():
        problems.append("n_children out of range")
    if p.loc[p["age_band"].isin(["16-17"]), "programme"].ne("plus_one").any():
        problems.append("16-17 outside plus_one")

    known = p["participant_id"]
    for name, table in (("sessions", s), ("measures", m), ("events", e)):
        if not table["participant_id"].isin(known).all():
            problems.append(f"orphan {name} rows")
    if s.duplicated(["participant_id", "session_type", "session_number"]).any():
        problems.append("duplicate session key")
    limits = pd.DataFrame(
        [
            (code, stype, count)
            for code, entry in reg.items()
            for stype, count in [*entry["core"].items(), ("review", entry["review"]["count"])]
        ],
        columns=["programme", "session_type", "limit"],
    )
    joined = (
        s.merge(p[["participant_id", "programme", "start_date", "end_date"]], on="participant_id")
        .astype({"programme": str, "session_type": str})
        .merge(limits, on=["programme", "session_type"], how="left")
    )
    if ((joined["session_number"] < 1) | ~(joined["session_number"] <= joined["limit"])).any():
        problems.append("session_number outside the registry count")
    core = joined["session_type"] != "review"
    window = joined["programme"].map({c: reg[c]["review"]["window_days"] for c in reg})
    if (joined["session_date"] < joined["start_date"]).any():
        problems.append("session before start")
    if (joined.loc[core, "session_date"] > joined.loc[core, "end_date"]).any():
        problems.append("core session after end")
    after_end = _days(joined["session_date"] - joined["end_date"])
    if (after_end[~core] > window[~core]).any():
        problems.append("review outside the review window")
    if (s["session_date"] > extract).any():
        problems.append("session after extract")

    if m.duplicated(["participant_id", "instrument", "scale", "informant", "timepoint"]).any():
        problems.append("duplicate measure key")
    ranges = pd.DataFrame(
        [(i, sc, v["min"], v["max"]) for i, e in ins.items() for sc, v in e["scales"].items()],
        columns=["instrument", "scale", "low", "high"],
    )
    scored = m.astype({"instrument": str, "scale": str}).merge(ranges, how="left")
    if not scored["score"].between(scored["low"], scored["high"]).all():
        problems.append("score out of range")
    if (m["measured_on"] > extract).any():
        problems.append("measure after extract")

    if (e["event_date"] > extract).any() or (e["proven_date"] > extract).any():
        problems.append("event after extract")
    if (e["proven_date"] < e["event_date"]).any():
        problems.append("proven before event")
    ends = e.merge(p[["participant_id", "followup_end"]], on="participant_id")
    if (ends["event_date"] > ends["followup_end"]).any():
        problems.append("event after followup_end")
    return problems


def test_generated_export_satisfies_the_contract(big):
    export, _ = big
    assert _contract_problems(export) == []


def test_generated_export_has_the_in_memory_dtypes(small):
    export, _ = small
    p = export.participants
    assert p["participant_id"].dtype == "str"
    assert isinstance(p["risk_level"].dtype, pd.CategoricalDtype) and p["risk_level"].cat.ordered
    assert p["prior_offences"].dtype == "Int64" and p["assessed"].dtype == "boolean"
    assert export.measures["score"].dtype == "float64"
    for table in (p, export.sessions, export.measures, export.events):
        for col in table.columns:
            if col.endswith("_date") or col in ("measured_on", "followup_end"):
                assert pd.api.types.is_datetime64_dtype(table[col]), col
    # comparison rows: no referral funnel, no sessions, an index date
    comp = p[p["group"] == "comparison"]
    assert comp["assessed"].isna().all() and comp["start_date"].isna().all()
    assert not export.sessions["participant_id"].isin(comp["participant_id"]).any()
    assert p.loc[p["group"] == "programme", "index_date"].isna().all()


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_written_exports_load_with_zero_problems(tmp_path, fmt):
    export = load_export_or_skip()(write_synthetic_export_folder(tmp_path, fmt))
    assert export.report.problems.empty
    assert _contract_problems(export) == []


def test_committed_sample_loads_with_zero_problems():
    export = load_export_or_skip()(SAMPLE)
    assert export.report.problems.empty
    truth = json.loads((SAMPLE / TRUTH_FILE).read_text("utf-8"))
    assert len(export.participants) == truth["generator"]["n_participants"]
    assert _contract_problems(export) == []


def test_committed_sample_is_small_and_regenerates_byte_for_byte(tmp_path):
    assert sum(f.stat().st_size for f in SAMPLE.iterdir()) < 2_000_000
    truth = json.loads((SAMPLE / TRUTH_FILE).read_text("utf-8"))
    gen = truth["generator"]
    write_synthetic_export(
        tmp_path, n_participants=gen["n_participants"], seed=gen["seed"], fmt="csv"
    )
    assert _files(tmp_path) == _files(SAMPLE)


# ---------------------------------------------------------------- engagement


def _core_summary(export, truth) -> pd.DataFrame:
    """Per starter: core sessions recorded, attended, last core attended, rule met."""
    p, s = export.participants, export.sessions
    progs = truth["programmes"]
    core = s[s["session_type"] != "review"].merge(
        p[["participant_id", "programme"]], on="participant_id"
    )
    last = pd.DataFrame(
        [(c, *progs[c]["session_order"][-1]) for c in progs],
        columns=["programme", "session_type", "session_number"],
    )
    core["is_last"] = (
        core[["programme", "session_type", "session_number"]]
        .astype(str)
        .merge(last.astype(str), how="left", indicator=True)["_merge"]
        .eq("both")
        .to_numpy()
    )
    core["attended"] = core["attendance"] == "attended"
    core["last_attended"] = core["is_last"] & core["attended"]
    out = core.groupby("participant_id", observed=True).agg(
        n_core=("attended", "size"),
        n_attended=("attended", "sum"),
        last_attended=("last_attended", "any"),
    )
    out = p.set_index("participant_id").join(out, how="inner")
    k = out["programme"].map({c: progs[c]["core_sessions"] for c in progs}).astype(int)
    needed = out["programme"].map({c: progs[c]["needed_sessions"] for c in progs}).astype(int)
    require = out["programme"].map({c: progs[c]["require_last_core"] for c in progs}).astype(bool)
    interval = (
        out["programme"].map({c: progs[c]["session_interval_days"] for c in progs}).astype(int)
    )
    out["k"] = k
    out["rule"] = (out["n_attended"] >= needed) & (~require | out["last_attended"])
    finish = out["start_date"] + pd.to_timedelta((k - 1) * interval, unit="D")
    out["potential_completer"] = finish <= export.extract_date
    return out


def test_completion_by_programme_and_risk_matches_p_complete(big, core):
    truth = big[1]
    pc = core[core["potential_completer"]]
    cells = pc.groupby(["programme", "risk_level"], observed=True)["rule"].agg(["sum", "size"])
    expected = [truth["engagement"][prog][risk]["p_complete"] for prog, risk in cells.index]
    assert cells["size"].min() >= 40
    ok = _inside(cells["sum"], cells["size"], expected, len(cells))
    assert ok.all(), cells[~ok]


def test_completion_by_programme_matches_the_risk_mixed_p_complete(big, core):
    truth = big[1]
    pc = core[core["potential_completer"]]
    cells = pc.groupby("programme", observed=True)["rule"].agg(["sum", "size"])
    expected = [truth["engagement_overall"][prog]["p_complete"] for prog in cells.index]
    ok = _inside(cells["sum"], cells["size"], expected, len(cells))
    assert ok.all(), cells[~ok]


def test_per_session_exit_hazard_matches_truth(big, core):
    """Discrete-time hazard: exits before session k over participants at risk."""
    truth = big[1]
    pc = core[core["potential_completer"]].copy()
    pc["left"] = pc["n_core"] < pc["k"]
    pc["trials"] = np.where(pc["left"], pc["n_core"], pc["k"] - 1)
    cells = pc.groupby(["programme", "risk_level"], observed=True)[["left", "trials"]].sum()
    expected = [
        sum(
            truth["engagement"][prog][risk][h]
            for h in ("dropout_hazard", "excluded_hazard", "transferred_hazard")
        )
        for prog, risk in cells.index
    ]
    ok = _inside(cells["left"], cells["trials"], expected, len(cells))
    assert ok.all(), cells[~ok]


def test_attendance_while_enrolled_matches_p_attend(big):
    export, truth = big
    s = export.sessions.merge(
        export.participants[["participant_id", "programme", "risk_level"]], on="participant_id"
    )
    first = pd.DataFrame(
        [(c, *v["session_order"][0]) for c, v in truth["programmes"].items()],
        columns=["programme", "session_type", "session_number"],
    ).astype(str)
    is_first = (
        s[["programme", "session_type", "session_number"]]
        .astype(str)
        .merge(first, how="left", indicator=True)["_merge"]
        .eq("both")
        .to_numpy()
    )
    later = s[(s["session_type"] != "review") & ~is_first]
    assert (s.loc[is_first, "attendance"] == "attended").all()
    cells = later.groupby(["programme", "risk_level"], observed=True)["attendance"].agg(
        attended=lambda a: (a == "attended").sum(), n="size"
    )
    expected = [truth["engagement"][prog][risk]["p_attend"] for prog, risk in cells.index]
    ok = _inside(cells["attended"], cells["n"], expected, len(cells))
    assert ok.all(), cells[~ok]


def test_other_exits_match_truth_by_programme(big, core):
    truth = big[1]
    pc = core[core["potential_completer"]]
    cells = pc.groupby("programme", observed=True)["exit_status"].agg(
        other=lambda s: s.isin(["excluded", "transferred"]).sum(), n="size"
    )
    expected = [truth["engagement_overall"][prog]["p_other_exits"] for prog in cells.index]
    ok = _inside(cells["other"], cells["n"], expected, len(cells))
    assert ok.all(), cells[~ok]


def test_recorded_exit_status_disagrees_with_attendance_exactly_where_truth_says(big, core):
    truth = big[1]
    recorded = core[core["exit_status"].isin(["completed", "dropped_out"])]
    derived = np.where(recorded["rule"], "completed", "dropped_out")
    disagree = set(recorded.index[recorded["exit_status"].astype(str).to_numpy() != derived])
    listed = truth["data_quality"]["exit_status_disagreements"]
    assert disagree == set(listed["participant_ids"])
    assert listed["count"] == len(disagree) >= 4
    blank = core[core["exit_status"].isna()]
    assert len(blank) == truth["data_quality"]["exit_status_missing"]["count"] > 0
    assert blank["end_date"].notna().all()


def test_ongoing_and_waiting_participants_have_no_end(big):
    export, _ = big
    p = export.participants
    ongoing = p[p["exit_status"] == "ongoing"]
    assert ongoing["end_date"].isna().all()
    waiting = ongoing[ongoing["start_date"].isna()]
    assert len(waiting) > 0 and waiting["eligible"].all()


def test_funnel_rates_match_truth_for_referrals_old_enough_to_have_started(big):
    export, truth = big
    p = export.participants
    old = p[
        (p["group"] == "programme")
        & (p["referral_date"] <= export.extract_date - pd.Timedelta(days=400))
    ]
    by = old.groupby("programme", observed=True)
    steps = {
        "p_assessed": (by["assessed"].sum(), by.size()),
        "p_eligible": (by["eligible"].sum(), by["assessed"].sum()),
        "p_start": (by["start_date"].count(), by["eligible"].sum()),
    }
    for key, (count, nobs) in steps.items():
        expected = [truth["funnel"][prog][key] for prog in count.index]
        ok = _inside(count, nobs, expected, 3 * len(count))
        assert ok.all(), (key, count[~ok])


def test_caring_dads_completers_get_two_review_sessions(big):
    export, truth = big
    p = export.participants
    done = p[
        (p["programme"] == "caring_dads")
        & (p["exit_status"] == "completed")
        & (p["end_date"] <= export.extract_date - pd.Timedelta(days=200))
        & ~p["participant_id"].isin(
            truth["data_quality"]["exit_status_disagreements"]["participant_ids"]
        )
    ]
    reviews = export.sessions[export.sessions["session_type"] == "review"]
    counts = (
        reviews[reviews["participant_id"].isin(done["participant_id"])]
        .groupby("participant_id")
        .size()
    )
    assert len(done) > 50 and (counts == 2).all() and len(counts) == len(done)
    second = reviews[reviews["session_number"] == 2].merge(done, on="participant_id")
    gap = _days(second["session_date"] - second["end_date"])
    assert (gap == truth["programmes"]["caring_dads"]["review_offsets_days"][1]).all()


# ---------------------------------------------------------------- reoffending


def _p12_realised(export, truth) -> pd.DataFrame:
    """Proven 12-month reoffending per eligible person, by the MoJ definition."""
    reoff = truth["reoffending"]
    p = export.participants
    index = p["index_date"].fillna(p["start_date"])
    people = p.assign(index=index)[index.notna()]
    people = people[(people["group"] == "comparison") | people["start_date"].notna()]
    deadline = people["index"] + pd.Timedelta(days=reoff["proof_deadline_days"])
    observed_to = people["followup_end"].fillna(export.extract_date)
    people = people[deadline <= observed_to]
    ev = export.events[export.events["event_type"].isin(reoff["counting_event_types"])].merge(
        people[["participant_id", "index"]], on="participant_id"
    )
    after = _days(ev["event_date"] - ev["index"])
    proven_by = _days(ev["proven_date"] - ev["index"])
    counts = (
        (after > 0) & (after <= reoff["window_days"]) & (proven_by <= reoff["proof_deadline_days"])
    )
    hit = set(ev.loc[counts, "participant_id"])
    return people.assign(reoffended=people["participant_id"].isin(hit))


def test_twelve_month_proven_reoffending_matches_p12_by_group_and_risk(big):
    export, truth = big
    people = _p12_realised(export, truth)
    cells = people.groupby(["group", "risk_level"], observed=True)["reoffended"].agg(
        ["sum", "size"]
    )
    expected = [truth["reoffending"]["p12_by_group"][g][r] for g, r in cells.index]
    assert cells["size"].min() > 300
    ok = _inside(cells["sum"], cells["size"], expected, len(cells))
    assert ok.all(), cells[~ok]
    # pooled over the cells: observed reoffenders against their expected number
    expected = np.asarray(expected)
    mean = np.sum(cells["size"] * expected)
    sd = np.sqrt(np.sum(cells["size"] * expected * (1 - expected)))
    assert abs(cells["sum"].sum() - mean) <= stats.norm.ppf(1 - FAMILY_ALPHA / 2) * sd


def test_events_before_the_index_date_exist_and_breaches_are_recorded(big):
    export, _ = big
    ev = export.events.merge(
        export.participants[["participant_id", "start_date"]], on="participant_id"
    )
    before = ev["event_date"] < ev["start_date"]
    assert before.sum() > 100
    assert (ev["event_date"] != ev["start_date"]).all()
    assert (export.events["event_type"] == "order_breach").sum() > 100
    assert (
        export.events.loc[export.events["event_type"] == "dv_incident", "proven_date"].isna().all()
    )


@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")  # raised inside lifelines
def test_cox_model_recovers_the_programme_and_risk_hazard_ratios(big):
    """Time to first offence (committed) from index; lifelines as the independent fit."""
    lifelines = pytest.importorskip("lifelines")
    export, truth = big
    reoff = truth["reoffending"]
    p = export.participants
    people = p[(p["group"] == "comparison") | p["start_date"].notna()].copy()
    people["index"] = people["index_date"].fillna(people["start_date"])
    end = people["followup_end"].fillna(export.extract_date)
    ev = export.events[export.events["event_type"].isin(reoff["counting_event_types"])].merge(
        people[["participant_id", "index"]], on="participant_id"
    )
    first = ev[ev["event_date"] > ev["index"]].groupby("participant_id")["event_date"].min()
    event_day = people["participant_id"].map(first)
    people["event"] = event_day.notna().astype(int)
    people["time"] = _days(event_day.fillna(end) - people["index"]).clip(lower=0.5)
    frame = pd.DataFrame(
        {
            "time": people["time"].astype(float),
            "event": people["event"],
            "programme": (people["group"] == "programme").astype(float),
            "prior_offences": people["prior_offences"].astype(float),
            **{
                f"risk_{r}": (people["risk_level"] == r).astype(float)
                for r in ("medium", "high", "very_high")
            },
        }
    )
    fit = lifelines.CoxPHFitter(alpha=FAMILY_ALPHA / 5).fit(frame, "time", "event")
    low = np.exp(fit.confidence_intervals_.iloc[:, 0])
    high = np.exp(fit.confidence_intervals_.iloc[:, 1])
    expected = pd.Series(
        {
            "programme": reoff["hr_programme"],
            "prior_offences": reoff["hr_prior_offence"],
            **{f"risk_{r}": reoff["hr_risk"][r] for r in ("medium", "high", "very_high")},
        }
    )
    inside = (low[expected.index] <= expected) & (expected <= high[expected.index])
    assert inside.all(), pd.DataFrame({"low": low, "true": expected, "high": high})


def test_comparison_pool_is_selected_on_risk_and_priors_with_overlap(big):
    export, _ = big
    p = export.participants
    starters = p[p["start_date"].notna()]
    comp = p[p["group"] == "comparison"]
    assert (comp["risk_level"] == "low").mean() > (starters["risk_level"] == "low").mean() + 0.1
    assert comp["prior_offences"].mean() < starters["prior_offences"].mean()
    for risk in RISKS:
        assert (comp["risk_level"] == risk).sum() > 100 and (
            starters["risk_level"] == risk
        ).sum() > 100


# ---------------------------------------------------------------- pre/post


def _paired(export, later: str = "post") -> pd.DataFrame:
    m = export.measures
    key = ["participant_id", "instrument", "scale", "informant"]
    pre = m[m["timepoint"] == "pre"].set_index(key)["score"]
    post = m[m["timepoint"] == later].set_index(key)["score"]
    both = pd.concat({"pre": pre, "post": post}, axis=1, join="inner").reset_index()
    return both.astype({"instrument": str, "scale": str})


def test_pre_post_correlation_equals_the_reliability_used(big):
    """Same true score plus independent noise: corr(pre, post) = Var(T)/Var(X)."""
    export, truth = big
    both = _paired(export)
    groups = both.groupby(["instrument", "scale"])
    z = stats.norm.ppf(1 - FAMILY_ALPHA / (2 * groups.ngroups))
    for (instrument, scale), g in groups:
        r = np.corrcoef(g["pre"], g["post"])[0, 1]
        half = z / np.sqrt(len(g) - 3)
        rel = truth["prepost"][instrument][scale]["reliability"]
        assert np.tanh(np.arctanh(r) - half) <= rel <= np.tanh(np.arctanh(r) + half), (
            instrument,
            scale,
            r,
            rel,
            len(g),
        )


@pytest.mark.parametrize("later", ["post", "follow_up"])
def test_mean_change_matches_the_true_change(big, later):
    export, truth = big
    both = _paired(export, later)
    groups = both.groupby(["instrument", "scale"])
    assert groups.ngroups == 8
    crit = stats.norm.ppf(1 - FAMILY_ALPHA / (2 * groups.ngroups))
    for (instrument, scale), g in groups:
        cell = truth["prepost"][instrument][scale]
        expected = cell["expected_observed_mean"][later] - cell["expected_observed_mean"]["pre"]
        change = g["post"] - g["pre"]
        se = change.std(ddof=1) / np.sqrt(len(g))
        assert abs(change.mean() - expected) <= crit * se, (
            instrument,
            scale,
            change.mean(),
            expected,
        )
        true = cell["true_change"] if later == "post" else cell["true_change_follow_up"]
        assert expected == pytest.approx(true, abs=0.01 * cell["baseline_sd"])


def test_post_scores_are_missing_at_the_stated_rates(big):
    export, truth = big
    p = export.participants
    old = p[
        (p["exit_status"] == "completed")
        & (p["end_date"] <= export.extract_date - pd.Timedelta(days=30))
    ]
    m = export.measures[export.measures["participant_id"].isin(old["participant_id"])]
    rows = []
    for informant, instrument in (("father", "psi_sf"), ("partner", "cts2")):
        users = truth["prepost"][instrument]["total" if instrument == "psi_sf" else "injury"][
            "programmes"
        ]
        eligible = old[old["programme"].isin(users)]
        have = m[(m["instrument"] == instrument) & (m["timepoint"] == "post")][
            "participant_id"
        ].unique()
        rows.append(
            (
                len(eligible) - len(have),
                len(eligible),
                truth["prepost_design"]["p_post_missing"][informant],
            )
        )
    missing, n, expected = zip(*rows, strict=True)
    assert _inside(missing, n, expected, len(rows)).all()


# ---------------------------------------------------------------- options and errors


def test_registry_overrides_change_the_session_schedule():
    export, truth = generate(
        2_000, seed=1, programmes={"carrousel": {"core": {"group": 12}, "session_interval_days": 7}}
    )
    s = export.sessions.merge(
        export.participants[["participant_id", "programme"]], on="participant_id"
    )
    assert s.loc[s["programme"] == "carrousel", "session_number"].max() == 12
    assert truth["programmes"]["carrousel"]["core_sessions"] == 12


def test_parameter_overrides_reach_the_truth():
    _, truth = generate(500, seed=1, parameters={"reoffending": {"hr_programme": 1.0}})
    p12 = truth["reoffending"]["p12_by_group"]
    assert truth["reoffending"]["hr_programme"] == 1.0
    assert p12["programme"]["overall"] == pytest.approx(p12["starters_untreated"]["overall"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_participants": 0},
        {"n_participants": 10, "comparison_share": 1.0},
        {"n_participants": 10, "extract_date": "not a date"},
        {"n_participants": 10, "parameters": {"engagement": {"excluded_hazard": 2.0}}},
    ],
)
def test_invalid_arguments_raise_config_error(kwargs):
    n = kwargs.pop("n_participants")
    with pytest.raises(ConfigError):
        generate(n, **kwargs)


# ---------------------------------------------------------------- command line


def _synth_cli(argv: list[str]) -> int:
    import argparse

    from cdanalytics.cli import synth as synth_cli

    parser = argparse.ArgumentParser(prog="cdanalytics")
    synth_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_writes_the_same_export_as_the_function(tmp_path):
    code = _synth_cli(
        [
            "synth",
            "--participants",
            "120",
            "--seed",
            "7",
            "--out",
            str(tmp_path / "cli"),
            "--format",
            "parquet",
        ]
    )
    assert code == 0
    write_synthetic_export(tmp_path / "api", n_participants=120, seed=7, fmt="parquet")
    assert _files(tmp_path / "cli") == _files(tmp_path / "api")


@pytest.mark.parametrize(
    "bad", [["--participants", "0"], ["--participants", "x"], ["--format", "json"]]
)
def test_cli_rejects_bad_arguments_with_usage_exit_code(tmp_path, bad):
    argv = ["synth", "--participants", "10", "--out", str(tmp_path), *bad]
    with pytest.raises(SystemExit) as exc:
        _synth_cli(argv)
    assert exc.value.code == 2
