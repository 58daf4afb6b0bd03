"""Statistical disclosure control: the one gate every published number passes.

:mod:`.suppression` holds the policy, primary and complementary suppression,
protected statistics, rounding and the recoverability check; :mod:`.linked`
protects linked tables together, publishing the most important counts first.
"""

from __future__ import annotations

from .linked import LinkedDecision, Reader, protect_linked
from .residual import merge_residual
from .suppression import (
    DisclosurePolicy,
    SuppressedTable,
    check_recoverable,
    find_disclosive,
    protect_frame,
    protect_statistics,
    round_counts,
    suppress_counts,
)
from .survival import coarsen_steps

__all__ = [
    "DisclosurePolicy",
    "LinkedDecision",
    "Reader",
    "SuppressedTable",
    "check_recoverable",
    "coarsen_steps",
    "find_disclosive",
    "merge_residual",
    "protect_frame",
    "protect_linked",
    "protect_statistics",
    "round_counts",
    "suppress_counts",
]
