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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from cdanalytics.errors import ConfigError

from .cellkey import DEFAULT_SECRET_ENV, CellKeyPolicy

__all__ = ["CELL_KEY_SETTINGS", "METHODS", "MIN_THRESHOLD", "ROUNDING_BASES", "DisclosurePolicy"]

MIN_THRESHOLD = 3
ROUNDING_BASES = (5,)
METHODS = ("suppression", "rounding", "cell_key")
#: Settings under ``disclosure:`` that configure the cell key method.
CELL_KEY_SETTINGS = ("D", "V", "js", "key_file", "secret_env")


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
        ``round_to``, default 5) or ``"cell_key"`` (every count perturbed
        with noise that is the same for the same cell and count in every
        release; no secondary suppression; see ``docs/disclosure.md``).
    cell_key
        The cell key parameters (:class:`~cdanalytics.disclosure.CellKeyPolicy`:
        ``D``, ``V``, ``js``, where the secret is read); defaults to
        ``CellKeyPolicy()`` under ``method="cell_key"``, ignored otherwise.

    Raises
    ------
    ConfigError
        If the threshold is not an integer of at least 3, ``round_to`` is not
        ``None`` or 5, ``round_to`` is combined with the cell key method, or
        rounding would publish a count at the threshold as a number below it
        (thresholds 6, 7, 11, 12, ... with ``round_to=5``).
    """

    threshold: int = 10
    round_to: int | None = None
    suppress_zeros: bool = False
    label: str = ""
    withheld_label: str = "[c]"
    method: str = "suppression"
    cell_key: CellKeyPolicy | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"disclosure method must be one of {METHODS}, got {self.method!r}.")
        if self.method == "cell_key":
            if self.round_to is not None:
                raise ConfigError(
                    "round_to cannot be combined with method 'cell_key': the noise replaces "
                    "rounding."
                )
            if self.cell_key is None:
                object.__setattr__(self, "cell_key", CellKeyPolicy())
            elif not isinstance(self.cell_key, CellKeyPolicy):
                raise ConfigError("cell_key must be a CellKeyPolicy.")
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

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> DisclosurePolicy:
        """The policy of a config's ``disclosure:`` section.

        The cell key settings (:data:`CELL_KEY_SETTINGS`: ``D``, ``V``, ``js``,
        ``key_file``, ``secret_env``) go to :class:`CellKeyPolicy`; they are
        refused unless ``method`` is ``"cell_key"``.

        Raises
        ------
        ConfigError
            On a bad value, naming the key.
        """
        section = dict(section)
        settings = {k: section.pop(k) for k in CELL_KEY_SETTINGS if k in section}
        if settings and section.get("method") != "cell_key":
            raise ConfigError(f"{', '.join(sorted(settings))} only apply with method: cell_key.")
        cell_key = None
        if section.get("method") == "cell_key":
            try:
                cell_key = CellKeyPolicy(**settings)
            except ConfigError as exc:
                keys = ", ".join(sorted(settings)) or "D, V, js"
                raise ConfigError(f"cell key settings ({keys}): {exc}") from exc
        return cls(**section, cell_key=cell_key)

    def secret(self) -> bytes:
        """The cell key secret, read now (method ``"cell_key"`` only).

        Raises
        ------
        ConfigError
            When it is not set or too short, saying how to set it; the
            message never contains the secret.
        """
        if self.cell_key is None:
            raise ConfigError("only the cell key method uses a secret")
        try:
            return self.cell_key.secret()
        except ConfigError as exc:
            env = self.cell_key.secret_env or DEFAULT_SECRET_ENV
            where = "too short" if "bytes" in str(exc) else "not set"
            raise ConfigError(
                "disclosure method 'cell_key' needs a site secret of at least 16 bytes: set "
                f"the environment variable {env} (for example to the output of "
                'python -c "import secrets; print(secrets.token_hex(32))"), or give '
                f"disclosure.key_file in the config, and keep it the same for every release "
                f"(it is {where})."
            ) from None

    @property
    def additive(self) -> bool:
        """Whether published parts add up to published totals (not under the cell key method).

        Under ``"cell_key"`` every count has its own noise, so consistency
        checks (exits add up to the drop of the flow, nested counts, rows =
        accepted + quarantined) must accept totals that differ from the sum
        of their parts.
        """
        return self.method != "cell_key"

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
