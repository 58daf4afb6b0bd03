"""The valid fixture export of tests/_io_exports.py with case audits and family outcomes.

Two cases of team North (C01 read twice in the baseline, C02 at follow-up),
one of team South; three items of the Safe & Together tool. Text cells, as in
a CSV file, so a test can change one cell and write the export again.
Extract date: 2025-06-30 (the fixture's).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from _io_exports import tables, write_csv_export

ITEMS = ("cc1_coercive_control", "p2_partnering", "m_blaming_language")

#: One row per file and reader (wide): the long table has one row per item score.
WIDE = pd.DataFrame(
    {
        "case_id": ["C01", "C01", "C02", "C03"],
        "team": ["North", "North", "North", "South"],
        "audit_date": ["2025-01-10", "2025-01-20", "2025-05-02", "2025-05-03"],
        "period": ["baseline", "baseline", "follow_up", "follow_up"],
        "reader_id": ["R001", "R002", "R001", "R003"],
        "trained": ["false", "false", "true", "false"],
        ITEMS[0]: ["2", "1", "2", "0"],
        ITEMS[1]: ["1", "1", "", "2"],
        ITEMS[2]: ["0", "0", "1", "0"],
    }
)

FAMILY = pd.DataFrame(
    {
        "case_id": ["C01", "C02", "C03"],
        "team": ["North", "North", "South"],
        "period": ["baseline", "follow_up", "follow_up"],
        "trained": ["false", "true", "false"],
        "closure_date": ["2025-02-01", "2025-05-20", ""],
        "child_with_non_offending_parent": ["true", "true", ""],
        "removed_into_care": ["false", "false", "true"],
        "removal_date": ["", "", "2025-04-01"],
        "re_referral_12m": ["", "", ""],
        "perpetrator_engaged": ["true", "false", "false"],
    }
)


def long_audits() -> pd.DataFrame:
    """The audits in long form (one row per file, reader and item), rows in wide order."""
    long = WIDE.melt(
        id_vars=list(WIDE.columns[:6]),
        value_vars=list(ITEMS),
        var_name="item",
        value_name="score",
        ignore_index=False,
    )
    long = long.sort_index(kind="stable").reset_index(drop=True)
    return long[long["score"] != ""].reset_index(drop=True)


def write_audit_export(
    folder: Path,
    audits: pd.DataFrame | None = None,
    family: pd.DataFrame | None = None,
    *,
    with_family: bool = True,
) -> Path:
    """The fixture export plus ``case_audits.csv`` (long by default) and ``family_outcomes.csv``."""
    frames = tables()
    frames["case_audits"] = long_audits() if audits is None else audits
    if with_family:
        frames["family_outcomes"] = FAMILY.copy() if family is None else family
    return write_csv_export(folder, frames)
