"""A segment's chunk texts on disk: one JSON row per chunk, found by chunk id through mapped arrays.

Arrays: ``ids`` (int64, ascending), ``offsets`` (int64, one more than ids) and ``data`` (the UTF-8
rows back to back; row r is ``data[offsets[r]:offsets[r + 1]]``, a JSON list of the Chunk's fields
in the order the metadata names). Reading one chunk decodes one row; nothing else is in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from rag.errors import IndexCorruptError
from rag.index.faiss.arrays import ArrayWriter, open_arrays
from rag.types import Chunk

FIELDS = list(Chunk.__dataclass_fields__)


def encode(chunk: Chunk) -> bytes:
    return json.dumps([getattr(chunk, name) for name in FIELDS], ensure_ascii=False).encode()


class ChunkFile:
    """The chunks of one segment, read from their mapped file one row at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        arrays, meta = open_arrays(path)
        try:
            self.ids, self._offsets, self._data = arrays["ids"], arrays["offsets"], arrays["data"]
            self._fields = meta["fields"]
        except KeyError as e:
            raise IndexCorruptError(f"chunk file {path} lacks {e}: run `rag ingest --rebuild`") from e
        if len(self._offsets) != len(self.ids) + 1:
            raise IndexCorruptError(f"chunk file {path} has {len(self.ids)} ids but {len(self._offsets)} offsets")

    def __len__(self) -> int:
        return len(self.ids)

    def row_of(self, chunk_id: int) -> int:
        """The row of a chunk id, or -1 when this segment does not hold it."""
        row = int(np.searchsorted(self.ids, chunk_id))
        return row if row < len(self.ids) and int(self.ids[row]) == chunk_id else -1

    def row_bytes(self, row: int) -> bytes:
        return bytes(self._data[int(self._offsets[row]) : int(self._offsets[row + 1])])

    def chunk(self, row: int) -> Chunk:
        try:
            values = json.loads(self.row_bytes(row))
            if self._fields == FIELDS:
                return Chunk(*values)
            return Chunk.from_dict(dict(zip(self._fields, values, strict=True)))
        except (ValueError, TypeError) as e:
            raise IndexCorruptError(f"chunk file {self.path} is damaged at row {row} ({e}): rebuild") from e

    def live_runs(self, live: np.ndarray) -> Iterator[tuple[int, int]]:
        """(first, end) of each run of consecutive live rows."""
        edges = np.flatnonzero(np.diff(np.concatenate([[False], live, [False]]).astype(np.int8)))
        yield from zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)

    def data_of(self, first: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """(the rows' bytes, their lengths) of rows first..end-1."""
        offsets = self._offsets[first : end + 1]
        return self._data[int(offsets[0]) : int(offsets[-1])], np.diff(offsets)


def write(path: Path, sources: Iterable[tuple[ChunkFile, np.ndarray]], extra: dict[int, Chunk]) -> int:
    """The live rows of each (file, live mask), then the extra chunks (ids above them), as one chunk file.

    Rows are copied as bytes, run by run, so a compaction of a million chunks decodes none of them.
    Returns the number of chunks written.
    """
    ids: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    data: list[np.ndarray] = []
    for file, live in sources:
        for first, end in file.live_runs(live):
            rows, row_lengths = file.data_of(first, end)
            ids.append(np.asarray(file.ids[first:end]))
            lengths.append(row_lengths)
            data.append(rows)
    new_ids = sorted(extra)
    encoded = [encode(extra[i]) for i in new_ids]
    ids.append(np.array(new_ids, dtype=np.int64))
    lengths.append(np.array([len(e) for e in encoded], dtype=np.int64))
    data.append(np.frombuffer(b"".join(encoded), dtype=np.uint8))
    all_ids = np.concatenate(ids).astype(np.int64)
    if len(all_ids) > 1 and not (np.diff(all_ids) > 0).all():
        raise ValueError("chunk ids of a segment must ascend")
    offsets = np.concatenate([[0], np.cumsum(np.concatenate(lengths))]).astype(np.int64)
    writer = ArrayWriter(path)
    writer.add("ids", all_ids)
    writer.add("offsets", offsets)
    writer.add_parts("data", np.uint8, data)
    writer.close({"fields": FIELDS})
    return len(all_ids)
