"""Statistical disclosure control: the one gate every published number passes.

- :mod:`.policy`: the policy (threshold, rounding, markers, method); the only
  place that says whether a count is small;
- :mod:`.suppression`: primary and complementary suppression of one table,
  protected statistics, rounding, markers;
- :mod:`.linked`: tables that count the same people, protected together,
  the most important counts published first (secondary suppression by cost);
- :mod:`.residual`: small categories merged into "other" rather than withheld;
- :mod:`.survival`: survival curves drawn in steps of at least the threshold
  number of events;
- :mod:`.audit`: the attacker's recoverability audit (subtraction, rate x base);
- :mod:`.cellkey` and :mod:`.ptable`: the cell key method, a perturbative option
  whose noise stays the same across releases for the same people;
- :mod:`.cellnoise`: the cell key method at the gate (``method="cell_key"``),
  keyed on each cell's identity and true count, as the report uses it.

``docs/disclosure.md`` describes the whole and which attacks each method stops.
"""

from __future__ import annotations

from .audit import check_recoverable, find_disclosive, numerators_from_rates
from .cellkey import CellKeyPolicy, cell_keys, perturb_counts, perturbed_table, record_keys
from .cellnoise import cell_identity_keys, perturb_frame, protect_perturbed, rates_from_counts
from .linked import LinkedDecision, Reader, protect_linked
from .policy import METHODS, DisclosurePolicy
from .protected import SuppressedTable, round_counts
from .ptable import PerturbationTable
from .residual import merge_residual
from .suppression import protect_frame, protect_statistics, suppress_counts
from .survival import coarsen_steps

__all__ = [
    "METHODS",
    "CellKeyPolicy",
    "DisclosurePolicy",
    "LinkedDecision",
    "PerturbationTable",
    "Reader",
    "SuppressedTable",
    "cell_identity_keys",
    "cell_keys",
    "check_recoverable",
    "coarsen_steps",
    "find_disclosive",
    "merge_residual",
    "numerators_from_rates",
    "perturb_counts",
    "perturb_frame",
    "perturbed_table",
    "protect_frame",
    "protect_linked",
    "protect_perturbed",
    "protect_statistics",
    "rates_from_counts",
    "record_keys",
    "round_counts",
    "suppress_counts",
]
