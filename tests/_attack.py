"""An outsider's attack on a published report: parsers and solvers for the attacker tests.

Nothing here imports the gate or the report's internals. The attacker reads only
what a report folder holds (``tables/*.csv``, ``outcomes.json``, ``run.json``,
``report.html``, the figure SVGs and the captured log) and writes every number it
finds, and every relation it knows between numbers, into one system of linear
constraints over the *true* counts:

- a published count ``v`` pins its true count to ``v`` (or to ``v ± 2`` when the
  report says it rounds to base 5 and ``v`` is a multiple of 5);
- a withheld count (blank, ``[c]`` or ``<T``) is only known to be a count
  (``0 <= x``; ``x <= T - 1`` under ``<T``);
- a total row is the sum of its parts, within one table and across releases
  (a ``[programme]`` row is the sum of its ``[programme, site]`` rows);
- a stage of the participant flow is the previous stage minus its exits, the
  nested counts are ordered (referred >= assessed >= ...), the Kaplan-Meier
  cohort is the at-risk plus events plus censored counts at every horizon;
- a rate printed with ``d`` decimals and its base publish the numerator:
  ``r - h <= x / base <= r + h`` with ``h`` half a unit of the last digit, which
  is linear in ``x`` and ``base`` (``0.25 x 20 = 5``);
- a number printed again (``outcomes.json``, ``run.json``, an HTML table, a summary
  sentence, a figure's labels, at-risk rows and bar widths, the log, the batch
  index) is aligned with the table cell it repeats.

Linear programmes (``scipy.optimize.linprog``, refined by ``milp`` where they
leave at most three integers) then give, for every withheld count, the smallest
and largest value consistent with everything published. A withheld
count whose bounds meet is *recovered exactly*; that is the disclosure the tests
refuse. A withheld count narrowed to an interval of two or more values is allowed:
the policy protects the exact value, and ``<T`` itself says ``[0, T - 1]``.
Under rounding or noise a small published count is a target as well, disclosed
when it is pinned to one value below the threshold.

Each relation is checked against the published numbers first; a relation that
the published numbers contradict is dropped and listed (the attacker's model is
wrong there, so it must not raise false alarms). Where the true value of a cell can
be counted from the synthetic export itself, every recovery is compared with it.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.optimize import LinearConstraint, milp

MARKER = re.compile(r"\[c\]|<\d{1,9}")
NUMBER = re.compile(
    r"[-−]?\d{1,3}(?:,\d{3})+(?:\.\d{1,20})?|[-−]?\d{1,20}(?:\.\d{1,20})?(?:[eE][-+]?\d{1,3})?"
)
TOTAL = "All"
STAGES = ("referred", "assessed", "eligible", "started", "completed")
BIG = 10**9

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


def html_tables(text: str) -> tuple[list[list[list[str]]], str]:
    """The tables of an HTML page (rows of cell texts) and its visible text."""
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
        for key in ("max_noise", "noise", "d", "max_perturbation"):
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
    "rows": ("rows_read", ("rows_accepted", "rows_quarantined")),
}


# --------------------------------------------------------------------------- the system


@dataclass
class Relation:
    """``lo <= sum(coef * var) <= hi`` with a description for the report."""

    coefs: dict[Cell, float]
    lo: float
    hi: float
    what: str


@dataclass
class System:
    """Linear constraints over true counts, from one or more publications."""

    bounds: dict[Cell, list[float]] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    withheld: dict[Cell, str] = field(default_factory=dict)
    published: dict[Cell, float] = field(default_factory=dict)
    integer: set[Cell] = field(default_factory=set)
    shown: list[str] = field(default_factory=list)
    blurred: dict[Cell, int] = field(default_factory=dict)
    enabled: frozenset[str] | None = None
    current: str = "csv"
    _aux: int = 0

    def allowed(self, *families: str) -> bool:
        """Whether the attacks that these relations belong to are switched on."""
        wanted = {self.current, *families} - {"csv"}
        return self.enabled is None or wanted <= self.enabled

    def var(self, cell: Cell, integer: bool = True) -> Cell:
        if cell not in self.bounds:
            self.bounds[cell] = [0.0, float(BIG)]
            if integer:
                self.integer.add(cell)
        return cell

    def aux(self, name: str) -> Cell:
        self._aux += 1
        return self.var(("aux", name, str(self._aux), frozenset()))

    def narrow(self, cell: Cell, lo: float, hi: float) -> None:
        b = self.bounds[self.var(cell)]
        b[0], b[1] = max(b[0], lo), min(b[1], hi)

    def publish(self, cell: Cell, text: str | None, round_to: int | None, noise: int = 0) -> None:
        """A count field as published: a number pins the true count, a marker bounds it."""
        self.var(cell)
        if not self.allowed():
            return
        parsed = parse_number(text)
        if parsed is None:
            if is_withheld(text):
                if cell in self.blurred:  # withheld elsewhere: it must stay open
                    del self.blurred[cell], self.withheld[cell]
                self.withheld.setdefault(cell, (text or "").strip())
                top = marker_bound(text or "")
                if top is not None:
                    self.narrow(cell, 0, top)
            return
        value = parsed[0]
        radius = 0.0
        if round_to and round(value) % round_to == 0:
            radius = (round_to - 1) // 2
        radius = max(radius, noise)
        self.narrow(cell, value - radius, value + radius)
        if radius == 0:
            self.published[cell] = value

    def add(
        self, coefs: Mapping[Cell, float], lo: float, hi: float, what: str, checked: bool = False
    ) -> None:
        coefs = {c: v for c, v in coefs.items() if v}
        if not coefs or not (checked or self.allowed()):
            return
        for c in coefs:
            self.var(c)
        # check the relation on published numbers before trusting it
        lo_sum = sum(v * self.bounds[c][0 if v > 0 else 1] for c, v in coefs.items())
        hi_sum = sum(v * self.bounds[c][1 if v > 0 else 0] for c, v in coefs.items())
        if lo_sum > hi + 1e-6 or hi_sum < lo - 1e-6:
            self.dropped.append(f"{what}: published numbers give [{lo_sum}, {hi_sum}]")
            return
        self.relations.append(Relation(dict(coefs), lo, hi, what))

    def equal(self, total: Cell, parts: Iterable[Cell], what: str, plus: Mapping = ()) -> None:
        coefs: dict[Cell, float] = defaultdict(float)
        coefs[total] += 1.0
        for p in parts:
            coefs[p] -= 1.0
        for c, v in dict(plus).items():
            coefs[c] -= v
        self.add(coefs, 0.0, 0.0, what)

    def ratio(self, num: Cell, base: Cell, text: str | None, what: str, scale: float = 1) -> None:
        """``num / base`` printed as ``text`` (times ``scale``): linear in num and base."""
        parsed = parse_number(text)
        # a table's own rates belong to the rate attack alone; a rate printed
        # elsewhere (JSON, HTML, figure, index) to that channel as well
        own = self.current in ("csv", "within")
        if parsed is None or not (self.enabled is None or "rates" in self.enabled):
            return
        if not own and not self.allowed():
            return
        r, h = parsed[0] / scale, parsed[1] / scale
        self.add({num: 1.0, base: -(r - h)}, 0.0, math.inf, what + " (low)", checked=True)
        self.add({num: 1.0, base: -(r + h)}, -math.inf, 0.0, what + " (high)", checked=True)

    def disclosed(self, bounds: Mapping[Cell, tuple[float, float]]) -> dict[Cell, int]:
        """Exact recoveries that break the policy.

        A withheld count must stay open whatever its value; a rounded or noisy
        published count only when its true value is below the threshold.
        """
        return {
            c: v for c, v in exact(bounds).items() if c not in self.blurred or v < self.blurred[c]
        }

    # ----------------------------------------------------------------- solving

    def solve(self, targets: Iterable[Cell] | None = None) -> dict[Cell, tuple[float, float]]:
        """Smallest and largest true value of each target consistent with the system.

        Counts pinned by a publication become constants; the rest splits into
        independent groups of linked counts, each solved on its own: the linear
        relaxation first, then the integer programme where the relaxation leaves
        at most three integers (the only place it can pin a value).
        """
        pinned = {c: b[0] for c, b in self.bounds.items() if b[1] - b[0] < 1e-9}
        parent: dict[Cell, Cell] = {}

        def root(c: Cell) -> Cell:
            while parent.setdefault(c, c) != c:
                parent[c] = parent[parent[c]]
                c = parent[c]
            return c

        reduced = []
        for rel in self.relations:
            free = {c: v for c, v in rel.coefs.items() if c not in pinned}
            shift = sum(v * pinned[c] for c, v in rel.coefs.items() if c in pinned)
            if not free:
                if not rel.lo - 1e-6 <= shift <= rel.hi + 1e-6:
                    raise AssertionError(f"the attacker's relation is wrong: {rel.what}")
                continue
            reduced.append((free, rel.lo - shift, rel.hi - shift))
            cells = list(free)
            for c in cells[1:]:
                parent[root(c)] = root(cells[0])
        groups: dict[Cell, list[int]] = defaultdict(list)
        for i, (free, _lo, _hi) in enumerate(reduced):
            groups[root(next(iter(free)))].append(i)
        out = {}
        for cell in targets if targets is not None else list(self.withheld):
            if cell in pinned:
                out[cell] = (pinned[cell], pinned[cell])
            elif cell not in parent:
                out[cell] = (self.bounds[cell][0], self.bounds[cell][1])
            else:
                out[cell] = self._solve_group(cell, [reduced[i] for i in groups[root(cell)]])
        return out

    def _solve_group(
        self, target: Cell, rels: list[tuple[dict, float, float]]
    ) -> tuple[float, float]:
        from scipy.optimize import Bounds, linprog

        cells = sorted({c for free, _, _ in rels for c in free}, key=repr)
        index = {c: i for i, c in enumerate(cells)}
        a = np.zeros((len(rels), len(cells)))
        lo = np.array([r[1] for r in rels], dtype=float)
        hi = np.array([r[2] for r in rels], dtype=float)
        for i, (free, _, _) in enumerate(rels):
            for c, v in free.items():
                a[i, index[c]] = v
        lb = np.array([self.bounds[c][0] for c in cells])
        ub = np.array([self.bounds[c][1] for c in cells])
        eq = lo == hi
        a_ub = np.vstack([a[~eq & np.isfinite(hi)], -a[~eq & np.isfinite(lo)]])
        b_ub = np.concatenate([hi[~eq & np.isfinite(hi)], -lo[~eq & np.isfinite(lo)]])
        at = index[target]

        def relaxed(cost):
            return linprog(
                cost,
                A_ub=a_ub if len(b_ub) else None,
                b_ub=b_ub if len(b_ub) else None,
                A_eq=a[eq] if eq.any() else None,
                b_eq=lo[eq] if eq.any() else None,
                bounds=list(zip(lb, ub, strict=True)),
                method="highs",
            )

        low, high = _extremes(relaxed, len(cells), at, (-math.inf, math.inf))
        if target not in self.integer or math.floor(high + 1e-6) - math.ceil(low - 1e-6) > 2:
            return low, high
        integrality = np.array([1 if c in self.integer else 0 for c in cells])
        constraint = LinearConstraint(a, lo, hi)

        def integer(cost):
            return milp(
                cost,
                constraints=constraint,
                integrality=integrality,
                bounds=Bounds(lb, ub),
                options={"time_limit": 20},
            )

        return _extremes(integer, len(cells), at, (low, high))


def _extremes(solve, n: int, at: int, fallback: tuple[float, float]) -> tuple[float, float]:
    """Smallest and largest value of variable ``at`` (of ``n``) that ``solve(cost)`` finds.

    ``fallback`` stands in where the solver stops without an optimum (time limit,
    unbounded); an infeasible system means one of the attacker's relations is wrong.
    """
    found = []
    for sign, default in zip((1.0, -1.0), fallback, strict=True):
        cost = np.zeros(n)
        cost[at] = sign
        res = solve(cost)
        if res.status == 2:
            raise AssertionError(
                "the attacker's system is infeasible: one of its relations is wrong"
            )
        ok = res.status == 0 and res.fun is not None
        found.append(sign * res.fun if ok else default)
    return found[0], found[1]


def exact(bounds: Mapping[Cell, tuple[float, float]]) -> dict[Cell, int]:
    """The cells whose bounds meet: recovered exactly."""
    out = {}
    for cell, (lo, hi) in bounds.items():
        if (
            math.isfinite(lo)
            and math.isfinite(hi)
            and math.ceil(lo - 1e-6) == math.floor(hi + 1e-6)
        ):
            out[cell] = math.ceil(lo - 1e-6)
    return out


def describe(cell: Cell) -> str:
    ns, table, column, key = cell
    where = ", ".join(f"{k}={v}" for k, v in sorted(key))
    return f"{ns + ':' if ns else ''}{table}{f'[{where}]' if where else ''}.{column}"


# --------------------------------------------------------------------------- relations


def _constraint(row_key: Mapping[str, str]) -> frozenset:
    """A row's population: its key values, without the ``All`` of a total."""
    return frozenset(
        (k, _months(v) if k.endswith("_months") else v) for k, v in row_key.items() if v != TOTAL
    )


