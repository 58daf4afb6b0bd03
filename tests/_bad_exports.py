"""A corpus of broken exports, made by code from the small valid fixture.

Each :class:`Case` writes one export that a case-management system could
produce (or a user could set up) and states, from the outside, what must
happen when ``cdanalytics`` reads it: the exit code, words the message must
contain, and values that must never appear in any output (stdout, stderr,
the log, any file written). Nothing here is committed as data: every export is
rebuilt in a scratch folder by :func:`build`.

Values planted under ``never`` are made-up names and numbers, never real
people: "Pieter Jansen", "JANSEN, Pieter", a BSN that passes the 11-test, etc.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from _io_exports import MANIFEST, tables, write_csv_export
from _services_exports import SERVICES

# Planted values that must never leave the package.
NAME = "Pieter Jansen"
SURNAME_FIRST = "JANSEN, Pieter"
EMAIL = "pieter.jansen@example.nl"
PHONE = "06-12345678"
POSTCODE = "LS1 4AP"
NINO = "JT123456D"
NHS = "9434765919"
FORMULA = '=HYPERLINK("http://x.example/","click")'
LONG_VALUE_LENGTH = 2_000_000


def _bsns(n: int, leading_zero: bool) -> list[str]:
    """``n`` numbers that pass the Dutch 11-test; with a leading zero, as 8 digits."""
    out: list[str] = []
    candidate = 10_000_000 if leading_zero else 111_111_110
    while len(out) < n:
        candidate += 1
        digits = f"{candidate:09d}"
        weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
        if sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 == 0:
            out.append(digits.lstrip("0") if leading_zero else digits)
    return out


Frames = dict[str, pd.DataFrame]


@dataclass(frozen=True)
class Case:
    """One broken export and what must happen to it."""

    name: str
    change: Callable[[Frames, Path], dict | None]
    exit_code: int
    words: tuple[str, ...] = ()
    never: tuple[str, ...] = ()
    command: str = "validate"
    args: tuple[str, ...] = ()
    slow: bool = False
    extra: dict = field(default_factory=dict)


def build(case: Case, folder: Path) -> list[str]:
    """Write ``case``'s export into ``folder``; returns extra command-line arguments."""
    frames = tables()
    folder.mkdir(parents=True, exist_ok=True)
    result = case.change(frames, folder) or {}
    if not result.get("written"):
        write_csv_export(folder, frames, manifest=result.get("manifest"))
    return list(case.args) + list(result.get("args", ()))


# --------------------------------------------------------------------------- changes


def _cell(table: str, column: str, value: str, row: int = 0):
    def change(frames: Frames, folder: Path):
        frame = frames[table]
        frame[column] = frame[column].astype(object) if column in frame else ""
        frame.loc[row, column] = value

    return change


def _column(table: str, column: str, values: list[str]):
    def change(frames: Frames, folder: Path):
        frame = frames[table]
        frame[column] = (values * len(frame))[: len(frame)]

    return change


def _both(*changes):
    def change(frames: Frames, folder: Path):
        for one in changes:
            one(frames, folder)

    return change


def _manifest(**overrides):
    def change(frames: Frames, folder: Path):
        return {"manifest": {**MANIFEST, **overrides}}

    return change


def _raw_file(name: str, content: bytes):
    def change(frames: Frames, folder: Path):
        write_csv_export(folder, frames)
        (folder / name).write_bytes(content)
        return {"written": True}

    return change


def _no_manifest(frames: Frames, folder: Path):
    write_csv_export(folder, frames)
    (folder / "manifest.json").unlink()
    return {"written": True}


def _missing_table(frames: Frames, folder: Path):
    write_csv_export(folder, frames)
    (folder / "participants.csv").unlink()
    return {"written": True}


def _upper_case_file(frames: Frames, folder: Path):
    write_csv_export(folder, frames)
    (folder / "sessions.csv").rename(folder / "sessions.CSV")
    return {"written": True}


def _mapping_outside(frames: Frames, folder: Path):
    outside = folder.parent / f"{folder.name}-outside"
    write_csv_export(outside, frames)
    write_csv_export(folder, frames)
    (folder / "participants.csv").unlink()
    mapping = folder.parent / f"{folder.name}-mapping.yaml"
    mapping.write_text(
        f"tables:\n  participants:\n    file: ../{outside.name}/participants\n", "utf-8"
    )
    return {"written": True, "args": ["--mapping", str(mapping)]}


def _manifest_outside(frames: Frames, folder: Path):
    write_csv_export(folder, frames)
    mapping = folder.parent / f"{folder.name}-mapping.yaml"
    mapping.write_text("manifest:\n  file: /etc/passwd\n", "utf-8")
    return {"written": True, "args": ["--mapping", str(mapping)]}


