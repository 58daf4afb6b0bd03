"""Synthetic audits with known truth for tests/test_practice_*.py."""

from __future__ import annotations

from functools import cache

import pandas as pd

from cdanalytics.practice import item_table
from cdanalytics.synth import synthetic_audits

ITEMS: list[str] = list(item_table()["item"])
#: A different true training effect per item: 0, 0.05, ..., 0.20 in turn.
EFFECTS: dict[str, float] = {item: 0.05 * (k % 5) for k, item in enumerate(ITEMS)}
SHARES = {
    "baseline": {item: 0.20 + 0.02 * k for k, item in enumerate(ITEMS)},
    "follow_up": {item: 0.30 + 0.02 * k for k, item in enumerate(ITEMS)},
}
READER_KAPPA = 0.6


@cache
def synthetic_set() -> tuple[pd.DataFrame, dict]:
    """40 teams (20 trained) x 150 files per period x 15 items, 30% double-read,
    trained teams 0.05 above the others at baseline. Fixed seed; do not mutate."""
    return synthetic_audits(
        n_teams=40,
        n_files_per_team_period=150,
        items=ITEMS,
        true_share_by_period=SHARES,
        true_training_effect_by_item=EFFECTS,
        reader_kappa=READER_KAPPA,
        seed=20261207,
        double_read_share=0.3,
        baseline_gap=0.05,
    )


def audit_rows(rows: list[tuple], item: str = "cc1_coercive_control") -> pd.DataFrame:
    """Long audits from (case_id, team, period, reader_id, trained, score) tuples."""
    frame = pd.DataFrame(
        rows, columns=["case_id", "team", "period", "reader_id", "trained", "score"]
    )
    return frame.assign(item=item)
