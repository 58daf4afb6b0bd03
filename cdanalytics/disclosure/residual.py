"""Residual categories: merge small categories into "other" rather than withhold.

A breakdown (the reasons people left at one step of the flow) is shown as the
categories a table publishes plus "other reasons", the rest of the known
total. "Other" is a difference of published numbers, so it discloses nothing
new, except when it is itself a small count (then a reader learns that a
small number of people left for an unlisted reason) or, with rounding, when
the rounded categories exceed the rounded total. Rather than withhold the
total (a headline figure), the smallest shown categories are merged into
"other" until it is zero or at least the threshold (Hundepool et al. 2012,
§5.3: global recoding, combining categories, before suppression).

References
----------
Hundepool, A. et al. (2012). Statistical Disclosure Control. Wiley, §5.3.
"""

from __future__ import annotations

from collections.abc import Mapping

from .policy import DisclosurePolicy

__all__ = ["merge_residual"]


def merge_residual(
    total: int, parts: Mapping[str, int], policy: DisclosurePolicy, other: str = "other"
) -> dict[str, int]:
    """The parts to show of a published total, with a safe residual category.

    Parameters
    ----------
    total
        The published total (as published: rounded if the policy rounds).
    parts
        Published categories of that total (withheld ones left out).
    policy
        The threshold.
    other
        Name of the residual category.

    Returns
    -------
    dict
        Categories to show, each non-zero, adding up to ``total``; the
        residual (if non-zero) under ``other``, never below the threshold
        and never negative. Under the cell key method there is no residual:
        it would be a difference of perturbed counts, not a perturbed cell
        (its noise the sum of several), so only the parts are shown and
        they need not add up to ``total``.
    """
    shown = {name: int(n) for name, n in parts.items() if n}
    if not policy.additive:
        return shown
    rest = int(total) - sum(shown.values())
    while shown and (rest < 0 or policy.is_small([rest])[0]):
        smallest = min(shown, key=shown.get)
        rest += shown.pop(smallest)
    return {**shown, **({other: rest} if rest else {})}
