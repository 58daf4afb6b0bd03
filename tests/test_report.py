"""The evaluation report (``cdanalytics.report``): disclosure control end to end,
atomic output, and the documented keys of ``outcomes.json``.

The disclosure tests play an attacker. They read only what a report publishes
(``tables/*.csv``, ``outcomes.json``, ``report.html`` with its figures) and
solve the linear equations those numbers give, with an independent rank test:
a withheld count is recoverable exactly when its coefficient vector lies in the
row space of the published equations. The true counts come from
:func:`compute_outcomes` on the same export (unsuppressed), so every small
count is known to the test.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import null_space
from statsmodels.stats.proportion import proportion_confint

from cdanalytics.config import validate_config
from cdanalytics.disclosure import DisclosurePolicy, check_recoverable, find_disclosive
from cdanalytics.i18n import label
from cdanalytics.io import load_export
from cdanalytics.report import build_report, compute_outcomes, publish_tables
from cdanalytics.report._atomic import atomic_directory
from cdanalytics.synth import write_synthetic_export

REPO = Path(__file__).resolve().parents[1]

#: A low and a high threshold; the high one withholds many cells.
THRESHOLDS = (10, 30)
#: Report language per threshold (both languages are checked).
LANGS = {10: "en", 30: "nl"}


def report_config(threshold: int) -> dict:
    """The default evaluation config with ``threshold``; two timepoints keep it fast."""
    return {"disclosure": {"threshold": threshold}, "prepost": {"timepoints": ["pre", "post"]}}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("export") / "site"
    write_synthetic_export(folder, n_participants=600, seed=11)
    return folder


@pytest.fixture(scope="module")
def truth(export) -> dict[str, pd.DataFrame]:
    """The unsuppressed result tables (what the report protects)."""
    config = validate_config(report_config(10))
    data = load_export(export, programmes=config.programmes, instruments=config.instruments)
    return compute_outcomes(data, config).tables


@pytest.fixture(scope="module")
def reports(export, tmp_path_factory) -> dict[int, Path]:
    out = tmp_path_factory.mktemp("reports")
    return {
        t: build_report(export, out / f"t{t}", config=report_config(t), lang=LANGS[t]).out
        for t in THRESHOLDS
    }


@pytest.fixture(scope="module")
def pages(reports) -> dict[int, ReportPage]:
    pages = {}
    for t, folder in reports.items():
        page = ReportPage()
        page.feed((folder / "report.html").read_text(encoding="utf-8"))
        pages[t] = page
    return pages


#: How a withheld cell reads in a CSV: the primary marker at any threshold, or ``[c]``.
MARKERS = ("[c]", *(f"<{t}" for t in range(3, 101)))


def read_table(folder: Path, name: str) -> pd.DataFrame:
    """A published table with its markers read as missing values (numbers stay numeric)."""
    return pd.read_csv(folder / "tables" / f"{name}.csv", na_values=list(MARKERS))


def raw_table(folder: Path, name: str) -> pd.DataFrame:
    """A published table as the text of each field."""
    return pd.read_csv(folder / "tables" / f"{name}.csv", dtype=str, keep_default_na=False)


# --------------------------------------------------------------------------- report.html


class ReportPage(HTMLParser):
    """The tables (with each one's caption, or else the heading above it) and figure
    texts of ``report.html``."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self.figure_texts: dict[str, list[str]] = {}
        self._heading: list[str] | None = None
        self._last_heading = ""
        self._table: dict | None = None
        self._cell: list[str] | None = None
        self._figure: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("h3", "caption"):
            self._heading = []
        elif tag == "table":
            self._table = {"heading": self._last_heading, "rows": [], "keys": []}
        elif tag == "tr" and self._table is not None:
            self._table["rows"].append([])
            self._table["keys"].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
            self._table["keys"][-1].append(attrs.get("class") == "key")
        elif tag == "div" and "figure" in (attrs.get("class") or "").split():
            self._figure = attrs["id"].removeprefix("figure-")
            self.figure_texts[self._figure] = []

    def handle_endtag(self, tag):
        if tag in ("h3", "caption") and self._heading is not None:
            self._last_heading = "".join(self._heading).strip()
            self._heading = None
            if tag == "caption" and self._table is not None:  # a table's own caption
                self._table["heading"] = self._last_heading
        elif tag == "table" and self._table is not None:
            self.tables.append(self._table)
            self._table = None
        elif tag in ("td", "th") and self._cell is not None:
            self._table["rows"][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "div":
            self._figure = None

    def handle_data(self, data):
        if self._heading is not None:
            self._heading.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def handle_comment(self, data):
        # Matplotlib writes each text of an SVG figure as a comment before its glyphs.
        if self._figure is not None:
            self.figure_texts[self._figure].append(data.strip())


def table_name(heading: str, lang: str, names: list[str]) -> str:
    """The table a caption names: its label, or its label and a programme's name
    (a table shown once per programme, ``"<label>: <programme>"``)."""
    found = [
        n
        for n in names
        if heading == label(f"table_{n}", lang)
        or heading.startswith(f"{label(f'table_{n}', lang)}: ")
    ]
    assert len(found) == 1, f"cannot tell which table {heading!r} is"
    return found[0]


def parse_count(text: str, lang: str) -> int:
    """A count as the report prints it (thousands separators of either language)."""
    return int(text.replace(",", "").replace(".", "") if lang == "nl" else text.replace(",", ""))


# ------------------------------------------------------------- (a) no small count published


def count_columns(frame: pd.DataFrame, name: str) -> list[str]:
    """Count columns of a published table: ``n_*``/``rows_*``, and every cell of a cross-table."""
    if name in ("flow_exits", "reliable_change"):
        return [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    return [c for c in frame.columns if c.startswith(("n_", "rows_"))]


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_no_table_csv_publishes_a_count_below_the_threshold(reports, truth, threshold):
    policy = DisclosurePolicy(threshold=threshold)
    tables = sorted((reports[threshold] / "tables").glob("*.csv"))
    assert {p.stem for p in tables} >= {"engagement", "flow_exits", "fixed_window", "change"}
    withheld = 0
    for path in tables:
        frame = read_table(path.parent.parent, path.stem)
        counts = count_columns(frame, path.stem)
        assert find_disclosive(frame, policy, counts).empty, path.name
        withheld += int(frame[counts].isna().to_numpy().sum())
        # A withheld count is written as its marker, never as an empty field.
        text = raw_table(path.parent.parent, path.stem)[counts].to_numpy().ravel()
        assert "" not in set(text), f"{path.name} has a blank count"
        markers = {v for v in text if not v.isdigit()}
        assert markers <= {f"<{threshold}", "[c]"}, (path.name, markers)
    # Not vacuous: the export has small counts, and the tables withhold them.
    eng = truth["engagement"]
    assert ((eng["n_excluded"] > 0) & (eng["n_excluded"] < threshold)).any()
    assert withheld >= (20 if threshold == 10 else 60)


def walk_counts(value, path=()) -> Iterator[tuple[str, object]]:
    """Every count in outcomes.json: keys ``n_*`` and the flow steps."""
    steps = {"referred", "assessed", "eligible", "started", "completed"}
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict):
                yield from walk_counts(item, (*path, key))
            elif key.startswith("n_") or (key in steps and path == ("engagement",)):
                yield ".".join((*path, key)), item


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_outcomes_json_publishes_no_count_below_the_threshold(reports, threshold):
    outcomes = json.loads((reports[threshold] / "outcomes.json").read_text(encoding="utf-8"))
    counts = dict(walk_counts(outcomes))
    assert len(counts) > 20
    small = {k: v for k, v in counts.items() if v is not None and 0 < v < threshold}
    assert small == {}
    if threshold == 30:
        assert any(v is None for v in counts.values()), "nothing withheld at threshold 30"


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_report_html_tables_show_no_count_below_the_threshold(reports, pages, threshold):
    lang, folder, page = LANGS[threshold], reports[threshold], pages[threshold]
    csv_names = [p.stem for p in (folder / "tables").glob("*.csv")]
    names = [*csv_names, "flow", "completion", "dropout"]
    allowed = {"", f"<{threshold}", "[c]"}
    checked = withheld = 0
    assert len(page.tables) >= len(csv_names)
    for table in page.tables:
        name = table_name(table["heading"], lang, names)
        source = read_table(folder, "engagement" if name in names[-3:] else name)
        columns = {label(c, lang): c for c in source.columns}
        header, *body = table["rows"]
        counts = set(count_columns(source, name))
        for j, title in enumerate(header):
            if table["keys"][0][j] or columns[title] not in counts:
                continue
            for row in body:
                text = row[j]
                checked += 1
                if text in allowed:
                    withheld += text != ""
                    continue
                n = parse_count(text, lang)
                assert n == 0 or n >= threshold, f"{name}: {title} shows {text}"
    assert checked > 100
    assert withheld > (10 if threshold == 10 else 40)


FLOW_TEXT = re.compile(r"^(?:n = (?P<stage>[\d.,]+)|(?P<reason>[^:]+): (?P<n>[\d.,]+))$")


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_participant_flow_figure_shows_no_count_below_the_threshold(reports, pages, threshold):
    lang = LANGS[threshold]
    texts = pages[threshold].figure_texts.get("participant_flow")
    if texts is None:  # only left out when the table withholds an overall step count
        overall = read_table(reports[threshold], "engagement").iloc[-1]
        assert overall[[f"n_{s}" for s in ("referred", "started", "completed")]].isna().any()
        return
    numbers = [
        parse_count(m["stage"] or m["n"], lang)
        for m in map(FLOW_TEXT.match, texts)
        if m is not None
    ]
    assert len(numbers) >= 5  # the five steps at least
    assert all(n == 0 or n >= threshold for n in numbers), numbers


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_statistics_on_a_small_base_are_withheld(reports, truth, threshold):
    folder = reports[threshold]
    checks = [
        ("engagement", truth["engagement"], "n_potential", ["completion_rate", "dropout_rate"]),
        ("engagement", truth["engagement"], "n_clear_outcome", ["completion_rate_clear"]),
        ("fixed_window", truth["fixed_window"], "n_eligible", ["rate", "ci_low", "per_100"]),
        ("change", truth["change"], "n_paired", ["mean_pre", "mean_change", "g_av"]),
        ("attendance", truth["attendance"], "n_participants", ["attendance_rate"]),
        ("km_horizons", truth["km_horizons"], "n_at_risk", ["cumulative"]),
    ]
    n_small = 0
    for name, raw, base, stats in checks:
        published = read_table(folder, name)
        keys = [c for c in published.columns if not pd.api.types.is_numeric_dtype(published[c])]
        raw = raw[[*keys, base, *(["horizon_months"] if name == "km_horizons" else [])]]
        keys += ["horizon_months"] if name == "km_horizons" else []
        raw = raw.astype(dict.fromkeys([c for c in keys if c != "horizon_months"], str))
        merged = published.merge(raw, on=keys, suffixes=("", "_true"), validate="1:1")
        assert len(merged) == len(published)
        true_base = merged[f"{base}_true" if f"{base}_true" in merged else base]
        small = true_base < threshold
        n_small += int(small.sum())
        for stat in stats:
            assert merged.loc[small, stat].isna().all(), f"{name}.{stat} on a base < {threshold}"
    assert n_small >= 3


# ---------------------------------------------------------- (b) no recovery by subtraction


class Reader:
    """A reader who knows some linear combinations of the true counts.

    ``learn(v)`` adds a published equation ``v . x = value``; ``can_work_out(v)``
    says whether ``v . x`` follows exactly, which holds iff ``v`` lies in the
    row space of the equations learnt (its component in their null space is 0).
    """

    def __init__(self, cells: list[tuple]) -> None:
        self.index = {cell: i for i, cell in enumerate(cells)}
        self.equations: list[np.ndarray] = []
        self._null: np.ndarray | None = None

    def vector(self, terms: dict[tuple, float]) -> np.ndarray:
        v = np.zeros(len(self.index))
        for cell, coef in terms.items():
            v[self.index[cell]] += coef
        return v

    def learn(self, terms: dict[tuple, float]) -> None:
        self.equations.append(self.vector(terms))
        self._null = None

    def can_work_out(self, terms: dict[tuple, float]) -> bool:
        if self._null is None:
            a = np.vstack(self.equations) if self.equations else np.zeros((1, len(self.index)))
            self._null = null_space(a, rcond=1e-10)
        v = self.vector(terms)
        return bool(np.linalg.norm(v @ self._null) < 1e-7 * max(1.0, np.linalg.norm(v)))


ENGAGEMENT_PARTS = (
    "not_assessed",
    "not_eligible",
    "not_started",
    "not_due",
    "completed",
    "early_dropout",
    "late_dropout",
    "excluded",
    "unclear",
)
#: Every published engagement count as the sum of the parts it counts.
ENGAGEMENT_COUNTS = {
    "n_referred": ENGAGEMENT_PARTS,
    "n_assessed": ENGAGEMENT_PARTS[1:],
    "n_eligible": ENGAGEMENT_PARTS[2:],
    "n_started": ENGAGEMENT_PARTS[3:],
    "n_potential": ENGAGEMENT_PARTS[4:],
    "n_completed": ("completed",),
    "n_clear_outcome": ("completed", "early_dropout", "late_dropout", "excluded"),
    "n_dropped_out": ("early_dropout", "late_dropout"),
    "n_early_dropout": ("early_dropout",),
}
#: Rates (and Wilson limits) as numerator / base counts.
ENGAGEMENT_RATES = {
    "completion_rate": ("n_completed", "n_potential"),
    "completion_ci_low": ("n_completed", "n_potential"),
    "completion_ci_high": ("n_completed", "n_potential"),
    "completion_rate_clear": ("n_completed", "n_clear_outcome"),
    "completion_ci_low_clear": ("n_completed", "n_clear_outcome"),
    "completion_ci_high_clear": ("n_completed", "n_clear_outcome"),
    "dropout_rate": ("n_dropped_out", "n_potential"),
    "dropout_ci_low": ("n_dropped_out", "n_potential"),
    "dropout_ci_high": ("n_dropped_out", "n_potential"),
    "early_dropout_rate": ("n_early_dropout", "n_potential"),
}
FIXED_WINDOW_PARTS = ("not_yet_eligible", "reoffenders", "non_reoffenders")
FIXED_WINDOW_COUNTS = {
    "n_in_cohort": FIXED_WINDOW_PARTS,
    "n_not_yet_eligible": ("not_yet_eligible",),
    "n_eligible": ("reoffenders", "non_reoffenders"),
    "n_reoffenders": ("reoffenders",),
}
FIXED_WINDOW_RATES = {
    "rate": ("n_reoffenders", "n_eligible"),
    "ci_low": ("n_reoffenders", "n_eligible"),
    "ci_high": ("n_reoffenders", "n_eligible"),
    "per_100": ("n_reoffenders", "n_eligible"),
}


def engagement_parts(raw: pd.DataFrame) -> pd.DataFrame:
    """The true parts of each engagement row (referrals split by where they ended)."""
    parts = pd.DataFrame(
        {
            "not_assessed": raw["n_referred"] - raw["n_assessed"],
            "not_eligible": raw["n_assessed"] - raw["n_eligible"],
            "not_started": raw["n_eligible"] - raw["n_started"],
            "not_due": raw["n_started"] - raw["n_potential"],
            "completed": raw["n_completed"],
            "early_dropout": raw["n_early_dropout"],
            "late_dropout": raw["n_dropped_out"] - raw["n_early_dropout"],
            "excluded": raw["n_clear_outcome"] - raw["n_completed"] - raw["n_dropped_out"],
            "unclear": raw["n_potential"] - raw["n_clear_outcome"],
        }
    )
    parts.index = raw["programme"].astype(str)
    return parts


def fixed_window_parts(raw: pd.DataFrame) -> pd.DataFrame:
    parts = pd.DataFrame(
        {
            "not_yet_eligible": raw["n_not_yet_eligible"],
            "reoffenders": raw["n_reoffenders"],
            "non_reoffenders": raw["n_eligible"] - raw["n_reoffenders"],
        }
    )
    parts.index = pd.MultiIndex.from_frame(raw[["group", "programme"]].astype(str))
    return parts


class Grid:
    """A table whose rows are groups (with an overall row ``All``) split into parts."""

    def __init__(self, name: str, parts: pd.DataFrame, counts: dict, rates: dict) -> None:
        self.name, self.parts, self.counts, self.rates = name, parts, counts, rates

    def cells(self) -> list[tuple]:
        return [(self.name, row, p) for row in self.parts.index for p in self.parts.columns]

    def terms(self, row, count: str) -> dict[tuple, float]:
        return {(self.name, row, p): 1.0 for p in self.counts[count]}

    def check_model(self, raw: pd.DataFrame) -> None:
        """The parts add up to every count of the raw table (validates the model)."""
        for count, members in self.counts.items():
            np.testing.assert_array_equal(
                self.parts[list(members)].sum(axis=1).to_numpy(), raw[count].to_numpy()
            )

    def structure(self, reader: Reader) -> None:
        """Known to any reader: the overall row is the sum of the group rows."""
        split = self.parts.index.get_level_values(0) if self.parts.index.nlevels > 1 else None
        for key in [None] if split is None else split.unique():
            rows = [r for r in self.parts.index if split is None or r[0] == key]
            overall = [r for r in rows if (r if split is None else r[1]) == "All"]
            assert len(overall) == 1
            for p in self.parts.columns:
                terms = {(self.name, r, p): 1.0 for r in rows if r not in overall}
                terms[(self.name, overall[0], p)] = -1.0
                reader.learn(terms)

    def publish(self, reader: Reader, published: pd.DataFrame) -> None:
        """Teach the reader every published count, rate and Wilson interval."""
        for row, values in zip(self.parts.index, published.to_dict("records"), strict=True):
            for count in self.counts:
                if pd.notna(values[count]):
                    reader.learn(self.terms(row, count))
            for stat, (numerator, base) in self.rates.items():
                if pd.isna(values.get(stat, np.nan)):
                    continue
                if "ci_" in stat:
                    # A Wilson interval (with its z) gives away numerator and base.
                    reader.learn(self.terms(row, numerator))
                    reader.learn(self.terms(row, base))
                else:
                    scale = 100.0 if stat == "per_100" else 1.0
                    terms = self.terms(row, numerator)
                    for cell, coef in self.terms(row, base).items():
                        terms[cell] = terms.get(cell, 0.0) - coef * values[stat] / scale
                    reader.learn(terms)

    def secrets(self, threshold: int) -> list[tuple[str, dict]]:
        """Every small count: parts, and published counts that are sums of parts."""
        out = []
        for row, values in self.parts.iterrows():
            for p, v in values.items():
                if 0 < v < threshold:
                    out.append((f"{self.name} {row} {p} = {v}", {(self.name, row, p): 1.0}))
            for count, members in self.counts.items():
                v = int(values[list(members)].sum())
                if 0 < v < threshold and len(members) > 1:
                    out.append((f"{self.name} {row} {count} = {v}", self.terms(row, count)))
        return out


def engagement_grid(truth) -> tuple[Grid, pd.DataFrame]:
    raw = truth["engagement"]
    grid = Grid("engagement", engagement_parts(raw), ENGAGEMENT_COUNTS, ENGAGEMENT_RATES)
    grid.check_model(raw)
    return grid, raw


def fixed_window_grid(truth) -> tuple[Grid, pd.DataFrame]:
    raw = truth["fixed_window"]
    grid = Grid("fixed_window", fixed_window_parts(raw), FIXED_WINDOW_COUNTS, FIXED_WINDOW_RATES)
    grid.check_model(raw)
    return grid, raw


def aligned(published: pd.DataFrame, grid: Grid, keys: list[str]) -> pd.DataFrame:
    index = (
        pd.MultiIndex.from_frame(published[keys].astype(str))
        if len(keys) > 1
        else (published[keys[0]].astype(str))
    )
    return published.set_index(index).loc[grid.parts.index]


def recovered(reader: Reader, grids: list[Grid], threshold: int) -> list[str]:
    return [
        what
        for grid in grids
        for what, terms in grid.secrets(threshold)
        if reader.can_work_out(terms)
    ]


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_no_small_engagement_count_can_be_worked_out_from_the_engagement_table(
    reports, truth, threshold
):
    grid, _ = engagement_grid(truth)
    reader = Reader(grid.cells())
    grid.structure(reader)
    grid.publish(reader, aligned(read_table(reports[threshold], "engagement"), grid, ["programme"]))
    assert len(grid.secrets(threshold)) > 5
    assert recovered(reader, [grid], threshold) == []


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_no_small_reoffending_count_can_be_worked_out_from_the_fixed_window_table(
    reports, truth, threshold
):
    grid, _ = fixed_window_grid(truth)
    reader = Reader(grid.cells())
    grid.structure(reader)
    published = read_table(reports[threshold], "fixed_window")
    grid.publish(reader, aligned(published, grid, ["group", "programme"]))
    assert len(grid.secrets(threshold)) > 5
    assert recovered(reader, [grid], threshold) == []


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_check_recoverable_finds_no_withheld_part_of_the_engagement_table(reports, threshold):
    """The library's own bridge test, on the parts a reader derives by subtraction."""
    published = read_table(reports[threshold], "engagement").set_index("programme")
    nested = ["n_referred", "n_assessed", "n_eligible", "n_started", "n_potential"]
    derived = pd.DataFrame(
        {f"{a}-{b}": published[a] - published[b] for a, b in itertools.pairwise(nested)}
    )
    derived["n_completed"] = published["n_completed"]
    parts = list(derived.columns)  # the rest of the potential completers is the remainder
    derived["n_referred"] = published["n_referred"]
    found = check_recoverable(
        derived, parts, row_total="n_referred", col_total="All", remainder=True
    )
    assert derived[parts].isna().to_numpy().any()  # something is withheld
    assert found.loc[found["value"].between(1, threshold - 1)].empty


def test_matched_coverage_protects_the_people_outside_common_support_too():
    """People outside common support are part of the coverage table's total."""
    policy = DisclosurePolicy(threshold=10)
    coverage = pd.DataFrame(
        {
            "programme": ["borg", "caledonian"],
            "analysis": ["all_starters", "all_starters"],
            "n_treated": [120, 150],
            "n_matched": [100, 100],
            "n_outside_common_support": [3, 0],
            "n_no_comparison_within_caliper": [17, 20],
            "n_comparisons_used_up": [0, 30],
            "share_matched": [100 / 120, 100 / 150],
            "n_control": [100, 100],
            "n_reoffenders_fewest": [20, 20],
            "max_abs_smd_after": [0.05, 0.05],
            **dict.fromkeys(
                ("rate_treated", "rate_control", "difference", "difference_ci_low"), 0.2
            ),
            "difference_ci_high": [0.3, 0.3],
            "p_value": [0.5, 0.5],
        }
    )
    tables = publish_tables({"matched_comparisons": coverage}, policy)
    table = tables["matched_coverage"].published
    parts = [
        "n_matched",
        "n_outside_common_support",
        "n_no_comparison_within_caliper",
        "n_comparisons_used_up",
    ]
    assert find_disclosive(table, policy, ["n_treated", *parts]).empty
    first = table.iloc[0]
    assert first[["n_treated", *parts]].isna().sum() >= 2  # 3 is not 120 - 100 - 17 - 0
    # the effect table shows the matched people only where the coverage table does
    effects = tables["matched_comparisons"].published
    shown = effects["n_matched"].notna().to_numpy() & table["n_matched"].isna().to_numpy()
    assert not shown.any()


def flow_figure_counts(texts: list[str], lang: str) -> tuple[list, dict]:
    """Stage counts and (stage, reason) counts shown in the participant-flow figure."""
    stages = ["referred", "assessed", "eligible", "started", "completed"]
    by_label = {label(s, lang): s for s in stages}
    reasons: dict[tuple[str, str], int] = {}
    shown: list = []
    stage = None
    for text in texts:
        if text in by_label:
            stage = by_label[text]
            continue
        m = FLOW_TEXT.match(text)
        if m is None or stage is None:
            continue
        if m["stage"]:
            shown.append((stage, parse_count(m["stage"], lang)))
        else:
            reasons[(stage, m["reason"])] = parse_count(m["n"], lang)
    return shown, reasons


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_linked_tables_and_figures_reveal_no_small_count(reports, pages, truth, threshold):
    """Tables and figures break the same people down in different ways; together
    they must not give away a small count either.

    Links, each checked on the true counts first: in the programme split of the
    fixed-window table a programme's cohort is its starters; the flow-exit
    table and the flow figure split the overall leavers of each step by reason
    (the dropouts and exclusions after starting are those of the engagement
    table); at each horizon of the Kaplan-Meier table a group's cohort is at
    risk, has had the event or was censored; the completion figure shows each
    group's potential completers.
    """
    lang, folder = LANGS[threshold], reports[threshold]
    eng, _ = engagement_grid(truth)
    fw, _ = fixed_window_grid(truth)
    exits = read_table(folder, "flow_exits").set_index("reason")
    stages = [c for c in exits.columns if c != "n_total"]
    raw_exits = truth["flow_exits"].astype({"stage": str, "reason": str})
    true_exits = (
        raw_exits.pivot_table(index="reason", columns="stage", values="n_left", aggfunc="sum")
        .reindex(index=exits.index.drop("All"), columns=stages)
        .fillna(0)
    )
    exit_cells = {
        ("flow_exits", s, r): true_exits.loc[r, s] for r in true_exits.index for s in stages
    }
    km = read_table(folder, "km_horizons")
    km_raw = truth["km_horizons"]
    assert (km["group"] == km_raw["group"].astype(str)).all()
    km_counts = ["n_at_risk", "n_events", "n_censored"]
    km_cells = {
        ("km_horizons", i, c): km_raw[c].iloc[i] for i in range(len(km_raw)) for c in km_counts
    }
    reader = Reader([*eng.cells(), *fw.cells(), *exit_cells, *km_cells])
    for grid, keys in ((eng, ["programme"]), (fw, ["group", "programme"])):
        grid.structure(reader)
        grid.publish(reader, aligned(read_table(folder, grid.name), grid, keys))

    # Link 1: a programme's cohort in the fixed window = its starters.
    for row in eng.parts.index:
        started = eng.parts.loc[row, list(ENGAGEMENT_COUNTS["n_started"])].sum()
        assert fw.parts.loc[("programme", row)].sum() == started
        terms = fw.terms(("programme", row), "n_in_cohort")
        terms.update({cell: -1.0 for cell in eng.terms(row, "n_started")})
        reader.learn(terms)

    # Link 2: the leavers of each step, by reason, add up to the overall parts.
    leavers = {
        "referred": ("not_assessed",),
        "assessed": ("not_eligible",),
        "eligible": ("not_started",),
        "started": ("not_due", "early_dropout", "late_dropout", "excluded", "unclear"),
    }
    for stage, parts in leavers.items():
        assert true_exits[stage].sum() == eng.parts.loc["All", list(parts)].sum()
        terms = {cell: 1.0 for cell in exit_cells if cell[1] == stage}
        terms.update({("engagement", "All", p): -1.0 for p in parts})
        reader.learn(terms)

    for (reason, stage), parts in {
        ("dropped_out", "started"): ("early_dropout", "late_dropout"),
        ("excluded", "started"): ("excluded",),
    }.items():
        if reason in true_exits.index:
            assert true_exits.loc[reason, stage] == eng.parts.loc["All", list(parts)].sum()
            terms = {("flow_exits", stage, reason): 1.0}
            terms.update({("engagement", "All", p): -1.0 for p in parts})
            reader.learn(terms)

    # Link 3: a group's Kaplan-Meier cohort is its fixed-window cohort.
    for i, group in enumerate(km["group"]):
        cohort = fw.parts.loc[(group, "All")].sum()
        assert sum(km_cells[("km_horizons", i, c)] for c in km_counts) == cohort
        terms = {("km_horizons", i, c): 1.0 for c in km_counts}
        terms.update({cell: -1.0 for cell in fw.terms((group, "All"), "n_in_cohort")})
        reader.learn(terms)
        for c in km_counts:
            if pd.notna(km[c].iloc[i]):
                reader.learn({("km_horizons", i, c): 1.0})

    # The flow-exit table: its cells, row totals and column totals.
    for reason in true_exits.index:
        for stage in stages:
            if pd.notna(exits.loc[reason, stage]):
                reader.learn({("flow_exits", stage, reason): 1.0})
        if pd.notna(exits.loc[reason, "n_total"]):
            reader.learn({("flow_exits", s, reason): 1.0 for s in stages})
    for stage in stages:
        if pd.notna(exits.loc["All", stage]):
            reader.learn({cell: 1.0 for cell in exit_cells if cell[1] == stage})

    # The figures: the flow diagram and the completion chart.
    texts = pages[threshold].figure_texts
    shown_stages, shown_reasons = flow_figure_counts(texts.get("participant_flow", []), lang)
    for stage, _ in shown_stages:
        reader.learn(eng.terms("All", f"n_{stage}"))
    reason_code = {label(r, lang): r for r in true_exits.index}
    for stage in {stage for stage, _ in shown_reasons}:
        named = [reason_code.get(r) for s, r in shown_reasons if s == stage]
        for reason in filter(None, named):
            reader.learn({("flow_exits", stage, reason): 1.0})
        if None in named:  # one line for the other reasons: the rest of the step
            rest = [r for r in true_exits.index if r not in named]
            reader.learn({("flow_exits", stage, r): 1.0 for r in rest})
    group_code = {label(g, lang): g for g in eng.parts.index}
    for text in texts.get("completion", []):
        m = re.fullmatch(r"(?P<group>.+) \(n = [\d.,]+\)", text)
        if m and m["group"] in group_code:
            reader.learn(eng.terms(group_code[m["group"]], "n_potential"))

    secrets = [
        *eng.secrets(threshold),
        *fw.secrets(threshold),
        *[
            (f"{c[0]} {c[1]} {c[2]} = {n:.0f}", {c: 1.0})
            for c, n in {**exit_cells, **km_cells}.items()
            if 0 < n < threshold
        ],
    ]
    leaks = [what for what, terms in secrets if reader.can_work_out(terms)]
    assert leaks == [], "\n".join(leaks)


# --------------------------------------------------------------------------- atomic output


def checksums(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


#: Runs ``cdanalytics report`` and stops it for good halfway through writing its
#: output: after the figures are written into the staging folder, it signals
#: the test (a marker file) and sleeps until it is killed.
KILLED_RUN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import cdanalytics.report.build as build
    from cdanalytics.cli import main

    marker = Path(sys.argv[1])
    save = build.save_figures

    def save_then_hang(figures, folder):
        save(figures, folder)
        partial = marker.with_suffix(".tmp")  # written whole, then renamed: never read empty
        partial.write_text(str(folder))
        partial.replace(marker)
        time.sleep(600)

    build.save_figures = save_then_hang
    sys.exit(main(sys.argv[2:]))
    """
)


@pytest.mark.slow
def test_a_killed_report_run_leaves_the_previous_report_intact(export, reports, tmp_path):
    out = tmp_path / "report"
    shutil.copytree(reports[10], out)
    before = checksums(out)
    marker = tmp_path / "staging.txt"
    config = tmp_path / "evaluation.yaml"
    config.write_text(json.dumps(report_config(10)), encoding="utf-8")
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_RUN,
            str(marker),
            "report",
            str(export),
            "--out",
            str(out),
            "--config",
            str(config),
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 600
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the report run never started writing"
            time.sleep(0.05)
        figures = Path(marker.read_text())
        assert figures.name == "figures"
        assert figures.parent.name == f".report.partial-{child.pid}"
        assert (figures.parent / "report.html").exists()  # midway through writing
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert checksums(out) == before
    stale = list(tmp_path.glob(".report.partial-*"))
    assert len(stale) == 1  # the killed run's staging folder is left behind ...

    with atomic_directory(out) as staging:  # ... and the next run clears it
        (staging / "report.html").write_text("new", encoding="utf-8")
    assert not stale[0].exists()
    assert (out / "report.html").read_text(encoding="utf-8") == "new"


def test_atomic_directory_replaces_the_target_as_a_whole(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_directory(target) as staging:
        assert staging.parent == tmp_path and staging.name.startswith(".out.partial-")
        assert (target / "old.txt").exists()  # untouched until the body finishes
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_atomic_directory_keeps_the_target_when_the_body_fails(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError, match="half way"), atomic_directory(target) as staging:
        (staging / "new.txt").write_text("new")
        raise RuntimeError("half way")
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_atomic_directory_restores_a_report_left_by_a_swap_killed_halfway(tmp_path):
    """Killed between its two renames, a run leaves the old report under its backup
    name and no target: the next run puts it back before it does anything else."""
    backup = tmp_path / ".out.previous"
    backup.mkdir()
    (backup / "report.html").write_text("old")
    target = tmp_path / "out"
    with pytest.raises(RuntimeError), atomic_directory(target):
        assert (target / "report.html").read_text() == "old"
        raise RuntimeError("this run fails too")
    assert (target / "report.html").read_text() == "old"
    assert not backup.exists()


# --------------------------------------------------------------------------- headline figures


def test_headline_engagement_figures_agree_with_an_independent_computation(export, reports):
    """Referrals counted from the raw participants CSV; the completion rate and
    its 95% Wilson interval recomputed from the published counts with statsmodels'
    ``proportion_confint`` (Wilson 1927), not with our ``wilson_ci``."""
    outcomes = json.loads((reports[10] / "outcomes.json").read_text(encoding="utf-8"))
    engagement = outcomes["engagement"]
    raw = pd.read_csv(export / "participants.csv", dtype=str)
    group = raw["group"].fillna(raw["programme"])
    assert engagement["referred"] == int((group != "comparison").sum())

    completion = engagement["completion"]
    completed, potential = completion["n_completed"], completion["n_potential"]
    assert 0 < completed < potential
    low, high = proportion_confint(completed, potential, alpha=0.05, method="wilson")
    assert completion["rate"] == pytest.approx(completed / potential, abs=1e-12)
    assert completion["ci_low"] == pytest.approx(low, abs=1e-9)
    assert completion["ci_high"] == pytest.approx(high, abs=1e-9)


# --------------------------------------------------------------------------- outcomes.json keys


def key_paths(value, path=()) -> set[str]:
    """Dotted key paths, with the open-ended keys written as placeholders."""
    placeholders = {
        ("engagement", "completion_by_group"): "<group>",
        ("prepost",): "<measure>",
        ("withheld",): "<key>",
        ("programmes",): "<programme>",
        ("programmes", "<programme>", "matched"): "<analysis>",
        # the added sections (cdanalytics.report.family, cdanalytics.report.methods_extra)
        ("family", "stages"): "<programme>",
        ("family", "stages", "<programme>"): "<stage>",
        ("family", "reviews"): "<programme>",
        ("family", "reviews", "<programme>"): "<review>",
        ("family", "evaluation_outcomes"): "<programme>",
        ("family", "services"): "<programme>",
        ("family", "services", "<programme>"): "<service>",
        ("family", "partner_contact"): "<programme>",
        ("family", "partner_child_change"): "<programme>",
        ("family", "partner_child_change", "<programme>"): "<measure>",
        ("prepost_missing", "measures"): "<measure>",
        ("landmark", "bands"): "<band>",
        ("reoffending_variants",): "<variant>",
        ("reoffending_variants", "<variant>"): "<group>",
        ("casemix",): "<unit>",
        ("casemix", "<unit>", "units"): "<name>",
    }
    keys = set()
    for key, item in value.items():
        step = placeholders.get(path, key)
        keys.add(".".join((*path, step)))
        if isinstance(item, dict):
            keys |= {k for k in key_paths(item, (*path, step)) if k}
    return keys


def documented_keys() -> set[str]:
    text = (REPO / "docs" / "outcomes.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([^`]+)` \|", text, flags=re.MULTILINE))


def figure_at(outcomes: dict, key: str) -> object:
    """The figure under a dotted key (group names may contain dots: match greedily)."""
    value: object = outcomes
    rest = key
    while rest:
        step = next(k for k in sorted(value, key=len, reverse=True) if rest.startswith(k))
        value, rest = value[step], rest[len(step) + 1 :]
    return value


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_outcomes_json_gives_the_reason_for_every_withheld_figure(reports, threshold):
    outcomes = json.loads((reports[threshold] / "outcomes.json").read_text(encoding="utf-8"))
    withheld = outcomes["withheld"]
    assert withheld, "nothing withheld"
    for key, why in withheld.items():
        assert figure_at(outcomes, key) is None, key
        assert why["marker"] in {f"<{threshold}", "[c]"}, (key, why)
        assert str(threshold) in why["reason"], (key, why)
    nulls = {k for k, v in walk_counts(outcomes) if v is None and not k.startswith("withheld")}
    assert nulls <= set(withheld)


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_every_key_of_outcomes_json_is_documented(reports, threshold):
    outcomes = json.loads((reports[threshold] / "outcomes.json").read_text(encoding="utf-8"))
    keys = key_paths(outcomes)
    assert {"engagement.completion.rate", "reoffending.programme.per_100"} <= keys
    assert keys - documented_keys() == set()


def test_every_programme_with_20_potential_completers_has_its_completion_rate_published(
    reports, truth
):
    """Secondary suppression spares the headline: completion rate and interval (threshold 10)."""
    raw = truth["engagement"]
    big = raw.loc[(raw["n_potential"] >= 20) & (raw["programme"].astype(str) != "All")]
    assert len(big) >= 3
    published = read_table(reports[10], "engagement").set_index("programme")
    columns = ["n_potential", "completion_rate", "completion_ci_low", "completion_ci_high"]
    shown = published.loc[big["programme"].astype(str), columns]
    assert shown.notna().all(axis=None), shown


def test_figure_notes_name_the_real_reason_a_group_is_not_drawn(reports, truth):
    """A group left out of the completion figure is small, or named as protecting a small count."""
    svg = (reports[10] / "figures" / "completion.svg").read_text(encoding="utf-8")
    # Matplotlib writes each line of a text as a comment; a wrapped note spans lines.
    svg = " ".join(re.findall(r"<!-- (.*?) -->", svg))
    raw = truth["engagement"].set_index("programme")
    published = read_table(reports[10], "engagement").set_index("programme")
    dropped = published.index[published["completion_rate"].isna()]
    for programme in dropped:
        small = 0 < raw.loc[programme, "n_potential"] < 10
        if not small:
            assert "cannot be worked out" in svg, programme
    if (raw.drop(index="All")["n_potential"] >= 10).all():
        assert "fewer than 10" not in svg
