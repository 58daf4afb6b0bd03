"""A loaded export's tables can be edited in place, as any pandas table can: the
load's shortcuts (numbers and codes taken as views of the file's buffers) must not
leave a column read-only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cdanalytics.io import load_export
from cdanalytics.synth import write_synthetic_export

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="module", params=["csv sample", "parquet"])
def export(request, tmp_path_factory):
    if request.param == "csv sample":
        return load_export(SAMPLE)
    folder = tmp_path_factory.mktemp("parquet") / "export"
    write_synthetic_export(folder, n_participants=300, seed=5, fmt="parquet")
    return load_export(folder)


def test_every_column_of_every_table_takes_an_edit_in_place(export):
    for name in ("participants", "sessions", "measures", "events"):
        table = getattr(export, name)
        for j, column in enumerate(table.columns):
            value = table.iloc[1, j]
            table.iloc[0, j] = value  # raised "assignment destination is read-only"
            first = table.iloc[0, j]
            assert (pd.isna(first) and pd.isna(value)) or first == value, (name, column)
