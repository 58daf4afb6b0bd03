"""The attacks: one report, several releases, the batch index; and the truth to check them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .published import FLOW_TABLE, Cell, Published, html_tables, is_count_column
from .system import describe, exact
from .tables import Attacker

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
NOT_PERSON_LEVEL = (
    "rows",
    "match_counts",
    "matched_effect",
    "matched_coverage",
    "matched_comparisons",
)


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
