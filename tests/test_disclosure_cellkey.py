"""The cell key method: the same people always get the same noise, one person less re-draws it."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, chisquare

from cdanalytics.disclosure.cellkey import (
    TOTAL_LABEL,
    CellKeyPolicy,
    cell_keys,
    perturb_counts,
    perturbed_table,
    record_keys,
)
from cdanalytics.disclosure.ptable import PerturbationTable
from cdanalytics.errors import AnalysisError, ConfigError

SECRET = b"synthetic-site-secret-0123456789"
PTABLE = PerturbationTable.from_parameters(D=3, V=1.0, js=2)


def people(n: int, seed: int = 7) -> pd.DataFrame:
    """A synthetic cohort with record keys derived from its ids."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "participant_id": [f"P{seed}-{i:06d}" for i in range(n)],
            "programme": rng.choice(["borg", "caring_dads", "plus_one", "stop_gap"], n),
            "site": rng.choice(["leeds", "utrecht", "glasgow"], n),
            "completed": rng.choice(["yes", "no"], n, p=[0.4, 0.6]),
        }
    )
    return frame.assign(record_key=record_keys(frame["participant_id"], SECRET))


def published(table: pd.DataFrame, **cell) -> int:
    """The published count of one cell of a perturbed table (every column named)."""
    match = np.ones(len(table), dtype=bool)
    for column, value in cell.items():
        match &= (table[column] == value).to_numpy()
    assert match.sum() == 1, cell
    return int(table.loc[match, "count"].iloc[0])


# --------------------------------------------------------------------------- record keys


class TestRecordKeys:
    def test_documented_formula(self):
        """First 8 bytes of keyed BLAKE2b, big-endian, modulo big_n."""
        ids = ["P001", "P002", "xyz"]
        got = record_keys(ids, SECRET, big_n=2**16)
        for raw, key in zip(ids, got, strict=True):
            digest = hashlib.blake2b(
                raw.encode(), digest_size=8, key=SECRET, person=b"cda-cellkey-v1"
            ).digest()
            assert key == int.from_bytes(digest, "big") % 2**16

    def test_same_id_same_key_in_any_order_and_format(self):
        first = record_keys(pd.Series(["A1", "B2", "17", "C3"]), SECRET)
        again = record_keys(pd.Series([" C3 ", "A1", "B2", "A1"]), SECRET)
        assert again.tolist() == [first[3], first[0], first[1], first[0]]
        # whole-number ids read as floats are the same people as their text
        as_float = record_keys(pd.Series([17.0, 3.0]), SECRET)
        assert as_float.tolist() == record_keys(["17", "3"], SECRET).tolist()
        assert as_float[0] == first[2]

    def test_another_secret_gives_unrelated_keys(self):
        ids = [f"P{i}" for i in range(1000)]
        ours = record_keys(ids, SECRET)
        theirs = record_keys(ids, SECRET[::-1])
        assert (ours != theirs).mean() > 0.99

    def test_keys_are_uniform(self):
        keys = record_keys([f"id-{i}" for i in range(64_000)], SECRET, big_n=256)
        assert keys.min() >= 0
        assert keys.max() < 256
        assert chisquare(np.bincount(keys, minlength=256)).pvalue > 0.001

    @pytest.mark.parametrize("secret", [None, b"", b"short", "a text secret of 32 characters!"])
    def test_refuses_without_a_proper_secret(self, secret):
        with pytest.raises(ConfigError, match="secret"):
            record_keys(["P1"], secret)

    def test_a_missing_id_has_no_key(self):
        with pytest.raises(AnalysisError):
            record_keys(pd.Series(["P1", None]), SECRET)


# --------------------------------------------------------------------------- cell keys


def test_cell_keys_are_member_counts_and_key_sums():
    frame = people(500)
    frame.loc[::37, "site"] = None  # missing values form cells of their own
    got = cell_keys(frame, ["programme", "site"], big_n=2**32)
    expected = {}
    for row in frame.itertuples():
        cell = (row.programme, row.site if isinstance(row.site, str) else "<NA>")
        count, key = expected.get(cell, (0, 0))
        expected[cell] = (count + 1, (key + int(row.record_key)) % 2**32)
    seen = {
        (row.programme, row.site if isinstance(row.site, str) else "<NA>"): (
            row.count,
            row.cell_key,
        )
        for row in got.itertuples()
    }
    assert seen == expected
    assert got["count"].sum() == len(frame)


