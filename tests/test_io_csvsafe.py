"""Formula-safe CSV (:mod:`cdanalytics.io.csvsafe`): no cell that cdanalytics writes for
people to open can run as a spreadsheet formula, and numbers stay numbers.

The rule is checked on the writer itself, then on what ``cdanalytics report``
and ``cdanalytics validate`` really wrote from an export whose cells are
formulas (read back with the ``csv`` module, as a spreadsheet would see them).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
import pytest
from _cli_run import run_cli

from cdanalytics.cli import EXIT_OK
from cdanalytics.io.csvsafe import FORMULA_STARTS, neutralise_frame, write_csv
from cdanalytics.synth import write_synthetic_export

ATTACKS = ('=HYPERLINK("x")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3", "\t=1+1", "\r=1+1")


def cells(path: Path) -> list[str]:
    """Every cell of a CSV file (header included), as a spreadsheet reads it."""
    with path.open(encoding="utf-8", newline="") as f:
        return [cell for row in csv.reader(f) for cell in row]


def is_plain_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return cell.strip() == cell and cell.lower() not in ("nan", "inf", "-inf", "+inf")


def assert_no_formula(path: Path) -> None:
    for cell in cells(path):
        if cell.startswith(FORMULA_STARTS):
            assert is_plain_number(cell), f"{path.name}: {cell!r} would run as a formula"


def test_text_cells_that_start_a_formula_get_a_quote(tmp_path):
    frame = pd.DataFrame(
        {
            "text": [*ATTACKS, "x\r=1+1", "plain", "-5", "+1.5e3"],
            "number": [-1.5, -2.0, 3.0, -4.0, 0.0, 1.0, -7.0, 8.0, 9.0, -0.5],
            "mixed": ["=1", -3, None, "@x", "ok", "-1", 2.5, "", "+", "\t"],
        }
    )
    frame["category"] = pd.Categorical(["=A", "B", "=A", "-C", *["B"] * 6])
    path = write_csv(frame, tmp_path / "t.csv")
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == len(frame) + 1  # a carriage return inside a cell starts no row
    back = pd.DataFrame(rows[1:], columns=rows[0])
    expected = [*("'" + a for a in ATTACKS), "x\r=1+1", "plain", "-5", "+1.5e3"]
    assert list(back["text"]) == expected
    assert list(back["mixed"]) == ["'=1", "-3", "", "'@x", "ok", "-1", "2.5", "", "'+", "'\t"]
    assert list(back["category"])[:4] == ["'=A", "B", "'=A", "'-C"]
    assert pd.read_csv(path)["number"].tolist() == frame["number"].tolist()
    assert_no_formula(path)


def test_the_frame_given_is_not_changed_and_headers_are_neutralised_too():
    frame = pd.DataFrame({"=bad": ["=x"], "good": [1]})
    safe = neutralise_frame(frame)
    assert list(safe.columns) == ["'=bad", "good"]
    assert frame.iloc[0, 0] == "=x" and safe.iloc[0, 0] == "'=x"
    assert safe["good"].dtype == frame["good"].dtype


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory) -> Path:
    """A synthetic export whose site names and one referral source are formulas."""
    folder = tmp_path_factory.mktemp("csvsafe") / "export"
    write_synthetic_export(folder, n_participants=300, seed=4)
    path = folder / "participants.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    sites = {"Leeds": ATTACKS[0], "Rotterdam": ATTACKS[1], "Eindhoven": ATTACKS[2]}
    frame["site"] = frame["site"].replace(sites)
    frame.to_csv(path, index=False)
    return folder


@pytest.mark.slow
def test_report_tables_hold_no_formula(poisoned, tmp_path):
    config = tmp_path / "evaluation.yaml"
    config.write_text("groupings: [site]\n", encoding="utf-8")
    out = tmp_path / "report"
    code = run_cli(
        [
            "report",
            str(poisoned),
            "--out",
            str(out),
            "--config",
            str(config),
            "--quiet",
            "--no-figures",
        ]
    )[0]
    assert code == EXIT_OK
    tables = sorted((out / "tables").glob("*.csv"))
    for table in tables:
        assert_no_formula(table)
    written = {cell for table in tables for cell in cells(table)}
    assert {"'" + a for a in ATTACKS[:3]} <= written  # the sites, shown harmless
    negatives = {cell for cell in written if cell.startswith("-")}
    assert negatives and all(map(is_plain_number, negatives))  # numbers stay numbers


def test_problem_list_and_quarantine_files_hold_no_formula(poisoned, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(poisoned, export)
    path = export / "participants.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[0, "referral_source"] = ATTACKS[0]  # not a known source
    frame.loc[1, "prior_offences"] = "-2"  # a negative count
    frame.loc[1, "referral_source"] = ATTACKS[3]
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    assert run_cli(["validate", str(export), "--quarantine", "--out", str(out)])[0] == EXIT_OK
    files = sorted(out.glob("*.csv"))
    assert {"validation_problems.csv", "quarantine_participants.csv"} <= {p.name for p in files}
    for file in files:
        assert_no_formula(file)
    quarantined = cells(out / "quarantine_participants.csv")
    assert "'" + ATTACKS[0] in quarantined and "'" + ATTACKS[3] in quarantined
    assert "-2" in quarantined
