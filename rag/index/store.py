"""The persisted index: FAISS vectors + chunk store + manifest, saved incrementally and atomically.

Layout of ``indexes/<name>/`` (format 2)::

    manifest.json            format version, embedder, chunking, the list of segments (the commit point)
    vectors-<gen>.faiss      base segment: IndexIDMap2(IndexFlatIP), or IVF-SQ8 from ann_threshold chunks
    vectors-<gen>.npz        delta segment: the float32 vectors of the chunks it adds, with their ids
    chunks-<gen>.json        the segment's chunks, one row per chunk with its FAISS id (columnar JSON)
    lexical-<gen>.npz        the segment's BM25 rows and the vocabulary they use
    documents-<gen>.json     documents added or changed by the segment, sources it removed, and the
                             chunk ids it deletes from earlier segments (tombstones)
    .lock                    held while a writer is active; names the holder
    .readers                 shared-locked by every load, so a writer never deletes files being read
    ingest-journal.jsonl     only while an ingest is unfinished: its finished files (rag/ingest/journal.py)

The index is a base segment plus append-only delta segments. A save writes one delta holding
only what changed since the last save (new chunks, changed document records, tombstones), so
removing or changing one file writes a few kilobytes whatever the size of the index. When the
deltas grow past ``compact_fraction`` of the base (or ``max_deltas`` of them exist, or the index
switches to IVF, or the store is new as after ``--rebuild``) the save compacts everything into a
new base instead. Chunk ids are handed out from ``next_id`` and never reused, so a tombstone
names one chunk for good.

Every segment's files are written to temporary names, fsynced and renamed; then manifest.json is
replaced atomically, and only after that are files no manifest names deleted (including those a
crashed save left behind). A crash at any moment leaves the previous complete state readable.
A load holds a shared lock on ``.readers`` from reading the manifest to its last file; the
writer deletes old files only if it gets that lock exclusively at once, and otherwise leaves
them to the next save, so a reader never finds half of its generation gone.
Format 1 (one generation: vectors, chunks-<gen>.jsonl, lexical, documents in the manifest) still
loads; the first save after that writes a format-2 base.
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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import IndexCorruptError, IndexLockedError, IndexMismatchError, IndexNotFoundError
from rag.index import segment_io, vector_index
from rag.index.base import MANIFEST, DocumentRecord, check_vectors
from rag.index.lexical import LexicalIndex
from rag.text.chunking import passage_text
from rag.types import Chunk, Document

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
LOCK_FILE = ".lock"
READERS_FILE = ".readers"
DEFAULT_COMPACT_FRACTION = 0.25
DEFAULT_MAX_DELTAS = 32
_GENERATION_FILE = re.compile(r"\.?(?:vectors|chunks|lexical|documents)-(\d+)\.(?:faiss|npz|jsonl|json)(?:\.tmp)?")


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
        self._chunks: dict[int, Chunk] = {}
        self._next_id = 0
        self._generation = 0
        self._created = time.strftime("%Y-%m-%dT%H:%M:%S")
        self._index = vector_index.new_exact(dim)
        self.lexical = LexicalIndex()
        self.ann_threshold = ann_threshold
        self.nprobe = nprobe
        self.compact_fraction = compact_fraction
        self.max_deltas = max_deltas
        # The saved state, and what changed in memory since then (what the next save writes).
        self._segments: list[dict[str, Any]] = []  # the manifest's segments; [] until a format-2 base exists
        self._unsaved: dict[int, np.ndarray] = {}  # chunk id -> vector, for chunks added since the last save
        self._tombstones: set[int] = set()  # saved chunk ids removed since the last save
        self._touched: set[str] = set()  # sources added, replaced or removed since the last save
        self._saved_records: dict[str, tuple[Any, ...]] = {}  # DocumentRecord.fields() as last saved

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
        """Read the state manifest.json names: the base segment, its deltas, minus their tombstones."""
        path = Path(path)
        require_index(path)
        with _reading(path):
            return cls._load_locked(
                path,
                ann_threshold=ann_threshold,
                nprobe=nprobe,
                compact_fraction=compact_fraction,
                max_deltas=max_deltas,
            )

    @classmethod
    def _load_locked(
        cls, path: Path, *, ann_threshold: int, nprobe: int, compact_fraction: float, max_deltas: int
    ) -> IndexStore:
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
        store = cls(
            path,
            model_id=manifest["embedder"]["model_id"],
            dim=int(manifest["embedder"]["dim"]),
            chunking=manifest.get("chunking", {}),
            ann_threshold=ann_threshold,
            nprobe=nprobe,
            compact_fraction=compact_fraction,
            max_deltas=max_deltas,
        )
        store._generation = int(manifest["generation"])
        store._next_id = int(manifest["next_id"])
        store._created = manifest.get("created", store._created)
        if version == 1:
            store._load_format1(manifest)
        else:
            store._load_segments(manifest["segments"])
        vector_index.set_nprobe(store._index, nprobe)
        if store._index.ntotal != len(store._chunks):
            raise IndexCorruptError(
                f"index {path} holds {store._index.ntotal} vectors but {len(store._chunks)} chunks: "
                "run `rag ingest --rebuild`"
            )
        store._saved_records = {source: record.fields() for source, record in store.documents.items()}
        return store

    def _load_format1(self, manifest: dict[str, Any]) -> None:
        """One generation: vectors, chunks (JSON lines), lexical; the documents live in the manifest."""
        self.documents = {src: DocumentRecord.from_dict(rec) for src, rec in manifest["documents"].items()}
        self._index = segment_io.read_faiss(self.path / manifest["files"]["vectors"])
        self._chunks = segment_io.read_chunks_jsonl(self.path / manifest["files"]["chunks"])
        lexical = (
            segment_io.read_lexical(self.path / manifest["files"]["lexical"])
            if "lexical" in manifest["files"]
            else None
        )
        if lexical is None:  # written before the current lexical format: derive it from the chunks
            for i, chunk in self._chunks.items():
                self.lexical.add(i, passage_text(chunk))
        else:
            self.lexical = lexical

    def _load_segments(self, segments: list[dict[str, Any]]) -> None:
        import numpy as np

        if not segments or segments[0].get("kind") != "base":
            raise IndexCorruptError(f"index {self.path} has no base segment: run `rag ingest --rebuild`")
        changes = [segment_io.read_json(self.path / segment["files"]["documents"]) for segment in segments]
        dead = {int(i) for change in changes for i in change["tombstones"]}
        dead_ids = np.fromiter(dead, dtype=np.int64, count=len(dead))
        for segment, change in zip(segments, changes, strict=True):
            files = {kind: self.path / name for kind, name in segment["files"].items()}
            if segment["kind"] == "base":
                self._index = segment_io.read_faiss(files["vectors"])
                if len(dead_ids):
                    self._index.remove_ids(dead_ids)
                lexical = segment_io.read_lexical(files["lexical"], skip=dead)
                if lexical is None:  # only format 1 can hold the older lexical layout
                    raise IndexCorruptError(f"{files['lexical']} has an older layout: run `rag ingest --rebuild`")
                self.lexical = lexical
            else:
                ids, vectors = segment_io.read_vectors(files["vectors"], self.dim)
                live = ~np.isin(ids, dead_ids)
                if live.any():
                    self._index.add_with_ids(np.ascontiguousarray(vectors[live]), ids[live])
                segment_io.read_lexical(files["lexical"], skip=dead, into=self.lexical)
            self._chunks.update(segment_io.read_chunks(files["chunks"], skip=dead))
            for source in change["removed"]:
                self.documents.pop(source, None)
            self.documents.update((s, DocumentRecord.from_dict(r)) for s, r in change["documents"].items())
        self._segments = segments

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
            self._chunks[i] = chunk
            self._unsaved[i] = vectors[row]
            self.lexical.add(i, passage_text(chunk))
        self.documents[doc.source] = DocumentRecord(doc.sha256, doc.title, ids.tolist(), size, mtime_ns)
        self._touched.add(doc.source)

    def remove(self, source: str) -> bool:
        """Drop a document's chunks and vectors; False when it was not indexed."""
        import numpy as np

        record = self.documents.pop(source, None)
        if record is None:
            return False
        self._touched.add(source)
        if record.ids:
            self._index.remove_ids(np.asarray(record.ids, dtype=np.int64))
        for i in record.ids:
            self._chunks.pop(i, None)
            self.lexical.remove(i)
            if self._unsaved.pop(i, None) is None:  # saved in a segment: the next save deletes it there
                self._tombstones.add(i)
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

    def coverage(self, query: str, texts: list[str]) -> list[float]:
        return self.lexical.coverage(query, texts)

    def restore_diacritics(self, query: str) -> str:
        return self.lexical.restore_diacritics(query)

    # ---------------------------------------------------------------- saving
    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Exclusive lock on this index's folder for the duration of a write session."""
        with writer_lock(self.path):
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
        if compact is None:
            compact = self.compaction_due()
        changed = self._changed_sources()
        if not compact and not (changed or self._unsaved or self._tombstones):
            return
        self.path.mkdir(parents=True, exist_ok=True)
        # Never reuse a generation number present on disk (a rebuilt store starts at 0, a crashed save
        # may have left files): the live manifest's files must stay untouched until it is replaced.
        on_disk = [int(m.group(1)) for p in self.path.iterdir() if (m := _GENERATION_FILE.fullmatch(p.name))]
        gen = max([self._generation, *on_disk]) + 1
        if compact:
            segments = [self._write_base(gen)]
            log.info("index %s: compacted %d chunks into base segment %d", self.path, len(self._chunks), gen)
        else:
            segments = [*self._segments, self._write_delta(gen, changed)]
        self._write_manifest(gen, segments)
        # committed: the new manifest is on disk
        self._generation, self._segments = gen, segments
        if compact:
            self._saved_records = {s: r.fields() for s, r in self.documents.items()}
        else:
            for source in changed:
                record = self.documents.get(source)
                if record is None:
                    self._saved_records.pop(source, None)
                else:
                    self._saved_records[source] = record.fields()
        self._unsaved.clear()
        self._tombstones.clear()
        self._touched.clear()
        self._delete_unreferenced(segments)

    def _changed_sources(self) -> set[str]:
        """Sources added, replaced or removed, plus records edited in place (ingest refreshes size/mtime)."""
        saved = self._saved_records
        return self._touched | {s for s, r in self.documents.items() if saved.get(s) != r.fields()}

    def _write_base(self, gen: int) -> dict[str, Any]:
        import faiss

        names = segment_io.segment_files(gen, base=True)
        ids = sorted(self._chunks)
        segment_io.write_atomically(self.path / names["vectors"], lambda tmp: faiss.write_index(self._index, str(tmp)))
        segment_io.write_atomically(
            self.path / names["chunks"], lambda tmp: segment_io.write_chunks(tmp, ids, self._chunks)
        )
        segment_io.write_atomically(self.path / names["lexical"], lambda tmp: self.lexical.save(tmp, ids))
        documents = {s: r.to_dict() for s, r in sorted(self.documents.items())}
        change = {"documents": documents, "removed": [], "tombstones": []}
        segment_io.write_atomically(self.path / names["documents"], lambda tmp: segment_io.write_json(tmp, change))
        return {"generation": gen, "kind": "base", "chunks": len(ids), "tombstones": 0, "files": names}

    def _write_delta(self, gen: int, changed: set[str]) -> dict[str, Any]:
        import numpy as np

        names = segment_io.segment_files(gen, base=False)
        ids = sorted(self._unsaved)
        vectors = np.stack([self._unsaved[i] for i in ids]) if ids else np.zeros((0, self.dim), np.float32)

        def write_vectors(tmp: Path) -> None:
            with tmp.open("wb") as handle:
                np.savez(handle, ids=np.array(ids, dtype=np.int64), vectors=vectors)

        segment_io.write_atomically(self.path / names["vectors"], write_vectors)
        segment_io.write_atomically(
            self.path / names["chunks"], lambda tmp: segment_io.write_chunks(tmp, ids, self._chunks)
        )
        segment_io.write_atomically(self.path / names["lexical"], lambda tmp: self.lexical.save(tmp, ids))
        change = {
            "documents": {s: self.documents[s].to_dict() for s in sorted(changed) if s in self.documents},
            "removed": sorted(s for s in changed if s not in self.documents),
            "tombstones": sorted(self._tombstones),
        }
        segment_io.write_atomically(self.path / names["documents"], lambda tmp: segment_io.write_json(tmp, change))
        tombstones = len(self._tombstones)
        return {"generation": gen, "kind": "delta", "chunks": len(ids), "tombstones": tombstones, "files": names}

    def _write_manifest(self, gen: int, segments: list[dict[str, Any]]) -> None:
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
            "n_chunks": len(self._chunks),
            "n_documents": len(self.documents),
            "segments": segments,
        }
        segment_io.atomic_write(self.path / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))

    def _delete_unreferenced(self, segments: list[dict[str, Any]]) -> None:
        """Files of older states and of saves that crashed before their manifest (temporary ones too)."""
        keep = {name for segment in segments for name in segment["files"].values()}
        with _no_readers(self.path) as alone:
            if not alone:
                log.info("index %s: a reader is loading; older files are left for the next save", self.path)
                return
            for path in self.path.iterdir():
                if _GENERATION_FILE.fullmatch(path.name) and path.name not in keep:
                    path.unlink(missing_ok=True)


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


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Shared lock on the index's readers file while a load reads the manifest and its files."""
    try:
        handle = open(path / READERS_FILE, "a+b")  # noqa: SIM115 - closed below
    except OSError:  # a read-only copy of an index: no writer can be cleaning it up either
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _no_readers(path: Path) -> Iterator[bool]:
    """Exclusive lock on the readers file if no load holds it now (True), without waiting (False)."""
    with open(path / READERS_FILE, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _own_command_line() -> list[str]:
    args = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    return args[:8] + (["..."] if len(args) > 8 else [])
