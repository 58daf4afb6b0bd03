"""The valid fixture export of tests/_io_exports.py with a ``services`` table.

Text cells, as in a CSV file, so a test can change one cell and write the
export again. Referrals: P001 2024-01-10, P002 2024-01-15, P003 2024-03-01;
extract date 2025-06-30.

    P001  partner_support    offered 2024-01-20, contacted 01-25, accepted 02-01, engaged 02-10
    P001  childrens_service  offered 2024-02-01
    P002  partner_support    offered 2024-01-20, contacted 2024-01-30
    P003  womens_service     offered 2024-03-05, contacted 03-08, accepted 03-10, engaged 03-20
"""

from __future__ import annotations

import pandas as pd
from _io_exports import tables

SERVICES = pd.DataFrame(
    {
        "participant_id": ["P001", "P001", "P002", "P003"],
        "service": ["partner_support", "childrens_service", "partner_support", "womens_service"],
        "offered": ["2024-01-20", "2024-02-01", "2024-01-20", "2024-03-05"],
        "contacted": ["2024-01-25", "", "2024-01-30", "2024-03-08"],
        "accepted": ["2024-02-01", "", "", "2024-03-10"],
        "engaged": ["2024-02-10", "", "", "2024-03-20"],
        "source": ["womens_service_file", "childrens_service_file", "dv_service", "dv_service"],
    }
)


def tables_with_services() -> dict[str, pd.DataFrame]:
    """Fresh copies of the fixture's four tables and ``services`` (text cells)."""
    return {**tables(), "services": SERVICES.copy()}
