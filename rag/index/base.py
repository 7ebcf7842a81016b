"""The Store protocol that retrieval and ingest depend on, and opening the store an index was built with.

Two stores implement it: ``IndexStore`` (FAISS + mapped files in the index folder, rag/index/faiss/)
and ``MilvusStore`` (a Milvus Lite file or a Milvus server, rag/index/milvus/). Both keep
``manifest.json`` in the index folder; its ``store`` field says which one built the index, so
every command opens the right one without a flag. Both are checked by one contract suite
(tests/index/test_store_contract.py).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rag.errors import ConfigError, DocumentNotFoundError, IndexCorruptError, QuestionError
from rag.index.faiss.vector_index import DEFAULT_ANN_THRESHOLD, DEFAULT_NPROBE
from rag.index.files import MANIFEST

if TYPE_CHECKING:
    import numpy as np

    from rag.types import Chunk, Document

STORES = ("faiss", "milvus")


@dataclass
class DocumentRecord:
    """What the index remembers about one ingested file."""

    sha256: str
    title: str
    ids: list[int] = field(default_factory=list)
    # File size and mtime when it was hashed, so a later ingest can skip re-hashing an
    # untouched file. Only recorded for files that had not been modified for a few seconds
    # (see rag.ingest.pipeline), so a write in the same clock tick is never mistaken for "unchanged".
    size: int | None = None
    mtime_ns: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"sha256": self.sha256, "title": self.title, "ids": self.ids}
        if self.size is not None and self.mtime_ns is not None:
            data |= {"size": self.size, "mtime_ns": self.mtime_ns}
        return data

    def fields(self) -> tuple[Any, ...]:
        """What a save compares to tell whether the record changed (ids change only through add/remove)."""
        return (self.sha256, self.title, self.size, self.mtime_ns)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentRecord:
        return cls(data["sha256"], data["title"], list(data["ids"]), data.get("size"), data.get("mtime_ns"))


class Store(Protocol):
    """Chunks with their vectors and lexical terms; mutate, then save() to commit."""

    path: Path
    model_id: str
    dim: int
    chunking: dict[str, int]
    documents: dict[str, DocumentRecord]

    def __len__(self) -> int: ...
    def chunks(self) -> list[Chunk]: ...
    def chunks_of(self, source: str) -> list[Chunk]: ...
    def vectors_of(self, source: str) -> np.ndarray:
        """The stored vectors of chunks_of(source), in that order."""

    def add(
        self,
        doc: Document,
        chunks: list[Chunk],
        vectors: np.ndarray,
        *,
        size: int | None = ...,
        mtime_ns: int | None = ...,
    ) -> None:
        """Add (or replace) a document with its chunks and their unit vectors."""

    def remove(self, source: str) -> bool: ...
    def search(self, query: np.ndarray, k: int) -> list[tuple[Chunk, float]]:
        """Top-k chunks by inner product with a unit query vector, best first."""

    def search_lexical(self, query: str, k: int) -> list[tuple[Chunk, float]]:
        """Top-k chunks by our Vietnamese BM25 (syllables, pairs, folded fields), best first."""

    def coverage(self, query: str, texts: list[str]) -> list[float]:
        """Best-sentence coverage of the query in each text, weighted by this collection's idf."""

    def restore_diacritics(self, query: str) -> str:
        """An unaccented query with the marks the collection spells it with most."""

    def check_compatible(self, model_id: str, dim: int | None = None) -> None: ...
    def save(self) -> None: ...


@dataclass(frozen=True)
class StoreOptions:
    """How to open or create a store: the FAISS index type thresholds and where Milvus lives."""

    ann_threshold: int = DEFAULT_ANN_THRESHOLD
    nprobe: int = DEFAULT_NPROBE
    milvus_uri: str = ""  # "" : a Milvus Lite file milvus.db inside the index folder


