"""The disclosure policy: threshold, rounding, markers and method.

Every decision of the form "is this count small?" and every marker
(``<10``, ``[c]``) comes from :class:`DisclosurePolicy`; nothing outside
:mod:`cdanalytics.disclosure` compares a count with the threshold.

References
----------
Government Statistical Service (2021). Symbols in tables: ``[c]`` confidential.
OECD (2003). Minimum cell size of 3 (the floor enforced here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cdanalytics.errors import ConfigError

__all__ = ["METHODS", "MIN_THRESHOLD", "ROUNDING_BASES", "DisclosurePolicy"]

MIN_THRESHOLD = 3
ROUNDING_BASES = (5,)
METHODS = ("suppression", "rounding", "cell_key")


@dataclass(frozen=True)
class DisclosurePolicy:
    """How much the published tables are protected.

    Parameters
    ----------
    threshold
        Counts ``0 < n < threshold`` are withheld, and so is every statistic
        on a base below it. Default 10 (UK secure-data convention); never
        below 3 (OECD floor).
    round_to
        ``None`` (no rounding) or 5: round every published count to the
        nearest multiple of 5 after suppression (totals independently, so they
        need not add up).
    suppress_zeros
        Also withhold zero counts. Default ``False``: a zero is shown, as in
        UK practice, because it discloses nothing about a person by itself.
    label
        Text shown for a withheld small count; empty (the default) means
        ``"<{threshold}"``.
    withheld_label
        Text shown for complementary cells and withheld statistics; default
        ``"[c]"``.
    method
        ``"suppression"`` (default: primary and secondary suppression),
        ``"rounding"`` (suppression, then every published count rounded to
        ``round_to``, default 5) or ``"cell_key"`` (perturbation consistent
        across releases; see ``docs/disclosure.md``, not wired into the report
        yet, so it is refused rather than silently replaced).

    Raises
    ------
    ConfigError
        If the threshold is not an integer of at least 3, ``round_to`` is not
        ``None`` or 5, or rounding would publish a count at the threshold as a
        number below it (thresholds 6, 7, 11, 12, ... with ``round_to=5``).
    """

    threshold: int = 10
    round_to: int | None = None
    suppress_zeros: bool = False
    label: str = ""
    withheld_label: str = "[c]"
    method: str = "suppression"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"disclosure method must be one of {METHODS}, got {self.method!r}.")
        if self.method == "cell_key":
            raise ConfigError(
                "the cell-key method is not available in this version of the report; use "
                "'suppression' or 'rounding'."
            )
        if self.method == "rounding" and self.round_to is None:
            object.__setattr__(self, "round_to", ROUNDING_BASES[0])
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int | np.integer):
            raise ConfigError(
                f"disclosure threshold must be a whole number, got {self.threshold!r}."
            )
        if self.threshold < MIN_THRESHOLD:
            raise ConfigError(
                f"disclosure threshold is {self.threshold}; it can never be below "
                f"{MIN_THRESHOLD} (OECD floor)."
            )
        if self.round_to is not None and self.round_to not in ROUNDING_BASES:
            raise ConfigError(
                f"round_to must be None or one of {ROUNDING_BASES}, got {self.round_to!r}."
            )
        if self.round_to is not None and self.threshold % self.round_to in (1, 2):
            shown = self.threshold - self.threshold % self.round_to
            raise ConfigError(
                f"with round_to={self.round_to} a count of {self.threshold} would be "
                f"published as {shown}, below the threshold; use a threshold that rounds "
                f"to itself or up (for example 10)."
            )
        if not self.label:
            object.__setattr__(self, "label", f"<{self.threshold}")

    def marker(self, reason: str) -> str:
        """The marker shown for a cell withheld for ``reason`` (``"primary"``/``"secondary"``)."""
        return self.label if reason == "primary" else self.withheld_label

    def explain(self, reason: str) -> str:
        """A sentence saying why a cell is withheld, for ``outcomes.json`` and footnotes."""
        if reason == "primary":
            return (
                f"{self.label}: fewer than {self.threshold} people or events (primary suppression)"
            )
        return (
            f"{self.withheld_label}: withheld so that a count below {self.threshold} cannot be "
            "worked out from other published numbers (secondary suppression), or a statistic "
            f"resting on a withheld count or on fewer than {self.threshold} people"
        )

    def publish_count(self, n: int) -> int | str:
        """A lone count as published: rounded if the policy rounds, its marker if small.

        For a count that no table links to (for example the number of
        exit-status findings in a sentence).
        """
        if self.is_small(np.array([n]))[0]:
            return self.label
        return int(
            n
            if self.round_to is None
            else (n + self.round_to // 2) // self.round_to * self.round_to
        )

    def enough(self, *counts: float) -> bool:
        """Whether a model resting on these counts (people, events) may be published.

        A hazard ratio or any model summary is shown only when every group and
        every event count it rests on is at least the threshold.
        """
        return bool(np.all(np.asarray(counts, dtype=float) >= self.threshold))

    def is_small(self, counts: np.ndarray) -> np.ndarray:
        """Boolean array: which counts must be withheld (primary suppression)."""
        counts = np.asarray(counts)
        small = (counts > 0) & (counts < self.threshold)
        return small | (counts == 0) if self.suppress_zeros else small