def _garbage_sessions(n: int):
    def change(frames: Frames, folder: Path):
        frames["sessions"] = pd.DataFrame(
            {
                "participant_id": [f"X{i}" for i in range(n)],
                "session_type": ["nonsense"] * n,
                "session_number": ["-1"] * n,
                "session_date": ["31/02/1850"] * n,
                "attendance": ["maybe"] * n,
            }
        )

    return change


def _trimmed_ids(frames: Frames, folder: Path):
    frames["sessions"]["participant_id"] = frames["sessions"]["participant_id"] + " "


def _duplicate_rows(frames: Frames, folder: Path):
    frames["participants"] = pd.concat(
        [frames["participants"], frames["participants"].iloc[[0]]], ignore_index=True
    )


def _orphan_sessions(frames: Frames, folder: Path):
    extra = frames["sessions"].iloc[[0]].assign(participant_id="P999")
    frames["sessions"] = pd.concat([frames["sessions"], extra], ignore_index=True)


def _drop_column(table: str, column: str):
    def change(frames: Frames, folder: Path):
        frames[table] = frames[table].drop(columns=column)

    return change


def _add_column(table: str, column: str, values: list[str]):
    def change(frames: Frames, folder: Path):
        frame = frames[table]
        frame[column] = (values * len(frame))[: len(frame)]

    return change


def _site_all(frames: Frames, folder: Path):
    frames["participants"]["site"] = "All"


def _services(row: int | None = None, column: str = "", value: str = ""):
    """Add the fixture's ``services`` table, with one cell changed (``row`` given)."""

    def change(frames: Frames, folder: Path):
        services = SERVICES.copy()
        if row is not None:
            services.loc[row, column] = value
        frames["services"] = services

    return change


def _services_duplicate(frames: Frames, folder: Path):
    frames["services"] = pd.concat([SERVICES, SERVICES.iloc[[2]]], ignore_index=True)


# --------------------------------------------------------------------------- the corpus

