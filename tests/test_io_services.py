"""The optional ``services`` table of an export (partner and children's services).

As an outsider: write the fixture export with services (tests/_services_exports.py),
run the loader, and read what comes back. The broken variants that go through
the command line are in the bad-export corpus (tests/_bad_exports.py).
"""

from pathlib import Path

import pandas as pd
import pytest
import yaml
from _io_exports import dutch_export, write_csv_export
from _services_exports import SERVICES, tables_with_services

from cdanalytics.errors import ExportValidationError, FreeTextWarning, IdentifierError
from cdanalytics.io import load_export
from cdanalytics.io.write import write_export

MAPPING = Path(__file__).parents[1] / "data/mappings/dutch_example.yaml"


def _write(folder: Path, services: pd.DataFrame | None = None, **changes) -> Path:
    frames = tables_with_services()
    if services is not None:
        frames["services"] = services
    frames.update(changes)
    return write_csv_export(folder, frames)


def _counts(export, table: str = "services") -> tuple[int, int, int]:
    row = export.report.tables.loc[table]
    return int(row["rows_read"]), int(row["rows_accepted"]), int(row["rows_quarantined"])


def test_services_load_typed_and_counted(tmp_path):
    export = load_export(_write(tmp_path / "x"))
    services = export.services
    assert export.has_services
    assert services["participant_id"].tolist() == SERVICES["participant_id"].tolist()
    assert list(services["service"].cat.categories) == [
        "partner_support",
        "womens_service",
        "childrens_service",
    ]
    for step in ("offered", "contacted", "accepted", "engaged"):
        assert pd.api.types.is_datetime64_any_dtype(services[step])
    # empty cells are missing dates, not errors
    assert services["accepted"].isna().tolist() == [False, True, True, False]
    assert _counts(export) == (4, 4, 0)


def test_an_export_without_services_lists_no_services_table(tmp_path):
    export = load_export(write_csv_export(tmp_path / "x"))
    assert not export.has_services
    assert "services" not in export.report.tables.index
    assert "offered" in export.services.columns
    assert not any("services" in note for note in export.report.notes)


def _bad_services() -> pd.DataFrame:
    """The fixture with one row per rule broken (rows 4-8 of the file) and one good row."""
    bad = pd.DataFrame(
        {
            "participant_id": ["P999", "P002", "P003", "P001", "P003", "P002"],
            "service": ["partner_support"] * 2 + ["childrens_service", "womens_service"] * 2,
            "offered": ["2024-04-01", "2024-01-01", "2024-03-05", "", "2024-04-01", ""],
            "contacted": ["", "", "2024-03-01", "2025-08-01", "", ""],
            "accepted": [""] * 6,
            "engaged": [""] * 6,
            "source": [""] * 6,
        }
    )
    bad.loc[4, "service"] = "youth_club"
    bad.loc[5, "service"] = "partner_support"  # P002's partner support a third time
    return pd.concat([SERVICES, bad], ignore_index=True)


def test_each_service_rule_is_found_on_its_row(tmp_path):
    with pytest.raises(ExportValidationError) as caught:
        load_export(_write(tmp_path / "x", _bad_services()))
    problems = caught.value.report.problems.query("table == 'services'")
    found = set(zip(problems["row"], problems["rule"], strict=True))
    # CSV rows: the header is line 1, so data row k is line k + 2
    assert {
        (6, "orphan"),
        (7, "before_referral"),
        (8, "date_order"),
        (9, "after_extract"),
        (10, "allowed"),
        (4, "unique"),
        (7, "unique"),
        (11, "unique"),
    } <= found
    # a first step on or after the referral, in order, before the extract: no problem
    assert not {r for r, _ in found} & {2, 3, 5}


def test_quarantine_accounts_for_every_service_row(tmp_path):
    services = _bad_services()
    export = load_export(_write(tmp_path / "x", services), quarantine=True)
    read, accepted, quarantined = _counts(export)
    assert read == len(services) == accepted + quarantined
    expected_bad = {4, 6, 7, 8, 9, 10, 11}  # file rows with a problem (see the test above)
    assert set(export.quarantine["services"]["source_row"]) == expected_bad
    assert quarantined == len(expected_bad)
    assert len(export.services) == accepted


def test_a_quarantined_participant_takes_his_service_rows_with_him(tmp_path):
    frames = tables_with_services()
    participants = frames["participants"]
    participants.loc[0, "exit_status"] = "graduated"  # P001: a problem of his own
    export = load_export(
        _write(tmp_path / "x", participants=participants, services=frames["services"]),
        quarantine=True,
    )
    row = export.report.tables.loc["services"]
    assert int(row["rows_with_problems"]) == 0
    assert int(row["rows_of_quarantined_participant"]) == 2  # P001's two services
    assert "P001" not in set(export.services["participant_id"])
    reasons = export.quarantine["services"]["quarantine_reason"].astype(str)
    assert reasons.str.contains("its participant is quarantined").all()


def test_typed_text_in_source_is_dropped_and_a_name_column_refused(tmp_path):
    services = SERVICES.copy()
    services.loc[0, "source"] = "spoke to Pieter Jansen"
    with pytest.warns(FreeTextWarning):
        export = load_export(_write(tmp_path / "a", services))
    assert pd.isna(export.services.loc[0, "source"])
    assert "Jansen" not in " ".join(export.report.notes)
    services = SERVICES.copy()
    services["partner"] = ["Pieter Jansen", "Anna de Vries", "Jan Smit", "Els Bakker"]
    with pytest.raises(IdentifierError) as caught:
        load_export(_write(tmp_path / "b", services))
    assert "partner" in str(caught.value) and "Jansen" not in str(caught.value)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_services_are_written_and_read_back_unchanged(tmp_path, fmt):
    export = load_export(_write(tmp_path / "x"))
    again = load_export(write_export(export, tmp_path / fmt, fmt))
    a, b = export.services, again.services
    dates = a.select_dtypes("datetime").columns
    pd.testing.assert_frame_equal(
        a.astype(dict.fromkeys(dates, "datetime64[ns]")),
        b.astype(dict.fromkeys(dates, "datetime64[ns]")),
    )


def test_an_export_without_services_writes_no_services_file(tmp_path):
    export = load_export(write_csv_export(tmp_path / "x"))
    written = write_export(export, tmp_path / "out")
    assert not (written / "services.csv").exists()


def test_a_dutch_export_with_services_reads_with_the_example_mapping(tmp_path):
    """Dutch file, column and value names, day-first dates, ``;`` and Windows-1252."""
    spec = yaml.safe_load(MAPPING.read_text("utf-8"))["tables"]["services"]
    folder = dutch_export(tmp_path / "nl")
    out = SERVICES.copy()
    inverse = {v: k for k, v in spec["values"]["service"].items()}
    out["service"] = out["service"].replace(inverse)
    for column in ("offered", "contacted", "accepted", "engaged"):
        dates = pd.to_datetime(out[column], format="%Y-%m-%d")
        out[column] = dates.dt.strftime("%d-%m-%Y").fillna("")
    out = out.rename(columns={v: k for k, v in spec["columns"].items()})
    out.to_csv(folder / f"{spec['file']}.csv", sep=";", index=False, encoding="cp1252")
    dutch = load_export(folder, mapping=MAPPING).services
    english = load_export(_write(tmp_path / "en")).services
    dates = english.select_dtypes("datetime").columns
    pd.testing.assert_frame_equal(
        dutch.astype(dict.fromkeys(dates, "datetime64[ns]")),
        english.astype(dict.fromkeys(dates, "datetime64[ns]")),
    )