class Attacker:
    """Builds the system from one or more publications.

    Publications of the same export share a namespace, so the same true count
    published twice (another threshold, another grouping) is one variable.
    """

    def __init__(self, families: Iterable[str] | None = None) -> None:
        self.system = System(enabled=frozenset(families) if families is not None else None)
        self._dims: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._leafsets: dict[tuple[str, str], list[tuple[frozenset[str], list[frozenset]]]] = (
            defaultdict(list)
        )

    def cell(self, ns: str, table: str, column: str, key: Mapping[str, str] | frozenset) -> Cell:
        if not isinstance(key, frozenset):
            key = _constraint(key)
        return (ns, table, column, key)

    # ----------------------------------------------------------------- one publication

    def add(self, pub: Published, ns: str = "") -> None:
        s = self.system
        round_to = pub.round_to
        for t in pub.tables.values():
            s.current = "csv"
            dims = {k for k in t.keys if any(r[k] == TOTAL for r in t.rows)}
            dims |= set(pub.groupings) & set(t.keys)
            self._dims[(ns, t.name)] |= dims
            constraints = []
            for row in t.rows:
                key = t.key_of(row)
                con = _constraint(key)
                constraints.append(con)
                for col in t.columns:
                    if is_count_column(t.name, col, t.keys):
                        cell = self.cell(ns, t.name, col, con)
                        s.publish(cell, row.get(col), round_to, pub.noise)
                        self._blurred_small(cell, row.get(col), pub)
            leaves = [
                c
                for c, row in zip(constraints, t.rows, strict=True)
                if all(row[d] != TOTAL for d in dims)
            ]
            self._leafsets[(ns, t.name)].append((frozenset(dims), constraints, leaves))
            self._row_relations(ns, t)
        self._cross_tables(ns, pub)
        self._json(ns, pub)
        self._html(ns, pub)
        self._figures(ns, pub)
        self._summary(ns, pub)
        self._bar_counts(ns, pub)
        self._log(ns, pub)

    def _blurred_small(self, cell: Cell, text: str | None, pub: Published) -> None:
        """Under rounding or noise, a small published count is protected too.

        Its true value (possibly below the threshold) must stay open, so it is a
        target like a withheld count; a published zero is not.
        """
        parsed = parse_number(text)
        if parsed is None or parsed[0] == 0:
            return
        b = self.system.bounds[cell]
        if b[1] > b[0] and b[0] < pub.threshold and cell not in self.system.withheld:
            self.system.withheld[cell] = f"~{text}"
            self.system.blurred[cell] = pub.threshold

    def _row_relations(self, ns: str, t: Table) -> None:
        s = self.system
        s.current = "within"

        def c(col: str, con: frozenset) -> Cell:
            return self.cell(ns, t.name, col, con)

        cols = set(t.columns)
        for row in t.rows:
            con = _constraint(t.key_of(row))
            where = f"{t.name}[{dict(con)}]"
            total, parts = ROW_SUMS.get(t.name, ("", ()))
            if parts and {total, *parts} <= cols:
                s.equal(
                    c(total, con), [c(p, con) for p in parts], f"{where} {total} = sum of parts"
                )
            if t.name == "engagement":
                nested = [f"n_{st}" for st in STAGES if f"n_{st}" in cols]
                for a, b in itertools.pairwise(nested):
                    s.add({c(a, con): 1, c(b, con): -1}, 0, math.inf, f"{where} {a} >= {b}")
                for small, big in (
                    ("n_potential", "n_started"),
                    ("n_completed", "n_potential"),
                    ("n_clear_outcome", "n_potential"),
                    ("n_completed", "n_clear_outcome"),
                    ("n_dropped_out", "n_potential"),
                    ("n_early_dropout", "n_dropped_out"),
                ):
                    if {small, big} <= cols:
                        s.add(
                            {c(big, con): 1, c(small, con): -1},
                            0,
                            math.inf,
                            f"{where} {big} >= {small}",
                        )
                for rate, num, base in (
                    ("completion_rate", "n_completed", "n_potential"),
                    ("completion_rate_clear", "n_completed", "n_clear_outcome"),
                    ("dropout_rate", "n_dropped_out", "n_potential"),
                    ("early_dropout_rate", "n_early_dropout", "n_potential"),
                ):
                    if {rate, num, base} <= cols:
                        s.ratio(c(num, con), c(base, con), row[rate], f"{where} {rate}")
            elif t.name == "fixed_window":
                if {"n_reoffenders", "n_eligible"} <= cols:
                    s.add(
                        {c("n_eligible", con): 1, c("n_reoffenders", con): -1},
                        0,
                        math.inf,
                        f"{where} eligible >= reoffenders",
                    )
                    if "rate" in cols:
                        s.ratio(
                            c("n_reoffenders", con),
                            c("n_eligible", con),
                            row["rate"],
                            f"{where} rate",
                        )
                    if "per_100" in cols:
                        s.ratio(
                            c("n_reoffenders", con),
                            c("n_eligible", con),
                            row["per_100"],
                            f"{where} per_100",
                            100,
                        )
                    opp = parse_number(row.get("offences_per_person"))
                    if "offences_per_person" in cols and opp:
                        offences = s.aux(f"{where} offences")
                        s.add(
                            {offences: 1, c("n_reoffenders", con): -1},
                            0,
                            math.inf,
                            f"{where} offences >= reoffenders",
                        )
                        if opp[0] - opp[1] > 0:  # an offence means a reoffender
                            s.add(
                                {c("n_reoffenders", con): 1},
                                1,
                                math.inf,
                                f"{where} offences, so reoffenders",
                            )
                        s.ratio(
                            offences,
                            c("n_eligible", con),
                            row["offences_per_person"],
                            f"{where} offences_per_person",
                        )
            elif t.name == "matched_effect":
                for pct, base in (
                    ("rate_treated_pct", "n_treated"),
                    ("rate_control_pct", "n_control"),
                ):
                    if {pct, base} <= cols and parse_number(row[pct]):
                        num = c(f"x_{pct}", con)  # the numerator, not itself a table cell
                        s.add(
                            {c(base, con): 1, num: -1}, 0, math.inf, f"{where} {base} >= numerator"
                        )
                        s.ratio(num, c(base, con), row[pct], f"{where} {pct}", 100)
        if t.name == "km_horizons" and {"group", "horizon_months"} <= set(t.keys):
            self._km(ns, t)

    def _km(self, ns: str, t: Table) -> None:
        s = self.system
        s.current = "km"
        cols = set(t.columns)
        by_group: dict[str, list[tuple[float, frozenset]]] = defaultdict(list)
        for row in t.rows:
            h = parse_number(row["horizon_months"])
            by_group[row["group"]].append((h[0] if h else 0.0, _constraint(t.key_of(row))))
        for group, rows in by_group.items():
            rows.sort()
            cohort = self.cell(ns, "fixed_window", "n_in_cohort", frozenset({("group", group)}))
            parts = [k for k in ("n_at_risk", "n_events", "n_censored") if k in cols]
            for _, con in rows:
                if len(parts) == 3:
                    s.equal(
                        cohort,
                        [self.cell(ns, t.name, k, con) for k in parts],
                        f"km {group} {dict(con)}: cohort = at risk + events + censored",
                    )
            for (_, a), (_, b) in itertools.pairwise(rows):
                for k, sign in (("n_at_risk", 1), ("n_events", -1), ("n_censored", -1)):
                    if k in cols:
                        s.add(
                            {self.cell(ns, t.name, k, a): sign, self.cell(ns, t.name, k, b): -sign},
                            0,
                            math.inf,
                            f"km {group} {k} monotone",
                        )

    def _cross_tables(self, ns: str, pub: Published) -> None:
        s = self.system
        s.current = "across"
        tabs = pub.tables
        total = frozenset()
        eng = tabs.get("engagement")
        flow = tabs.get(FLOW_TABLE)
        if eng is not None and flow is not None:
            eng_cols = set(eng.columns)
            for a, b in itertools.pairwise(STAGES):
                if a in flow.columns and {f"n_{a}", f"n_{b}"} <= eng_cols:
                    s.equal(
                        self.cell(ns, "engagement", f"n_{a}", total),
                        [
                            self.cell(ns, "engagement", f"n_{b}", total),
                            self.cell(ns, FLOW_TABLE, a, total),
                        ],
                        f"flow: {a} = {b} + exits at {a}",
                    )
        fw = tabs.get("fixed_window")
        if eng is not None and fw is not None and "n_started" in eng.columns and "group" in fw.keys:
            for row in fw.rows:
                if row["group"] == "programme":
                    con = _constraint(fw.key_of(row))
                    econ = frozenset(p for p in con if p[0] != "group")
                    s.equal(
                        self.cell(ns, "fixed_window", "n_in_cohort", con),
                        [self.cell(ns, "engagement", "n_started", econ)],
                        "programme cohort = starters",
                    )
        mc = tabs.get("match_counts")
        if mc is not None and "group" in mc.keys:
            arms = {"treated": "programme", "control": "comparison"}
            for row in mc.rows:
                arm = arms.get(row["group"])
                if arm and fw is not None:
                    s.equal(
                        self.cell(ns, "match_counts", "n_all", _constraint(mc.key_of(row))),
                        [self.cell(ns, "fixed_window", "n_eligible", frozenset({("group", arm)}))],
                        f"matching pool {arm} = eligible",
                    )
            me = tabs.get("matched_effect")
            if me is not None:
                for row in me.rows:
                    con = _constraint(me.key_of(row))
                    for grp, col in (("treated", "n_treated"), ("control", "n_control")):
                        if col in me.columns:
                            s.add(
                                {
                                    self.cell(
                                        ns, "match_counts", "n_matched", frozenset({("group", grp)})
                                    ): 1,
                                    self.cell(ns, "matched_effect", col, con): -1,
                                },
                                0,
                                math.inf,
                                f"matched {grp} >= analysed",
                            )
        rc, ch = tabs.get("reliable_change"), tabs.get("change")
        if rc is not None and ch is not None and "n_paired" in ch.columns:
            groups: dict[frozenset, list[frozenset]] = defaultdict(list)
            for row in rc.rows:
                con = _constraint(rc.key_of(row))
                groups[frozenset(p for p in con if p[0] in ch.keys)].append(con)
            zero = {
                frozenset(p for p in _constraint(rc.key_of(r)) if p[0] in ch.keys)
                for r in rc.rows
                if parse_number(r.get("n_total")) == (0.0, 0.5)
            }
            for key, cons in groups.items():
                if key in zero and len(cons) == sum(
                    1
                    for r in rc.rows
                    if parse_number(r.get("n_total")) == (0.0, 0.5)
                    and frozenset(p for p in _constraint(rc.key_of(r)) if p[0] in ch.keys) == key
                ):
                    continue  # not computed (no reliability): its zeros say nothing of n_paired
                s.equal(
                    self.cell(ns, "change", "n_paired", key),
                    [self.cell(ns, "reliable_change", "n_total", c) for c in cons],
                    f"paired {dict(key)} = reliable-change baselines",
                )

    # ----------------------------------------------------------------- other artefacts

    def _json(self, ns: str, pub: Published) -> None:
        s = self.system
        s.current = "duplicates"
        rt = pub.round_to
        o = pub.outcomes
        total = frozenset()

        def put(table: str, col: str, key: frozenset, value: Any) -> None:
            if isinstance(value, int | float) and not isinstance(value, bool):
                s.publish(self.cell(ns, table, col, key), repr(value), rt, pub.noise)

        def entry(table: str, key: frozenset, vals: Mapping, rate: tuple[str, str]) -> None:
            """An outcomes.json entry: its counts, and its rate as numerator over base."""
            for k, v in vals.items():
                if k.startswith("n_"):
                    put(table, k, key, v)
            if isinstance(vals.get("rate"), float):
                num, base = (self.cell(ns, table, col, key) for col in rate)
                s.ratio(num, base, repr(vals["rate"]), f"outcomes.json {table} {dict(key)} rate")

        eng = o.get("engagement", {})
        for st in STAGES:
            put("engagement", f"n_{st}", total, eng.get(st))
        for part in ("completion", "dropout"):
            for k, v in eng.get(part, {}).items():
                if k.startswith("n_"):
                    put("engagement", k, total, v)
        single = pub.groupings[0] if len(pub.groupings) == 1 else None
        for g, vals in (eng.get("completion_by_group") or {}).items():
            if single is None or not isinstance(vals, dict):
                continue
            key = frozenset({(single, g)})
            entry("engagement", key, vals, ("n_completed", "n_potential"))
        reo = o.get("reoffending", {})
        for arm in ("programme", "comparison"):
            key = frozenset({("group", arm)})
            entry("fixed_window", key, reo.get(arm) or {}, ("n_reoffenders", "n_eligible"))
        md = reo.get("matched_difference") or {}
        me_key = frozenset({("outcome", "reoffended_in_window")})
        put("matched_effect", "n_treated", me_key, md.get("n_programme"))
        put("matched_effect", "n_control", me_key, md.get("n_comparison"))
        for inst, scales in _items(o.get("prepost")):
            for scale, informants in _items(scales):
                for inf, vals in _items(informants):
                    key = frozenset({("instrument", inst), ("scale", scale), ("informant", inf)})
                    put("change", "n_paired", key, dict(_items(vals)).get("n_paired"))
        for table, vals in (pub.run.get("rows") or {}).items():
            for k, v in (vals or {}).items():
                put("rows", k, frozenset({("table", table)}), v)

    def _html(self, ns: str, pub: Published) -> None:
        """Align every HTML table with the CSV table it shows; publish what it adds."""
        tables, _ = html_tables(pub.html)
        for rows in tables:
            if len(rows) < 2:
                continue
            body = rows[1:]
            for t in pub.tables.values():
                if len(t.rows) != len(body):
                    continue
                self._align(ns, pub, t, body)

    def _align(self, ns: str, pub: Published, t: Table, body: list[list[str]]) -> None:
        """Match each HTML column to the one CSV column it repeats, row by row.

        A column matches when every row where both print a number agrees (to the
        printed digits, the HTML showing enough digits to tell), at least two of
        them non-zero, and no other CSV column matches. Then what the HTML adds
        (a number, or a ``<T`` marker where the CSV is blank) is published.
        """
        s = self.system
        s.current = "duplicates"
        width = min(len(r) for r in body)
        for j in range(width):
            matches = [col for col in t.columns if col not in t.keys and _agrees(body, j, t, col)]
            if len(matches) != 1:
                continue
            col = matches[0]
            for hrow, crow in zip(body, t.rows, strict=True):
                if not is_withheld(crow.get(col)):
                    continue
                con = _constraint(t.key_of(crow))
                cell = self.cell(ns, t.name, col, con)
                if is_count_column(t.name, col, t.keys):
                    s.publish(cell, hrow[j], pub.round_to, pub.noise)
                elif parse_number(hrow[j]) is not None:
                    s.shown.append(
                        f"report.html shows {describe(cell)} = {hrow[j]}; the CSV withholds it"
                    )

    def _figures(self, ns: str, pub: Published) -> None:
        s = self.system
        s.current = "duplicates"
        km = pub.figures.get("cumulative_reoffending", [])
        ticks = [parse_number(txt) for gid, txt in km if gid.startswith("xtick")]
        horizons = [t[0] for t in ticks if t]
        group = None
        values: dict[str, list[str]] = defaultdict(list)
        for gid, txt in km:
            if gid == "at_risk_group":
                group = txt.strip().lower()
            elif gid == "at_risk" and group:
                values[group].append(txt)
        s.current = "km"
        for group, vals in values.items():
            if len(vals) != len(horizons):
                continue
            for h, v in zip(horizons, vals, strict=True):
                key = frozenset({("group", group), ("horizon_months", _months(h))})
                s.publish(
                    self.cell(ns, "km_horizons", "n_at_risk", key), v, pub.round_to, pub.noise
                )
        s.current = "duplicates"
        flow = pub.figures.get("participant_flow", [])
        stage_names = [st.capitalize() for st in STAGES]
        stage = None
        named: dict[str, list[str]] = defaultdict(list)
        other: dict[str, str] = {}
        for _gid, txt in flow:
            if txt in stage_names:
                stage = txt.lower()
                continue
            m = re.fullmatch(r"n = ([\d,]{1,15})", txt)
            if m and stage:
                s.publish(
                    self.cell(ns, "engagement", f"n_{stage}", frozenset()),
                    m.group(1),
                    pub.round_to,
                    pub.noise,
                )
                continue
            m = re.fullmatch(r"([A-Za-z][A-Za-z ]{0,60}): ([\d,]{1,15})", txt)
            if m and stage:
                label = m.group(1).strip().lower().replace(" ", "_")
                label = {"never_started": "not_started", "still_ongoing": "ongoing"}.get(
                    label, label
                )
                if label == "other_reasons":
                    other[stage] = m.group(2)
                else:
                    named[stage].append(label)
                    s.publish(
                        self.cell(ns, FLOW_TABLE, stage, frozenset({("reason", label)})),
                        m.group(2),
                        pub.round_to,
                        pub.noise,
                    )
        flow_t = pub.tables.get(FLOW_TABLE)
        if flow_t is not None and "reason" in flow_t.keys:
            for stage, text in other.items():
                rest = [
                    r["reason"] for r in flow_t.rows if r["reason"] not in (*named[stage], TOTAL)
                ]
                parsed = parse_number(text)
                if parsed and rest:
                    total = s.aux(f"flow other {stage}")
                    s.publish(total, text, pub.round_to, pub.noise)
                    s.equal(
                        total,
                        [
                            self.cell(ns, FLOW_TABLE, stage, frozenset({("reason", r)}))
                            for r in rest
                        ],
                        f"figure: other reasons at {stage}",
                    )
        comp = pub.figures.get("completion", [])
        names = programme_names()
        labels = [txt for gid, txt in comp if re.search(r"\(n = [\d,]{1,15}\)$", txt)]
        pcts = [txt for gid, txt in comp if gid == "value_label"]
        single = pub.groupings[0] if len(pub.groupings) == 1 else None
        if single == "programme" and len(labels) == len(pcts):
            for label, pct in zip(labels, pcts, strict=True):
                m = re.fullmatch(r"(.{1,80}) \(n = ([\d,]{1,15})\)", label)
                code = names.get(m.group(1)) if m else None
                if code:
                    key = frozenset({("programme", code)})
                    s.publish(
                        self.cell(ns, "engagement", "n_potential", key),
                        m.group(2),
                        pub.round_to,
                        pub.noise,
                    )
                    s.ratio(
                        self.cell(ns, "engagement", "n_completed", key),
                        self.cell(ns, "engagement", "n_potential", key),
                        pct,
                        f"completion figure {code}",
                    )

    def _bar_counts(self, ns: str, pub: Published) -> None:
        """Stacked shares drawn for reliable change, times the n in each bar's label."""
        s = self.system
        s.current = "duplicates"
        t = pub.tables.get("reliable_change")
        if t is None:
            return
        rows: dict[str, dict[str, float]] = defaultdict(dict)
        for gid, label, share in pub.bars.get("reliable_change", []):
            rows[label][gid.removeprefix("bar_")] = share
        for label, shares in rows.items():
            m = re.search(r"\(n = ([\d,]{1,12})\)$", label)
            if not m:
                continue
            n = float(m.group(1).replace(",", ""))
            counts = {k: v * n for k, v in shares.items() if k in t.columns}
            fits = [
                row
                for row in t.rows
                if parse_number(row.get("n_total")) in (None, (n, 0.5))
                and all(
                    (p := parse_number(row.get(k))) is None or abs(p[0] - v) < 0.01
                    for k, v in counts.items()
                )
            ]
            if len(fits) != 1:
                continue
            con = _constraint(t.key_of(fits[0]))
            for k, v in counts.items():
                s.narrow(self.cell(ns, t.name, k, con), math.floor(v + 1e-3), math.ceil(v - 1e-3))

    def _summary(self, ns: str, pub: Published) -> None:
        """Counts and rates the summary sentences print (English wording)."""
        s = self.system
        s.current = "duplicates"
        _, text = html_tables(pub.html)
        total = frozenset()
        n = r"(\d{1,3}(?:,\d{3}){0,3}|\d{1,9})"
        m = re.search(
            n
            + r" (?:men|people) were referred, "
            + n
            + r" started a programme and "
            + n
            + r" completed it",
            text,
        )
        if m:
            for col, value in zip(
                ("n_referred", "n_started", "n_completed"), m.groups(), strict=True
            ):
                s.publish(self.cell(ns, "engagement", col, total), value, pub.round_to, pub.noise)
        m = re.search(r"finished by the extract date, (\d{1,3}(?:\.\d{1,3})?%) completed", text)
        if m:
            s.ratio(
                self.cell(ns, "engagement", "n_completed", total),
                self.cell(ns, "engagement", "n_potential", total),
                m.group(1),
                "summary completion",
            )
        for arm, pattern in (
            ("programme", r"(\d{1,3}) of every 100 (?:men|people) on a programme had a proven"),
            (
                "comparison",
                r"compared with (\d{1,3}) of every 100 (?:men|people) in the comparison",
            ),
        ):
            m = re.search(pattern, text)
            if m:
                key = frozenset({("group", arm)})
                s.ratio(
                    self.cell(ns, "fixed_window", "n_reoffenders", key),
                    self.cell(ns, "fixed_window", "n_eligible", key),
                    m.group(1),
                    f"summary reoffending {arm}",
                    100,
                )
        m = re.search(
            r"(\d{1,3}) of any 100 (?:men|people) who took part reoffended[^.]{0,80}?"
            r"against (\d{1,3}) of any 100",
            text,
        )
        if m:
            key = frozenset({("outcome", "reoffended_in_window")})
            for pct, base, value in (
                ("rate_treated_pct", "n_treated", m.group(1)),
                ("rate_control_pct", "n_control", m.group(2)),
            ):
                s.ratio(
                    self.cell(ns, "matched_effect", f"x_{pct}", key),
                    self.cell(ns, "matched_effect", base, key),
                    value,
                    f"summary {pct}",
                    100,
                )

    def _log(self, ns: str, pub: Published) -> None:
        """Counts the log prints (matching pool sizes)."""
        s = self.system
        s.current = "duplicates"
        for m in re.finditer(
            r"fewer comparison rows \((\d{1,9})\) than treated rows x ratio \((\d{1,9}) x", pub.log
        ):
            for group, text in (("control", m.group(1)), ("treated", m.group(2))):
                s.publish(
                    self.cell(ns, "match_counts", "n_all", frozenset({("group", group)})),
                    text,
                    pub.round_to,
                    pub.noise,
                )

    def add_index_row(self, ns: str, row: Mapping[str, str], pub: Published) -> None:
        """One export's row of the batch index (``index.html``), as the same cells."""
        s = self.system
        s.current = "duplicates"
        total = frozenset()
        arm = frozenset({("group", "programme")})
        for header, text in row.items():
            h = header.strip().lower()
            if h == "referred":
                s.publish(
                    self.cell(ns, "engagement", "n_referred", total), text, pub.round_to, pub.noise
                )
            elif h == "completion rate":
                s.ratio(
                    self.cell(ns, "engagement", "n_completed", total),
                    self.cell(ns, "engagement", "n_potential", total),
                    text,
                    "index completion rate",
                )
            elif h.startswith("proven reoffending"):
                s.ratio(
                    self.cell(ns, "fixed_window", "n_reoffenders", arm),
                    self.cell(ns, "fixed_window", "n_eligible", arm),
                    text,
                    "index reoffending rate",
                )

    # ----------------------------------------------------------------- totals

    def finish(self) -> System:
        """Add the sums: a total row is the sum of its finest rows, in any publication."""
        s = self.system
        for (ns, table), pubs in self._leafsets.items():
            dims = self._dims[(ns, table)]
            if not dims:
                continue
            cols = sorted(
                {
                    c
                    for (n, t, c, _k) in s.bounds
                    if n == ns and t == table and is_count_column(table, c)
                }
            )
            finest = [leaves for d, _rows, leaves in pubs if d == dims]
            for d, rows, own in pubs:
                # within a publication; and, for a coarser one, against the finest rows
                sources = [("within", own)]
                if finest and d != dims:
                    sources.append(("releases", finest[0]))
                for family, leaves in sources:
                    s.current = family
                    for con in sorted(set(rows), key=sorted):
                        parts = [leaf for leaf in leaves if con < leaf]
                        if not parts:
                            continue
                        for col in cols:
                            s.equal(
                                self.cell(ns, table, col, con),
                                [self.cell(ns, table, col, p) for p in parts],
                                f"{table}[{dict(con)}].{col} = sum of {len(parts)} rows",
                            )
        return s


