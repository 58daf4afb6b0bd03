"""The attacker's builder: relations within and across the tables of a report."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping

from .channels import Channels
from .published import (
    FLOW_TABLE,
    ROW_SUMS,
    STAGES,
    TOTAL,
    Published,
    Table,
    _constraint,
    is_count_column,
    parse_number,
)
from .system import Cell, System


class Attacker(Channels):
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
        s.ratio_noise = pub.noise  # rates computed from noisy counts relate noisy counts
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
        cov, mcs = tabs.get("matched_coverage"), tabs.get("matched_comparisons")
        for row in [] if cov is None else cov.rows:
            con = _constraint(cov.key_of(row))
            if mcs is not None and "n_matched" in mcs.columns:
                s.equal(
                    self.cell(ns, "matched_coverage", "n_matched", con),
                    [self.cell(ns, "matched_comparisons", "n_matched", con)],
                    "matched programme people, counted twice",
                )
            if fw is not None and row.get("analysis") == "all_starters" and "group" in fw.keys:
                fcon = frozenset({("group", "programme"), ("programme", row["programme"])})
                if any(_constraint(fw.key_of(r)) == fcon for r in fw.rows):
                    s.equal(
                        self.cell(ns, "matched_coverage", "n_treated", con),
                        [self.cell(ns, "fixed_window", "n_eligible", fcon)],
                        "starters matched for intention to treat = eligible cohort",
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
