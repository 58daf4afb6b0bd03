"""Cell key at the gate: the same cell and count publish the same number in every release."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdanalytics.cli import main
from cdanalytics.config import validate_config
from cdanalytics.disclosure import DisclosurePolicy
from cdanalytics.disclosure.cellkey import CellKeyPolicy
from cdanalytics.disclosure.cellnoise import cell_identity_keys, perturb_frame, rates_from_counts
from cdanalytics.disclosure.ptable import PerturbationTable
from cdanalytics.errors import ConfigError

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
SECRET = "synthetic-gate-secret-0123456789"
ENV = "CDANALYTICS_CELL_KEY_SECRET"
PTABLE = PerturbationTable.from_parameters(D=3, V=1.0, js=2)
EXIT_USAGE = 2


# --------------------------------------------------------------------------- keys and noise


def test_cell_key_is_the_documented_keyed_hash_of_identity_and_count():
    key = cell_identity_keys(
        SECRET.encode(), "engagement", [(("programme", "borg"),)], "n_referred", [42], 2**16
    )[0]
    text = json.dumps(["engagement", [["programme", "borg"]], "n_referred", 42]).encode()
    digest = hashlib.blake2b(text, digest_size=8, key=SECRET.encode(), person=b"cda-cellgate-v1")
    assert key == int.from_bytes(digest.digest(), "big") % 2**16


def grid(n: int = 400, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "programme": [f"p{i % 40}" for i in range(n)],
            "site": [f"s{i // 40}" for i in range(n)],
            "n": rng.integers(0, 60, n),
        }
    )


def perturbed(frame: pd.DataFrame, secret: str = SECRET) -> pd.Series:
    out = perturb_frame(frame, "t", ["programme", "site"], ["n"], PTABLE, secret.encode())
    return out["n"].astype("int64")


def test_same_cell_and_count_get_the_same_noise_and_the_label_order_does_not_matter():
    frame = grid()
    first, again = perturbed(frame), perturbed(frame.iloc[::-1]).iloc[::-1]
    assert first.tolist() == again.tolist()
    swapped = perturb_frame(frame, "t", ["site", "programme"], ["n"], PTABLE, SECRET.encode())
    assert swapped["n"].astype("int64").tolist() == first.tolist()


def test_the_overall_label_is_left_out_of_a_cells_identity():
    one = pd.DataFrame({"programme": ["All"], "n": [57]})
    two = pd.DataFrame({"programme": ["All"], "site": ["All"], "n": [57]})
    a = perturb_frame(one, "t", ["programme"], ["n"], PTABLE, SECRET.encode())
    b = perturb_frame(two, "t", ["programme", "site"], ["n"], PTABLE, SECRET.encode())
    assert a["n"].iloc[0] == b["n"].iloc[0]


def test_one_person_removed_redraws_the_noise_of_the_cells_he_is_in_only():
    frame = grid()
    before = perturbed(frame)
    less = frame.copy()
    changed = (less["n"] > 5).to_numpy() & (np.arange(len(less)) % 2 == 0)
    less.loc[changed, "n"] -= 1
    after = perturbed(less)
    assert after[~changed].tolist() == before[~changed].tolist()
    noise_before = (before - frame["n"])[changed]
    noise_after = (after - less["n"])[changed]
    # independent draws agree with probability sum_d p(d)^2 (about 0.3 here), never always
    same = float((noise_before == noise_after).mean())
    assert 0.1 < same < 0.6, same


def test_another_secret_gives_other_noise():
    frame = grid()
    assert perturbed(frame).tolist() != perturbed(frame, "another-secret-0123456789").tolist()


def test_no_count_in_one_to_js_zero_stays_zero_noise_within_d():
    frame = grid(2000, seed=5)
    out = perturbed(frame)
    assert not out.between(1, 2).any()
    assert (out[frame["n"] == 0] == 0).all()
    assert (out - frame["n"]).abs().max() <= 3


def test_rates_are_recomputed_from_the_perturbed_counts_with_wilson_limits():
    frame = pd.DataFrame({"k": [10, 0, 7], "n": [40, 20, 0]})
    out = rates_from_counts(frame.assign(r=0.0, lo=0.0, hi=0.0), {"r": ("k", "n", "lo", "hi", 1)})
    assert out["r"].iloc[0] == pytest.approx(0.25)
    assert out["r"].iloc[1] == 0.0 and np.isnan(out["r"].iloc[2])
    # Wilson (1927) 95% interval for 10/40, computed by hand
    z, p, n = 1.959963984540054, 0.25, 40
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert out["lo"].iloc[0] == pytest.approx(centre - half)
    assert out["hi"].iloc[0] == pytest.approx(centre + half)


# --------------------------------------------------------------------------- policy and config


def test_policy_accepts_cell_key_with_its_parameters():
    policy = DisclosurePolicy(method="cell_key", cell_key=CellKeyPolicy(D=2, V=0.5, js=1))
    assert policy.cell_key.D == 2 and not policy.additive
    assert DisclosurePolicy(method="cell_key").cell_key == CellKeyPolicy()
    assert DisclosurePolicy().additive


def test_rounding_and_cell_key_together_are_refused():
    with pytest.raises(ConfigError, match="round_to"):
        DisclosurePolicy(method="cell_key", round_to=5)


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"method": "cell_key", "D": "three"}, "disclosure.D"),
        ({"method": "cell_key", "js": 1.5}, "disclosure.js"),
        ({"method": "cell_key", "key_file": 3}, "disclosure.key_file"),
        ({"method": "cell_key", "nois": 3}, "disclosure.nois"),
        ({"D": 3}, "D"),
        ({"method": "cell_key", "D": 0}, "D"),
    ],
)
def test_config_errors_name_the_key(section, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate_config({"disclosure": section})


def test_config_states_the_noise_parameters_in_force():
    cfg = validate_config({"disclosure": {"method": "cell_key"}})
    stated = cfg.as_dict()["disclosure"]
    assert {k: stated[k] for k in ("D", "V", "js")} == {"D": 3, "V": 1.0, "js": 2}


def test_secret_missing_is_a_usage_error_saying_how_to_set_it(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(ConfigError, match=ENV):
        DisclosurePolicy(method="cell_key").secret()


# --------------------------------------------------------------------------- the report


def run(argv: list[str]) -> tuple[int, str]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        code = main(argv)
    return code, buffer.getvalue()


def tables(folder: Path) -> dict[str, list[dict[str, str]]]:
    out = {}
    for path in sorted((folder / "tables").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            out[path.stem] = list(csv.DictReader(f))
    return out


class Reports:
    def __init__(self, root: Path) -> None:
        self.root, self.made = root, {}

    def make(self, threshold: int, tag: str = "", figures: bool = True) -> tuple[int, Path, str]:
        """The sample's report under the cell key method (``figures``: else ``--no-figures``)."""
        name = f"t{threshold}{tag}"
        if name not in self.made:
            cfg = self.root / f"{name}.yaml"
            cfg.write_text(
                json.dumps({"disclosure": {"method": "cell_key", "threshold": threshold}}),
                encoding="utf-8",
            )
            out = self.root / name
            argv = ["report", str(SAMPLE), "--out", str(out), "--config", str(cfg)]
            code, log = run(argv if figures else [*argv, "--no-figures"])
            self.made[name] = (code, out, log)
        return self.made[name]


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV, SECRET)
        yield Reports(tmp_path_factory.mktemp("cellnoise"))


