"""A small, valid, hand-written export and helpers to write and corrupt it.

The tables are text, exactly as they would appear in a CSV file, so tests
can change one cell and write the export again. Extract date: 2025-06-30.

Participants
    P001  caring_dads  programme  completed    referral 2024-01-10, start 2024-02-05, end 2024-05-27
    P002  caring_dads  programme  dropped_out  referral 2024-01-15, start 2024-02-05, end 2024-03-04
    P003  borg         programme  ongoing      referral 2024-03-01, start 2024-04-02
    P004  journey      programme  not_started  referral 2024-06-01
    P005  borg         comparison              index 2024-04-01
    P006  caring_dads  comparison              index 2024-02-01
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

EXTRACT_DATE = "2025-06-30"

PARTICIPANTS = pd.DataFrame(
    {
        "participant_id": ["P001", "P002", "P003", "P004", "P005", "P006"],
        "programme": ["caring_dads", "caring_dads", "borg", "journey", "borg", "caring_dads"],
        "site": ["Leeds", "Leeds", "Eindhoven", "Leeds", "Eindhoven", "Leeds"],
        "group": ["programme", "programme", "programme", "programme", "comparison", "comparison"],
        "referral_date": ["2024-01-10", "2024-01-15", "2024-03-01", "2024-06-01", "", ""],
        "referral_source": ["probation", "children_social_care", "court", "self", "", ""],
        "assessed": ["true", "true", "true", "true", "", ""],
        "eligible": ["true", "true", "true", "false", "", ""],
        "start_date": ["2024-02-05", "2024-02-05", "2024-04-02", "", "", ""],
        "end_date": ["2024-05-27", "2024-03-04", "", "", "", ""],
        "exit_status": ["completed", "dropped_out", "ongoing", "not_started", "", ""],
        "index_date": ["", "", "", "", "2024-04-01", "2024-02-01"],
        "risk_level": ["medium", "high", "low", "medium", "high", "medium"],
        "prior_offences": ["2", "5", "0", "1", "3", "0"],
        "age_band": ["25-34", "35-44", "18-24", "25-34", "45-54", "25-34"],
        "motivation": ["4", "2", "3", "5", "", ""],
    }
)

SESSIONS = pd.DataFrame(
    {
        "participant_id": ["P001", "P001", "P001", "P001", "P002", "P002", "P003", "P003"],
        "session_type": [
            "group",
            "group",
            "group",
            "review",
            "group",
            "group",
            "individual",
            "group",
        ],
        "session_number": ["1", "2", "3", "1", "1", "2", "1", "1"],
        "session_date": [
            "2024-02-05",
            "2024-02-12",
            "2024-02-19",
            "2024-07-01",
            "2024-02-05",
            "2024-02-12",
            "2024-04-02",
            "2024-04-09",
        ],
        "attendance": [
            "attended",
            "excused",
            "attended",
            "attended",
            "attended",
            "unexcused",
            "attended",
            "attended",
        ],
    }
)

MEASURES = pd.DataFrame(
    {
        "participant_id": ["P001", "P001", "P001", "P002"],
        "instrument": ["sdq", "sdq", "psi_sf", "cts2"],
        "scale": ["total", "total", "", "physical_assault"],
        "informant": ["partner", "partner", "father", "partner"],
        "timepoint": ["pre", "post", "pre", "pre"],
        "measured_on": ["2024-02-05", "2024-05-27", "2024-02-05", "2024-02-05"],
        "score": ["18", "12", "95.5", "40"],
    }
)

EVENTS = pd.DataFrame(
    {
        "participant_id": ["P002", "P005"],
        "event_date": ["2024-08-01", "2024-09-10"],
        "event_type": ["dv_offence", "violent_offence"],
        "proven_date": ["2024-10-15", ""],
        "source": ["police_national_computer", "police_national_computer"],
    }
)

MANIFEST = {"extract_date": EXTRACT_DATE, "schema_version": 1, "source_system": "test fixture"}


def tables() -> dict[str, pd.DataFrame]:
    """Fresh copies of the four tables (text cells, empty string for empty)."""
    return {
        "participants": PARTICIPANTS.copy(),
        "sessions": SESSIONS.copy(),
        "measures": MEASURES.copy(),
        "events": EVENTS.copy(),
    }


def write_csv_export(
    folder: Path,
    frames: dict[str, pd.DataFrame] | None = None,
    *,
    manifest: dict | None = None,
    sep: str = ",",
    encoding: str = "utf-8",
    lineterminator: str = "\n",
) -> Path:
    """Write the tables as CSV files plus ``manifest.json``; returns the folder.

    With ``lineterminator="\\r\\n"`` a value holding a lone carriage return is
    quoted (with ``"\\n"`` the csv module writes it bare, which any reader takes
    for a line break).
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in (frames if frames is not None else tables()).items():
        frame.to_csv(
            folder / f"{name}.csv",
            index=False,
            sep=sep,
            encoding=encoding,
            lineterminator=lineterminator,
        )
    (folder / "manifest.json").write_text(json.dumps(manifest or MANIFEST), encoding="utf-8")
    return folder


def dutch_export(folder: Path) -> Path:
    """The fixture as a Dutch site would export it, for ``data/mappings/dutch_example.yaml``.

    Dutch file, column and value names; ``;`` delimiters; decimal commas;
    day-first dates (``31-12-2024``); Windows-1252 encoding (``België``).
    """
    import yaml

    spec = yaml.safe_load(
        (Path(__file__).parents[1] / "data/mappings/dutch_example.yaml").read_text("utf-8")
    )
    frames = tables()
    frames["participants"]["exit_reason"] = ["", "verhuisd naar België", "", "", "", ""]
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        table = spec["tables"][name]
        out = frame.copy()
        for column, labels in table.get("values", {}).items():
            if column not in out:
                continue
            inverse = {v: k for k, v in labels.items() if v is not None}
            out[column] = out[column].replace(inverse)
        for column in out.columns:
            if column.endswith(("_date", "_on")):
                dates = pd.to_datetime(out[column], format="%Y-%m-%d")
                out[column] = dates.dt.strftime("%d-%m-%Y").fillna("")
        if "score" in out:
            out["score"] = out["score"].str.replace(".", ",", regex=False)
        out = out.rename(columns={v: k for k, v in table["columns"].items()})
        out.to_csv(folder / f"{table['file']}.csv", sep=";", index=False, encoding="cp1252")
    manifest = {"extractiedatum": "30-06-2025", "schemaversie": 1, "bronsysteem": "Testsysteem"}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder
