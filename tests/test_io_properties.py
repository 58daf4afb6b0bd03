"""Property: random corruption of a valid export never crashes the loader and never loses a row.

Corruptions: empty a cell, garble a cell, duplicate a row, swap two cells of
one row, swap two dates of one row (for example start_date and end_date),
swap a value between two rows. For every corrupted export:

- strict loading either succeeds or raises ExportValidationError, and it
  fails exactly when the quarantine run finds problems;
- quarantine loading succeeds, and in every table the rows read equal the
  rows written, and accepted + quarantined rows equal the rows read, with
  every source row in exactly one of the two.
"""

import pandas as pd
import pytest
from _io_exports import tables, write_csv_export
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdanalytics.errors import ExportValidationError
from cdanalytics.io import load_export
from cdanalytics.io.export import TABLES

#: Garbage without digits, spaces or @, so that it never looks like an identifier.
GARBAGE = st.text(alphabet="abcxyz-_/.,;'\"é", min_size=1, max_size=8)

corruption = st.tuples(
    st.sampled_from(["empty", "garble", "duplicate", "swap_cells", "swap_dates", "swap_rows"]),
    st.sampled_from(TABLES),
    st.integers(min_value=0, max_value=100),
    st.integers(min_value=0, max_value=100),
    st.integers(min_value=0, max_value=100),
    GARBAGE,
)


def corrupt(frames, corruptions):
    for kind, name, a, b, c, garbage in corruptions:
        frame = frames[name]
        row, col = a % len(frame), b % frame.shape[1]
        if kind == "empty":
            frame.iloc[row, col] = ""
        elif kind == "garble":
            frame.iloc[row, col] = garbage
        elif kind == "duplicate":
            frame = pd.concat([frame, frame.iloc[[row]]], ignore_index=True)
        elif kind in ("swap_cells", "swap_dates"):
            columns = [i for i, n in enumerate(frame.columns) if n.endswith(("_date", "_on"))]
            if kind == "swap_cells" or len(columns) < 2:
                columns = list(range(frame.shape[1]))
            col, other = columns[b % len(columns)], columns[c % len(columns)]
            frame.iloc[row, [col, other]] = frame.iloc[row, [other, col]].to_numpy()
        else:
            other = c % len(frame)
            frame.iloc[[row, other], col] = frame.iloc[[other, row], col].to_numpy()
        frames[name] = frame
    return frames


@pytest.mark.slow
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(corruptions=st.lists(corruption, min_size=1, max_size=4))
def test_corruption_never_crashes_and_never_loses_a_row(tmp_path_factory, corruptions):
    frames = corrupt(tables(), corruptions)
    folder = write_csv_export(tmp_path_factory.mktemp("export"), frames)
    export = load_export(folder, quarantine=True)
    counts = export.report.tables
    for name in TABLES:
        assert counts.loc[name, "rows_read"] == len(frames[name])
        accepted, quarantined = len(export.table(name)), len(export.quarantine[name])
        assert counts.loc[name, "rows_accepted"] == accepted
        assert counts.loc[name, "rows_quarantined"] == quarantined
        assert accepted + quarantined == len(frames[name])
        rows = set(export.quarantine[name]["source_row"])
        assert rows <= set(range(2, len(frames[name]) + 2))
    export.report.reconcile()
    try:
        strict = load_export(folder)
    except ExportValidationError as exc:
        assert not export.report.ok
        assert len(exc.report.problems) == len(export.report.problems)
    else:
        assert export.report.ok
        assert strict.report.ok
