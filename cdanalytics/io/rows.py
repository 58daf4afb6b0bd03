"""Source row numbers of a table while they are consecutive, without an array.

A file's rows are numbered from its first data row on; until a row is
dropped (a blank row, a wide audit turned long) the numbers are
``first, first + 1, ...``, and :class:`RowNumbers` stands for that array
(8 bytes a row never written: 112 MB for the 14 million rows of a million
participants' export), giving the same numbers when indexed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["RowNumbers"]


class RowNumbers:
    """Source row numbers ``first, first + 1, ...`` of ``n`` rows, without an array.

    A file's rows, before any is dropped, are numbered consecutively; this
    stands for ``np.arange(first, first + n)`` (for a million-row table 8 MB
    per million rows never written). Indexing by positions (integers or a
    boolean mask of ``n``) gives their numbers as ``int64``, exactly as
    indexing that array would; :meth:`to_numpy` gives the whole array.
    """

    def __init__(self, first: int, n: int) -> None:
        self.first, self.n = int(first), int(n)

    def __len__(self) -> int:
        return self.n

    def to_numpy(self) -> np.ndarray:
        """Every row number, as ``np.arange`` would give them."""
        return np.arange(self.first, self.first + self.n, dtype=np.int64)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.to_numpy() if dtype is None else self.to_numpy().astype(dtype)

    def tolist(self) -> list[int]:
        """The row numbers as Python integers."""
        return list(range(self.first, self.first + self.n))

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, (int, np.integer)):
            position = int(index) + (self.n if index < 0 else 0)
            if not 0 <= position < self.n:
                raise IndexError(f"row {index} out of range for {self.n} rows")
            return np.int64(self.first + position)
        if isinstance(index, slice):
            return self.to_numpy()[index] if index != slice(None) else self.to_numpy()
        positions = np.asarray(index)
        if not positions.size and positions.dtype != bool:
            return np.empty(positions.shape, dtype=np.int64)
        if positions.dtype == bool:
            if positions.shape != (self.n,):
                raise IndexError(f"a mask of {positions.shape} for {self.n} rows")
            return np.flatnonzero(positions) + np.int64(self.first)
        if positions.dtype.kind not in "iu":
            raise IndexError("row positions must be integers or a boolean mask")
        positions = positions.astype(np.int64, copy=False)
        if len(positions) and (positions.min() < -self.n or positions.max() >= self.n):
            raise IndexError(f"a position out of range for {self.n} rows")
        return np.where(positions < 0, positions + self.n, positions) + np.int64(self.first)
