"""What a report folder publishes, as an outsider reads it: tables, JSON, HTML, SVG."""

from __future__ import annotations

import csv
import functools
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

MARKER = re.compile(r"\[c\]|<\d{1,9}")
NUMBER = re.compile(
    r"[-−]?\d{1,3}(?:,\d{3})+(?:\.\d{1,20})?|[-−]?\d{1,20}(?:\.\d{1,20})?(?:[eE][-+]?\d{1,3})?"
)
TOTAL = "All"
STAGES = ("referred", "assessed", "eligible", "started", "completed")

Cell = tuple  # (namespace, table, column, frozenset of (key, value))


# --------------------------------------------------------------------------- reading


def is_withheld(text: str | None) -> bool:
    """Whether a published field stands for a withheld value (blank or a marker)."""
    text = (text or "").strip()
    return text == "" or MARKER.fullmatch(text) is not None


def marker_bound(text: str) -> int | None:
    """The largest value a ``<T`` marker allows (``T - 1``), else ``None``."""
    text = (text or "").strip()
    if text.startswith("<") and MARKER.fullmatch(text):
        return int(text[1:]) - 1
    return None


def parse_number(text: str | None) -> tuple[float, float] | None:
    """A printed number and half a unit of its last printed digit, or ``None``."""
    text = (text or "").strip().replace("−", "-").replace("\u2009", "").replace("\xa0", "")
    if not text or is_withheld(text):
        return None
    percent = text.endswith("%")
    if percent:
        text = text[:-1].strip()
    if not NUMBER.fullmatch(text):
        return None
    plain = text.replace(",", "")
    value = float(plain)
    if not math.isfinite(value):
        return None
    mantissa = plain.lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(plain.lower().split("e")[1]) if "e" in plain.lower() else 0
    half = 0.5 * 10.0 ** (exponent - decimals)
    half = max(half, abs(value) * 1e-12)
    if percent:
        return value / 100.0, half / 100.0
    return value, half


@dataclass
class Table:
    """One published CSV table: its key columns, value columns and raw rows."""

    name: str
    columns: list[str]
    keys: list[str]
    rows: list[dict[str, str]]

    def key_of(self, row: Mapping[str, str]) -> dict[str, str]:
        return {k: row[k] for k in self.keys}


def _key_columns(columns: list[str], rows: list[dict[str, str]]) -> list[str]:
    """Leading columns that name a row: never withheld, and text (or ``*_months``)."""
    keys = []
    for col in columns:
        values = [r.get(col, "") for r in rows]
        if any(is_withheld(v) for v in values):
            break
        textual = any(parse_number(v) is None for v in values)
        if textual or col.endswith("_months"):
            keys.append(col)
        else:
            break
    return keys


def read_table(path: Path) -> Table:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = [dict(r) for r in reader]
        columns = list(reader.fieldnames or [])
    return Table(path.stem, columns, _key_columns(columns, rows), rows)