CASES: tuple[Case, ...] = (
    # Files and manifest.
    Case("no manifest", _no_manifest, 1, ("manifest",)),
    Case("missing participants table", _missing_table, 1, ("participants",)),
    Case("manifest not json", _raw_file("manifest.json", b"{extract_date: "), 1, ("manifest",)),
    Case("manifest is a list", _raw_file("manifest.json", b"[1, 2]"), 1, ("manifest",)),
    Case("extract date missing", _manifest(extract_date=None), 1, ("extract_date",)),
    Case("extract date malformed", _manifest(extract_date="30th June"), 1, ("extract_date",)),
    Case("extract date in the future", _manifest(extract_date="2099-01-01"), 1, ("extract_date",)),
    Case("schema version true", _manifest(schema_version=True), 1, ("schema_version",)),
    Case("schema version unknown", _manifest(schema_version=99), 1, ("schema_version",)),
    Case("empty participants file", _raw_file("participants.csv", b""), 1, ("participants",)),
    Case(
        "binary garbage file",
        _raw_file("participants.csv", bytes(range(256)) * 64),
        1,
        ("participants",),
    ),
    Case("table file in upper case", _upper_case_file, 0),
    Case("mapping reads outside the export", _mapping_outside, 2, ("outside",)),
    Case("manifest mapped to /etc/passwd", _manifest_outside, 2, ("outside",), ("root:",)),
    # Columns and keys.
    Case(
        "required column missing",
        _drop_column("participants", "programme"),
        1,
        ("programme",),
    ),
    Case("duplicate participant", _duplicate_rows, 1, ("participant_id",)),
    Case("orphan session", _orphan_sessions, 1, ("P999",)),
    Case("ids with trailing spaces are one person", _trimmed_ids, 0, ("trimmed",)),
    # Values that are misread today.
    Case(
        "thousands separator in a count",
        _cell("participants", "prior_offences", "1,000"),
        1,
        ("prior_offences",),
    ),
    Case("excel error cell", _cell("participants", "prior_offences", "#DIV/0!"), 1, ("#DIV/0!",)),
    Case("excel value error", _cell("measures", "score", "#VALUE!"), 1, ("score",)),
    Case("referral in 1850", _cell("participants", "referral_date", "1850-01-10"), 1, ("1900",)),
    Case(
        "nul byte in a value",
        _cell("participants", "site", "Lee\x00ds"),
        1,
        ("site",),
    ),
    Case(
        "unknown category",
        _cell("participants", "exit_status", "graduated"),
        1,
        ("exit_status",),
    ),
    Case("negative count", _cell("participants", "prior_offences", "-3"), 1, ("prior_offences",)),
    Case("score out of range", _cell("measures", "score", "400"), 1, ("score",)),
    Case(
        "end before start",
        _cell("participants", "end_date", "2024-01-01"),
        1,
        ("end_date",),
    ),
    Case("event after extract", _cell("events", "event_date", "2026-01-01"), 1, ("event_date",)),
    Case("unknown programme", _cell("participants", "programme", "yoga"), 1, ("programme",)),
    # Identifiers: refused, never echoed.
    Case(
        "name in a categorical column",
        _cell("participants", "referral_source", NAME),
        1,
        ("referral_source",),
        (NAME, "Jansen"),
    ),
    Case(
        "surname-first names column",
        _add_column("participants", "client", [SURNAME_FIRST, "SMITH, John", "DE VRIES, Anna"]),
        1,
        ("client",),
        (SURNAME_FIRST, "SMITH, John"),
    ),
    Case(
        "bsn saved by excel without its leading zero",
        _add_column("participants", "ref_number", _bsns(6, leading_zero=True)),
        1,
        ("ref_number",),
        tuple(_bsns(6, leading_zero=True)),
    ),
    Case(
        "bsn column",
        _add_column("participants", "dossier", _bsns(6, leading_zero=False)),
        1,
        ("dossier",),
        tuple(_bsns(6, leading_zero=False)),
    ),
    Case(
        "e-mail in a free-text reason",
        _cell("participants", "exit_reason", f"moved, contact {EMAIL}", row=1),
        0,
        ("exit_reason",),
        (EMAIL,),
    ),
    Case(
        "phone column",
        _add_column("participants", "telefoon", [PHONE]),
        1,
        ("telefoon",),
        (PHONE,),
    ),
    Case(
        "postcode column",
        _add_column("participants", "postcode", [POSTCODE]),
        1,
        ("postcode",),
        (POSTCODE,),
    ),
    Case("nhs number column", _add_column("participants", "nhs", [NHS]), 1, ("nhs",), (NHS,)),
    Case(
        "national insurance number",
        _add_column("participants", "insurance", [NINO]),
        1,
        ("insurance",),
        (NINO,),
    ),
    Case(
        "date of birth column",
        _add_column("participants", "geboortedatum", ["1980-01-01"]),
        1,
        ("geboortedatum",),
    ),
    Case(
        "name in free text of a quarantined row",
        _both(
            _cell("participants", "exit_reason", f"left after a row with {NAME}", row=1),
            _cell("participants", "exit_status", "graduated", row=1),
        ),
        0,
        ("quarantine",),
        (NAME, "Jansen"),
        args=("--quarantine",),
    ),
    # Size: bounded, linear, no echo of huge values.
    Case(
        "huge invalid value",
        _cell("participants", "referral_source", "x" * LONG_VALUE_LENGTH),
        1,
        ("referral_source",),
        ("x" * 1_000,),
        slow=True,
    ),
    Case(
        "huge cell without separators",
        _cell("participants", "exit_reason", "a@" * (LONG_VALUE_LENGTH // 2), row=1),
        0,
        slow=True,
    ),
    Case("many bad session rows", _garbage_sessions(20_000), 1, ("more",)),
    # Injection and collisions (report).
    Case(
        "formula in a categorical column",
        _cell("participants", "referral_source", FORMULA),
        1,
        ("referral_source",),
        (FORMULA,),
    ),
    # The optional services table (partner and children's services).
    Case("valid services table", _services(), 0),
    Case(
        "unknown service code",
        _services(1, "service", "youth_club"),
        1,
        ("service", "youth_club"),
    ),
    Case("duplicate service row", _services_duplicate, 1, ("participant_id, service",)),
    Case("orphan service row", _services(2, "participant_id", "P999"), 1, ("P999", "orphan")),
    Case(
        "service offered before the referral",
        _services(2, "offered", "2023-12-01"),
        1,
        ("before_referral",),
    ),
    Case(
        "service contact before the offer",
        _services(3, "contacted", "2024-03-01"),
        1,
        ("date_order",),
    ),
    Case(
        "service engaged after the extract",
        _services(0, "engaged", "2025-08-01"),
        1,
        ("engaged", "after_extract"),
    ),
    Case(
        "e-mail in a service's free-text source",
        _services(0, "source", f"call {EMAIL}"),
        0,
        ("source",),
        (EMAIL,),
    ),
    Case(
        "partner's name column in services",
        _both(_services(), _add_column("services", "partner", [NAME, "Anna de Vries"])),
        1,
        ("partner",),
        (NAME, "Jansen"),
    ),
    Case(
        "quarantined service rows are counted",
        _services(2, "participant_id", "P999"),
        0,
        ("quarantine",),
        args=("--quarantine",),
    ),
    Case("site named All", _site_all, 0, command="report"),
    Case(
        "formula in a site name",
        _cell("participants", "site", "@SUM(1+1)"),
        0,
        never=("\n@SUM", ",@SUM"),
        command="report",
    ),
)
