"""The FAISS store's segment files: names, opening a saved state, writing a segment, cleaning up.

A segment is four files of one generation; every file is written to a temporary name, fsynced
and renamed (rag/index/files.py). Layout of ``indexes/<name>/`` (format 3)::

    manifest.json            format version, embedder, chunking, the list of segments (the commit point)
    vectors-<gen>.faiss      base segment: IndexIDMap2(IndexFlatIP), or IVF-SQ8 from ann_threshold chunks
    vectors-<gen>.npz        delta segment: the float32 vectors of the chunks it adds, with their ids
    chunks-<gen>.arr         the segment's chunks, one JSON row each, found by id (rag/index/faiss/chunk_file.py)
    lexical-<gen>.arr        the segment's BM25 postings by term key (rag/index/faiss/postings.py)
    documents-<gen>.json     documents added or changed by the segment, sources it removed, and the
                             chunk ids it deletes from earlier segments (tombstones)
    .lock / .readers         the writer lock and the readers lock (rag/index/files.py)
    ingest-journal.jsonl     only while an ingest is unfinished: its finished files (rag/ingest/journal.py)
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import IndexCorruptError, IndexMismatchError
from rag.index import files
from rag.index.base import MANIFEST, DocumentRecord
from rag.index.faiss import chunk_file, legacy, postings
from rag.index.faiss.chunk_file import ChunkFile
from rag.index.faiss.postings import Postings
from rag.index.lexical import LexicalIndex
from rag.types import Chunk

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

FORMAT_VERSION = 3
READABLE_FORMATS = (1, 2, 3)
GENERATION_FILE = re.compile(r"\.?(?:vectors|chunks|lexical|documents)-(\d+)\.(?:faiss|npz|jsonl|json|arr)(?:\.tmp)?")


def segment_files(gen: int, *, base: bool) -> dict[str, str]:
    return {
        "vectors": f"vectors-{gen:06d}.{'faiss' if base else 'npz'}",
        "chunks": f"chunks-{gen:06d}.arr",
        "lexical": f"lexical-{gen:06d}.arr",
        "documents": f"documents-{gen:06d}.json",
    }


class Segment:
    """One saved segment's chunk file and postings (mapped), and the chunk ids it holds."""

    def __init__(self, path: Path, names: dict[str, str]) -> None:
        self.chunks = ChunkFile(path / names["chunks"])
        self.postings = Postings.open(path / names["lexical"])
        if len(self.chunks) != len(self.postings):
            raise IndexCorruptError(
                f"{names['chunks']} holds {len(self.chunks)} chunks but {names['lexical']} {len(self.postings)} rows: "
                "run `rag ingest --rebuild`"
            )
        self.first_id = int(self.chunks.ids[0]) if len(self.chunks) else -1


def read_manifest(path: Path) -> dict[str, Any]:
    manifest_path = path / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise IndexCorruptError(f"{manifest_path} is unreadable ({e}): run `rag ingest --rebuild`") from e
    if manifest.get("store", "faiss") != "faiss":
        raise IndexMismatchError(
            f"index {path} was built with the {manifest['store']} store: open it with rag.index.base.open_store"
        )
    version = manifest.get("format_version")
    if version not in READABLE_FORMATS:
        raise IndexMismatchError(
            f"index {path} has format version {version}, this rag reads {', '.join(map(str, READABLE_FORMATS))}: "
            "run `rag ingest --rebuild`"
        )
    return manifest


def open_saved(
    path: Path, segments: list[dict[str, Any]], dim: int
) -> tuple[Any, list[Segment], set[int], dict[str, DocumentRecord], int]:
    """(FAISS index, open segments, dead chunk ids, documents, live chunks) of a format-3 state."""
    import numpy as np

    if not segments or segments[0].get("kind") != "base":
        raise IndexCorruptError(f"index {path} has no base segment: run `rag ingest --rebuild`")
    changes = [files.read_json(path / segment["files"]["documents"]) for segment in segments]
    dead = {int(i) for change in changes for i in change["tombstones"]}
    dead_ids = np.fromiter(dead, dtype=np.int64, count=len(dead))
    index, opened, documents, live = None, [], {}, 0
    for segment, change in zip(segments, changes, strict=True):
        names = segment["files"]
        if segment["kind"] == "base":
            index = legacy.read_faiss(path / names["vectors"])
            if len(dead_ids):
                index.remove_ids(dead_ids)
        else:
            ids, vectors = legacy.read_vectors(path / names["vectors"], dim)
            keep = ~np.isin(ids, dead_ids)
            if keep.any():
                index.add_with_ids(np.ascontiguousarray(vectors[keep]), ids[keep])
        opened.append(Segment(path, names))
        live += len(opened[-1].chunks) - int(np.isin(opened[-1].chunks.ids, dead_ids).sum())
        for source in change["removed"]:
            documents.pop(source, None)
        documents.update((s, DocumentRecord.from_dict(r)) for s, r in change["documents"].items())
    return index, opened, dead, documents, live


def next_generation(path: Path, current: int) -> int:
    """One above the manifest's and any number on disk (a rebuilt store starts at 0, a crashed save
    may have left files): the live manifest's files stay untouched until it is replaced."""
    on_disk = [int(m.group(1)) for p in path.iterdir() if (m := GENERATION_FILE.fullmatch(p.name))]
    return max([current, *on_disk]) + 1


def write_texts_and_postings(
    path: Path,
    names: dict[str, str],
    saved: list[Segment],
    dead: set[int],
    memory: dict[int, Chunk],
    memory_lexical: LexicalIndex,
) -> int:
    """The chunk and postings files of a segment: the live rows of the saved segments (for a base,
    copied without decoding) and the in-memory chunks. Returns the number of chunks written."""
    import numpy as np

    dead_ids = np.fromiter(dead, dtype=np.int64, count=len(dead))
    lives = [~np.isin(s.chunks.ids, dead_ids) for s in saved]
    written = 0

    def write_chunks(tmp: Path) -> None:
        nonlocal written
        written = chunk_file.write(tmp, [(s.chunks, live) for s, live in zip(saved, lives, strict=True)], memory)

    files.write_atomically(path / names["chunks"], write_chunks)
    sources = [(s.postings, live) for s, live in zip(saved, lives, strict=True)]
    if len(memory_lexical):
        frozen = postings.freeze(memory_lexical)
        sources.append((frozen, np.ones(len(frozen), dtype=bool)))
    params = memory_lexical.params()
    files.write_atomically(path / names["lexical"], lambda tmp: postings.write(tmp, sources, params))
    return written


def write_delta_vectors(path: Path, ids: list[int], vectors: np.ndarray) -> None:
    import numpy as np

    def write(tmp: Path) -> None:
        with tmp.open("wb") as handle:
            np.savez(handle, ids=np.array(ids, dtype=np.int64), vectors=vectors)

    files.write_atomically(path, write)


def write_documents(path: Path, change: dict[str, Any]) -> None:
    files.write_atomically(path, lambda tmp: files.write_json(tmp, change))


def delete_unreferenced(path: Path, segments: list[dict[str, Any]]) -> None:
    """Files of older states and of saves that crashed before their manifest (temporary ones too),
    unless a load holds the readers lock now: then they are left for the next save."""
    keep = {name for segment in segments for name in segment["files"].values()}
    with files.no_readers(path) as alone:
        if not alone:
            log.info("index %s: a reader is loading; older files are left for the next save", path)
            return
        for file in path.iterdir():
            if GENERATION_FILE.fullmatch(file.name) and file.name not in keep:
                file.unlink(missing_ok=True)
