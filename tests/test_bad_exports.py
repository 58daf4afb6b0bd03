"""Broken exports, read as a scheduled job would: a clear exit, nothing leaked.

Every case of the corpus in ``_bad_exports.py`` is written to a scratch folder
and run through the command line. From the outside, the test checks the exit
code, that the message names what is wrong, that no planted identifier or huge
value appears in stdout, stderr, the log or any file written, and that every
CSV written is safe to open in a spreadsheet (no text cell starts with a
formula character). A hypothesis test then throws random bytes, random cells
and long values at the loader: it must answer with the package's own error or a
result that accounts for every row, within a time limit.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from _bad_exports import CASES, Case, build
from _io_exports import tables, write_csv_export
from _services_exports import tables_with_services
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdanalytics.cli import main
from cdanalytics.errors import CdaError
from cdanalytics.io.load import load_export

ROOT = Path(__file__).resolve().parents[1]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TIME_LIMIT = 120


def _run_in_process(argv: list[str], caplog) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    level = root.level
    try:
        with (
            warnings.catch_warnings(),  # each run warns afresh, as a new process would
            caplog.at_level(logging.DEBUG),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            warnings.simplefilter("always")
            logging.captureWarnings(False)  # main() routes warnings to the log afresh
            code = main(argv)
            logging.captureWarnings(False)
    finally:
        root.setLevel(level)
    return code, out.getvalue() + err.getvalue() + caplog.text


def _run_subprocess(argv: list[str], cwd: Path) -> tuple[int, str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cdanalytics.cli", *argv],
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        cwd=cwd,
        env=env,
    )
    return done.returncode, done.stdout + done.stderr, time.perf_counter() - start


def _outputs(folders: list[Path]) -> dict[Path, bytes]:
    return {
        path: path.read_bytes()
        for folder in folders
        if folder.exists()
        for path in folder.rglob("*")
        if path.is_file()
    }


def _unsafe_cells(path: Path) -> list[str]:
    """Text cells of a CSV that a spreadsheet would run as a formula."""
    bad = []
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        for row in csv.reader(handle):
            for cell in row:
                if not cell.startswith(FORMULA_START):
                    continue
                try:
                    float(cell)
                except ValueError:
                    bad.append(cell[:40])
    return bad


@pytest.mark.parametrize("case", [c for c in CASES if not c.slow], ids=lambda c: c.name)
def test_a_broken_export_gets_a_clear_answer_and_leaks_nothing(
    case: Case, tmp_path, caplog, monkeypatch
):
    export, out, cwd = tmp_path / "export", tmp_path / "out", tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    argv = [case.command, str(export), "--out", str(out), *build(case, export)]
    code, text = _run_in_process(argv, caplog)
    assert code == case.exit_code, text[-2000:]
    for word in case.words:
        files = b"".join(_outputs([out, cwd]).values()).decode("utf-8", "replace")
        assert word.lower() in (text + files).lower(), f"{word!r} not said"
    written = _outputs([out, cwd])
    for value in case.never:
        assert value not in text, f"{value!r} echoed on the console or in the log"
        for path, content in written.items():
            assert value.encode() not in content, f"{value!r} written to {path.name}"
    for path in written:
        if path.suffix == ".csv":
            assert not _unsafe_cells(path), f"formula cells in {path.name}"


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in CASES if c.slow], ids=lambda c: c.name)
def test_a_huge_value_finishes_fast_and_is_not_echoed(case: Case, tmp_path):
    export, out = tmp_path / "export", tmp_path / "out"
    argv = [case.command, str(export), "--out", str(out), *build(case, export)]
    code, text, seconds = _run_subprocess(argv, tmp_path)
    assert code == case.exit_code, text[-2000:]
    assert seconds < 60
    for value in case.never:
        assert value not in text
        for path, content in _outputs([out]).items():
            assert value.encode() not in content, f"{value!r} written to {path.name}"
    for path in _outputs([out]):
        assert path.stat().st_size < 1_000_000, f"{path.name} grew with the value"


def test_the_corpus_covers_at_least_forty_exports():
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


# --------------------------------------------------------------------------- random input

_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=40
)
_LONG = st.builds(
    lambda c, n: c * n,
    st.sampled_from(["a", "a@", "1", "a.", " ", ";", '"']),
    st.integers(1, 20_000),
)


def _rows_accounted(export, written: dict[str, int]) -> None:
    t = export.report.tables
    for name, n in written.items():
        assert t.loc[name, "rows_read"] == n
        assert (
            t.loc[name, "rows_read"]
            == t.loc[name, "rows_accepted"] + t.loc[name, "rows_quarantined"]
        )


def _load_or_refuse(folder: Path, written: dict[str, int]) -> None:
    start = time.perf_counter()
    try:
        export = load_export(folder, quarantine=True)
    except CdaError:
        pass
    else:
        _rows_accounted(export, written)
    assert time.perf_counter() - start < 20


# derandomize: CI runs the same examples every time (a wider random search of 800
# examples passed when this was written: raise max_examples and drop it to search again)
_SETTINGS = settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.slow
@_SETTINGS
@given(
    table=st.sampled_from(["participants", "sessions", "measures", "events"]),
    column=st.integers(0, 20),
    row=st.integers(0, 7),
    value=st.one_of(_TEXT, _LONG),
)
def test_a_random_cell_never_crashes_hangs_or_loses_a_row(
    tmp_path_factory, table, column, row, value
):
    frames = tables()
    frame = frames[table]
    frame.iloc[row % len(frame), column % frame.shape[1]] = value
    # CRLF line ends, so that a cell holding a lone CR is quoted as RFC 4180 wants
    folder = write_csv_export(tmp_path_factory.mktemp("cell"), frames, lineterminator="\r\n")
    _load_or_refuse(folder, {name: len(f) for name, f in frames.items()})


@pytest.mark.slow
@_SETTINGS
@given(
    table=st.sampled_from(["participants", "sessions", "measures", "events"]),
    data=st.binary(max_size=4_000),
)
def test_random_bytes_as_a_table_never_crash_or_hang(tmp_path_factory, table, data):
    folder = write_csv_export(tmp_path_factory.mktemp("bytes"), tables())
    (folder / f"{table}.csv").write_bytes(data)
    start = time.perf_counter()
    with contextlib.suppress(CdaError):
        load_export(folder, quarantine=True)
    assert time.perf_counter() - start < 20


@_SETTINGS
@given(column=st.integers(0, 6), row=st.integers(0, 3), value=st.one_of(_TEXT, _LONG))
def test_a_random_cell_of_the_services_table_never_crashes_or_loses_a_row(
    tmp_path_factory, column, row, value
):
    frames = tables_with_services()
    frame = frames["services"]
    frame.iloc[row % len(frame), column % frame.shape[1]] = value
    folder = write_csv_export(tmp_path_factory.mktemp("service"), frames, lineterminator="\r\n")
    _load_or_refuse(folder, {name: len(f) for name, f in frames.items()})
