"""The cell key method: noise that is the same whenever the same people are counted.

Each person carries a fixed random *record key*, an integer in ``[0, big_n)``.
A cell's *cell key* is the sum of its members' record keys modulo ``big_n``;
a perturbation table (:class:`~cdanalytics.disclosure.ptable.PerturbationTable`)
maps the true count and the cell key to a small integer noise, and the
published count is the true count plus that noise. The same set of people
always has the same cell key, hence the same published count, in every table,
grouping, threshold and release; a set that differs by one person has an
unrelated key, hence freshly drawn noise. This is the method of the ABS
TableBuilder (Fraser & Wooton 2005; Thompson, Broadfoot & Elazar 2013) and of
the ONS outputs of Census 2021.

This module is for library users who hold per-person data. The report's
gate (``DisclosurePolicy(method="cell_key")``) sees analysis tables, not
members, and keys each cell on its identity and true count instead
(:mod:`.cellnoise`, which says how the two differ).

Record keys that survive across releases
----------------------------------------
Nothing is stored: a person's record key is derived from the pseudonymous
``participant_id`` with a keyed hash, BLAKE2b in its keyed (MAC) mode with a
site secret (:func:`record_keys`), so next month's export of the same person
gives the same key, and nobody without the secret can compute a key. The
secret is read like the pseudonymisation key
(:func:`~cdanalytics.io.pseudonymise.load_key`, default environment variable
:data:`DEFAULT_SECRET_ENV`), at least 16 bytes; a separate personalisation
string keeps the keys unrelated to the pseudonyms even when the same secret
is reused. There is no default secret: with a public one anyone who knows who
is in a cell could compute its key, hence its noise, and subtract it, so
:func:`record_keys` refuses to run without a secret. Changing the secret
re-draws every noise, which lets an attacker average two versions of the
same cell: keep the secret fixed for the life of the publication series.

Speed versus security: keyed BLAKE2b is a pseudo-random function (a MAC, as
HMAC-SHA256 is) and two to three times faster in CPython: hashing a million
distinct ids took 0.6 s against 1.5 s for HMAC-SHA256 on one idle core. Each
distinct id is hashed once and the digests are decoded with NumPy. A NumPy
mixing function of integer codes (splitmix64 and the like) would be a
hundred times faster but is not a keyed PRF: keys could be predicted from a
few known ones, and the noise undone.

Margins
-------
:func:`perturbed_table` publishes the cells of a grouping and, with
``margins=True``, every coarser grouping obtained by dropping grouping
columns (up to the grand total). Each margin is a cell of its own: its count
and key come from its own member set (the key of a union is the sum of the
keys of its parts), and it gets its own noise. Margins are therefore
*consistent* (the total of programme A is the same number in every table
that shows it) but *not additive*: the published cells need not add up to
the published total. Consistency checks must accept that.

Which attacks it stops
----------------------
- Differencing between releases: removing, adding or moving one person
  changes the member set and re-draws the noise of every cell they touch, so
  the difference of two releases is the person's contribution plus the
  difference of two independent noises (wrong with the probability
  ``1 - sum_d p_n(d) p_{n-1}(d)``, about 0.7 for the default table).
- Differencing between groupings and thresholds: the noise does not depend
  on the grouping, the threshold or the release, only on the member set, so
  a cell reached by two routes is one published number; asking again gives
  nothing new.
- Subtraction within a table: approximately. Cell and margin noises are
  independent, so a margin minus the other cells estimates the remaining
  cell with the sum of several noises (variance about ``(k + 1) V``), never
  exactly; small counts (``1..js``) are never published as themselves.

Which it does not
-----------------
- Averaging: a determined attacker who finds many *different* cells that
  each differ from a target by known, already-published quantities can
  average their independent noises. The noise is bounded (``|d| <= D``) but
  not private in the sense of differential privacy.
- Bias of small cells: every row is unbiased, but counts ``1..js`` only
  move to 0 or above ``js``, and zeros are never perturbed (an empty cell
  has no members), so a published 0 may hide a count of 1..D and a published
  count never hides a true 0.
- Non-additivity: published cells do not add up to published totals, and
  rates computed from perturbed counts inherit the noise (the report should
  compute rates from the same perturbed counts it shows, or perturb the
  numerator and denominator cells and accept the inconsistency).
- Key leakage: anyone holding the secret and the list of members can undo
  the noise. Keep the secret out of exports, logs and reports.

References
----------
Fraser, B. & Wooton, J. (2005). A proposed method for confidentialising
tabular output to protect against differencing. UNECE Work Session on
Statistical Data Confidentiality, Geneva.
Thompson, G., Broadfoot, S. & Elazar, D. (2013). Methodology for the
automatic confidentialisation of statistical outputs from remote servers at
the Australian Bureau of Statistics. UNECE Work Session on Statistical Data
Confidentiality, Ottawa.
Office for National Statistics (2021). Protecting personal data in Census
2021 results (statistical disclosure control methodology: targeted record
swapping and cell key perturbation).
Enderle, T., Giessing, S. & Tent, R. (2018). Designing confidentiality on
the fly methodology: three aspects. PSD 2018, LNCS 11126, 28-42.
Aumasson, J.-P. et al. (2015). The BLAKE2 cryptographic hash and message
authentication code (MAC). RFC 7693.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from cdanalytics.errors import AnalysisError, ConfigError
from cdanalytics.io.pseudonymise import MIN_KEY_BYTES, id_text, load_key

from .ptable import DEFAULT_BIG_N, PerturbationTable, check_big_n

__all__ = [
    "DEFAULT_SECRET_ENV",
    "TOTAL_LABEL",
    "CellKeyPolicy",
    "cell_keys",
    "perturb_counts",
    "perturbed_table",
    "record_keys",
]

#: Environment variable holding the site's cell-key secret.
DEFAULT_SECRET_ENV = "CDANALYTICS_CELL_KEY_SECRET"
#: Label of a dropped grouping column in a margin row of :func:`perturbed_table`.
TOTAL_LABEL = "Total"
_PERSON = b"cda-cellkey-v1"  # BLAKE2b personalisation: keys unrelated to pseudonyms


def record_keys(
    ids: Sequence | pd.Series, secret: bytes, *, big_n: int = DEFAULT_BIG_N
) -> np.ndarray:
    """Fixed random record keys derived from participant ids with a keyed hash.

    Parameters
    ----------
    ids
        One pseudonymous id per record (compared as stripped text, as
        :func:`~cdanalytics.io.pseudonymise.pseudonymise_table` does).
    secret
        The site secret, at least 16 bytes (see :class:`CellKeyPolicy`).
    big_n
        Keys are integers in ``[0, big_n)``; a power of two.

    Returns
    -------
    numpy.ndarray
        ``int64`` keys: the first 8 bytes of ``BLAKE2b(id, key=secret)`` as a
        big-endian integer modulo ``big_n`` (uniform, as ``big_n`` divides
        ``2**64``). The same id always gets the same key.

    Raises
    ------
    ConfigError
        When the secret is missing or shorter than 16 bytes.
    AnalysisError
        When an id is missing.

    References
    ----------
    RFC 7693 (keyed BLAKE2b); Fraser & Wooton (2005) on record keys.
    """
    big_n = check_big_n(big_n)
    if not isinstance(secret, bytes) or len(secret) < MIN_KEY_BYTES:
        raise ConfigError(
            f"the cell key method needs a secret of at least {MIN_KEY_BYTES} bytes "
            f"(set {DEFAULT_SECRET_ENV}); without one anyone could compute the noise"
        )
    text = id_text(pd.Series(ids, copy=False).reset_index(drop=True))
    if text.isna().any():
        raise AnalysisError("a record has no participant id, so it has no record key")
    codes, uniques = pd.factorize(text.to_numpy(dtype=object))
    messages = (raw.encode("utf-8") for raw in uniques.tolist())
    return keyed_hash_keys(messages, secret, person=_PERSON, big_n=big_n)[codes]


def keyed_hash_keys(
    messages: Iterable[bytes], secret: bytes, *, person: bytes, big_n: int
) -> np.ndarray:
    """Keyed BLAKE2b of each message (8 bytes, big-endian) modulo ``big_n``, as ``int64``.

    ``person`` is BLAKE2b's personalisation string, so that keys made for
    different purposes with the same secret are unrelated. A secret longer
    than BLAKE2b's 64-byte key limit is hashed down first. One hash per
    message: callers pass distinct messages only (RFC 7693).
    """
    if len(secret) > 64:
        secret = hashlib.blake2b(secret, person=person).digest()
    digests = b"".join(
        [hashlib.blake2b(m, digest_size=8, key=secret, person=person).digest() for m in messages]
    )
    keys = np.frombuffer(digests, dtype=">u8") % np.uint64(big_n)
    return keys.astype(np.int64)


def _keys_of(frame: pd.DataFrame, key_column: str, big_n: int) -> np.ndarray:
    if key_column not in frame.columns:
        raise ConfigError(f"the frame has no record key column '{key_column}'")
    keys = frame[key_column]
    if not pd.api.types.is_integer_dtype(keys.dtype) or keys.isna().any():
        raise ConfigError(f"record keys in '{key_column}' must be whole numbers, none missing")
    keys = keys.to_numpy(dtype=np.int64)
    if len(keys) and (keys.min() < 0 or keys.max() >= big_n):
        raise ConfigError(f"record keys in '{key_column}' must be in [0, {big_n})")
    return keys


def cell_keys(
    frame: pd.DataFrame,
    by: Sequence[str],
    *,
    key_column: str = "record_key",
    big_n: int = DEFAULT_BIG_N,
) -> pd.DataFrame:
    """True count and cell key of every non-empty cell of a grouping.

    Parameters
    ----------
    frame
        One row per person, with the grouping columns and the record keys.
    by
        Grouping columns (may be empty: one cell, everybody). Missing values
        form cells of their own, so no row is lost.
    key_column
        Column of record keys in ``[0, big_n)``.
    big_n
        The cell-key range (a power of two).

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``count`` (number of rows) and ``cell_key`` (sum
        of the record keys modulo ``big_n``), one row per non-empty cell.

    Raises
    ------
    ConfigError
        When a column is missing or the keys are not integers in range.
    """
    big_n = check_big_n(big_n)
    by = list(by)
    missing = [column for column in by if column not in frame.columns]
    if missing:
        raise ConfigError(f"the frame has no grouping column(s) {missing}")
    keys = _keys_of(frame, key_column, big_n)
    if not by:
        return pd.DataFrame({"count": [len(keys)], "cell_key": [int(keys.sum()) % big_n]})
    grouped = (
        frame[by]
        .assign(count=1, cell_key=keys)
        .groupby(by, dropna=False, observed=True, sort=True)[["count", "cell_key"]]
        .sum()
        .reset_index()
    )
    grouped["cell_key"] = grouped["cell_key"].to_numpy(dtype=np.int64) % big_n
    return grouped


def perturb_counts(
    counts: np.ndarray | pd.Series, cell_keys: np.ndarray | pd.Series, ptable: PerturbationTable
) -> np.ndarray:
    """Published counts: true counts plus the ptable's noise for their cell keys.

    Parameters
    ----------
    counts
        Non-negative true counts.
    cell_keys
        Their cell keys, integers in ``[0, ptable.big_n)``.
    ptable
        The perturbation table.

    Returns
    -------
    numpy.ndarray
        ``int64`` published counts: never negative, never in ``1..ptable.js``,
        within ``ptable.D`` of the truth; a zero stays zero.
    """
    counts = np.asarray(counts, dtype=np.int64)
    return counts + ptable.noise(counts, np.asarray(cell_keys, dtype=np.int64))


def perturbed_table(
    frame: pd.DataFrame,
    by: Sequence[str],
    ptable: PerturbationTable,
    *,
    key_column: str = "record_key",
    margins: bool = True,
    total_label: str = TOTAL_LABEL,
) -> pd.DataFrame:
    """A count table of people with cell key noise, margins perturbed as cells.

    Parameters
    ----------
    frame
        One row per person, with the grouping columns and record keys
        (:meth:`CellKeyPolicy.attach_keys`).
    by
        Grouping columns.
    ptable
        The perturbation table; its ``big_n`` is the key range.
    key_column
        Column of record keys.
    margins
        Also publish every coarser grouping (each subset of ``by``, down to
        the grand total), each margin perturbed from its own member set.
    total_label
        Shown in a dropped grouping column of a margin row.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns and ``count`` (published, perturbed), finest cells
        first, then margins from fine to coarse. Only non-empty cells are
        listed; a cell not listed has a true and published count of 0. The
        true counts and cell keys are not returned: a published cell key
        would let a reader undo the noise.
    """
    by = list(by)
    fine = cell_keys(frame, by, key_column=key_column, big_n=ptable.big_n)
    tables = [fine]
    if margins and by:
        tables += [
            _margin(fine, by, list(kept), total_label, ptable.big_n)
            for size in range(len(by) - 1, -1, -1)
            for kept in itertools.combinations(by, size)
        ]
        tables = [part.astype(dict.fromkeys(by, object)) for part in tables]
    table = pd.concat(tables, ignore_index=True)
    table["count"] = perturb_counts(table["count"], table["cell_key"], ptable)
    return table.drop(columns="cell_key")


def _margin(
    fine: pd.DataFrame, by: list[str], kept: list[str], total_label: str, big_n: int
) -> pd.DataFrame:
    """Count and cell key of each cell of a coarser grouping, from the fine cells."""
    if kept:
        coarse = (
            fine.groupby(kept, dropna=False, observed=True, sort=True)[["count", "cell_key"]]
            .sum()
            .reset_index()
        )
    else:
        coarse = pd.DataFrame(
            {"count": [int(fine["count"].sum())], "cell_key": [int(fine["cell_key"].sum())]}
        )
    coarse["cell_key"] = coarse["cell_key"].to_numpy(dtype=np.int64) % big_n
    for column in by:
        if column not in kept:
            coarse[column] = total_label
    return coarse[[*by, "count", "cell_key"]]


@lru_cache(maxsize=8)
def _ptable(D: int, V: float, js: int, big_n: int) -> PerturbationTable:
    return PerturbationTable.from_parameters(D=D, V=V, js=js, big_n=big_n)


@dataclass(frozen=True)
class CellKeyPolicy:
    """Parameters of the cell key method, as the publication gate carries them.

    Parameters
    ----------
    D
        Maximum noise (default 3).
    V
        Noise variance (default 1).
    js
        Published counts are never in ``1..js`` (default 2: no 1s or 2s).
    big_n
        Record and cell keys are integers in ``[0, big_n)`` (default 2**32).
    secret_env
        Environment variable holding the site secret.
    key_file
        File holding the secret instead (takes precedence).
    key_column
        Column name for the record keys.

    Raises
    ------
    ConfigError
        When the parameters make no valid ptable.
    """

    D: int = 3
    V: float = 1.0
    js: int = 2
    big_n: int = DEFAULT_BIG_N
    secret_env: str = DEFAULT_SECRET_ENV
    key_file: str | os.PathLike | None = None
    key_column: str = "record_key"

    def __post_init__(self) -> None:
        self.ptable()

    def ptable(self) -> PerturbationTable:
        """The perturbation table (built once per parameter set)."""
        return _ptable(self.D, float(self.V), self.js, check_big_n(self.big_n))

    def secret(self) -> bytes:
        """The site secret (:func:`~cdanalytics.io.pseudonymise.load_key`).

        Raises
        ------
        ConfigError
            When it is not set or too short; the message never contains it.
        """
        return load_key(self.secret_env, self.key_file)

    def attach_keys(self, frame: pd.DataFrame, id_column: str = "participant_id") -> pd.DataFrame:
        """A copy of ``frame`` with record keys derived from ``id_column``.

        Raises
        ------
        ConfigError
            When the id column or the secret is missing.
        """
        if id_column not in frame.columns:
            raise ConfigError(f"the frame has no id column '{id_column}' to derive record keys")
        keys = record_keys(frame[id_column], self.secret(), big_n=self.big_n)
        return frame.assign(**{self.key_column: keys})

    def table(
        self, frame: pd.DataFrame, by: Sequence[str], *, margins: bool = True
    ) -> pd.DataFrame:
        """:func:`perturbed_table` of a frame that carries record keys."""
        return perturbed_table(
            frame, by, self.ptable(), key_column=self.key_column, margins=margins
        )