def _items(value: Any) -> list[tuple[str, Any]]:
    return list(value.items()) if isinstance(value, dict) else []


def _agrees(body: list[list[str]], j: int, t: Table, col: str) -> bool:
    agree = 0
    for hrow, crow in zip(body, t.rows, strict=True):
        h, c = parse_number(hrow[j]), parse_number(crow.get(col))
        if h is None or c is None:
            continue
        if c[0] == round(c[0]) and h[1] >= 0.5:
            same = h[0] == c[0]
        else:
            same = abs(h[0] - c[0]) <= h[1] + c[1] + 1e-9 and h[1] <= 0.02 * abs(c[0])
        if not same:
            return False
        agree += h[0] != 0
    return agree >= 2


def _months(h: float | str) -> str:
    return f"{float(h)}"


def programme_names() -> dict[str, str]:
    """Display name -> code, from the programme registry (data, not code)."""
    path = Path(__file__).resolve().parents[1] / "cdanalytics" / "registries" / "programmes.yaml"
    reg = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = {}
    for code, entry in reg.items():
        for name in (entry.get("name") or {}).values():
            out[name] = code
    return out


# --------------------------------------------------------------------------- attacks


@dataclass
class Finding:
    """What an attack recovered: withheld cells and their exact values."""

    recovered: dict[Cell, int]
    bounds: dict[Cell, tuple[float, float]]
    dropped: list[str]
    shown: list[str]

    def lines(self) -> list[str]:
        found = sorted(self.recovered.items(), key=lambda x: describe(x[0]))
        return [f"{describe(c)} = {v}" for c, v in found] + list(self.shown)


