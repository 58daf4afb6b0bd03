"""The attacker's constraints over true counts and their solver."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csr_array

from .published import Cell, is_withheld, marker_bound, parse_number

BIG = 10**9


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
    ratio_noise: int = 0
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
        # under noise the printed rate is (num + e) / (base + f) with |e|, |f| <= D:
        # num - r * base lies within D * (1 + r) of the rounding interval
        slack = self.ratio_noise * (1 + r + h)
        self.add({num: 1.0, base: -(r - h)}, -slack, math.inf, what + " (low)", checked=True)
        self.add({num: 1.0, base: -(r + h)}, -math.inf, slack, what + " (high)", checked=True)

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
        made: dict[Cell, _Group] = {}  # each group's system, built once for all its targets
        for cell in targets if targets is not None else list(self.withheld):
            if cell in pinned:
                out[cell] = (pinned[cell], pinned[cell])
            elif cell not in parent:
                out[cell] = (self.bounds[cell][0], self.bounds[cell][1])
            else:
                key = root(cell)
                if key not in made:
                    made[key] = _Group([reduced[i] for i in groups[key]], self)
                out[cell] = made[key].solve(cell)
        return out


class _Group:
    """One group of linked counts as a linear system, solved for one target at a time:
    the linear relaxation first, then the integer programme where the relaxation
    leaves at most three integers (the only place it can pin a value). The
    matrices are sparse and made once (the solvers would convert dense ones on
    every call)."""

    def __init__(self, rels: list[tuple[dict, float, float]], system: System) -> None:
        cells = sorted({c for free, _, _ in rels for c in free}, key=repr)
        self.index = {c: i for i, c in enumerate(cells)}
        a = np.zeros((len(rels), len(cells)))
        lo = np.array([r[1] for r in rels], dtype=float)
        hi = np.array([r[2] for r in rels], dtype=float)
        for i, (free, _, _) in enumerate(rels):
            for c, v in free.items():
                a[i, self.index[c]] = v
        self.lb = np.array([system.bounds[c][0] for c in cells])
        self.ub = np.array([system.bounds[c][1] for c in cells])
        eq = lo == hi
        b_ub = np.concatenate([hi[~eq & np.isfinite(hi)], -lo[~eq & np.isfinite(lo)]])
        a_ub = np.vstack([a[~eq & np.isfinite(hi)], -a[~eq & np.isfinite(lo)]])
        self.inequalities = (csr_array(a_ub), b_ub) if len(b_ub) else (None, None)
        self.equalities = (csr_array(a[eq]), lo[eq]) if eq.any() else (None, None)
        self.bound_pairs = list(zip(self.lb, self.ub, strict=True))
        self.integer = system.integer
        self.integrality = np.array([1 if c in system.integer else 0 for c in cells])
        self.constraint = LinearConstraint(csr_array(a), lo, hi)

    def _relaxed(self, cost):
        return linprog(
            cost,
            A_ub=self.inequalities[0],
            b_ub=self.inequalities[1],
            A_eq=self.equalities[0],
            b_eq=self.equalities[1],
            bounds=self.bound_pairs,
            method="highs",
        )

    def _integer(self, cost):
        return milp(
            cost,
            constraints=self.constraint,
            integrality=self.integrality,
            bounds=Bounds(self.lb, self.ub),
            options={"time_limit": 20},
        )

    def solve(self, target: Cell) -> tuple[float, float]:
        """Smallest and largest value of ``target`` consistent with the group."""
        n, at = len(self.index), self.index[target]
        low, high = _extremes(self._relaxed, n, at, (-math.inf, math.inf))
        if target not in self.integer or math.floor(high + 1e-6) - math.ceil(low - 1e-6) > 2:
            return low, high
        return _extremes(self._integer, n, at, (low, high))


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
