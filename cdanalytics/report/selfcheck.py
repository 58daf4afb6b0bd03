"""The report's last look at what it is about to publish."""

from __future__ import annotations

from collections.abc import Mapping

from ..disclosure import DisclosurePolicy, find_disclosive, numerators_from_rates
from ..errors import AnalysisError
from .published import PublishedTable

__all__ = ["self_check"]


def self_check(published: Mapping[str, PublishedTable], policy: DisclosurePolicy) -> None:
    """Refuse to write a report in which a count below the threshold survived."""
    for name, table in published.items():
        counts = [
            c
            for c in table.published.columns
            if c.startswith(("n_", "rows_")) or c in _pivot_columns(table)
        ]
        leaks = find_disclosive(table.published, policy, counts)
        if len(leaks):
            raise AnalysisError(
                f"Disclosure self-check failed: table {name!r} would publish counts below "
                f"{policy.threshold} ({len(leaks)} cells). This is a bug; please report it."
            )
        for rate, numerator in _point_rates(table):
            base = table.spec.bases[rate]
            scale = 100.0 if rate == "per_100" or rate.endswith("_pct") else 1.0
            found = numerators_from_rates(table.published, rate, base, scale=scale)
            if (found.notna() & table.protected.mask[numerator]).to_numpy().any():
                raise AnalysisError(
                    f"Disclosure self-check failed: table {name!r} publishes {rate!r} with its "
                    f"base, which gives away a withheld {numerator!r}. This is a bug; please "
                    "report it."
                )


def _point_rates(table: PublishedTable) -> list[tuple[str, str]]:
    """(rate, numerator) pairs of a table whose rate, base and numerator it shows."""
    columns = table.published.columns
    return [
        (rate, numerator)
        for rate, numerator in table.spec.numerators.items()
        if "ci_" not in rate
        and rate in columns
        and numerator in columns
        and table.spec.bases.get(rate) in columns
    ]


def _pivot_columns(table: PublishedTable) -> list[str]:
    return table.value_columns if table.spec.pivot else []
