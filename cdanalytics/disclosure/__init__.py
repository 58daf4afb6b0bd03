"""Statistical disclosure control: the one gate every published number passes.

:mod:`.suppression` holds the policy, primary and complementary suppression,
protected statistics, rounding and the recoverability check.
"""

from __future__ import annotations

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
    "DisclosurePolicy",
    "SuppressedTable",
    "check_recoverable",
    "find_disclosive",
    "protect_frame",
    "protect_statistics",
    "suppress_counts",
]
