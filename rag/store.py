"""The persisted index: FAISS vectors + chunk store + manifest, written atomically.

Layout of ``indexes/<name>/``::

    manifest.json            format version, embedder, chunking, documents, current file names
    vectors-<gen>.faiss      IndexIDMap2 over an inner-product index of unit vectors
    chunks-<gen>.jsonl       one chunk per line with its FAISS id
    lexical-<gen>.npz        BM25 term counts (exact and diacritics-folded fields)
    .lock                    held while a writer is active; names the holder
    ingest-journal.jsonl     only while an ingest is unfinished: its finished files (rag/journal.py)

Each save writes a new generation of data files, fsyncs them, then atomically replaces
manifest.json; only after that are older generations deleted. A crash at any moment leaves
the previous complete state readable.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag import vector_index
from rag.chunking import passage_text
from rag.errors import IndexCorruptError, IndexLockedError, IndexMismatchError, IndexNotFoundError
from rag.lexical import LexicalIndex
from rag.types import Chunk, Document

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
LOCK_FILE = ".lock"
_GENERATION_FILE = re.compile(r"(?:vectors|chunks|lexical)-(\d+)\.(?:faiss|jsonl|npz)")


@dataclass
class DocumentRecord:
    """What the manifest remembers about one ingested file."""

    sha256: str
    title: str
    ids: list[int] = field(default_factory=list)
    # File size and mtime when it was hashed, so a later ingest can skip re-hashing an
    # untouched file. Only recorded for files that had not been modified for a few seconds
    # (see rag.ingest), so a write in the same clock tick is never mistaken for "unchanged".
    size: int | None = None
    mtime_ns: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"sha256": self.sha256, "title": self.title, "ids": self.ids}
        if self.size is not None and self.mtime_ns is not None:
            data |= {"size": self.size, "mtime_ns": self.mtime_ns}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentRecord:
        return cls(data["sha256"], data["title"], list(data["ids"]), data.get("size"), data.get("mtime_ns"))


class IndexStore:
    """Vectors and chunks of one index; mutate in memory, then save() atomically."""

    def __init__(
        self,
        path: Path,
        *,
        model_id: str,
        dim: int,
        chunking: dict[str, int],
        ann_threshold: int = vector_index.DEFAULT_ANN_THRESHOLD,
        nprobe: int = vector_index.DEFAULT_NPROBE,
    ) -> None:
        self.path = Path(path)
        self.model_id = model_id
        self.dim = dim
        self.chunking = dict(chunking)
        self.documents: dict[str, DocumentRecord] = {}
        self._chunks: dict[int, Chunk] = {}
        self._next_id = 0
        self._generation = 0
        self._created = time.strftime("%Y-%m-%dT%H:%M:%S")
        self._index = vector_index.new_exact(dim)
        self.lexical = LexicalIndex()
        self.ann_threshold = ann_threshold
        self.nprobe = nprobe

    # ---------------------------------------------------------------- loading
    @classmethod
    def exists(cls, path: Path) -> bool:
        return (Path(path) / MANIFEST).is_file()

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        ann_threshold: int = vector_index.DEFAULT_ANN_THRESHOLD,
        nprobe: int = vector_index.DEFAULT_NPROBE,
    ) -> IndexStore:
        path = Path(path)
        require_index(path)
        manifest_path = path / MANIFEST
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise IndexCorruptError(f"{manifest_path} is unreadable ({e}): run `rag ingest --rebuild`") from e
        version = manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise IndexMismatchError(
                f"index {path} has format version {version}, this rag reads {FORMAT_VERSION}: "
                "run `rag ingest --rebuild`"
            )
        store = cls(
            path,
            model_id=manifest["embedder"]["model_id"],
            dim=int(manifest["embedder"]["dim"]),
            chunking=manifest.get("chunking", {}),
            ann_threshold=ann_threshold,
            nprobe=nprobe,
        )
        store._generation = int(manifest["generation"])
        store._next_id = int(manifest["next_id"])
        store._created = manifest.get("created", store._created)
        store.documents = {src: DocumentRecord.from_dict(rec) for src, rec in manifest["documents"].items()}
        store._index = _read_faiss(path / manifest["files"]["vectors"])
        vector_index.set_nprobe(store._index, nprobe)
        store._chunks = _read_chunks(path / manifest["files"]["chunks"])
        lexical = _read_lexical(path / manifest["files"]["lexical"]) if "lexical" in manifest["files"] else None
        if lexical is None:  # written before the current lexical format: derive it from the chunks
            for i, chunk in store._chunks.items():
                store.lexical.add(i, passage_text(chunk))
        else:
            store.lexical = lexical
        if store._index.ntotal != len(store._chunks):
            raise IndexCorruptError(
                f"index {path} holds {store._index.ntotal} vectors but {len(store._chunks)} chunks: "
                "run `rag ingest --rebuild`"
            )
        return store

    def check_compatible(self, model_id: str, dim: int | None = None) -> None:
        """Refuse to mix vectors of two embedders; the message names both and the fix.

        The dimension is checked too when given (and on every search, from the query vector).
        """
        dim = self.dim if dim is None else dim
        if model_id != self.model_id or dim != self.dim:
            raise IndexMismatchError(
                f"index {self.path} was built with {self.model_id} (dim {self.dim}), settings ask for "
                f"{model_id} (dim {dim}): run `rag ingest --rebuild --index {self.path}` "
                "or choose the embedder the index was built with"
            )

    # ---------------------------------------------------------------- content
    def __len__(self) -> int:
        return len(self._chunks)

    def chunks(self) -> list[Chunk]:
        """All chunks in insertion order."""
        return [self._chunks[i] for i in sorted(self._chunks)]

    def chunks_of(self, source: str) -> list[Chunk]:
        record = self.documents.get(source)
        return [self._chunks[i] for i in record.ids] if record else []

    def add(
        self,
        doc: Document,
        chunks: list[Chunk],
        vectors: np.ndarray,
        *,
        size: int | None = None,
        mtime_ns: int | None = None,
    ) -> None:
        """Add (or replace) a document with its chunk vectors; size and mtime_ns of its file when known."""
        import numpy as np

        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if len(vectors) and vectors.shape[1] != self.dim:
            raise IndexMismatchError(f"vectors of dim {vectors.shape[1]} cannot go into index of dim {self.dim}")
        self.remove(doc.source)
        ids = np.arange(self._next_id, self._next_id + len(chunks), dtype=np.int64)
        self._next_id += len(chunks)
        if len(chunks):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        for i, chunk in zip(ids.tolist(), chunks, strict=True):
            self._chunks[i] = chunk
            self.lexical.add(i, passage_text(chunk))
        self.documents[doc.source] = DocumentRecord(doc.sha256, doc.title, ids.tolist(), size, mtime_ns)

    def remove(self, source: str) -> bool:
        """Drop a document's chunks and vectors; False when it was not indexed."""
        import numpy as np

        record = self.documents.pop(source, None)
        if record is None:
            return False
        if record.ids:
            self._index.remove_ids(np.asarray(record.ids, dtype=np.int64))
        for i in record.ids:
            self._chunks.pop(i, None)
            self.lexical.remove(i)
        return True

    def search(self, query: np.ndarray, k: int) -> list[tuple[Chunk, float]]:
        """Top-k chunks by inner product (cosine for unit vectors), best first."""
        import numpy as np

        if not self._chunks or k <= 0:
            return []
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        if q.shape[1] != self.dim:
            raise IndexMismatchError(
                f"index {self.path} holds vectors of dim {self.dim} ({self.model_id}), the query has dim "
                f"{q.shape[1]}: run `rag ingest --rebuild --index {self.path}` or use the index's embedder"
            )
        scores, ids = self._index.search(q, min(k, len(self._chunks)))
        return [(self._chunks[int(i)], float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]

    def search_lexical(self, query: str, k: int) -> list[tuple[Chunk, float]]:
        """Top-k chunks by BM25; an unaccented query is matched against the folded fields."""
        return [(self._chunks[i], score) for i, score in self.lexical.search(query, k)]

    # ---------------------------------------------------------------- saving
    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Exclusive lock on this index's folder for the duration of a write session."""
        with writer_lock(self.path):
            yield

    def save(self) -> None:
        """Write a new generation atomically, then delete the files of older ones."""
        import faiss

        if not vector_index.is_approximate(self._index) and self._index.ntotal >= self.ann_threshold:
            vectors, ids = vector_index.exact_contents(self._index)
            log.info("index %s reached %d vectors: switching to an IVF index", self.path, len(ids))
            self._index = vector_index.build_ivf(vectors, ids, nprobe=self.nprobe)
        self.path.mkdir(parents=True, exist_ok=True)
        # Never reuse a generation number present on disk (a rebuilt store starts at 0): the
        # live manifest's files must stay untouched until the new manifest replaces it.
        on_disk = [int(m.group(1)) for p in self.path.iterdir() if (m := _GENERATION_FILE.fullmatch(p.name))]
        gen = max([self._generation, *on_disk]) + 1
        vectors_name, chunks_name = f"vectors-{gen:06d}.faiss", f"chunks-{gen:06d}.jsonl"
        lexical_name = f"lexical-{gen:06d}.npz"
        tmp_lexical = self.path / f".{lexical_name}.tmp"
        self.lexical.save(tmp_lexical)
        _fsync_file(tmp_lexical)
        os.replace(tmp_lexical, self.path / lexical_name)
        tmp_vectors = self.path / f".{vectors_name}.tmp"
        faiss.write_index(self._index, str(tmp_vectors))
        _fsync_file(tmp_vectors)
        os.replace(tmp_vectors, self.path / vectors_name)
        lines = (json.dumps({"id": i, **self._chunks[i].to_dict()}, ensure_ascii=False) for i in sorted(self._chunks))
        _atomic_write(self.path / chunks_name, "\n".join(lines) + "\n")
        manifest = {
            "format_version": FORMAT_VERSION,
            "generation": gen,
            "embedder": {"model_id": self.model_id, "dim": self.dim},
            "chunking": self.chunking,
            "faiss": vector_index.describe(self._index),
            "created": self._created,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "next_id": self._next_id,
            "n_chunks": len(self._chunks),
            "files": {"vectors": vectors_name, "chunks": chunks_name, "lexical": lexical_name},
            "documents": {src: rec.to_dict() for src, rec in sorted(self.documents.items())},
        }
        _atomic_write(self.path / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
        self._generation = gen
        current = {vectors_name, chunks_name, lexical_name}
        for pattern in ("vectors-*.faiss", "chunks-*.jsonl", "lexical-*.npz"):
            for old in self.path.glob(pattern):
                if old.name not in current:
                    old.unlink(missing_ok=True)


def require_index(path: Path) -> None:
    """IndexNotFoundError naming the fix when no index exists at path."""
    if not (Path(path) / MANIFEST).is_file():
        raise IndexNotFoundError(f"no index at {path}: build it with `rag ingest <folder> --index {path}`")


@contextlib.contextmanager
def writer_lock(path: Path) -> Iterator[None]:
    """Exclusive lock on an index folder (created if needed) while one process writes it.

    A second writer fails at once (it does not wait) with IndexLockedError naming the lock file
    and the holder's pid, command line and start time, which the holder writes into the lock file.
    The lock is an flock: the kernel releases it when the holder exits, even on kill -9.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    lock_path = path / LOCK_FILE
    with open(lock_path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise IndexLockedError(
                f"another process is writing {path} (lock {lock_path} held by {holder}): "
                "wait for it to finish (or stop it) and retry"
            ) from e
        try:
            handle.seek(0)
            handle.truncate()
            command = " ".join(_own_command_line())
            handle.write(f"pid {os.getpid()}, `{command}`, since {time.strftime('%Y-%m-%d %H:%M:%S')}")
            handle.flush()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _own_command_line() -> list[str]:
    args = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    return args[:8] + (["..."] if len(args) > 8 else [])


def _read_lexical(path: Path) -> LexicalIndex | None:
    """The saved BM25 index, or None when it is of an older layout (it is then re-derived)."""
    if not path.is_file():
        raise IndexCorruptError(f"lexical index {path} is missing: run `rag ingest --rebuild`")
    try:
        return LexicalIndex.load(path)
    except KeyError:
        log.info("lexical index %s has an older layout; rebuilding it from the chunks", path)
        return None
    except (OSError, ValueError) as e:
        raise IndexCorruptError(f"lexical index {path} is unreadable ({e}): run `rag ingest --rebuild`") from e


def _read_faiss(path: Path):  # noqa: ANN202
    import faiss

    if not path.is_file():
        raise IndexCorruptError(f"index file {path} is missing: run `rag ingest --rebuild`")
    try:
        return faiss.read_index(str(path))
    except RuntimeError as e:
        raise IndexCorruptError(f"index file {path} is unreadable: run `rag ingest --rebuild`") from e


def _read_chunks(path: Path) -> dict[int, Chunk]:
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


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
