"""The load's shortcuts give exactly what the plain computations give.

Byte-level prefilters (:mod:`cdanalytics.io.textbytes`) must never pass a
column that holds a problem; the lookup of participant ids by runs, the
sorted-key test and the code lookup of the final categories must agree with
pandas on random inputs, including empty values and duplicates.
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cdanalytics.io import keys
from cdanalytics.io._take import take_small, take_small_2d
from cdanalytics.io.cells import CONTROL_CHARACTER, EXCEL_ERROR, cell_problems
from cdanalytics.io.coerce import coerce
from cdanalytics.io.read import RowNumbers
from cdanalytics.io.rules_cross import first_positions
from cdanalytics.io.rules_table import duplicated_keys

PIECES = [
    "P0001",
    "ab",
    "#N/A",
    " #DIV/0! ",
    "x\x00y",
    "\x1f",
    "a\tb",
    " lead",
    "trail ",
    "é",
    "\u00a0nb",
    "z\u2003",
]


def random_texts(rng, n):
    picks = rng.integers(0, len(PIECES), size=(n, 2))
    values = [PIECES[a] + PIECES[b] if rng.random() < 0.5 else PIECES[a] for a, b in picks]
    values = [None if rng.random() < 0.1 else v for v in values]
    return pd.Series(values, dtype="str")


@pytest.mark.parametrize("seed", range(30))
def test_cell_checks_find_what_the_per_value_check_finds(seed):
    rng = np.random.default_rng(seed)
    values = random_texts(rng, int(rng.integers(1, 40)))
    if rng.random() < 0.4:  # many columns are clean: the prefilter then decides alone
        values = values.where(~values.str.contains(r"[#\x00-\x1f]", regex=True, na=False))
    array = pa.array([v if isinstance(v, str) else None for v in values], pa.large_string())
    trimmed = pc.utf8_upper(pc.utf8_trim_whitespace(array))
    errors = {"#DIV/0!", "#VALUE!", "#REF!", "#N/A", "#NAME?", "#NUM!", "#NULL!"}
    expected_error = np.array([v in errors for v in trimmed.to_pylist()])
    expected_control = values.str.contains(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", regex=True, na=False)
    masks = cell_problems(values)
    assert masks[EXCEL_ERROR].tolist() == expected_error.tolist()
    assert masks[CONTROL_CHARACTER].tolist() == expected_control.tolist()


@pytest.mark.parametrize("seed", range(30))
def test_identifiers_are_trimmed_exactly_when_a_value_has_surrounding_space(seed):
    rng = np.random.default_rng(seed)
    values = random_texts(rng, int(rng.integers(1, 40)))
    if rng.random() < 0.4:
        values = values.where(values.str.strip() == values)
    typed = coerce(values, "string")
    stripped = values.str.strip()
    n_changed = int(((stripped != values) & values.notna()).sum())
    assert typed.trimmed == n_changed
    expected = stripped.mask(stripped.eq("")) if n_changed else values
    assert typed.series.tolist() == expected.tolist()


@pytest.mark.parametrize("seed", range(40))
def test_participant_positions_by_runs_equal_a_plain_lookup(seed):
    rng = np.random.default_rng(seed)
    known = pd.Series(rng.choice(["a", "b", "c", "d", None], size=6), dtype="str")
    pool = np.array(["a", "b", "c", "x", "d", "", None], dtype=object)
    columns = []
    for _ in range(3):
        values = rng.choice(pool, size=int(rng.integers(0, 30)))
        if rng.random() < 0.6:  # grouped rows: runs of one id
            values = np.repeat(values, rng.integers(1, 6, size=len(values)))
        columns.append(pd.Series(values, dtype="str"))
    first = {}
    for position, value in enumerate(known):
        if isinstance(value, str):
            first.setdefault(value, position)
    for column, found in zip(columns, first_positions(columns, known), strict=True):
        expected = [first.get(v, -1) if isinstance(v, str) else -1 for v in column]
        assert found.tolist() == expected


@pytest.mark.parametrize("seed", range(40))
def test_duplicated_keys_equal_pandas(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    codes = [
        rng.integers(-1 if rng.random() < 0.3 else 0, int(rng.integers(1, 7)), n).astype(dtype)
        for dtype in rng.choice([np.int8, np.int32, np.int64], size=int(rng.integers(1, 4)))
    ]
    if rng.random() < 0.3:
        codes = [np.sort(c) for c in codes]
    complete = np.logical_and.reduce([c >= 0 for c in codes])
    expected = np.zeros(n, dtype=bool)
    frame = pd.DataFrame({i: c[complete] for i, c in enumerate(codes)})
    expected[complete] = frame.duplicated(keep=False).to_numpy()
    assert duplicated_keys(codes).tolist() == expected.tolist()


@pytest.mark.parametrize("seed", range(40))
def test_duplicated_keys_of_rows_in_participant_order_equal_pandas(seed, monkeypatch):
    # rows kept in the order of their first code (participants) are checked block by
    # block of first codes, each block in a small bitmap: here blocks of a few codes
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    first = np.sort(rng.integers(-1 if rng.random() < 0.2 else 0, int(rng.integers(1, 80)), n))
    codes = [first.astype(np.int32)] + [
        rng.integers(-1 if rng.random() < 0.2 else 0, int(rng.integers(1, 9)), n).astype(dtype)
        for dtype in rng.choice([np.int8, np.int32, np.int64], size=int(rng.integers(1, 3)))
    ]
    if rng.random() < 0.7:  # mostly distinct keys, so that the blocks decide
        codes[-1] = np.arange(n) % int(rng.integers(n // 2 + 1, n + 1))
    per = int(np.prod([int(c.max()) + 1 for c in codes[1:]]))
    monkeypatch.setattr(keys, "_BLOCK_BITMAP", int(rng.integers(per, 4 * per + 1)))
    complete = np.logical_and.reduce([c >= 0 for c in codes])
    expected = np.zeros(n, dtype=bool)
    frame = pd.DataFrame({i: c[complete] for i, c in enumerate(codes)})
    expected[complete] = frame.duplicated(keep=False).to_numpy()
    assert duplicated_keys(codes).tolist() == expected.tolist()


@pytest.mark.parametrize("seed", range(40))
def test_fixed_width_identifiers_are_looked_up_as_integers_exactly(seed):
    rng = np.random.default_rng(seed)
    width = int(rng.integers(1, 10))  # 9: wider than 8 bytes, looked up as text
    alphabet = np.array(list("AB0é"))  # é: two bytes, a width in bytes not characters

    def ids(n):
        return ["".join(rng.choice(alphabet[:3], size=width)) for _ in range(n)]

    known = pd.Series(ids(8), dtype="str")
    columns = []
    for _ in range(3):
        values = ids(int(rng.integers(0, 25)))
        if rng.random() < 0.5:
            values = list(np.repeat(values, rng.integers(1, 5, size=len(values))))
        if rng.random() < 0.2 and values:
            values[0] = "é" * width  # another byte width: the text path
        columns.append(pd.Series(values, dtype="str"))
    first = {}
    for position, value in enumerate(known):
        first.setdefault(value, position)
    for column, found in zip(columns, first_positions(columns, known), strict=True):
        assert found.tolist() == [first.get(v, -1) for v in column]


@pytest.mark.parametrize("seed", range(30))
def test_small_table_lookups_equal_numpy_indexing(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 300))
    dtype = rng.choice([np.int8, np.int32, np.float32, np.float64, bool, "datetime64[s]"])
    size = int(rng.integers(1, 256))
    table = rng.integers(-50, 50, size).astype(dtype)
    if np.dtype(dtype).kind == "f":
        table[rng.random(size) < 0.2] = np.nan
    codes = rng.integers(-1, min(size, 128), n).astype(np.int8)
    np.testing.assert_array_equal(take_small(table, codes), table[codes])
    assert take_small(table, codes).dtype == table.dtype
    cells = rng.integers(0, size, n).astype(np.uint8)
    np.testing.assert_array_equal(take_small(table, cells), table[cells])
    shape = (int(rng.integers(1, 17)), int(rng.integers(1, 17)))
    grid = rng.random(shape).astype(np.float32)
    rows = rng.integers(-1, shape[0], n).astype(np.int8)
    columns = rng.integers(-1, shape[1], n).astype(np.int8)
    np.testing.assert_array_equal(take_small_2d(grid, rows, columns), grid[rows, columns])


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.float32, np.float64, bool])
def test_small_table_lookups_are_writeable_arrays_of_their_own(dtype):
    # a loaded table stays editable in place: every result can be written,
    # and writing one changes neither the table nor another result
    table = np.arange(1, 41).astype(dtype)
    codes = np.tile(np.arange(-1, 40, dtype=np.int8), 5)
    first, second = take_small(table, codes), take_small(table, codes)
    assert first.flags.writeable and second.flags.writeable
    first[:] = 0
    np.testing.assert_array_equal(second, table[codes])
    np.testing.assert_array_equal(table, np.arange(1, 41).astype(dtype))
    np.testing.assert_array_equal(take_small(table, codes), table[codes])


@pytest.mark.parametrize("first", [1, 2])
def test_row_numbers_index_like_the_array_they_stand_for(first):
    rng = np.random.default_rng(first)
    n = 50
    rows, array = RowNumbers(first, n), np.arange(first, first + n, dtype=np.int64)
    assert len(rows) == n and rows.tolist() == array.tolist()
    mask = rng.random(n) < 0.4
    positions = rng.integers(-n, n, 20)
    for index in (mask, positions, positions.astype(np.int32), [], 7, -1, slice(3, 9)):
        got, expected = rows[index], array[index]
        assert np.asarray(got).dtype == np.int64
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(np.asarray(rows), array)
    for bad in (n, -n - 1, np.array([0, n])):
        with pytest.raises(IndexError):
            rows[bad]
