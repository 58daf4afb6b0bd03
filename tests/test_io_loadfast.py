"""The load's later shortcuts (issue 16) give exactly what the plain computations give.

The identifier scan's distinct values through integer keys, and the
episode rules of sessions checked per run of a participant's rows, are
compared with plain per-value computations on random inputs, including
empty values, surrounding whitespace, values of other widths and rows of
one participant not kept together.
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cdanalytics.io.privacy.scan import _distinct_values

PIECES = ["P0000001", "P0000002", "Q12", "AB-1234", " P000001", "P00001 ", "é0000001", ""]


def _column(rng, n, fixed):
    """A text column of ``n`` rows in a few Arrow chunks."""
    if fixed:  # identifiers of one width, now and then one that is not
        values = [f"P{int(k):07d}" for k in rng.integers(0, max(n // 3, 1), size=n)]
        for i in np.flatnonzero(rng.random(n) < rng.choice([0.0, 0.02])):
            values[i] = PIECES[int(rng.integers(0, len(PIECES)))]
        if rng.random() < 0.2:
            values[int(rng.integers(0, n))] = None
    else:
        values = [PIECES[int(k)] for k in rng.integers(0, len(PIECES), size=n)]
    cuts = np.sort(rng.integers(0, n + 1, size=int(rng.integers(0, 4))))
    pieces = np.split(np.array(values, dtype=object), cuts)
    chunks = [pa.array(list(p), pa.large_string()) for p in pieces]
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks, pa.large_string())))


def _plain_distinct(column, max_unique, rows):
    """The scan's distinct values by plain Python: rows taken, empty and blank
    values left out, stripped, first appearance first, then a pandas sample."""
    taken = column if rows is None else column.take(rows)
    raw = [v for v in taken.tolist() if isinstance(v, str)]
    stripped = [v.strip() for v in dict.fromkeys(raw)]
    distinct = [v for v in dict.fromkeys(stripped) if v != ""]
    positions = pd.Series(np.arange(len(distinct)))
    if max_unique is not None and len(distinct) > max_unique:
        positions = positions.sample(n=max_unique, random_state=0)
    return [distinct[i] for i in positions], len(distinct), len(raw)


@pytest.mark.parametrize("seed", range(40))
def test_distinct_values_of_a_scan_equal_the_plain_computation(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    column = _column(rng, n, fixed=rng.random() < 0.8)
    rows = None
    if rng.random() < 0.6:
        rows = np.sort(rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False))
    max_unique = int(rng.choice([5, 50, 10_000]))
    values, n_distinct, n_rows = _distinct_values(column, max_unique, rows)
    expected, expected_distinct, expected_rows = _plain_distinct(column, max_unique, rows)
    assert values.tolist() == expected
    assert (n_distinct, n_rows) == (expected_distinct, expected_rows)


def _dates(rng, n, empty):
    days = rng.integers(19_000, 19_400, size=n).astype("datetime64[D]").astype("datetime64[s]")
    days[rng.random(n) < empty] = np.datetime64("NaT")
    return days


def _sessions_case(rng):
    """Participants with episodes and sessions around them, grouped or not."""
    from cdanalytics.registry import programme_registry

    programmes = programme_registry()
    codes = [*programmes, "unknown"]
    n_p = int(rng.integers(1, 30))
    participants = pd.DataFrame(
        {
            "programme": pd.Categorical(rng.choice(codes, size=n_p)),
            "referral_date": _dates(rng, n_p, 0.1),
            "start_date": _dates(rng, n_p, 0.2),
            "end_date": _dates(rng, n_p, 0.3),
        }
    )
    n = int(rng.integers(2, 300))
    parent = np.sort(rng.integers(-1, n_p, size=n)).astype(np.int32)
    if rng.random() < 0.3:
        rng.shuffle(parent)  # rows of one participant apart: every row is tested
    frame = pd.DataFrame(
        {
            "session_type": pd.Categorical(rng.choice(["group", "review", "individual"], n)),
            "session_number": pd.array(rng.integers(1, 5, size=n), dtype="Int64"),
            "session_date": _dates(rng, n, 0.1),
            "attendance": pd.Categorical(rng.choice(["attended", "missed"], n)),
        }
    )
    # most sessions inside their episode, so that many runs need no per-row test
    start = participants["start_date"].to_numpy()[np.maximum(parent, 0)]
    inside = (parent >= 0) & ~np.isnat(start) & (rng.random(n) < 0.8)
    offset = rng.integers(0, 20, size=n).astype("timedelta64[D]")
    frame.loc[inside, "session_date"] = (start + offset)[inside]
    return programmes, participants, parent, frame


def _plain_episode_problems(programmes, participants, parent, frame):
    """The episode rules row by row, in plain Python."""
    found = set()
    for i, p in enumerate(parent):
        day = frame["session_date"].iloc[i]
        if pd.isna(day) or p < 0:
            continue
        person = participants.iloc[p]
        entry = programmes.get(person["programme"])
        review = frame["session_type"].iloc[i] == "review"
        allowance = entry["review"]["window_days"] if review and entry else 0
        attended = frame["attendance"].iloc[i] == "attended"
        if day < person["referral_date"]:
            found.add((i, "referral"))
        if attended and day < person["start_date"]:
            found.add((i, "start"))
        if attended and pd.isna(person["start_date"]):
            found.add((i, "no start"))
        if (review and entry is None) or pd.isna(person["end_date"]):
            continue
        if day > person["end_date"] + pd.Timedelta(days=allowance):
            found.add((i, "end"))
    return found


KIND = {
    "session_date is before the participant's referral_date": "referral",
    "attended session before": "start",
    "attended session of a participant without start_date": "no start",
    "session_date is after the participant's end_date": "end",
}


@pytest.mark.parametrize("seed", range(40))
def test_sessions_outside_the_episode_equal_a_check_row_by_row(seed):
    from cdanalytics.io.problems import ProblemLog, TableData
    from cdanalytics.io.rules_cross import check_sessions

    rng = np.random.default_rng(seed)
    programmes, participants, parent, frame = _sessions_case(rng)
    data = TableData("sessions", frame, np.arange(2, len(frame) + 2), "sessions.csv")
    log = ProblemLog(None)
    check_sessions(data, participants, parent, programmes, pd.NaT, log)
    problems = log.frame()
    problems = problems[problems["rule"] == "session_outside_episode"]
    found = {
        (int(position), next(k for start, k in KIND.items() if message.startswith(start)))
        for position, message in zip(problems["position"], problems["message"], strict=True)
    }
    assert found == _plain_episode_problems(programmes, participants, parent, frame)


@pytest.mark.parametrize("n", [200_001, 799_999, 800_000, 3_000_017])
def test_row_sample_of_the_scan_is_distinct_sorted_and_spread(n):
    from cdanalytics.io.privacy.scan import _row_sample

    size = 200_000
    rows = _row_sample(n, size)
    assert len(rows) == size and rows.min() >= 0 and rows.max() < n
    assert bool((np.diff(rows) > 0).all())
    # every tenth of the table holds its share of the sample, within 5 binomial SDs
    counts = np.bincount(rows * 10 // n, minlength=10)
    share = size / 10
    sd = np.sqrt(size * 0.1 * 0.9 * (1 - size / n))  # without replacement
    assert np.all(np.abs(counts - share) < 5 * sd + 1)


def _columns_with_and_without_empty(rng):
    n = int(rng.integers(1, 50))
    empty = rng.random(n) < rng.choice([0.0, 0.1])
    dates = rng.integers(-30_000, 30_000, size=n).astype("datetime64[D]").astype("datetime64[ms]")
    numbers = rng.normal(size=n)
    texts = [f"P{int(k)}" for k in rng.integers(0, 9, size=n)]
    columns = {
        "date": pd.Series(np.where(empty, np.datetime64("NaT"), dates)),
        "float": pd.Series(np.where(empty, np.nan, numbers)),
        "int": pd.Series(rng.integers(-5, 5, size=n)),
        "Int64": pd.Series(pd.array(np.where(empty, None, rng.integers(-5, 5, size=n)), "Int64")),
        "boolean": pd.Series(pd.array(np.where(empty, None, numbers > 0), "boolean")),
        "str": pd.Series(
            [None if e else t for e, t in zip(empty, texts, strict=True)], dtype="str"
        ),
        "category": pd.Series(
            [None if e else t for e, t in zip(empty, texts, strict=True)], dtype="category"
        ),
    }
    return columns


@pytest.mark.parametrize("seed", range(30))
def test_has_empty_equals_pandas(seed):
    from cdanalytics.io.rules_table import has_empty

    rng = np.random.default_rng(seed)
    for name, column in _columns_with_and_without_empty(rng).items():
        assert has_empty(column) == bool(column.isna().any()), name


@pytest.mark.parametrize("seed", range(30))
def test_sessions_checked_by_runs_equal_every_row_checked(seed, monkeypatch):
    """The run filter never changes the problems, also with dates far beyond
    the range float32 holds exactly (then every row is checked)."""
    from cdanalytics.io import rules_cross
    from cdanalytics.io.problems import ProblemLog, TableData

    rng = np.random.default_rng(1000 + seed)
    programmes, participants, parent, frame = _sessions_case(rng)
    if rng.random() < 0.3:  # a session in a far future year
        far = np.datetime64("50000-01-01", "s") + rng.integers(0, 5, size=1).astype("m8[D]")
        frame.loc[int(rng.integers(0, len(frame))), "session_date"] = far[0]

    def problems():
        data = TableData("sessions", frame, np.arange(2, len(frame) + 2), "sessions.csv")
        log = ProblemLog(None)
        rules_cross.check_sessions(data, participants, parent, programmes, pd.NaT, log)
        return log.frame()

    by_runs = problems()
    monkeypatch.setattr(rules_cross, "_suspect_rows", lambda *args: None)
    pd.testing.assert_frame_equal(by_runs, problems())