class _HTMLTables(HTMLParser):
    """Every ``<table>`` of a page as rows of cell texts (header row first)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._depth = 0
        self._skip = 0
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("svg", "style", "script"):
            self._skip += 1
        elif tag == "table":
            self._depth += 1
            self.tables.append([])
        elif tag == "tr" and self._depth:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("svg", "style", "script"):
            self._skip = max(0, self._skip - 1)
        elif tag == "table":
            self._depth -= 1
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._skip:
            return
        if self._cell is not None:
            self._cell.append(data)
        self.text.append(data)


@functools.lru_cache(maxsize=8)
def html_tables(text: str) -> tuple[list[list[list[str]]], str]:
    """The tables of an HTML page (rows of cell texts) and its visible text.

    Parsed once per page (the attacks read a page several times); read, never change,
    what it returns.
    """
    parser = _HTMLTables()
    parser.feed(text)
    return parser.tables, " ".join(" ".join(parser.text).split())


SVG_TEXT = re.compile(r"<!-- (.{0,400}?) -->")
SVG_GROUP = re.compile(r'<g id="([A-Za-z_][\w.-]{0,80})"')


def svg_texts(text: str) -> list[tuple[str, str]]:
    """Matplotlib's text elements of an SVG as (enclosing group id, text), in order.

    Matplotlib draws text as glyph paths but writes each string in a comment just
    inside its group; the group id (``at_risk``, ``value_label``...) says what it is.
    """
    out = []
    groups = [(m.start(), m.group(1)) for m in SVG_GROUP.finditer(text)]
    gi = 0
    current = ""
    for m in SVG_TEXT.finditer(text):
        while gi < len(groups) and groups[gi][0] < m.start():
            current = groups[gi][1]
            gi += 1
        out.append((current, m.group(1)))
    return out


SVG_USE = re.compile(r'<use xlink:href="#[\w-]{1,40}" x="(-?[\d.]{1,20})" y="(-?[\d.]{1,20})"')
SVG_PATH = re.compile(r'<path d="([MLz\d. \n-]{1,2000})"')


def _ticks(text: str, axis: str) -> list[tuple[str, float]]:
    """(label, position) of each tick of an axis (``xtick`` or ``ytick``)."""
    out = []
    starts = [m.start() for m in re.finditer(rf'<g id="{axis}_\d{{1,3}}">', text)]
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else start + 20000
        chunk = text[start:end]
        use, label = SVG_USE.search(chunk), SVG_TEXT.search(chunk)
        if use and label:
            out.append((label.group(1), float(use.group(1 if axis == "xtick" else 2))))
    return out


def svg_bars(text: str) -> list[tuple[str, str, float]]:
    """Horizontal bars of a matplotlib SVG: (bar group id, y-axis label, length in x units).

    The length comes from the drawn rectangle and the x-axis ticks (a bar of a
    share is read to six or more digits, far finer than any printed label).
    """
    xt = [(parse_number(lbl), x) for lbl, x in _ticks(text, "xtick")]
    xt = [(p[0], x) for p, x in xt if p]
    yt = _ticks(text, "ytick")
    if len(xt) < 2 or not yt:
        return []
    (v0, x0), (v1, x1) = xt[0], xt[-1]
    if v1 == v0 or x1 == x0:
        return []
    per_unit = (x1 - x0) / (v1 - v0)
    out = []
    for m in re.finditer(r'<g id="(bar_[\w]{1,40})">\s{0,20}', text):
        path = SVG_PATH.search(text, m.end(), m.end() + 3000)
        if not path:
            continue
        nums = [float(v) for v in re.findall(r"-?\d{1,9}(?:\.\d{1,12})?", path.group(1))]
        xs, ys = nums[0::2], nums[1::2]
        if not xs:
            continue
        y_mid = (min(ys) + max(ys)) / 2
        label = min(yt, key=lambda t: abs(t[1] - y_mid))[0]
        out.append((m.group(1), label, (max(xs) - min(xs)) / per_unit))
    return out


@dataclass
class Published:
    """Everything one report folder published, as an attacker reads it."""

    folder: Path
    tables: dict[str, Table]
    outcomes: dict[str, Any]
    run: dict[str, Any]
    html: str
    figures: dict[str, list[tuple[str, str]]]
    log: str = ""
    bars: dict[str, list[tuple[str, str, float]]] = field(default_factory=dict)

    @property
    def config(self) -> dict[str, Any]:
        return self.run.get("config", {})

    @property
    def threshold(self) -> int:
        return int(self.config.get("disclosure", {}).get("threshold", 10))

    @property
    def round_to(self) -> int | None:
        return self.config.get("disclosure", {}).get("round_to")

    @property
    def method(self) -> str:
        return str(self.config.get("disclosure", {}).get("method", "suppression"))

    @property
    def noise(self) -> int:
        """Largest perturbation the attacker allows for (published, else ABS's 2)."""
        if self.method != "cell_key":
            return 0
        d = self.config.get("disclosure", {})
        for key in ("max_noise", "noise", "d", "D", "max_perturbation"):
            if isinstance(d.get(key), int):
                return d[key]
        return 2

    @property
    def groupings(self) -> list[str]:
        return list(self.config.get("groupings", ["programme"]))


def read_published(folder: str | Path, log: str = "") -> Published:
    """Read a report folder as published (nothing else)."""
    folder = Path(folder)
    tables = {p.stem: read_table(p) for p in sorted((folder / "tables").glob("*.csv"))}

    def load(name: str) -> dict[str, Any]:
        path = folder / name
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    html = (
        (folder / "report.html").read_text(encoding="utf-8")
        if (folder / "report.html").is_file()
        else ""
    )
    svgs = {
        p.stem: p.read_text(encoding="utf-8") for p in sorted((folder / "figures").glob("*.svg"))
    }
    figures = {name: svg_texts(text) for name, text in svgs.items()}
    pub = Published(folder, tables, load("outcomes.json"), load("run.json"), html, figures, log)
    pub.bars = {name: svg_bars(text) for name, text in svgs.items()}
    return pub


# --------------------------------------------------------------------------- what counts

FLOW_TABLE = "flow_exits"
CLASS_COLUMNS = ("recovered", "improved", "unchanged", "deteriorated")


def is_count_column(table: str, column: str, keys: Iterable[str] = ()) -> bool:
    """Whether a column holds counts of people or rows (the cells worth recovering)."""
    if column in keys:
        return False
    if column.startswith(("n_", "rows_")):
        return True
    if table == FLOW_TABLE:
        return True
    return column in CLASS_COLUMNS


# a row's total and the columns that add up to it
ROW_SUMS = {
    "fixed_window": ("n_in_cohort", ("n_not_yet_eligible", "n_eligible")),
    FLOW_TABLE: ("n_total", STAGES[:-1]),
    "reliable_change": ("n_total", CLASS_COLUMNS),
    "match_counts": ("n_all", ("n_matched", "n_unmatched", "n_discarded")),
    "matched_coverage": (
        "n_treated",
        (
            "n_matched",
            "n_outside_common_support",
            "n_no_comparison_within_caliper",
            "n_comparisons_used_up",
        ),
    ),
    "rows": ("rows_read", ("rows_accepted", "rows_quarantined")),
}


def _constraint(row_key: Mapping[str, str]) -> frozenset:
    """A row's population: its key values, without the ``All`` of a total."""
    return frozenset(
        (k, _months(v) if k.endswith("_months") else v) for k, v in row_key.items() if v != TOTAL
    )


def _months(h: float | str) -> str:
    return f"{float(h)}"
