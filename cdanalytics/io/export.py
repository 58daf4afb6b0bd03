"""The in-memory form of a validated case export."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._lookup import rows_in
from ..errors import ExportValidationError
from ..registry import Registries

__all__ = [
    "ALL_TABLES",
    "FAMILY_TABLES",
    "OPTIONAL_TABLES",
    "PRACTICE_TABLES",
    "TABLES",
    "Export",
    "Manifest",
]

#: Tables of an export, in the order they are loaded and validated.
TABLES: tuple[str, ...] = ("participants", "sessions", "measures", "events")

#: Optional tables about the people around the man (partner and children's services),
#: keyed by participant like sessions: a row of a quarantined participant is quarantined.
FAMILY_TABLES: tuple[str, ...] = ("services",)

#: Optional tables of practice audits (Safe & Together), keyed by case, not by participant.
PRACTICE_TABLES: tuple[str, ...] = ("case_audits", "family_outcomes")

#: Tables an export may leave out without a note: not listed in the report when absent.
OPTIONAL_TABLES: tuple[str, ...] = FAMILY_TABLES + PRACTICE_TABLES

#: Every table an export may hold: :data:`TABLES`, :data:`FAMILY_TABLES`, :data:`PRACTICE_TABLES`.
ALL_TABLES: tuple[str, ...] = TABLES + FAMILY_TABLES + PRACTICE_TABLES


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
    services
        The accepted rows of the optional ``services`` table (partner and
        children's services, one row per participant and service); empty
        when the export has none (see :attr:`has_services`).
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
    services: pd.DataFrame = field(default_factory=pd.DataFrame)
    case_audits: pd.DataFrame = field(default_factory=pd.DataFrame)
    family_outcomes: pd.DataFrame = field(default_factory=pd.DataFrame)
    registries: Registries = field(default_factory=Registries)
    # participant_rows' results: table name -> (table, participants, rows)
    _participant_rows: dict[str, tuple[pd.DataFrame, pd.DataFrame, np.ndarray]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def has_audits(self) -> bool:
        """Whether the export carries case-file audit readings (accepted rows)."""
        return len(self.case_audits) > 0

    @property
    def has_services(self) -> bool:
        """Whether the export carries partner or children's service rows (accepted rows)."""
        return len(self.services) > 0

    @property
    def extract_date(self) -> pd.Timestamp:
        """End of observation (the manifest's ``extract_date``)."""
        return self.manifest.extract_date

    def table(self, name: str) -> pd.DataFrame:
        """One table by name."""
        return getattr(self, name)

    def participant_rows(self, table: str) -> np.ndarray:
        """Row of ``participants`` of each row's ``participant_id`` in ``table``
        (-1: none), as an int32 array: the one hash of the identifiers the
        analyses that join a table to participants share.

        :func:`~cdanalytics.io.load.load_export` fills it from the
        validation's own lookup, so no analysis hashes the identifiers
        again; for an export built in memory it is computed on first use
        (one Arrow hash lookup) and kept while the two tables are the same
        objects (replace a table rather than edit it in place).

        Raises
        ------
        ExportValidationError
            ``participants`` has missing or duplicate ``participant_id`` values.
        """
        frame, participants = self.table(table), self.participants
        cached = self._participant_rows.get(table)
        if cached is not None and cached[0] is frame and cached[1] is participants:
            return cached[2]
        known = pa.array(participants["participant_id"], from_pandas=True)
        if known.null_count:
            raise ExportValidationError(
                f"participants has {known.null_count} missing participant_id value(s)."
            )
        # one hash pass: pc.unique takes a quarter of pc.count_distinct's time on
        # 20,000 identifiers
        if len(pc.unique(known)) != len(known):
            raise ExportValidationError("participants has duplicate participant_id values.")
        rows = rows_in(participants["participant_id"], frame["participant_id"], np.int32)
        self.remember_participant_rows(table, rows)
        return rows

    def remember_participant_rows(self, table: str, rows: np.ndarray) -> None:
        """Keep ``rows`` as :meth:`participant_rows` of ``table`` (for the
        loader, which has them from validation)."""
        self._participant_rows[table] = (self.table(table), self.participants, rows)

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
