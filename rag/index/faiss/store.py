"""The default store: FAISS vectors in memory, chunk texts and BM25 postings in mapped segment files.

The folder's files (format 3) are listed in rag/index/faiss/segments.py.

Only the FAISS index and the document records are in memory; chunk texts and postings are read
from memory-mapped files when a query needs them: serving a million chunks took 0.5 GiB of the
process's own memory plus 3.3 GiB of file pages the queries touched (README, Performance).
Chunks added since the last save are held in memory until save().

The index is a base segment plus append-only delta segments. A save writes one delta holding
only what changed since the last save (new chunks, changed document records, tombstones). When
the deltas grow past ``compact_fraction`` of the base (or ``max_deltas`` of them exist, or the
index switches to IVF, or the store is new as after ``--rebuild``) the save merges everything
into a new base instead, copying live rows from the old files without decoding them. Chunk ids
are handed out from ``next_id`` and never reused, so a tombstone names one chunk for good.

Files are written to temporary names, fsynced and renamed, then manifest.json is replaced
atomically; only after that, and only while no load holds the readers lock, are files no
manifest names deleted. A crash at any moment leaves the previous complete state readable; files
are never changed in place, so a process serving an older generation keeps reading its mappings.
Formats 1 and 2 (chunks and BM25 rows as JSON/.npz read into Python objects) still load, into
memory as before, with a warning; the next save writes a format-3 base.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import IndexCorruptError, IndexMismatchError
from rag.index import files
from rag.index.base import MANIFEST, DocumentRecord, check_vectors
from rag.index.faiss import legacy, segments, vector_index
from rag.index.faiss.bm25 import SegmentedBm25
from rag.index.faiss.segments import FORMAT_VERSION, Segment
from rag.index.files import require_index
from rag.index.lexical import LexicalIndex
from rag.text.chunking import passage_text
from rag.types import Chunk, Document

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

DEFAULT_COMPACT_FRACTION = 0.25
DEFAULT_MAX_DELTAS = 32


class IndexStore:
    """Vectors and chunks of one index in FAISS and files; mutate in memory, then save() what changed, atomically.

    Implements rag.index.base.Store.
    """

    def __init__(
        self,
        path: Path,
        *,
        model_id: str,
        dim: int,
        chunking: dict[str, int],
        ann_threshold: int = vector_index.DEFAULT_ANN_THRESHOLD,
        nprobe: int = vector_index.DEFAULT_NPROBE,
        compact_fraction: float = DEFAULT_COMPACT_FRACTION,
        max_deltas: int = DEFAULT_MAX_DELTAS,
    ) -> None:
        self.path = Path(path)
        self.model_id = model_id
        self.dim = dim
        self.chunking = dict(chunking)
        self.documents: dict[str, DocumentRecord] = {}
        self._next_id = 0
        self._generation = 0
        self._created = time.strftime("%Y-%m-%dT%H:%M:%S")
        self._index = vector_index.new_exact(dim)
        self.ann_threshold = ann_threshold
        self.nprobe = nprobe
        self.compact_fraction = compact_fraction
        self.max_deltas = max_deltas
        # Saved: the manifest's segments and their open files; the chunk ids dead in them.
        self._segments: list[dict[str, Any]] = []  # [] until a format-3 base exists
        self._open: list[Segment] = []
        self._dead: set[int] = set()
        self._saved_count = 0  # live chunks in the open segments
        # In memory: chunks not in any open segment (added since the last save, or read from format 1/2).
        self._memory: dict[int, Chunk] = {}
        self._memory_lexical = LexicalIndex()
        self._unsaved: dict[int, np.ndarray] = {}  # chunk id -> vector, for chunks added since the last save
        self._tombstones: set[int] = set()  # saved chunk ids removed since the last save
        self._touched: set[str] = set()  # sources added, replaced or removed since the last save
        self._saved_records: dict[str, tuple[Any, ...]] = {}  # DocumentRecord.fields() as last saved
        self._view: SegmentedBm25 | None = None

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
        compact_fraction: float = DEFAULT_COMPACT_FRACTION,
        max_deltas: int = DEFAULT_MAX_DELTAS,
    ) -> IndexStore:
        """Open the state manifest.json names: the base segment, its deltas, minus their tombstones."""
        path = Path(path)
        require_index(path)
        options = {"ann_threshold": ann_threshold, "nprobe": nprobe}
        options |= {"compact_fraction": compact_fraction, "max_deltas": max_deltas}
        with files.reading(path):
            return cls._load_locked(path, options)

    @classmethod
    def _load_locked(cls, path: Path, options: dict[str, Any]) -> IndexStore:
        manifest = segments.read_manifest(path)
        version = manifest["format_version"]
        store = cls(
            path,
            model_id=manifest["embedder"]["model_id"],
            dim=int(manifest["embedder"]["dim"]),
            chunking=manifest.get("chunking", {}),
            **options,
        )
        store._generation = int(manifest["generation"])
        store._next_id = int(manifest["next_id"])
        store._created = manifest.get("created", store._created)
        if version < FORMAT_VERSION:
            log.warning(
                "index %s is in store format %d: its chunk texts and BM25 rows are read into memory; "
                "`rag copy-index %s NEW` writes a format-%d copy that keeps them on disk (so does the next "
                "save of this one: `rag ingest` of a changed file, `rag remove`)",
                path, version, path, FORMAT_VERSION,
            )  # fmt: skip
            store._index, store._memory, store._memory_lexical, store.documents = legacy.load(path, manifest, store.dim)
        else:
            opened = segments.open_saved(path, manifest["segments"], store.dim)
            store._index, store._open, store._dead, store.documents, store._saved_count = opened
            store._segments = manifest["segments"]
            store._memory_lexical = LexicalIndex(**store._open[0].postings.params)
        vector_index.set_nprobe(store._index, store.nprobe)
        if store._index.ntotal != len(store):
            raise IndexCorruptError(
                f"index {path} holds {store._index.ntotal} vectors but {len(store)} chunks: run `rag ingest --rebuild`"
            )
        store._saved_records = {source: record.fields() for source, record in store.documents.items()}
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
        return self._saved_count + len(self._memory)

    def _chunk(self, chunk_id: int) -> Chunk:
        chunk = self._memory.get(chunk_id)
        if chunk is not None:
            return chunk
        holding = [s for s in self._open if len(s.chunks)]  # segments hold ascending, disjoint id ranges
        at = bisect.bisect_right([s.first_id for s in holding], chunk_id) - 1
        row = holding[at].chunks.row_of(chunk_id) if at >= 0 else -1
        if row < 0 or chunk_id in self._dead:
            raise IndexCorruptError(f"index {self.path} has no chunk {chunk_id}: run `rag ingest --rebuild`")
        return holding[at].chunks.chunk(row)

    def chunks(self) -> list[Chunk]:
        """All chunks in insertion order (decoded from the segment files: a million take a while)."""
        out = []
        for segment in self._open:
            out.extend(
                segment.chunks.chunk(r) for r, i in enumerate(segment.chunks.ids.tolist()) if i not in self._dead
            )
        out.extend(self._memory[i] for i in sorted(self._memory))
        return out

    def chunks_of(self, source: str) -> list[Chunk]:
        record = self.documents.get(source)
        return [self._chunk(i) for i in record.ids] if record else []

    def vectors_of(self, source: str) -> np.ndarray:
        """The stored vectors of a document's chunks, in the order of chunks_of (IVF: as quantised)."""
        import numpy as np

        record = self.documents.get(source)
        if record is None or not record.ids:
            return np.zeros((0, self.dim), dtype=np.float32)
        if vector_index.is_approximate(self._index):
            import faiss

            faiss.extract_index_ivf(self._index).make_direct_map()
        return np.stack([self._index.reconstruct(i) for i in record.ids]).astype(np.float32)

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

        check_vectors(chunks, vectors, self.dim)
        self.remove(doc.source)
        ids = np.arange(self._next_id, self._next_id + len(chunks), dtype=np.int64)
        self._next_id += len(chunks)
        vectors = np.array(vectors, dtype=np.float32, order="C")  # a copy: the next save writes these rows
        if len(chunks):
            self._index.add_with_ids(vectors, ids)
        for row, (i, chunk) in enumerate(zip(ids.tolist(), chunks, strict=True)):
            self._memory[i] = chunk
            self._unsaved[i] = vectors[row]
            self._memory_lexical.add(i, passage_text(chunk))
        self.documents[doc.source] = DocumentRecord(doc.sha256, doc.title, ids.tolist(), size, mtime_ns)
        self._touched.add(doc.source)
        self._view = None

    def remove(self, source: str) -> bool:
        """Drop a document's chunks and vectors; False when it was not indexed."""
        import numpy as np

        record = self.documents.pop(source, None)
        if record is None:
            return False
        self._touched.add(source)
        self._view = None
        if record.ids:
            self._index.remove_ids(np.asarray(record.ids, dtype=np.int64))
        for i in record.ids:
            if self._memory.pop(i, None) is not None:
                self._memory_lexical.remove(i)
            else:
                self._dead.add(i)
                self._saved_count -= 1
            if self._unsaved.pop(i, None) is None:  # saved in a segment: the next save deletes it there
                self._tombstones.add(i)
        return True

    def search(self, query: np.ndarray, k: int) -> list[tuple[Chunk, float]]:
        """Top-k chunks by inner product (cosine for unit vectors), best first."""
        import numpy as np

        if not len(self) or k <= 0:
            return []
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        if q.shape[1] != self.dim:
            raise IndexMismatchError(
                f"index {self.path} holds vectors of dim {self.dim} ({self.model_id}), the query has dim "
                f"{q.shape[1]}: run `rag ingest --rebuild --index {self.path}` or use the index's embedder"
            )
        scores, ids = self._index.search(q, min(k, len(self)))
        return [(self._chunk(int(i)), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]

    def lexical(self) -> SegmentedBm25:
        """The BM25 index of the live chunks (built on first use after a change; reads postings lazily)."""
        if self._view is None:
            saved = [segment.postings for segment in self._open]
            self._view = SegmentedBm25.of(saved, self._dead, self._memory_lexical)
        return self._view

    def search_lexical(self, query: str, k: int) -> list[tuple[Chunk, float]]:
        """Top-k chunks by BM25; an unaccented query is matched against the folded fields."""
        return [(self._chunk(i), score) for i, score in self.lexical().search(query, k)]

    def coverage(self, query: str, texts: list[str]) -> list[float]:
        return self.lexical().coverage(query, texts)

    def restore_diacritics(self, query: str) -> str:
        return self.lexical().restore_diacritics(query)

    # ---------------------------------------------------------------- saving
    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Exclusive lock on this index's folder for the duration of a write session."""
        with files.writer_lock(self.path):
            yield

    def compaction_due(self) -> bool:
        """Whether the next save writes a new base: none yet, too many deltas, or deltas + tombstones
        above compact_fraction of the base's chunks."""
        if not self._segments:
            return True
        if len(self._segments) - 1 >= self.max_deltas:
            return True
        pending = len(self._unsaved) + len(self._tombstones)
        pending += sum(s["chunks"] + s["tombstones"] for s in self._segments[1:])
        return pending > self.compact_fraction * self._segments[0]["chunks"]

    def save(self, *, compact: bool | None = None) -> None:
        """Commit what changed since the last save: one delta segment, or a new base when compaction
        is due (or compact=True); nothing at all when nothing changed. Unreferenced files are deleted after."""
        if not vector_index.is_approximate(self._index) and self._index.ntotal >= self.ann_threshold:
            vectors, ids = vector_index.exact_contents(self._index)
            log.info("index %s reached %d vectors: switching to an IVF index", self.path, len(ids))
            self._index = vector_index.build_ivf(vectors, ids, nprobe=self.nprobe)
            compact = True
        if compact is None or not self._segments:
            compact = compact or self.compaction_due()
        changed = self._changed_sources()
        if not compact and not (changed or self._unsaved or self._tombstones):
            return
        self.path.mkdir(parents=True, exist_ok=True)
        gen = segments.next_generation(self.path, self._generation)
        if compact:
            state = [self._write_base(gen)]
            log.info("index %s: compacted %d chunks into base segment %d", self.path, len(self), gen)
        else:
            state = [*self._segments, self._write_delta(gen, changed)]
        self._write_manifest(gen, state)
        # committed: the new manifest is on disk
        self._committed(gen, state, changed, compact=compact)
        segments.delete_unreferenced(self.path, state)

    def _committed(self, gen: int, state: list[dict[str, Any]], changed: set[str], *, compact: bool) -> None:
        """Serve the saved state from its files: the new segment opened, the in-memory part emptied."""
        opened = Segment(self.path, state[-1]["files"])
        if compact:
            self._open, self._dead = [opened], set()
            self._saved_records = {s: r.fields() for s, r in self.documents.items()}
        else:
            self._open.append(opened)
            for source in changed:
                record = self.documents.get(source)
                if record is None:
                    self._saved_records.pop(source, None)
                else:
                    self._saved_records[source] = record.fields()
        self._generation, self._segments = gen, state
        self._saved_count = len(self)
        self._memory.clear()
        self._memory_lexical = LexicalIndex(**self._memory_lexical.params())
        self._unsaved.clear()
        self._tombstones.clear()
        self._touched.clear()
        self._view = None

    def _changed_sources(self) -> set[str]:
        """Sources added, replaced or removed, plus records edited in place (ingest refreshes size/mtime)."""
        saved = self._saved_records
        return self._touched | {s for s, r in self.documents.items() if saved.get(s) != r.fields()}

    def _write_base(self, gen: int) -> dict[str, Any]:
        import faiss

        names = segments.segment_files(gen, base=True)
        files.write_atomically(self.path / names["vectors"], lambda tmp: faiss.write_index(self._index, str(tmp)))
        n = segments.write_texts_and_postings(
            self.path, names, self._open, self._dead, self._memory, self._memory_lexical
        )
        documents = {s: r.to_dict() for s, r in sorted(self.documents.items())}
        segments.write_documents(
            self.path / names["documents"], {"documents": documents, "removed": [], "tombstones": []}
        )
        return {"generation": gen, "kind": "base", "chunks": n, "tombstones": 0, "files": names}

    def _write_delta(self, gen: int, changed: set[str]) -> dict[str, Any]:
        import numpy as np

        names = segments.segment_files(gen, base=False)
        ids = sorted(self._unsaved)  # a delta follows a format-3 base: every in-memory chunk is unsaved
        vectors = np.stack([self._unsaved[i] for i in ids]) if ids else np.zeros((0, self.dim), np.float32)
        segments.write_delta_vectors(self.path / names["vectors"], ids, vectors)
        segments.write_texts_and_postings(self.path, names, [], set(), self._memory, self._memory_lexical)
        change = {
            "documents": {s: self.documents[s].to_dict() for s in sorted(changed) if s in self.documents},
            "removed": sorted(s for s in changed if s not in self.documents),
            "tombstones": sorted(self._tombstones),
        }
        segments.write_documents(self.path / names["documents"], change)
        tombstones = len(self._tombstones)
        return {"generation": gen, "kind": "delta", "chunks": len(ids), "tombstones": tombstones, "files": names}

    def _write_manifest(self, gen: int, state: list[dict[str, Any]]) -> None:
        """The commit point: after this rename the new state is the index."""
        manifest = {
            "format_version": FORMAT_VERSION,
            "store": "faiss",
            "generation": gen,
            "embedder": {"model_id": self.model_id, "dim": self.dim},
            "chunking": self.chunking,
            "faiss": vector_index.describe(self._index),
            "created": self._created,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "next_id": self._next_id,
            "n_chunks": len(self),
            "n_documents": len(self.documents),
            "segments": state,
        }
        files.atomic_write(self.path / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
