"""A small synthetic export with every feature the report's added sections read.

The family features of the generator (stages with stage-wise dropout, review
sessions, evaluation meeting outcomes, several children per father) are on,
and the events get a ``seriousness`` and a ``disposal`` with a known rule:
each man's offences all carry one seriousness (``serious`` for a random 40%
of men, ``general`` otherwise), and every proven offence of a random 50% of
men is disposed of by custody. So the serious and custody variants of the
fixed-window rate count exactly the main measure's reoffenders among those
men, which the tests check against the published numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from cdanalytics.io.write import write_export
from cdanalytics.synth import FAMILY_PARAMETERS, generate

N, SEED = 3_000, 11


def labelled_men(participants: pd.DataFrame, seed: int = SEED) -> pd.DataFrame:
    """Which men's offences are serious and which are disposed of by custody."""
    rng = np.random.default_rng(seed)
    ids = participants["participant_id"].astype(str).to_numpy()
    return pd.DataFrame(
        {
            "participant_id": ids,
            "serious": rng.random(len(ids)) < 0.4,
            "custody": rng.random(len(ids)) < 0.5,
        }
    )


def write_family_export(folder: Path) -> dict:
    """Write the export (and ``truth.json``) into ``folder``; return the truth."""
    export, truth = generate(N, seed=SEED, parameters=FAMILY_PARAMETERS)
    men = labelled_men(export.participants).set_index("participant_id")
    events = export.events
    who = events["participant_id"].astype(str)
    serious = men["serious"].reindex(who).to_numpy(dtype=bool)
    custody = men["custody"].reindex(who).to_numpy(dtype=bool)
    proven = events["proven_date"].notna().to_numpy()
    events["seriousness"] = pd.Categorical(
        np.where(serious, "serious", "general"), categories=["general", "serious", "very_serious"]
    )
    events["disposal"] = pd.Categorical(
        np.where(proven & custody, "custody", np.where(proven, "fine", None)),
        categories=["custody", "community_sentence", "fine", "caution", "other"],
    )
    write_export(export, folder)
    (folder / "truth.json").write_text(json.dumps(truth, default=str), encoding="utf-8")
    return truth


def read_csv(report: Path, name: str) -> pd.DataFrame:
    """A published table as the report wrote it (markers as text)."""
    return pd.read_csv(report / "tables" / f"{name}.csv", dtype=str, keep_default_na=False)


def as_number(column: pd.Series) -> pd.Series:
    """Published counts as numbers; withheld markers become NaN."""
    return pd.to_numeric(column, errors="coerce")