def store_kind(path: Path) -> str:
    """The store that built the index at path ("faiss" for indexes from before the store field)."""
    manifest = Path(path) / MANIFEST
    try:
        kind = json.loads(manifest.read_text(encoding="utf-8")).get("store", "faiss")
    except (OSError, ValueError) as e:
        raise IndexCorruptError(f"{manifest} is unreadable ({e}): run `rag ingest --rebuild`") from e
    if kind not in STORES:
        raise IndexCorruptError(f"{manifest} names store {kind!r}, this rag knows {', '.join(STORES)}")
    return kind


def index_exists(path: Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def open_store(path: Path, options: StoreOptions | None = None) -> Store:
    """Load the index at path with the store its manifest names."""
    from rag.index.faiss.store import IndexStore
    from rag.index.files import require_index

    options = options or StoreOptions()
    require_index(path)
    if store_kind(path) == "milvus":
        from rag.index.milvus.store import MilvusStore

        return MilvusStore.load(path, ann_threshold=options.ann_threshold, nprobe=options.nprobe)
    return IndexStore.load(path, ann_threshold=options.ann_threshold, nprobe=options.nprobe)


def new_store(
    path: Path, *, kind: str, model_id: str, dim: int, chunking: dict[str, int], options: StoreOptions | None = None
) -> Store:
    """An empty store of the given kind; nothing is written until save()."""
    from rag.index.faiss.store import IndexStore

    options = options or StoreOptions()
    check_kind(kind)
    if kind == "milvus":
        from rag.index.milvus.store import MilvusStore

        return MilvusStore(
            path,
            model_id=model_id,
            dim=dim,
            chunking=chunking,
            uri=options.milvus_uri,
            ann_threshold=options.ann_threshold,
            nprobe=options.nprobe,
        )
    return IndexStore(
        path, model_id=model_id, dim=dim, chunking=chunking, ann_threshold=options.ann_threshold, nprobe=options.nprobe
    )


@contextlib.contextmanager
def closing(store: Store) -> Iterator[Store]:
    """The store, released at the end of the block (a Milvus connection; the FAISS store holds nothing open)."""
    try:
        yield store
    finally:
        release(store)


def release(store: Store) -> None:
    """Close what the store holds open (a Milvus connection, a Milvus Lite file); a no-op for FAISS."""
    close = getattr(store, "close", None)
    if close is not None:
        close()


def check_kind(kind: str) -> None:
    if kind not in STORES:
        raise ConfigError(f"store {kind!r} is unknown: use one of {', '.join(STORES)}")


class DocumentViews:
    """What the chat lists of the current index, for any holder of a ``store()`` (the chat's backend, rag serve)."""

    def store(self) -> Store | None:
        raise NotImplementedError

    def documents(self) -> list[tuple[str, str]]:
        """(label, source) of every indexed document, sorted by source (the chat's document list)."""
        store = self.store()
        if store is None:
            return []
        return [(f"{rec.title} — {src}", src) for src, rec in sorted(store.documents.items())]

    def chunks_of(self, source: str) -> list[Chunk]:
        store = self.store()
        return store.chunks_of(source) if store else []

    def title_of(self, source: str) -> str:
        store = self.store()
        record = store.documents.get(source) if store else None
        return record.title if record else Path(source).stem


def find_document(documents: Mapping[str, Any], name: str) -> str:
    """The indexed source that name designates: the exact source, else a unique file name, stem or title.

    DocumentNotFoundError when none has it; QuestionError when several do."""
    if name in documents:
        return name
    matches = [
        source
        for source, record in documents.items()
        if name in (Path(source).name, Path(source).stem, getattr(record, "title", None))
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise DocumentNotFoundError(
            f"no indexed document is called {name!r}: give its source path as listed by `rag ingest`"
        )
    listed = ", ".join(sorted(matches)[:5])
    raise QuestionError(f"{name!r} matches {len(matches)} documents ({listed}): give the source path")


def check_vectors(chunks: list[Chunk], vectors: np.ndarray, dim: int) -> None:
    """Before a store adds a document: one vector per chunk, of the index's dimension."""
    from rag.errors import IndexMismatchError

    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    if len(vectors) and vectors.shape[1] != dim:
        raise IndexMismatchError(f"vectors of dim {vectors.shape[1]} cannot go into index of dim {dim}")