def is_count(column: str) -> bool:
    return column.startswith(("n_", "rows_"))


def numbers(table: list[dict[str, str]]) -> dict[tuple, float]:
    """(row labels, column) -> published count, for every count shown as a number."""
    out = {}
    for row in table:
        labels = tuple(
            (k, v)
            for k, v in row.items()
            if not is_count(k) and not _is_num(v) and v != "[c]" and not v.startswith("<")
        )
        for column, value in row.items():
            if is_count(column) and _is_num(value):
                out[labels, column] = float(value)
    return out


def _is_num(text: str | None) -> bool:
    try:
        float(text or "x")
    except ValueError:
        return False
    return True


@pytest.mark.slow
def test_report_with_a_secret_exits_0_and_records_the_ptable_not_the_truth(reports):
    code, out, log = reports.make(10)
    assert code == 0, log[-2000:]
    outcomes = json.loads((out / "outcomes.json").read_text(encoding="utf-8"))
    section = outcomes["disclosure"]
    assert section["method"] == "cell_key"
    assert (section["D"], section["V"], section["js"]) == (3, 1.0, 2)
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".csv", ".html", ".svg"):
            text = path.read_text(encoding="utf-8")
            assert SECRET not in text and 'cell_key": [' not in text, path


def test_report_without_a_secret_exits_2_saying_how_to_set_it(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("disclosure: {method: cell_key}\n", encoding="utf-8")
    code, log = run(["report", str(SAMPLE), "--out", str(tmp_path / "r"), "--config", str(cfg)])
    assert code == EXIT_USAGE
    assert ENV in log
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_the_same_export_twice_publishes_identical_tables(reports):
    _, first, _ = reports.make(10)
    _, again, _ = reports.make(10, "again", figures=False)
    assert tables(first) == tables(again)


@pytest.mark.slow
def test_thresholds_10_and_11_publish_the_same_number_for_every_cell_at_or_above_11(reports):
    t10, t11 = tables(reports.make(10)[1]), tables(reports.make(11, figures=False)[1])
    compared = 0
    for name in t10:
        a, b = numbers(t10[name]), numbers(t11[name])
        for cell, value in a.items():
            if value >= 11:
                assert b.get(cell) == value, (name, cell)
                compared += 1
    assert compared > 100


def test_no_published_count_is_in_one_to_js_and_small_ones_are_marked(reports):
    published = tables(reports.make(10)[1])
    seen_marker = False
    for name, table in published.items():
        for row in table:
            for column, value in row.items():
                if is_count(column) and _is_num(value):
                    assert not 1 <= float(value) <= 2, (name, column, value)
                    assert float(value) == 0 or float(value) >= 10, (name, column, value)
                seen_marker |= value == "<10"
    assert seen_marker


def test_rates_are_the_published_numerator_over_the_published_base(reports):
    engagement = tables(reports.make(10)[1])["engagement"]
    checked = 0
    for row in engagement:
        if _is_num(row["completion_rate"]):
            rate = float(row["n_completed"]) / float(row["n_potential"])
            assert float(row["completion_rate"]) == pytest.approx(rate)
            checked += 1
    assert checked


def test_batch_without_a_secret_exits_2_before_writing_anything(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("disclosure: {method: cell_key}\n", encoding="utf-8")
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "a").symlink_to(SAMPLE, target_is_directory=True)
    code, log = run(["batch", str(exports), "--out", str(tmp_path / "out"), "--config", str(cfg)])
    assert code == EXIT_USAGE
    assert ENV in log
    assert not (tmp_path / "out").exists()
