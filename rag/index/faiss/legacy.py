"""Readers of what the FAISS store wrote before format 3, and of the vector files it still writes.

Format 1 and 2 kept chunk texts as JSON and BM25 rows in .npz files that load into Python
objects; rag/index/faiss/store.py reads them into memory and its next save writes format 3.
Readers name the damaged file and the fix.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import IndexCorruptError
from rag.index.base import DocumentRecord
from rag.index.files import read_json
from rag.index.lexical import LexicalIndex
from rag.text.chunking import passage_text
from rag.types import Chunk

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)


def read_lexical(path: Path, *, skip: Collection[int] = (), into: LexicalIndex | None = None) -> LexicalIndex | None:
    """The saved BM25 rows (added to `into` when given), or None when of an older layout (re-derived then)."""
    if not path.is_file():
        raise IndexCorruptError(f"lexical index {path} is missing: run `rag ingest --rebuild`")
    try:
        if into is None:
            return LexicalIndex.load(path, skip=skip)
        into.add_saved(path, skip=skip)
        return into
    except KeyError:
        if into is not None:
            raise IndexCorruptError(f"lexical index {path} lacks fields: run `rag ingest --rebuild`") from None
        log.info("lexical index %s has an older layout; rebuilding it from the chunks", path)
        return None
    except (OSError, ValueError) as e:
        raise IndexCorruptError(f"lexical index {path} is unreadable ({e}): run `rag ingest --rebuild`") from e


def read_faiss(path: Path):  # noqa: ANN202
    import faiss

    if not path.is_file():
        raise IndexCorruptError(f"index file {path} is missing: run `rag ingest --rebuild`")
    try:
        return faiss.read_index(str(path))
    except RuntimeError as e:
        raise IndexCorruptError(f"index file {path} is unreadable: run `rag ingest --rebuild`") from e


def read_vectors(path: Path, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, float32 vectors) of a delta segment."""
    import numpy as np

    if not path.is_file():
        raise IndexCorruptError(f"vectors file {path} is missing: run `rag ingest --rebuild`")
    try:
        with np.load(path, allow_pickle=False) as data:
            ids, vectors = data["ids"].astype(np.int64), data["vectors"].astype(np.float32)
    except (OSError, ValueError, KeyError) as e:
        raise IndexCorruptError(f"vectors file {path} is unreadable ({e}): run `rag ingest --rebuild`") from e
    if vectors.shape != (len(ids), dim):
        raise IndexCorruptError(f"vectors file {path} holds {vectors.shape}, not ({len(ids)}, {dim}): rebuild")
    return ids, vectors


def read_chunks(path: Path, *, skip: Collection[int] = ()) -> dict[int, Chunk]:
    if not path.is_file():
        raise IndexCorruptError(f"chunk store {path} is missing: run `rag ingest --rebuild`")
    try:
        data = json.loads(path.read_bytes())
        fields, rows = data["fields"], data["rows"]
        names = fields[1:]
        if fields[0] != "id":
            raise ValueError(f"first field is {fields[0]!r}, not 'id'")
        if names == list(Chunk.__dataclass_fields__):
            return {row[0]: Chunk(*row[1:]) for row in rows if row[0] not in skip}
        return {row[0]: Chunk.from_dict(dict(zip(names, row[1:], strict=True))) for row in rows if row[0] not in skip}
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise IndexCorruptError(f"chunk store {path} is damaged ({e}): run `rag ingest --rebuild`") from e


def read_chunks_jsonl(path: Path) -> dict[int, Chunk]:
    """The chunk store of format 1: one JSON object per line."""
    if not path.is_file():
        raise IndexCorruptError(f"chunk store {path} is missing: run `rag ingest --rebuild`")
    chunks: dict[int, Chunk] = {}
    try:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    data = json.loads(line)
                    chunks[int(data["id"])] = Chunk.from_dict(data)
    except (ValueError, KeyError, TypeError) as e:
        raise IndexCorruptError(f"chunk store {path} is damaged ({e}): run `rag ingest --rebuild`") from e
    return chunks


def load(
    path: Path, manifest: dict[str, Any], dim: int
) -> tuple[Any, dict[int, Chunk], LexicalIndex, dict[str, DocumentRecord]]:
    """(FAISS index, chunks, BM25 rows, documents) of a format-1 or format-2 index, all in memory."""
    if manifest["format_version"] == 1:
        return _load_format1(path, manifest)
    return _load_format2(path, manifest["segments"], dim)


def _load_format1(
    path: Path, manifest: dict[str, Any]
) -> tuple[Any, dict[int, Chunk], LexicalIndex, dict[str, DocumentRecord]]:
    """One generation: vectors, chunks (JSON lines), lexical; the documents live in the manifest."""
    documents = {src: DocumentRecord.from_dict(rec) for src, rec in manifest["documents"].items()}
    index = read_faiss(path / manifest["files"]["vectors"])
    chunks = read_chunks_jsonl(path / manifest["files"]["chunks"])
    lexical = read_lexical(path / manifest["files"]["lexical"]) if "lexical" in manifest["files"] else None
    if lexical is None:  # written before the current lexical format: derive it from the chunks
        lexical = LexicalIndex()
        for i, chunk in chunks.items():
            lexical.add(i, passage_text(chunk))
    return index, chunks, lexical, documents


def _load_format2(
    path: Path, segments: list[dict[str, Any]], dim: int
) -> tuple[Any, dict[int, Chunk], LexicalIndex, dict[str, DocumentRecord]]:
    """A base segment and its deltas, minus their tombstones."""
    import numpy as np

    if not segments or segments[0].get("kind") != "base":
        raise IndexCorruptError(f"index {path} has no base segment: run `rag ingest --rebuild`")
    changes = [read_json(path / segment["files"]["documents"]) for segment in segments]
    dead = {int(i) for change in changes for i in change["tombstones"]}
    dead_ids = np.fromiter(dead, dtype=np.int64, count=len(dead))
    index, lexical, chunks, documents = None, LexicalIndex(), {}, {}
    for segment, change in zip(segments, changes, strict=True):
        files = {kind: path / name for kind, name in segment["files"].items()}
        if segment["kind"] == "base":
            index = read_faiss(files["vectors"])
            if len(dead_ids):
                index.remove_ids(dead_ids)
            lexical = read_lexical(files["lexical"], skip=dead)
            if lexical is None:  # only format 1 can hold the older lexical layout
                raise IndexCorruptError(f"{files['lexical']} has an older layout: run `rag ingest --rebuild`")
        else:
            ids, vectors = read_vectors(files["vectors"], dim)
            live = ~np.isin(ids, dead_ids)
            if live.any():
                index.add_with_ids(np.ascontiguousarray(vectors[live]), ids[live])
            read_lexical(files["lexical"], skip=dead, into=lexical)
        chunks.update(read_chunks(files["chunks"], skip=dead))
        for source in change["removed"]:
            documents.pop(source, None)
        documents.update((s, DocumentRecord.from_dict(r)) for s, r in change["documents"].items())
    return index, chunks, lexical, documents
