"""Cell key noise at the publication gate, keyed on the cell rather than its members.

The report publishes counts of analysis tables (people per programme, site,
stage, horizon, ...), not lists of people, so the per-person record keys of
the ABS/ONS method (:mod:`.cellkey`) are not available where the gate
works. Here a cell's key is a keyed hash, with the site secret, of the
cell's *identity* and its *true count*::

    cell_key = BLAKE2b(json([table, sorted(label pairs), column, count]), key=secret) mod big_n

and its noise is read from the same perturbation table
(:class:`~cdanalytics.disclosure.ptable.PerturbationTable`) as the
member-key method. Label pairs equal to the overall label (``"All"``) are
left out of the identity, so the overall row of a ``[programme]`` report and
of a ``[programme, site]`` report is the same cell.

What this gives, and what it does not
-------------------------------------
- The same cell with the same count gets the same noise in every release:
  re-running the export, another threshold (10 vs 11), another grouping
  that shows the same cell, publish the same number; asking again gives
  nothing new.
- A changed count (one person removed or added) gets a fresh noise, so the
  difference of two releases is the change plus the difference of two
  independent noises (bounded by ``2 D``), not the change itself.
- Unlike the member-key method, two *different* sets of people with the
  same count in the same cell get the same noise (one person swapped for
  another leaves the published count as it is, which is harmless), and the
  *same* people counted in two cells of different identity (the cohort in
  two tables under two names) get independent noises, which an attacker
  can average (the noise is bounded, the gain is at most a factor
  ``sqrt(k)`` in spread over ``k`` copies, never an exact count).
- A cell that did not change is published identically, so comparing two
  releases tells which cells changed (with probability about 0.7 for a
  changed count): an attacker learns which cells a removed person was
  probably in, though not by how much. The member-key method has the same
  property.
- Anyone with the secret can recompute every key and undo the noise; with
  a public or guessable secret the method gives no protection.

References
----------
Fraser, B. & Wooton, J. (2005). A proposed method for confidentialising
tabular output to protect against differencing. UNECE Work Session on
Statistical Data Confidentiality.
Aumasson, J.-P. et al. (2015). RFC 7693 (keyed BLAKE2b).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .._stats import wilson_ci
from .cellkey import keyed_hash_keys
from .policy import DisclosurePolicy
from .ptable import PerturbationTable

__all__ = ["cell_identity_keys", "perturb_frame", "protect_perturbed", "rates_from_counts"]

#: A rate: (numerator, base, ci_low or None, ci_high or None, scale).
Rate = tuple[str, str, str | None, str | None, float]

_PERSON = b"cda-cellgate-v1"  # keys unrelated to record keys and pseudonyms


def _identity(table: str, labels: Sequence[tuple[str, str]], column: str, count: int) -> bytes:
    return json.dumps([table, sorted(labels), column, int(count)]).encode("utf-8")


def cell_identity_keys(
    secret: bytes,
    table: str,
    labels: Sequence[Sequence[tuple[str, str]]],
    column: str,
    counts: np.ndarray,
    big_n: int,
) -> np.ndarray:
    """Cell keys from the identity and true count of each cell of one column.

    Parameters
    ----------
    secret
        The site secret (at least 16 bytes; longer ones are hashed to 64).
    table
        Name of the published table.
    labels
        Per row, the ``(column, value)`` pairs naming it.
    column
        The count column.
    counts
        True counts, one per row.
    big_n
        Keys are in ``[0, big_n)``, a power of two.

    Returns
    -------
    numpy.ndarray
        ``int64`` keys; the same identity and count always give the same key.
    """
    messages = (_identity(table, row, column, n) for row, n in zip(labels, counts, strict=True))
    return keyed_hash_keys(messages, secret, person=_PERSON, big_n=big_n)


def perturb_frame(
    frame: pd.DataFrame,
    table: str,
    key_columns: Sequence[str],
    count_columns: Sequence[str],
    ptable: PerturbationTable,
    secret: bytes,
    overall: str = "All",
) -> pd.DataFrame:
    """A copy of ``frame`` with every count in ``count_columns`` perturbed.

    Parameters
    ----------
    frame
        One row per cell row; ``key_columns`` name the rows.
    table
        Name of the published table (part of every cell's identity).
    key_columns
        Label columns; a value equal to ``overall`` is left out of the identity.
    count_columns
        Count columns to perturb (missing counts stay missing).
    ptable
        The perturbation table.
    secret
        The site secret.
    overall
        The label of an overall row or margin.

    Returns
    -------
    pandas.DataFrame
        Counts ``n + noise``: never negative, never in ``1..js``, 0 stays 0.
    """
    labels = [
        tuple((str(k), str(v)) for k, v in zip(key_columns, row, strict=True) if str(v) != overall)
        for row in frame[list(key_columns)].itertuples(index=False, name=None)
    ]
    out = frame.copy()
    for column in count_columns:
        values = pd.to_numeric(frame[column]).astype("Int64")
        known = values.notna().to_numpy()
        counts = values.to_numpy(dtype=np.int64, na_value=0)
        keys = cell_identity_keys(secret, table, labels, str(column), counts, ptable.big_n)
        noisy = counts + ptable.noise(counts, keys)
        out[column] = pd.Series(noisy, index=frame.index, dtype="Int64").where(known, pd.NA)
    return out


def rates_from_counts(frame: pd.DataFrame, rates: Mapping[str, Rate]) -> pd.DataFrame:
    """Recompute rates and Wilson limits from (perturbed) numerators and bases.

    Parameters
    ----------
    frame
        Table with the counts.
    rates
        Rate column -> ``(numerator, base, ci_low, ci_high, scale)``; the
        limits may be ``None``; ``scale`` is 1 for a share, 100 for a
        percentage. A column absent from ``frame`` is skipped.

    Returns
    -------
    pandas.DataFrame
        A copy with the rates (NaN on a zero base) and limits replaced.

    References
    ----------
    Wilson, E. B. (1927). JASA 22:209-212.
    """
    out = frame.copy()
    for rate, (numerator, base, low, high, scale) in rates.items():
        if rate not in out or numerator not in out or base not in out:
            continue
        k = pd.to_numeric(out[numerator]).astype(float).to_numpy()
        n = pd.to_numeric(out[base]).astype(float).to_numpy()
        k = np.minimum(k, n)  # independent noises may put a part above its total
        with np.errstate(divide="ignore", invalid="ignore"):
            out[rate] = np.where(n > 0, scale * k / n, np.nan)
        if low is not None and high is not None and low in out and high in out:
            lo, hi = wilson_ci(np.nan_to_num(k), np.nan_to_num(n))
            out[low], out[high] = scale * lo, scale * hi
    return out


def protect_perturbed(
    df: pd.DataFrame,
    policy: DisclosurePolicy,
    *,
    table: str,
    key_columns: Sequence[str],
    count_cols: Sequence[str],
    base_cols: Mapping[str, str],
    numerator_cols: Mapping[str, str],
    implied: Mapping[str, str],
    rates: Mapping[str, Rate],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Publish a table under the cell key method (no secondary suppression).

    Every count in ``count_cols`` (and every implied numerator) is perturbed
    (:func:`perturb_frame`); a perturbed count below the threshold is
    withheld as a small count (primary); the rates in ``rates`` are
    recomputed from the perturbed numerator and base; a statistic is
    withheld when its perturbed base is below the threshold, its numerator
    is withheld, or it rests on a numerator but cannot be recomputed (an
    exact ratio would give the true counts away). Nothing is withheld to
    protect a difference: the noise does.

    Returns
    -------
    (published, mask, primary)
        The published numbers (withheld cells missing) and the two boolean
        frames of :class:`~cdanalytics.disclosure.SuppressedTable`.
    """
    ck = policy.cell_key
    hidden = [c for c in implied.values() if c in df.columns]
    perturbed = perturb_frame(
        df,
        table,
        [c for c in key_columns if c in df.columns],
        list(dict.fromkeys([*count_cols, *hidden])),
        ck.ptable(),
        policy.secret(),
    )
    rates = {k: v for k, v in rates.items() if k in df}
    perturbed = rates_from_counts(perturbed, rates)
    recomputed = {*rates, *(c for v in rates.values() for c in v[2:4] if c is not None)}
    mask = pd.DataFrame(False, index=df.index, columns=df.columns)
    for col in count_cols:
        values = perturbed[col].to_numpy(dtype=float, na_value=np.nan)
        mask[col] = policy.is_small(np.nan_to_num(values))
    primary = mask.copy()
    stats = list(dict.fromkeys([*base_cols, *numerator_cols, *implied]))
    for stat in stats:
        hide = np.zeros(len(df), dtype=bool)
        base = base_cols.get(stat)
        if base is not None:
            hide |= (
                (perturbed[base].astype("Float64") < policy.threshold)
                .fillna(True)
                .to_numpy(dtype=bool)
            )
        numerator = numerator_cols.get(stat)
        if numerator is not None:
            hide |= mask[numerator].to_numpy() | (stat not in recomputed)
        if stat in implied:
            hide |= stat not in recomputed
            small = perturbed[implied[stat]].to_numpy(dtype=float, na_value=np.nan)
            hide |= policy.is_small(np.nan_to_num(small))
        mask[stat] = hide
    published = df.copy()
    for col in count_cols:
        published[col] = perturbed[col].astype("Int64").mask(mask[col])
    for stat in stats:
        published[stat] = perturbed[stat].astype(float).mask(mask[stat])
    return published, mask, primary