FAMILIES = ("within", "across", "rates", "km", "duplicates", "releases")


def attack(
    *pubs: Published,
    namespaces: Iterable[str] | None = None,
    families: Iterable[str] | None = None,
) -> Finding:
    """What the publications give away together, solved at once.

    ``families`` switches attacks on (default: all of :data:`FAMILIES`):
    ``within`` subtraction inside a table (totals, row identities, nested counts),
    ``across`` links between tables, ``rates`` rate x base, ``km`` survival
    tables and at-risk rows, ``duplicates`` the same number printed elsewhere
    (outcomes.json, run.json, HTML, figures, log), ``releases`` coarser
    groupings against finer ones.
    """
    att = Attacker(families)
    nss = list(namespaces) if namespaces is not None else [""] * len(pubs)
    for pub, ns in zip(pubs, nss, strict=True):
        att.add(pub, ns)
    system = att.finish()
    bounds = system.solve()
    return Finding(system.disclosed(bounds), bounds, system.dropped, system.shown)


# --------------------------------------------------------------------------- the truth


def true_counts(export: str | Path, groupings: Iterable[str]) -> dict[tuple, int]:
    """Counts an outsider can take from the export itself, keyed like the attacker's cells.

    Only the plainest definitions (referred, assessed, eligible, started by
    grouping, and the reasons for exclusion at assessment): enough to tell a real
    recovery from an attacker's modelling error.
    """
    import pandas as pd

    people = pd.read_csv(Path(export) / "participants.csv", dtype=str, keep_default_na=False)
    people = people[people["group"] == "programme"]
    flags = {
        "n_referred": pd.Series(True, index=people.index),
        "n_assessed": people["assessed"].str.lower() == "true",
        "n_eligible": people["eligible"].str.lower() == "true",
        "n_started": people["start_date"] != "",
    }
    groupings = [g for g in groupings if g in people.columns]
    out: dict[tuple, int] = {}
    subsets = [groupings[:i] for i in range(len(groupings) + 1)]
    for sub in subsets:
        keys = (
            people[sub].astype(str).agg("|".join, axis=1)
            if sub
            else pd.Series("", index=people.index)
        )
        for value in keys.unique():
            mask = keys == value
            con = frozenset(zip(sub, value.split("|"), strict=True)) if sub else frozenset()
            for col, flag in flags.items():
                out[("engagement", col, con)] = int((flag & mask).sum())
    reasons = people.loc[flags["n_assessed"], "exclusion_reason"]
    for reason, n in reasons[reasons != ""].value_counts().items():
        out[(FLOW_TABLE, "assessed", frozenset({("reason", reason)}))] = int(n)
    return out


