"""Files of named 1-d numpy arrays that open memory-mapped, so a query reads only the pages it touches.

Layout: the arrays one after another (each 64-byte aligned), then a JSON footer naming each
array's dtype, length and offset plus the writer's metadata, then the footer's length and a magic
number. Writing streams (a merge of segments never holds a whole array), reading maps the file
once and views slices of it. Files are written once and never changed in place (the store writes
a new file and renames it), so a mapping stays valid while a writer replaces the index.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexCorruptError

MAGIC = b"RAGARR01"
_ALIGN = 64
_TRAILER = struct.Struct("<Q8s")


class ArrayWriter:
    """Append arrays (whole or in parts) to a new file; close() writes the footer."""

    def __init__(self, path: Path) -> None:
        self._handle = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._entries: dict[str, dict[str, Any]] = {}

    def add(self, name: str, array: np.ndarray) -> None:
        self.add_parts(name, np.asarray(array).dtype, [np.asarray(array)])

    def add_parts(self, name: str, dtype: np.dtype | str, parts: Iterable[np.ndarray]) -> None:
        """One array written from consecutive parts (each converted to dtype)."""
        dtype = np.dtype(dtype)
        pad = -self._handle.tell() % _ALIGN
        self._handle.write(b"\0" * pad)
        offset, length = self._handle.tell(), 0
        for part in parts:
            part = np.ascontiguousarray(part, dtype=dtype).ravel()
            self._handle.write(memoryview(part).cast("B"))
            length += len(part)
        self._entries[name] = {"dtype": dtype.str, "length": length, "offset": offset}

    def close(self, meta: dict[str, Any] | None = None) -> None:
        footer = json.dumps({"arrays": self._entries, "meta": meta or {}}, ensure_ascii=False).encode()
        self._handle.write(footer)
        self._handle.write(_TRAILER.pack(len(footer), MAGIC))
        self._handle.close()


def open_arrays(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(name -> read-only memory-mapped array, metadata) of a file ArrayWriter wrote."""
    if not path.is_file():
        raise IndexCorruptError(f"segment file {path} is missing: run `rag ingest --rebuild`")
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            handle.seek(max(size - _TRAILER.size, 0))
            footer_len, magic = _TRAILER.unpack(handle.read(_TRAILER.size))
            if magic != MAGIC or footer_len > size - _TRAILER.size:
                raise ValueError("no array footer at its end (cut short?)")
            handle.seek(size - _TRAILER.size - footer_len)
            footer = json.loads(handle.read(footer_len))
        mapped = np.memmap(path, dtype=np.uint8, mode="r")
        arrays = {}
        for name, entry in footer["arrays"].items():
            dtype = np.dtype(entry["dtype"])
            start, end = entry["offset"], entry["offset"] + entry["length"] * dtype.itemsize
            if end > size:
                raise ValueError(f"array {name} runs past the end of the file")
            arrays[name] = mapped[start:end].view(dtype)
        return arrays, footer["meta"]
    except (OSError, ValueError, KeyError, struct.error) as e:
        raise IndexCorruptError(f"segment file {path} is damaged ({e}): run `rag ingest --rebuild`") from e
