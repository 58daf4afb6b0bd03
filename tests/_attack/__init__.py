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

from .attacks import (
    FAMILIES,
    Difference,
    Finding,
    attack,
    attack_batch,
    attack_one_removed,
    remove_participant,
    true_counts,
    wrong_recoveries,
)
from .published import (
    Published,
    html_tables,
    is_count_column,
    is_withheld,
    parse_number,
    read_published,
    svg_bars,
    svg_texts,
)
from .system import System, describe, exact
from .tables import Attacker

__all__ = [
    "FAMILIES",
    "Attacker",
    "Difference",
    "Finding",
    "Published",
    "System",
    "attack",
    "attack_batch",
    "attack_one_removed",
    "describe",
    "exact",
    "html_tables",
    "is_count_column",
    "is_withheld",
    "parse_number",
    "read_published",
    "remove_participant",
    "svg_bars",
    "svg_texts",
    "true_counts",
    "wrong_recoveries",
]
