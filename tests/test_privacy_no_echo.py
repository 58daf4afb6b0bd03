"""No echo anywhere: `cdanalytics validate` on scratch exports holding identifiers.

Each export is the valid fixture (tests/_io_exports.py) with planted values.
The command runs in a child process, as a scheduled job would, and every
file it writes, its standard output and its standard error are searched for
the planted values: they must not appear; placeholders say why a value is
hidden, long values are cut, and refusals name table, file, column and rule.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from _io_exports import tables, write_csv_export

from cdanalytics.io.privacy import is_valid_bsn

ROOT = Path(__file__).resolve().parents[1]
TEN_MB = 10 * 1024 * 1024


def validate(export: Path, out: Path, *args: str) -> tuple[int, str]:
    """Run ``python -m cdanalytics.cli validate`` on this tree; exit code and all output."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cdanalytics.cli",
            "validate",
            str(export),
            "--out",
            str(out),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    return result.returncode, result.stdout + result.stderr


def everything_written(out: Path, output: str) -> str:
    """Standard output and error, then the text of every file under ``out``."""
    texts = [output]
    if out.exists():
        texts += [p.read_text(encoding="utf-8") for p in sorted(out.rglob("*")) if p.is_file()]
    return "\n".join(texts)


def problems(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "validation_problems.csv", dtype=str, keep_default_na=False)


# --- a name typed into a categorical column ---------------------------------------


def test_a_listed_name_in_a_category_column_refuses_the_export_without_the_name(tmp_path):
    frames = tables()
    frames["participants"].loc[1, "referral_source"] = "Pieter Jansen"
    export = write_csv_export(tmp_path / "export", frames)
    out = tmp_path / "out"
    code, output = validate(export, out, "--quarantine")
    assert code == 1
    assert "column 'referral_source': looks like person name" in output
    written = everything_written(out, output)
    assert "Jansen" not in written and "Pieter" not in written


@pytest.mark.parametrize("quarantine", [False, True])
def test_an_unlisted_name_in_a_category_column_is_never_written(tmp_path, quarantine):
    frames = tables()
    frames["participants"].loc[1, "referral_source"] = "Xander Okoye"  # not an allowed value
    export = write_csv_export(tmp_path / "export", frames)
    out = tmp_path / "out"
    code, output = validate(export, out, *(["--quarantine"] if quarantine else []))
    assert code == (0 if quarantine else 1)
    written = everything_written(out, output)
    assert "Xander" not in written and "Okoye" not in written
    row = problems(out).query("column == 'referral_source'")
    assert row["value"].tolist() == ["[redacted: looks like a person's name]"]
    assert row["rule"].tolist() == ["allowed"] and row["row"].tolist() == ["3"]
    if quarantine:
        quarantined = pd.read_csv(out / "quarantine_participants.csv", dtype=str)
        assert quarantined["referral_source"].tolist() == ["[redacted: looks like a person's name]"]


# --- a 10 MB invalid value ----------------------------------------------------------


