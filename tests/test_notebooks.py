"""The notebooks in ``notebooks/``: committed clean, parameterised, public API only, and each
runs top to bottom with papermill on ``data/sample`` showing the tables and figures it promises.

Expected content is found through cell tags (``metadata.tags``) so that the checks do not
depend on cell order. A chart is checked as a PNG output of its tagged cell (what the charts
draw is tested with the charts module). Counts the tests compare with are read from the
sample's CSV files with the standard library, not through cdanalytics.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import cdanalytics

if TYPE_CHECKING:  # nbformat and papermill are imported when a test runs (slow to import)
    import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SAMPLE = ROOT / "data" / "sample"
EXAMPLE_CONFIG = ROOT / "data" / "config" / "evaluation.example.yaml"
NAMES = sorted(path.name for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
PARAMETER_NAMES = {"export_path", "config_path", "lang"}


def _read(path: Path) -> nbformat.NotebookNode:
    import nbformat

    return nbformat.read(path, as_version=4)


def _csv_rows(table: str, folder: Path = SAMPLE) -> list[dict[str, str]]:
    with (folder / f"{table}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _run(tmp_path: Path, name: str, **parameters) -> nbformat.NotebookNode:
    """Execute a notebook as CI does: papermill, python3 kernel, cwd = notebooks/."""
    import papermill

    out = tmp_path / f"executed_{name}"
    papermill.execute_notebook(
        str(NOTEBOOKS / name),
        str(out),
        parameters=parameters,
        cwd=str(NOTEBOOKS),
        kernel_name="python3",
        progress_bar=False,
    )
    return _read(out)


def _cell(nb: nbformat.NotebookNode, tag: str) -> nbformat.NotebookNode:
    cells = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r}, found {len(cells)}"
    return cells[0]


def _html(nb: nbformat.NotebookNode, tag: str) -> str:
    """The HTML of the tagged cell's result (a DataFrame's table)."""
    html = [
        o["data"]["text/html"]
        for o in _cell(nb, tag).outputs
        if o.get("output_type") in ("execute_result", "display_data") and "text/html" in o["data"]
    ]
    assert html, f"cell {tag!r} shows no table"
    return "\n".join(html)


def _text(nb: nbformat.NotebookNode, tag: str) -> str:
    """What the tagged cell printed to stdout."""
    return "".join(
        o["text"]
        for o in _cell(nb, tag).outputs
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )


def _has_figure(nb: nbformat.NotebookNode, tag: str) -> bool:
    return any(
        "image/png" in o.get("data", {})
        for o in _cell(nb, tag).outputs
        if o.get("output_type") in ("display_data", "execute_result")
    )


def _header_cells(html: str) -> set[str]:
    return set(re.findall(r"<th>([^<]*)</th>", html))


def _data_cells(html: str) -> list[str]:
    return re.findall(r"<td>([^<]*)</td>", html)


# -- the committed notebooks ----------------------------------------------------------------


def test_the_notebooks_are_these():
    assert NAMES == [
        "01_data_quality.ipynb",
        "02_engagement.ipynb",
        "03_reoffending.ipynb",
        "04_prepost.ipynb",
        "05_evaluation_report.ipynb",
        "06_family_outcomes.ipynb",
        "07_practice_audit.ipynb",
        "08_dose_response.ipynb",
    ]


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs(name):
    import nbformat

    nb = _read(NOTEBOOKS / name)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [], f"{name}: a cell still has outputs"
        assert cell.execution_count is None, f"{name}: a cell still has an execution count"
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("name", NAMES)
def test_has_one_parameters_cell_with_export_config_and_language(name):
    nb = _read(NOTEBOOKS / name)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1
    assigned = set(re.findall(r"^(\w+)\s*=", cells[0].source, flags=re.MULTILINE))
    assert assigned >= PARAMETER_NAMES
    assert 'export_path = "../data/sample"' in cells[0].source
    if name.startswith("05"):
        assert "out_dir" in assigned


@pytest.mark.parametrize("name", NAMES)
def test_uses_only_the_public_api(name):
    """Every ``cda.x`` / ``cda.module.y`` is a public name (listed in ``__all__``)."""
    nb = _read(NOTEBOOKS / name)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert re.search(r"^import cdanalytics as cda$", source, flags=re.MULTILINE)
    assert not re.search(r"^\s*(from|import) cdanalytics\.", source, flags=re.MULTILINE)
    used = re.findall(r"\bcda\.(\w+)(?:\.(\w+))?", source)
    assert used
    for first, second in used:
        assert first in cdanalytics.__all__, f"{name}: cda.{first} is not public"
        module = getattr(cdanalytics, first)
        if second and hasattr(module, "__all__"):
            assert second in module.__all__, f"{name}: cda.{first}.{second} is not public"


# -- executed on data/sample ----------------------------------------------------------------


@pytest.mark.slow
def test_01_data_quality_on_the_sample(tmp_path):
    nb = _run(tmp_path, "01_data_quality.ipynb")
    rows = _html(nb, "rows-per-table")
    for table in ("participants", "sessions", "measures", "events"):
        n = len(_csv_rows(table))
        # rows_read and rows_accepted both equal the rows in the file: nothing quarantined
        assert _data_cells(rows).count(str(n)) >= 2, table
    assert "0 row(s) quarantined" in _text(nb, "quarantined-rows")
    assert "finding" in _header_cells(_html(nb, "exit-status-disagreements"))
    assert "derived from attendance" in _html(nb, "status-crosstab")


@pytest.mark.slow
def test_01_data_quality_shows_problems_and_quarantine(tmp_path):
    """A risk level outside the contract: one problem, and all the man's rows set aside."""
    export = tmp_path / "broken"
    shutil.copytree(SAMPLE, export)
    with_sessions = {row["participant_id"] for row in _csv_rows("sessions", export)}
    people = _csv_rows("participants", export)
    bad = next(i for i, row in enumerate(people) if row["participant_id"] in with_sessions)
    bad_person = people[bad]["participant_id"]
    people[bad]["risk_level"] = "extreme"
    with (export / "participants.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(people[0]))
        writer.writeheader()
        writer.writerows(people)
    n_rows_of_person = sum(
        row["participant_id"] == bad_person
        for table in ("participants", "sessions", "measures", "events")
        for row in _csv_rows(table, export)
    )
    assert n_rows_of_person > 1

    nb = _run(tmp_path, "01_data_quality.ipynb", export_path=str(export))

    by_rule = _data_cells(_html(nb, "problems-by-rule"))
    assert by_rule[:5] == ["allowed", "participants", "risk_level", "1", str(bad + 2)]
    assert "1 problem(s) in total" in _text(nb, "problems-by-rule")
    assert f"{n_rows_of_person} row(s) quarantined, 1 participant(s)" in _text(
        nb, "quarantined-rows"
    )
    assert bad_person in _data_cells(_html(nb, "quarantined-rows"))


@pytest.mark.slow
def test_02_engagement_with_the_example_config_in_dutch(tmp_path):
    nb = _run(tmp_path, "02_engagement.ipynb", config_path=str(EXAMPLE_CONFIG), lang="nl")
    # The example config asks for 80% of Caring Dads' 17 core sessions (default 75%).
    rules = _html(nb, "completion-rules")
    assert "attended at least 80% of the 17 core sessions (14 or more)" in rules
    programmes = {row["programme"] for row in _csv_rows("participants")}
    sites = {row["site"] for row in _csv_rows("participants") if row["group"] != "comparison"}
    completion = _html(nb, "completion-table")
    assert {
        "n_potential",
        "n_completed",
        "completion_rate",
        "completion_ci_low",
        "completion_ci_high",
        "completion_rule",
    } <= _header_cells(completion)
    assert programmes <= set(_data_cells(completion))
    assert sites <= set(_data_cells(completion))
    assert {"n_referred", "n_started", "n_completed"} <= _header_cells(_html(nb, "flow-table"))
    assert {"dropout_rate", "early_dropout_rate"} <= _header_cells(_html(nb, "dropout-table"))
    assert "retained" in _header_cells(_html(nb, "retention-table"))
    assert "attendance_rate" in _header_cells(_html(nb, "attendance-table"))
    assert {"referral_to_start", "start_to_end"} <= set(
        _data_cells(_html(nb, "waiting-times-table"))
    )
    assert "odds_ratio" in _header_cells(_html(nb, "dropout-model"))
    assert "dropouts" in _text(nb, "dropout-model")
    for tag in ("flow-chart", "completion-chart", "dropout-timing-chart", "retention-chart"):
        assert _has_figure(nb, tag), tag
    # The one table shown protected: no count from 1 to 9 survives, and some were withheld.
    protected = _data_cells(_html(nb, "disclosure-example"))
    assert "&lt;10" in protected
    assert all(int(v) == 0 or int(v) >= 10 for v in protected if v.isdigit())


@pytest.mark.slow
def test_03_reoffending_on_the_sample(tmp_path):
    nb = _run(tmp_path, "03_reoffending.ipynb")
    fixed = _html(nb, "fixed-window-group")
    assert {"n_eligible", "n_not_yet_eligible", "rate", "per_100"} <= _header_cells(fixed)
    assert {"programme", "comparison"} <= set(_data_cells(fixed))
    assert {"cumulative", "n_at_risk"} <= _header_cells(_html(nb, "km-horizons"))
    assert "log-rank chi-square" in _text(nb, "logrank")
    assert "hazard_ratio" in _header_cells(_html(nb, "cox-summary"))
    assert "GLOBAL" in _data_cells(_html(nb, "cox-ph"))
    assert {"smd_before", "smd_after"} <= _header_cells(_html(nb, "balance-table"))
    assert "percentage points" in _text(nb, "matched-effect")
    assert {"rate_treated", "difference"} <= _header_cells(_html(nb, "matched-effect"))
    assert "times the rate of proven reoffending" in _text(nb, "matched-cox")
    for tag in ("km-chart", "cox-forest", "love-plot", "overlap-plot"):
        assert _has_figure(nb, tag), tag


@pytest.mark.slow
def test_04_prepost_with_the_example_config(tmp_path):
    nb = _run(tmp_path, "04_prepost.ipynb", config_path=str(EXAMPLE_CONFIG))
    instruments = {row["instrument"] for row in _csv_rows("measures")}
    change = _html(nb, "change-table")
    assert {"n_paired", "mean_change", "change_ci_low", "p_holm", "g_av"} <= _header_cells(change)
    assert instruments <= set(_data_cells(change))
    summary = _html(nb, "reliable-change-summary")
    assert {"recovered", "improved", "unchanged", "deteriorated"} <= set(_data_cells(summary))
    # The example config gives psi_sf a reliability (the registry has none): only the
    # parenting scale is still reported as lacking one.
    stderr = "".join(
        o["text"]
        for o in _cell(nb, "reliable-change-summary").outputs
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    )
    assert "parenting_scale" in stderr
    assert "psi_sf" not in stderr
    assert {"second_score", "exit_status"} <= set(_data_cells(_html(nb, "attrition-table")))
    assert "ICC" in _text(nb, "mixed-model")
    assert "post - pre" in _data_cells(_html(nb, "mixed-model"))
    for tag in ("effect-size-chart", "change-class-chart", "jt-scatter", "means-chart"):
        assert _has_figure(nb, tag), tag


@pytest.mark.slow
def test_05_evaluation_report_writes_the_report_and_shows_its_headlines(tmp_path):
    out = tmp_path / "report"
    nb = _run(tmp_path, "05_evaluation_report.ipynb", out_dir=str(out))
    assert (out / "report.html").is_file()
    outcomes = json.loads((out / "outcomes.json").read_text(encoding="utf-8"))
    link = _html(nb, "report-link")
    assert 'href="' in link and "report.html" in link
    summary = "".join(
        o["data"].get("text/markdown", "")
        for o in _cell(nb, "summary-sentences").outputs
        if "data" in o
    )
    people = _csv_rows("participants")
    n_referred = sum(row["group"] != "comparison" for row in people)
    assert f"{n_referred:,}" in summary
    headlines = _html(nb, "headline-figures")
    completion = outcomes["engagement"]["completion"]
    assert f"{completion['rate']:.6f}" in headlines
    cells = _data_cells(headlines)
    for code in outcomes["programmes"]:  # one per programme, no pooled matched figure
        assert f"matched difference, {code}" in cells
    rows = _data_cells(_html(nb, "run-rows"))
    assert str(len(_csv_rows("sessions"))) in rows


@pytest.mark.slow
def test_07_practice_audit_on_a_synthetic_export_with_audits(tmp_path):
    export = tmp_path / "with_audits"
    cdanalytics.write_synthetic_export(export, n_participants=60, seed=3, audits=True)
    audits = _csv_rows("case_audits", export)
    nb = _run(tmp_path, "07_practice_audit.ipynb", export_path=str(export), lang="nl")
    assert f"{len(audits):,} audit scores" in _text(nb, "audit-summary")
    items = {row["item"] for row in audits}
    teams = {row["team"] for row in audits}
    shares = _html(nb, "share-table")
    assert {"team", "period", "item", "n_files", "n_met", "share", "ci_low"} <= _header_cells(
        shares
    )
    assert min(teams) in _data_cells(shares)  # long tables are shown truncated
    change = set(_data_cells(_html(nb, "change-table")))
    assert {"untrained", "trained", "difference"} | items <= change
    assert "weighted_kappa_quadratic" in _data_cells(_html(nb, "agreement-table"))
    family = _data_cells(_html(nb, "family-table"))
    assert {"child_with_non_offending_parent", "removed_into_care"} <= set(family)
    for tag in ("share-heatmap", "slope-chart", "agreement-chart"):
        assert _has_figure(nb, tag), tag


@pytest.mark.slow
def test_07_practice_audit_on_the_sample_says_there_are_no_audits(tmp_path):
    nb = _run(tmp_path, "07_practice_audit.ipynb")
    assert "has no case audits" in _text(nb, "audit-summary")
    for tag in ("share-heatmap", "slope-chart", "agreement-chart"):
        assert not _has_figure(nb, tag), tag


@pytest.mark.slow
def test_06_family_outcomes_on_a_synthetic_export_with_services_and_children(tmp_path):
    export = tmp_path / "family"
    cdanalytics.write_synthetic_export(
        export, n_participants=400, seed=4, parameters=cdanalytics.synth.FAMILY_PARAMETERS
    )
    nb = _run(tmp_path, "06_family_outcomes.ipynb", export_path=str(export), subjects="worst")
    stages = _html(nb, "stage-table")
    assert {"n_potential", "n_completed", "through_stage", "transition"} <= _header_cells(stages)
    assert {"pre_group", "group", "maintenance"} <= set(_data_cells(stages))
    assert _has_figure(nb, "stage-funnel")
    assert "caring_dads" in _data_cells(_html(nb, "review-table"))
    assert {"positive", "concerns", "not_held"} <= set(_data_cells(_html(nb, "evaluation-table")))
    # service reach: the offers counted here from services.csv, by programme
    programme = {r["participant_id"]: r["programme"] for r in _csv_rows("participants", export)}
    offers = [
        programme[r["participant_id"]]
        for r in _csv_rows("services", export)
        if r["service"] == "partner_support"
    ]
    reach = _html(nb, "service-reach")
    assert {"n_men", "n_offered", "n_engaged", "engaged_of_offered"} <= _header_cells(reach)
    cells = _data_cells(reach)
    row = cells.index("caring_dads")
    assert cells[row + 1] == "partner_support"
    assert cells[row + 3] == str(offers.count("caring_dads"))  # after n_men
    assert "stage_completed" in _header_cells(_html(nb, "service-reach-stage"))
    assert "difference_pp" in _header_cells(_html(nb, "partner-contact"))
    about_a_child = sum(bool(r.get("subject_id")) for r in _csv_rows("measures", export))
    assert f"{about_a_child:,} scores about a child" in _text(nb, "children-change")
    assert "n_paired" in _header_cells(_html(nb, "children-change"))


@pytest.mark.slow
def test_06_family_outcomes_on_the_sample_says_what_it_lacks(tmp_path):
    nb = _run(tmp_path, "06_family_outcomes.ipynb")
    assert "has no services table" in _text(nb, "service-reach")
    assert "No scores carry a subject_id" in _text(nb, "children-change")
    assert _has_figure(nb, "stage-funnel")


@pytest.mark.slow
def test_08_dose_response_on_the_sample(tmp_path):
    nb = _run(tmp_path, "08_dose_response.ipynb")
    people = _csv_rows("participants")
    n_programme = sum(r["group"] == "programme" for r in people)
    assert "programme participants in the reoffending cohort" in _text(nb, "setup")
    assert "at risk of" in _text(nb, "landmark-model")
    assert "(start, stop] intervals" in _text(nb, "time-varying-model")
    assert int(_text(nb, "setup").split(": ")[1].split(" ")[0].replace(",", "")) <= n_programme
    comparison = _data_cells(_html(nb, "model-comparison"))
    assert {"sessions_total", "sessions_attended"} <= set(comparison)
    assert _has_figure(nb, "landmark-chart")
    # simulated cohort with no effect of sessions: the naive model finds one, the
    # time-varying model's interval holds the truth (hazard ratio 1)
    demo = _html(nb, "immortal-time-demo")
    rows = re.findall(
        r"<th>(naive|time-varying)</th>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>"
        r"\s*<td>([^<]*)</td>",
        demo,
    )
    values = {name: tuple(float(v) for v in rest) for name, *rest in rows}
    assert values["naive"][2] < 1.0
    assert values["time-varying"][1] < 1.0 < values["time-varying"][2]
