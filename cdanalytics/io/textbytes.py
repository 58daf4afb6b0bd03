"""Cheap tests on the raw bytes of Arrow text columns, run before the exact checks.

An Arrow string column keeps every value's UTF-8 bytes end to end in one
buffer. A scan of that buffer (a minimum, a maximum, one comparison) shows in
a few milliseconds that no value of a column of millions *can* hold, say, a
control character or surrounding whitespace; only a column where it can is
given to the exact, per-value check. The tests may say "maybe" for a column
that is clean (then the exact check runs, as before); they never say "no"
for one that is not.

In UTF-8 every byte of a multi-byte character is at least ``0x80``, so an
ASCII byte found in the buffer is that character.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = ["arrow_text", "edge_bytes", "fixed_width_keys", "fixed_width_rows", "value_bytes"]


def arrow_text(values: pd.Series) -> list[pa.Array] | None:
    """The Arrow ``string``/``large_string`` chunks behind a text column
    (no copy), or ``None`` when it is not held that way (object dtype,
    categoricals, numbers)."""
    if values.dtype == object or not pd.api.types.is_string_dtype(values.dtype):
        return None
    try:
        array = pa.array(values.array)
    except (pa.ArrowException, TypeError, ValueError):
        return None
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    if not all(pa.types.is_string(c.type) or pa.types.is_large_string(c.type) for c in chunks):
        return None
    return list(chunks)


def _offsets(chunk: pa.Array) -> np.ndarray:
    width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    buffer = chunk.buffers()[1]
    if buffer is None:
        return np.zeros(len(chunk) + 1, dtype=width)
    return np.frombuffer(
        buffer, dtype=width, count=len(chunk) + 1, offset=chunk.offset * width(0).itemsize
    )


def _data(chunk: pa.Array) -> np.ndarray:
    buffer = chunk.buffers()[2]
    return np.empty(0, np.uint8) if buffer is None else np.frombuffer(buffer, dtype=np.uint8)


def value_bytes(chunks: list[pa.Array]) -> Iterator[np.ndarray]:
    """The bytes of every value of each chunk, end to end (no copy).

    Empty (null) values may contribute bytes they do not show; a test on
    these bytes can only err towards "maybe".
    """
    for chunk in chunks:
        offsets = _offsets(chunk)
        if len(offsets) > 1 and offsets[-1] > offsets[0]:
            yield _data(chunk)[offsets[0] : offsets[-1]]


def edge_bytes(chunks: list[pa.Array]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """First and last byte of every non-empty value of each chunk."""
    for chunk in chunks:
        offsets = _offsets(chunk)
        starts, ends = offsets[:-1], offsets[1:]
        filled = ends > starts
        if filled.any():
            data = _data(chunk)
            yield data[starts[filled]], data[ends[filled] - 1]


def _equal_lengths(offsets: np.ndarray, width: int) -> bool:
    """Whether every value spans ``width`` bytes (in blocks: no column-long temporary)."""
    block = 1 << 20
    for start in range(0, len(offsets) - 1, block):
        part = offsets[start : start + block + 1]
        if not bool((part[1:] - part[:-1] == width).all()):
            return False
    return True


def fixed_width_keys(chunks: list[pa.Array]) -> tuple[int | None, list[np.ndarray]] | None:
    """Every value as one integer, when all are non-empty and of one byte width up to 8.

    Identifiers are often written with a fixed number of characters
    (``P0000001``); their bytes, read as one unsigned 64-bit integer each
    (zero-padded), are equal exactly when the texts are, and integers hash
    and compare several times faster than text. Returns the width (``None``
    for no values) and the keys, one array per non-empty chunk (views of
    the chunks' bytes at width 8: nothing copied), or ``None`` when a value
    is empty or the widths differ.
    """
    width: int | None = None
    keys = []
    for chunk in chunks:
        if not len(chunk):
            continue
        if chunk.null_count:
            return None
        offsets = _offsets(chunk)
        first = int(offsets[1] - offsets[0])
        if width is None:
            width = first
        if first != width or not 0 < width <= 8 or not _equal_lengths(offsets, width):
            return None
        data = _data(chunk)[offsets[0] : offsets[-1]].reshape(len(chunk), width)
        if width == 8:
            keys.append(data.view("<u8").ravel())
        else:
            padded = np.zeros((len(chunk), 8), dtype=np.uint8)
            padded[:, :width] = data
            keys.append(padded.view("<u8").ravel())
    return width, keys


def _words(data: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The 8 bytes from each start as one ``<u8`` (unaligned reads; no index
    array of every byte). Starts closer than 8 bytes to the end are read
    from a zero-padded copy of the last bytes."""
    out = np.zeros(len(starts), dtype=np.uint64)
    limit = len(data) - 8
    inside = starts <= limit
    if limit >= 0:
        words = np.ndarray((limit + 1,), dtype="<u8", buffer=data, strides=(1,))
        out[inside] = words[starts[inside]]
    if not inside.all():
        tail = np.zeros(16, dtype=np.uint8)
        first = max(limit + 1, 0)
        tail[: len(data) - first] = data[first:]
        tail_words = np.ndarray((9,), dtype="<u8", buffer=tail, strides=(1,))
        out[~inside] = tail_words[starts[~inside] - first]
    return out


def fixed_width_rows(
    chunks: list[pa.Array], rows: np.ndarray | None
) -> tuple[int, np.ndarray] | None:
    """The values at ``rows`` (sorted positions over all chunks; ``None``:
    every row) as integer keys, when none is empty and all have one byte
    width up to 8: the width and one ``<u8`` per value holding its bytes
    (zero-padded), equal exactly when the texts are. ``None`` otherwise (a
    null in a chunk, an empty value, widths that differ).
    """
    sizes = np.array([len(c) for c in chunks], dtype=np.int64)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    cuts = None if rows is None else np.searchsorted(rows, bounds)
    width: int | None = None
    parts = []
    for i, chunk in enumerate(chunks):
        local = None if cuts is None else rows[cuts[i] : cuts[i + 1]] - bounds[i]
        if not len(chunk) or (local is not None and not len(local)):
            continue
        if chunk.null_count:
            return None
        offsets = _offsets(chunk)
        starts = offsets[:-1] if local is None else offsets[local]
        ends = offsets[1:] if local is None else offsets[local + 1]
        if width is None:
            width = int(ends[0] - starts[0])
        if not 0 < width <= 8 or not bool((ends - starts == width).all()):
            return None
        keys = _words(_data(chunk), starts.astype(np.int64))
        if width < 8:
            keys &= np.uint64((1 << (8 * width)) - 1)  # the next value's bytes off
        parts.append(keys)
    if width is None:
        return None
    return width, parts[0] if len(parts) == 1 else np.concatenate(parts)