def test_cell_keys_checks_its_inputs():
    frame = people(10)
    with pytest.raises(ConfigError):
        cell_keys(frame, ["nope"])
    with pytest.raises(ConfigError):
        cell_keys(frame.drop(columns="record_key"), ["site"])
    with pytest.raises(ConfigError):
        cell_keys(frame.assign(record_key=2**32), ["site"])
    with pytest.raises(ConfigError):
        cell_keys(frame.assign(record_key=0.5), ["site"])


# --------------------------------------------------------------------------- hand-worked


def test_hand_worked_example():
    """D = 2, js = 1, V = 12/17, keys in [0, 256) (rows worked out in test_disclosure_ptable).

    Cell (a): 4 people, keys 100 + 200 + 200 + 6 = 506 = 250 (mod 256): row 4,
    key 250 >= 248 -> +2, published 6. Cell (b): 1 person, key 10: row 1,
    key < 128 -> -1, published 0. Total: 5 people, key 516 = 4 (mod 256):
    row 4 (the last), key < 8 -> -2, published 3.
    """
    pt = PerturbationTable.from_parameters(D=2, V=12 / 17, js=1, big_n=256)
    frame = pd.DataFrame({"g": ["a", "a", "a", "a", "b"], "record_key": [100, 200, 200, 6, 10]})
    table = perturbed_table(frame, ["g"], pt)
    assert table["g"].tolist() == ["a", "b", TOTAL_LABEL]
    assert table["count"].tolist() == [6, 0, 3]


# --------------------------------------------------------------------------- consistency


class TestSamePeopleSameNoise:
    def test_across_row_order_extra_columns_and_groupings(self):
        frame = people(3000)
        release_1 = perturbed_table(frame, ["programme", "site"], PTABLE)
        shuffled = frame.sample(frac=1, random_state=3).assign(extra=1)
        release_2 = perturbed_table(shuffled, ["site", "programme"], PTABLE)
        by_programme = perturbed_table(shuffled, ["programme"], PTABLE)
        by_completion = perturbed_table(shuffled, ["programme", "completed"], PTABLE)
        for programme in frame["programme"].unique():
            for site in frame["site"].unique():
                assert published(release_1, programme=programme, site=site) == published(
                    release_2, programme=programme, site=site
                )
            # the programme's total is one number wherever it appears
            total = published(release_1, programme=programme, site=TOTAL_LABEL)
            assert total == published(by_programme, programme=programme)
            assert total == published(by_completion, programme=programme, completed=TOTAL_LABEL)
        grand = published(release_1, programme=TOTAL_LABEL, site=TOTAL_LABEL)
        assert grand == published(by_programme, programme=TOTAL_LABEL)

    def test_next_release_keeps_the_noise_of_cells_nobody_joined(self):
        frame = people(2000)
        newcomers = people(50, seed=8).assign(programme="plus_one")
        before = perturbed_table(frame, ["programme", "site"], PTABLE, margins=False)
        after = perturbed_table(
            pd.concat([frame, newcomers], ignore_index=True),
            ["programme", "site"],
            PTABLE,
            margins=False,
        )
        unchanged = before[before["programme"] != "plus_one"]
        merged = unchanged.merge(after, on=["programme", "site"], suffixes=("", "_after"))
        assert len(merged) == len(unchanged)
        assert (merged["count"] == merged["count_after"]).all()

    def test_policy_derives_the_same_keys_from_the_environment(self, monkeypatch):
        monkeypatch.setenv("CDANALYTICS_CELL_KEY_SECRET", SECRET.decode())
        policy = CellKeyPolicy()
        frame = people(400).drop(columns="record_key")
        first = policy.table(policy.attach_keys(frame), ["programme"])
        second = policy.table(policy.attach_keys(frame.iloc[::-1]), ["programme"])
        assert first.equals(second)
        expected = perturbed_table(people(400), ["programme"], PTABLE)
        assert first.equals(expected)

    def test_policy_refuses_without_a_secret(self, monkeypatch):
        monkeypatch.delenv("CDANALYTICS_CELL_KEY_SECRET", raising=False)
        with pytest.raises(ConfigError, match="CDANALYTICS_CELL_KEY_SECRET"):
            CellKeyPolicy().attach_keys(people(5))

    def test_policy_refuses_bad_parameters(self):
        with pytest.raises(ConfigError):
            CellKeyPolicy(D=2, js=2)


