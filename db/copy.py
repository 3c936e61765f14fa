"""PostgreSQL's binary COPY format for columns of fixed-size numbers, to and from numpy arrays:
millions of rows move without a Python object per value (PostgreSQL manual, COPY, "Binary
Format"). Used for the CF model (domain/cf.py): its training rows out, its edges in and out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import numpy as np
import numpy.typing as npt

#: The binary COPY header: 11-byte signature, int32 flags, int32 header-extension length.
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER = 19
#: The trailer: a field count of −1.
_TRAILER = b"\xff\xff"
#: Bytes of a stream buffered before they are parsed into arrays.
_DRAIN_BYTES = 1 << 22
#: Rows per chunk of a stream written to PostgreSQL.
_CHUNK_ROWS = 1 << 18

#: Columns of a stream: (name, big-endian numpy type such as ">i4" or ">f8"), NOT NULL.
Columns = Sequence[tuple[str, str]]


def row_dtype(columns: Columns) -> np.dtype[Any]:
    """One row of the stream: a field count (int16), then per field its length (int32) and
    value, all big-endian."""
    fields: list[tuple[str, str]] = [("fields", ">i2")]
    for i, (name, kind) in enumerate(columns):
        fields += [(f"_len{i}", ">i4"), (name, kind)]
    return np.dtype(fields)


class BinaryCopyReader:
    """Collects a binary COPY stream of `columns` into compact numpy arrays as asyncpg hands
    its chunks over (pass it as `copy_from_query(…, output=reader, format="binary")`), never the
    whole stream as bytes or Python objects. Raises ValueError if the stream is not that
    format."""

    def __init__(self, columns: Columns) -> None:
        self._columns = tuple(columns)
        self._dtype = row_dtype(self._columns)
        self._buffer = bytearray()
        self._header_seen = False
        self._parts: dict[str, list[npt.NDArray[Any]]] = {name: [] for name, _ in self._columns}

    async def __call__(self, chunk: bytes) -> None:
        self._buffer += chunk
        if len(self._buffer) >= _DRAIN_BYTES:
            self._drain()

    def _drain(self) -> None:
        if not self._header_seen:
            if len(self._buffer) < _HEADER:
                return
            if bytes(self._buffer[:11]) != COPY_SIGNATURE:
                raise ValueError("not a binary COPY stream")
            extension = int.from_bytes(self._buffer[15:19], "big")
            del self._buffer[: _HEADER + extension]
            self._header_seen = True
        rows = len(self._buffer) // self._dtype.itemsize
        if rows:
            size = rows * self._dtype.itemsize
            part = np.frombuffer(bytes(self._buffer[:size]), dtype=self._dtype)
            if (part["fields"] != len(self._columns)).any() or any(
                (part[f"_len{i}"] != np.dtype(kind).itemsize).any()
                for i, (_, kind) in enumerate(self._columns)
            ):
                raise ValueError("unexpected row layout in the COPY stream")
            for name, kind in self._columns:
                self._parts[name].append(part[name].astype(np.dtype(kind).newbyteorder("=")))
            del self._buffer[:size]

    def finish(self) -> dict[str, npt.NDArray[Any]]:
        """Column name → native-endian array of every row received. Raises ValueError for a
        stream cut short."""
        self._drain()
        if bytes(self._buffer) not in (b"", _TRAILER):
            raise ValueError("truncated binary COPY stream")
        return {
            name: np.concatenate(self._parts[name])
            if self._parts[name]
            else np.zeros(0, dtype=np.dtype(kind).newbyteorder("="))
            for name, kind in self._columns
        }


async def binary_copy_stream(columns: Sequence[tuple[str, npt.NDArray[Any]]]) -> AsyncIterator[bytes]:
    """A binary COPY stream (header, rows, trailer) of equal-length columns (name, array whose
    dtype is the column's numpy type), in chunks of `_CHUNK_ROWS` rows."""
    dtype = row_dtype([(name, values.dtype.newbyteorder(">").str) for name, values in columns])
    n = len(columns[0][1]) if columns else 0
    yield COPY_SIGNATURE + bytes(8)
    for start in range(0, n, _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, n)
        rows = np.empty(stop - start, dtype=dtype)
        rows["fields"] = len(columns)
        for i, (name, values) in enumerate(columns):
            rows[f"_len{i}"] = values.dtype.itemsize
            rows[name] = values[start:stop]
        yield rows.tobytes()
    yield _TRAILER


async def copy_out(driver: asyncpg.Connection, query: str, columns: Columns) -> dict[str, npt.NDArray[Any]]:
    """The rows of `query` (selecting `columns`, in that order and of those types) as arrays
    by column name (`BinaryCopyReader.finish`)."""
    reader = BinaryCopyReader(columns)
    await driver.copy_from_query(query, output=reader, format="binary")
    return reader.finish()


async def copy_in(
    driver: asyncpg.Connection, table: str, columns: Sequence[tuple[str, npt.NDArray[Any]]]
) -> None:
    """Append the rows of equal-length arrays to `table` (column name, array of the column's
    numpy type)."""
    await driver.copy_to_table(
        table,
        source=binary_copy_stream(columns),
        columns=[name for name, _ in columns],
        format="binary",
    )
