"""The in-memory form of a validated case export."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..registry import Registries

__all__ = ["ALL_TABLES", "PRACTICE_TABLES", "TABLES", "Export", "Manifest"]

#: Tables of an export, in the order they are loaded and validated.
TABLES: tuple[str, ...] = ("participants", "sessions", "measures", "events")

#: Optional tables of practice audits (Safe & Together), keyed by case, not by participant.
PRACTICE_TABLES: tuple[str, ...] = ("case_audits", "family_outcomes")

#: Every table an export may hold: :data:`TABLES` then :data:`PRACTICE_TABLES`.
ALL_TABLES: tuple[str, ...] = TABLES + PRACTICE_TABLES


@dataclass(frozen=True)
class Manifest:
    """Contents of ``manifest.json``.

    Attributes
    ----------
    extract_date
        End of observation for every analysis.
    schema_version
        Version of the export contract (currently 1).
    source_system, description
        Free text from the exporting site.
    """

    extract_date: pd.Timestamp
    schema_version: int = 1
    source_system: str | None = None
    description: str | None = None


@dataclass
class Export:
    """A loaded, validated export: four tables and a manifest.

    Column types follow ``data/schemas/``: dates are ``datetime64``
    (normalised to midnight), enumerated columns are ``category``, counts are
    nullable ``Int64``, booleans nullable ``boolean``, identifiers ``str``.
    Optional tables absent from the export are empty frames with the
    contract's columns.

    Attributes
    ----------
    participants, sessions, measures, events
        The accepted rows of each table.
    case_audits, family_outcomes
        The accepted rows of the optional practice tables (case-file audit
        readings in long form, family outcomes per case and period); empty
        when the export has none (see :attr:`has_audits`).
    manifest
        The export's manifest.
    report
        The :class:`~cdanalytics.io.validation.ValidationReport` of the load
        (rows read, accepted and quarantined per table, and every problem),
        or ``None`` for an export built in memory.
    source
        Folder or workbook the export was read from.
    registries
        The programme, instrument and audit-tool registries of this
        evaluation (:class:`~cdanalytics.registry.Registries`), merged once
        by :func:`~cdanalytics.load_export` with the site's overrides; the
        built-in registries for an export built in memory. The analyses read
        them from here.
    """

    participants: pd.DataFrame
    sessions: pd.DataFrame
    measures: pd.DataFrame
    events: pd.DataFrame
    manifest: Manifest
    report: Any = None
    source: Path | None = None
    quarantine: dict[str, pd.DataFrame] = field(default_factory=dict)
    case_audits: pd.DataFrame = field(default_factory=pd.DataFrame)
    family_outcomes: pd.DataFrame = field(default_factory=pd.DataFrame)
    registries: Registries = field(default_factory=Registries)

    @property
    def has_audits(self) -> bool:
        """Whether the export carries case-file audit readings (accepted rows)."""
        return len(self.case_audits) > 0

    @property
    def extract_date(self) -> pd.Timestamp:
        """End of observation (the manifest's ``extract_date``)."""
        return self.manifest.extract_date

    def table(self, name: str) -> pd.DataFrame:
        """One table by name."""
        return getattr(self, name)

    def __repr__(self) -> str:
        """Shape and key figures, never the tables: ``<cdanalytics.Export: 2,000 ...>``."""
        people = self.participants
        groups = ""
        if "group" in people.columns:
            counts = people["group"].value_counts(sort=True).head(3)
            groups = " (" + ", ".join(f"{n:,} {str(g)[:20]}" for g, n in counts.items()) + ")"
        shapes = ", ".join(
            f"{name} {len(frame):,}x{frame.shape[1]}"
            for name in ALL_TABLES
            if len(frame := getattr(self, name)) or name in TABLES
        )
        held = sum(len(frame) for frame in self.quarantine.values())
        quarantined = f"; {held:,} rows quarantined" if held else ""
        source = f"; from {self.source.name[:40]}" if self.source is not None else ""
        extract = pd.Timestamp(self.extract_date).date().isoformat()
        return (
            f"<cdanalytics.Export: {len(people):,} participants{groups}, extract {extract};"
            f" tables {shapes}{quarantined}{source}>"
        )