# --------------------------------------------------------------------------- what is published


def test_published_counts_are_never_small_negative_or_far_from_the_truth():
    frame = people(4000)
    table = perturbed_table(frame, ["programme", "site", "completed"], PTABLE)
    truth = (
        frame.assign(**{c: frame[c].astype(object) for c in ["programme", "site", "completed"]})
        .groupby(["programme", "site", "completed"])
        .size()
        .rename("true")
        .reset_index()
    )
    fine = table.merge(truth, on=["programme", "site", "completed"])
    assert len(fine) == len(truth)
    assert (table["count"] >= 0).all()
    assert not table["count"].between(1, PTABLE.js).any()
    assert (np.abs(fine["count"] - fine["true"]) <= PTABLE.D).all()
    assert "cell_key" not in table.columns


def test_margins_are_their_own_cells_and_need_not_add_up():
    frame = people(6000)
    table = perturbed_table(frame, ["programme", "site"], PTABLE)
    # 12 cells, 4 + 3 one-way margins, the grand total
    assert len(table) == 12 + 4 + 3 + 1
    grand = published(table, programme=TOTAL_LABEL, site=TOTAL_LABEL)
    everyone = perturb_counts([len(frame)], [int(frame["record_key"].sum()) % PTABLE.big_n], PTABLE)
    assert grand == everyone[0]
    fine = table[(table["programme"] != TOTAL_LABEL) & (table["site"] != TOTAL_LABEL)]
    sums = [fine["count"].sum()] + [
        fine.loc[fine["programme"] == p, "count"].sum() for p in frame["programme"].unique()
    ]
    totals = [grand] + [
        published(table, programme=p, site=TOTAL_LABEL) for p in frame["programme"].unique()
    ]
    # with 5 independent noises, all totals adding up exactly is very unlikely
    assert sums != totals


# --------------------------------------------------------------------------- differencing


@pytest.mark.parametrize("size", [3, 12, 40])
def test_differencing_two_releases_misleads_as_often_as_the_ptable_implies(size):
    """Remove one person from each of many cells and difference the releases.

    The attacker estimates the removed person's contribution to their cell as
    (published before) - (published after); the truth is 1. The estimate is
    right only when both noises happen to be equal: probability
    sum_d p_n(d + n) p_{n-1}(d + n - 1) over the published values, from the
    realised ptable. Checked against 99% binomial limits.
    """
    trials = 4000
    frame = pd.DataFrame(
        {
            "participant_id": [f"T{t}-{size}-{j}" for t in range(trials) for j in range(size)],
            "trial": np.repeat(np.arange(trials), size),
        }
    )
    frame["record_key"] = record_keys(frame["participant_id"], SECRET)
    removed = frame.drop_duplicates("trial", keep="last").index
    before = perturbed_table(frame, ["trial"], PTABLE, margins=False)
    after = perturbed_table(frame.drop(index=removed), ["trial"], PTABLE, margins=False)
    estimate = before["count"].to_numpy() - after["count"].to_numpy()
    wrong = int((estimate != 1).sum())

    realised = PTABLE.shares / PTABLE.big_n
    rows = PTABLE.row_of(np.array([size, size - 1]))
    noises = PTABLE.noises
    p_before = dict(zip(size + noises, realised[rows[0]], strict=True))
    p_after = dict(zip(size - 1 + noises, realised[rows[1]], strict=True))
    p_right = sum(p * p_after.get(value - 1, 0.0) for value, p in p_before.items())
    low, high = binom.interval(0.99, trials, 1 - p_right)
    assert low <= wrong <= high
    assert 1 - p_right > 0.5  # the attacker is wrong more often than right
