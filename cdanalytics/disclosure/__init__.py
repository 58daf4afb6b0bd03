"""Statistical disclosure control: the one gate every published number passes.

:mod:`.suppression` holds the policy, primary and complementary suppression,
protected statistics, rounding and the recoverability check. :mod:`.cellkey`
and :mod:`.ptable` hold the cell key method, a perturbative option whose noise
stays the same across releases for the same people.
"""

from __future__ import annotations

from .cellkey import CellKeyPolicy, cell_keys, perturb_counts, perturbed_table, record_keys
from .ptable import PerturbationTable
from .suppression import (
    DisclosurePolicy,
    SuppressedTable,
    check_recoverable,
    find_disclosive,
    protect_frame,
    protect_statistics,
    suppress_counts,
)

__all__ = [
    "CellKeyPolicy",
    "DisclosurePolicy",
    "PerturbationTable",
    "SuppressedTable",
    "cell_keys",
    "check_recoverable",
    "find_disclosive",
    "perturb_counts",
    "perturbed_table",
    "protect_frame",
    "protect_statistics",
    "record_keys",
    "suppress_counts",
]