def wrong_recoveries(found: Finding, truth: Mapping[tuple, int]) -> list[str]:
    """Recoveries that contradict the export: the attacker's model is wrong there."""
    bad = []
    for cell, value in found.recovered.items():
        _ns, table, column, con = cell
        true = truth.get((table, column, con))
        if true is not None and true != value:
            bad.append(f"{describe(cell)}: recovered {value}, true {true}")
    return bad


# --------------------------------------------------------------------------- releases


def attack_batch(index_html: str, pubs: Mapping[str, Published]) -> Finding:
    """The batch index page read together with each export's own report."""
    tables, _ = html_tables(index_html)
    att = Attacker()
    for rows in tables:
        if len(rows) < 2:
            continue
        header = rows[0]
        for row in rows[1:]:
            pub = pubs.get(row[0])
            if pub is not None:
                att.add(pub, row[0])
                att.add_index_row(row[0], dict(zip(header, row, strict=False)), pub)
    system = att.finish()
    bounds = system.solve()
    return Finding(system.disclosed(bounds), bounds, system.dropped, system.shown)


# person-level counts: one person adds 0 or 1 to each (not rows of the export, not
# the matched sample, which a removal can reshuffle)
NOT_PERSON_LEVEL = ("rows", "match_counts", "matched_effect")


