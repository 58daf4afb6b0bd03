"""Numbers a report prints again outside its tables: JSON, HTML, figures, log, index."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .published import (
    FLOW_TABLE,
    STAGES,
    TOTAL,
    Cell,
    Published,
    Table,
    _constraint,
    _months,
    html_tables,
    is_count_column,
    is_withheld,
    parse_number,
)
from .system import System, describe


class Channels:
    """The attacker's readers of every place a count is printed again (a mixin)."""

    system: System

    def cell(self, ns: str, table: str, column: str, key: Mapping[str, str] | frozenset) -> Cell:
        raise NotImplementedError

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
            r = pub.noise  # bars drawn from noisy published counts
            for k, v in counts.items():
                cell = self.cell(ns, t.name, k, con)
                if abs(v - round(v)) < 1e-3:
                    # a whole count drawn again: published as the table is (rounded or noisy
                    # counts keep their slack; treating it as exact would be the attacker's error)
                    s.publish(cell, str(round(v)), pub.round_to, pub.noise)
                else:
                    s.narrow(cell, math.floor(v + 1e-3) - r, math.ceil(v - 1e-3) + r)

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


def programme_names() -> dict[str, str]:
    """Display name -> code, from the programme registry (data, not code)."""
    path = Path(__file__).resolve().parents[2] / "cdanalytics" / "registries" / "programmes.yaml"
    reg = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = {}
    for code, entry in reg.items():
        for name in (entry.get("name") or {}).values():
            out[name] = code
    return out