def test_a_10_mb_invalid_value_is_cut_in_every_output(tmp_path):
    unit = "abcdefghij"
    value = unit * (TEN_MB // len(unit))
    frames = tables()
    frames["participants"].loc[2, "risk_level"] = value
    export = write_csv_export(tmp_path / "export", frames)
    out = tmp_path / "out"
    code, output = validate(export, out, "--quarantine")
    assert code == 0
    written = everything_written(out, output)
    assert unit * 9 not in written  # nothing past the first 80 characters
    assert len(written) < 20_000
    shown = f"{value[:80]}… [cut, {len(value):,} characters]"
    assert shown == f"{unit * 8}… [cut, 10,485,760 characters]"
    assert problems(out).query("column == 'risk_level'")["value"].tolist() == [shown]
    quarantined = pd.read_csv(out / "quarantine_participants.csv", dtype=str)
    assert quarantined["risk_level"].tolist() == [shown]


# --- free text ---------------------------------------------------------------------


FREE_TEXT = "Met Sarah Okafor gesproken, verhuisd"


def free_text_export(folder: Path) -> Path:
    frames = tables()
    frames["participants"]["exit_reason"] = ["", FREE_TEXT, "moved_away", "", "", ""]
    frames["participants"].loc[1, "prior_offences"] = "many"  # the same row has a problem
    return write_csv_export(folder, frames)


def test_free_text_is_dropped_by_default_with_a_warning_that_counts_it(tmp_path):
    export = free_text_export(tmp_path / "export")
    out = tmp_path / "out"
    code, output = validate(export, out, "--quarantine")
    assert code == 0
    written = everything_written(out, output)
    assert "Okafor" not in written and "Sarah" not in written and "gesproken" not in written
    assert "FreeTextWarning" in output
    assert "participants.csv, column exit_reason: 1 free-text value(s) dropped" in output
    assert "free_text_safe" in output
    quarantined = pd.read_csv(out / "quarantine_participants.csv", dtype=str)
    assert quarantined["exit_reason"].isna().all()  # the row is quarantined, its text is not


def mapping_file(folder: Path, safe: list[str]) -> Path:
    path = folder / "mapping.yaml"
    path.write_text(yaml.safe_dump({"tables": {"participants": {"free_text_safe": safe}}}))
    return path


def test_declared_safe_free_text_with_a_name_refuses_the_export_without_the_value(tmp_path):
    export = free_text_export(tmp_path / "export")
    out = tmp_path / "out"
    code, output = validate(
        export, out, "--quarantine", "--mapping", str(mapping_file(tmp_path, ["exit_reason"]))
    )
    assert code == 1
    written = everything_written(out, output)
    assert "Okafor" not in written and "Sarah" not in written
    assert "table 'participants' (file participants.csv)" in output
    assert "column 'exit_reason': looks like person name" in output
    assert "contain a person's name" in output


def test_declared_safe_free_text_without_identifiers_is_kept(tmp_path):
    frames = tables()
    frames["participants"]["exit_reason"] = ["", "Moved to another area", "Referred by GP"] + [
        ""
    ] * 3
    export = write_csv_export(tmp_path / "export", frames)
    out = tmp_path / "out"
    code, output = validate(export, out, "--mapping", str(mapping_file(tmp_path, ["exit_reason"])))
    assert code == 0 and "free-text value(s) dropped" not in output


def test_free_text_safe_must_name_a_free_text_column(tmp_path):
    export = write_csv_export(tmp_path / "export")
    code, output = validate(
        export, tmp_path / "out", "--mapping", str(mapping_file(tmp_path, ["site"]))
    )
    assert code == 2
    assert "free_text_safe must list contract free-text columns of participants" in output


# --- identifier columns the guard now catches ----------------------------------------


def stripped_bsns(n: int, seed: int = 3) -> list[str]:
    """``n`` distinct valid BSNs starting with 0, without the 0 (as Excel saves them)."""
    rng = np.random.default_rng(seed)
    found: set[str] = set()
    while len(found) < n:
        candidates = [f"0{x}" for x in rng.integers(10**7, 10**8, 200)]
        found.update(c for c, ok in zip(candidates, is_valid_bsn(candidates), strict=True) if ok)
    return [b[1:] for b in sorted(found)[:n]]


@pytest.mark.parametrize(
    ("column", "values", "kind"),
    [
        (
            "client",
            ["JANSEN, Pieter", "SMITH, John", "DE VRIES, Jan", "BAKKER, Anna"],
            "person name",
        ),
        (
            "client",
            ["OKOYE, Xander", "ADEYEMI, Tunde", "KOWALSKI, Piotr", "NGUYEN, Thi", "ROSSI, Luca"],
            "person name",
        ),
        ("client_ref", stripped_bsns(30), "Dutch citizen service number (BSN)"),
    ],
    ids=["surname-firstname-listed", "surname-firstname-unlisted", "bsn-without-leading-zero"],
)
def test_identifier_columns_are_refused_naming_table_file_column_and_rule(
    tmp_path, column, values, kind
):
    frames = tables()
    extra = pd.DataFrame(
        {
            "participant_id": [f"P{i:03d}" for i in range(7, 7 + len(values))],
            "programme": "borg",
            "site": "Eindhoven",
            "group": "comparison",
            "index_date": "2024-04-01",
        }
    )
    participants = pd.concat([frames["participants"], extra], ignore_index=True).fillna("")
    participants[column] = [""] * 6 + list(values)
    frames["participants"] = participants
    export = write_csv_export(tmp_path / "export", frames)
    out = tmp_path / "out"
    code, output = validate(export, out)
    assert code == 1
    assert "table 'participants' (file participants.csv)" in output
    assert f"column '{column}': looks like {kind}" in output
    written = everything_written(out, output)
    for value in values:
        assert value not in written
    assert not (out / "validation_problems.csv").exists()