@dataclass
class Difference:
    """What two releases, with and without one person, say about that person."""

    pinned: dict[Cell, int]
    withheld: set[Cell]

    def about_withheld(self) -> dict[Cell, int]:
        """Differences that involve a count one of the releases withholds."""
        return {c: v for c, v in self.pinned.items() if c in self.withheld}

    def lines(self) -> list[str]:
        return [
            f"{describe(c)}: {'in' if v else 'not in'}{' (withheld)' if c in self.withheld else ''}"
            for c, v in sorted(self.pinned.items(), key=lambda x: describe(x[0]))
        ]


def attack_one_removed(full: Published, less: Published) -> Difference:
    """Pin, for every count, whether the removed person is in it (0 or 1)."""
    att = Attacker()
    att.add(full, "full")
    att.add(less, "less")
    s = att.finish()
    s.current = "releases"
    diffs: dict[Cell, Cell] = {}
    for cell in list(s.bounds):
        ns, table, column, key = cell
        if ns != "full" or table in NOT_PERSON_LEVEL or not is_count_column(table, column):
            continue
        other = ("less", table, column, key)
        if other not in s.bounds:
            continue
        d = s.var(("diff", table, column, key))
        s.narrow(d, 0, 1)
        s.add({cell: 1, other: -1, d: -1}, 0, 0, f"{describe(cell)}: one person at most")
        diffs[cell] = d
    bounds = s.solve(list(diffs.values()))
    pinned = exact(bounds)
    withheld = {c for c, d in diffs.items() if c in s.withheld or ("less", *c[1:]) in s.withheld}
    return Difference({c: pinned[d] for c, d in diffs.items() if d in pinned}, withheld)


def remove_participant(export: Path, out: Path, participant_id: str) -> Path:
    """A copy of a CSV export without one participant (every table, same bytes otherwise)."""
    out.mkdir(parents=True, exist_ok=True)
    for path in export.iterdir():
        if path.suffix != ".csv":
            (out / path.name).write_bytes(path.read_bytes())
            continue
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [lines[0]] + [ln for ln in lines[1:] if ln.split(",", 1)[0] != participant_id]
        (out / path.name).write_text("".join(kept), encoding="utf-8")
    return out
