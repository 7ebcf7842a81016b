"""Files -> chunks -> vectors -> index, incrementally and resumably.

Unchanged files cost a stat (or a hash), changed ones are re-embedded alone. Every finished
file is appended to the resume journal (rag/ingest/journal.py) before the next one starts, and the
index is committed with one atomic save at the end, so a run stopped at any moment (Ctrl-C,
kill -9, power loss) leaves the last complete index on disk and the next run takes the
journaled files instead of embedding them again. Ctrl-C commits the files finished so far.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import LoaderError
from rag.index.base import Store, StoreOptions, closing, index_exists, new_store, open_store, store_kind
from rag.index.faiss.vector_index import DEFAULT_ANN_THRESHOLD, DEFAULT_NPROBE
from rag.index.files import require_index, writer_lock
from rag.ingest.discovery import discover
from rag.ingest.journal import JournalEntry, ResumeJournal
from rag.text.chunking import ChunkSettings, chunk_document, document_key, passage_text
from rag.text.loaders import file_sha256, load_all
from rag.text.streaming import DEFAULT_SEGMENT_CHARS, TextSegments
from rag.types import Chunk, Document

if TYPE_CHECKING:
    import numpy as np

    from rag.index.embedding import Embedder

log = logging.getLogger(__name__)

STREAM_OVER_BYTES = 8 << 20  # plain-text files larger than this are read, chunked and embedded in segments
STREAMABLE_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
# A file's size and mtime are trusted to mean "unchanged" only if it had not been modified for
# this long when it was hashed: a later write then always moves the mtime.
SETTLED_NS = 2_000_000_000


@dataclass(frozen=True)
class IngestProgress:
    """Where a running ingest is, passed to the progress callback before each file and at the end."""

    files_done: int
    files_total: int
    chunks_embedded: int
    current: str  # the file being processed ("" at the end)
    elapsed: float  # seconds since the ingest started


ProgressFn = Callable[[IngestProgress], None]


@dataclass
class IngestReport:
    """What an ingest did; ``to_dict`` is the JSON printed by ``rag ingest --json``."""

    index: str = ""
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)  # added/updated from the journal of an interrupted run
    files_total: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    total_chunks: int = 0
    interrupted: bool = False

    @property
    def files_per_second(self) -> float:
        done = len(self.added) + len(self.updated) + len(self.unchanged)
        return done / self.seconds if self.seconds > 0 else 0.0

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_embedded / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failed": [{"source": s, "reason": r} for s, r in self.failed],
            "resumed": self.resumed,
            "counts": {
                "files": self.files_total,
                "added": len(self.added),
                "updated": len(self.updated),
                "unchanged": len(self.unchanged),
                "removed": len(self.removed),
                "failed": len(self.failed),
                "resumed": len(self.resumed),
            },
            "chunks_embedded": self.chunks_embedded,
            "total_chunks": self.total_chunks,
            "seconds": round(self.seconds, 3),
            "files_per_second": round(self.files_per_second, 2),
            "chunks_per_second": round(self.chunks_per_second, 2),
            "interrupted": self.interrupted,
        }


@dataclass(frozen=True)
class _Limits:
    max_file_bytes: int | None
    stream_over_bytes: int
    segment_chars: int


def ingest(
    paths: list[Path],
    *,
    index: Path,
    embedder: Embedder,
    chunking: ChunkSettings,
    rebuild: bool = False,
    prune: bool = False,
    progress: ProgressFn | None = None,
    ann_threshold: int = DEFAULT_ANN_THRESHOLD,
    nprobe: int = DEFAULT_NPROBE,
    max_file_bytes: int | None = None,
    stream_over_bytes: int = STREAM_OVER_BYTES,
    segment_chars: int = DEFAULT_SEGMENT_CHARS,
    store: str = "faiss",
    milvus_uri: str = "",
) -> IngestReport:
    """Add new and changed files under paths to the index at `index`; never half-writes it.

    A file that cannot be ingested (unreadable, not text, larger than max_file_bytes, a broken
    link...) is listed in ``report.failed`` with the reason and the rest go on. Ctrl-C stops
    after the current file, commits the finished ones and returns with ``report.interrupted``.
    """
    started = time.perf_counter()
    report = IngestReport(index=str(index))
    chunk_config = {"max_tokens": chunking.max_tokens, "overlap_tokens": chunking.overlap_tokens}
    files, problems = discover(paths)
    report.failed.extend((str(p), reason) for p, reason in problems)
    report.files_total = len(files)
    limits = _Limits(max_file_bytes, stream_over_bytes, segment_chars)

    def tell(done: int, current: str) -> None:
        if progress:
            progress(IngestProgress(done, len(files), report.chunks_embedded, current, time.perf_counter() - started))

    options = StoreOptions(ann_threshold=ann_threshold, nprobe=nprobe, milvus_uri=milvus_uri)
    kind = store
    with writer_lock(index), closing(_open_store(index, embedder, chunk_config, rebuild, kind, options)) as store:
        if store.chunking and store.chunking != chunk_config:
            # an index keeps the chunking it was built with: mixing chunk sizes would skew BM25 and scores
            log.warning(
                "%s keeps its chunking %s (settings ask for %s): run `rag ingest --rebuild --index %s` to re-chunk",
                index,
                _chunk_label(store.chunking),
                _chunk_label(chunk_config),
                index,
            )
            chunk_config = dict(store.chunking)
            chunking = ChunkSettings(**chunk_config)
        journal = ResumeJournal(index, model_id=embedder.model_id, dim=embedder.dim, chunking=chunk_config)
        ingest_file = _FileIngester(store, journal, embedder, chunking, limits, report, tell)
        seen: set[str] = set()  # files reached by this run
        finished: set[str] = set()  # files whose processing ended (ingested, unchanged or failed)
        try:
            for n, path in enumerate(files):
                source = str(path)
                seen.add(source)
                tell(n, source)
                try:
                    ingest_file(path, source, n)
                except (LoaderError, OSError) as e:
                    reason = str(e) if isinstance(e, LoaderError) else f"cannot read {path}: {e.strerror or e}"
                    report.failed.append((source, reason))
                    log.warning("skipped %s: %s", source, reason)
                finished.add(source)
        except KeyboardInterrupt:
            report.interrupted = True
            log.warning("interrupted: committing the %d files finished so far", len(report.added + report.updated))
        except BaseException:
            journal.close()  # what it holds stays on disk for the next run
            raise
        dirty = rebuild or ingest_file.changed
        if prune and not report.interrupted:
            for source in _under_roots(store.documents, paths):
                if not _from_seen_file(source, seen) and store.remove(source):
                    report.removed.append(source)
                    dirty = True
        if dirty or not index_exists(index):
            store.save()
        # Everything this run finished is committed now; keep only journaled files it did not finish.
        journal.keep_only({s for s in journal.sources() - finished if Path(s).exists()})
        tell(len(finished), "")
        report.total_chunks = len(store)
    report.seconds = time.perf_counter() - started
    return report


class _FileIngester:
    """Brings one file at a time up to date in the store, journaling each finished file."""

    def __init__(
        self,
        store: Store,
        journal: ResumeJournal,
        embedder: Embedder,
        chunking: ChunkSettings,
        limits: _Limits,
        report: IngestReport,
        tell: Callable[[int, str], None],
    ) -> None:
        self.store, self.journal, self.embedder, self.chunking = store, journal, embedder, chunking
        self.limits, self.report, self.tell = limits, report, tell
        self.changed = False  # whether the store differs from the saved index
        self._documents_of_file = _documents_by_file(store.documents)

    def __call__(self, path: Path, source: str, n: int) -> None:
        """Ingest path unless it is unchanged."""
        stat = path.stat()
        old = self._documents_of_file.get(source, [])
        records = [self.store.documents[s] for s in old]
        if records and all((r.size, r.mtime_ns) == (stat.st_size, stat.st_mtime_ns) for r in records):
            self.report.unchanged.append(source)
            return
        settled = time.time_ns() - stat.st_mtime_ns > SETTLED_NS
        size, mtime_ns = (stat.st_size, stat.st_mtime_ns) if settled else (None, None)
        limit = self.limits.max_file_bytes
        if limit is not None and stat.st_size > limit:
            raise LoaderError(
                f"{path} is {stat.st_size / 2**20:.1f} MB, above the limit of {limit / 2**20:.0f} MB: "
                "raise max_file_mb (rag.toml or RAG_MAX_FILE_MB) to ingest it"
            )
        sha256 = file_sha256(path)
        if records and all(r.sha256 == sha256 for r in records):
            self.report.unchanged.append(source)
            if size is not None and any((r.size, r.mtime_ns) != (size, mtime_ns) for r in records):
                for r in records:  # the hash confirmed it: next time a stat suffices
                    r.size, r.mtime_ns = size, mtime_ns
                self.changed = True
            return
        entry = self.journal.take(source, sha256)
        resumed = entry is not None
        if entry is None:
            entry = self._embed(path, source, stat.st_size, n)
            entry = dataclasses.replace(entry, size=size, mtime_ns=mtime_ns)
            self.report.chunks_embedded += len(entry.chunks)
        with _sigint_deferred():  # the journal line and the store change happen together or not at all
            if resumed:
                self.report.resumed.append(source)
            else:
                self.journal.append(entry)
            for doc_source in old:  # a file of several documents (JSON lines) may have lost some
                self.store.remove(doc_source)
            for doc_source, title, chunks, vectors in entry.documents_with_vectors():
                doc = Document(source=doc_source, title=title, text="", sha256=entry.sha256)
                self.store.add(doc, chunks, vectors, size=entry.size, mtime_ns=entry.mtime_ns)
            self.changed = True
            (self.report.updated if records else self.report.added).append(source)

    def _embed(self, path: Path, source: str, size: int, n: int) -> JournalEntry:
        import numpy as np

        if path.suffix.lower() in STREAMABLE_SUFFIXES and size > self.limits.stream_over_bytes:
            return _embed_streamed(path, source, self.embedder, self.chunking, self.limits, self.tell, n)
        docs = _load_documents(path, source)
        chunks = [
            c for d in docs for c in chunk_document(d, count_tokens=self.embedder.count_tokens, settings=self.chunking)
        ]
        vectors = self.embedder.embed_passages([passage_text(c) for c in chunks])
        counts = {d.source: 0 for d in docs}
        for c in chunks:
            counts[c.source] += 1
        documents = [(d.source, d.title, counts[d.source]) for d in docs]
        return JournalEntry(source, docs[0].sha256, documents, chunks, np.asarray(vectors, dtype=np.float32))


def _documents_by_file(documents: dict[str, object]) -> dict[str, list[str]]:
    """Indexed document sources by the file they came from: a file ``f.jsonl`` holds ``f.jsonl#<id>``."""
    by_file: dict[str, list[str]] = {}
    for source in documents:
        by_file.setdefault(source, []).append(source)
        for i, char in enumerate(source):
            if char == "#":
                by_file.setdefault(source[:i], []).append(source)
    return by_file


def _load_documents(path: Path, source: str) -> list[Document]:
    """The documents of one file (one per line of a JSON lines file), with any unexpected failure of a
    loader turned into a per-file LoaderError."""
    try:
        return load_all(path, source=source)
    except (LoaderError, OSError, MemoryError):
        raise
    except Exception as e:  # a broken PDF can make a parser raise anything; the batch must go on
        log.debug("loader failed on %s", path, exc_info=True)
        raise LoaderError(f"{path} could not be read ({type(e).__name__}: {e}); the file may be damaged") from e


def _embed_streamed(
    path: Path,
    source: str,
    embedder: Embedder,
    chunking: ChunkSettings,
    limits: _Limits,
    tell: Callable[[int, str], None],
    n: int,
) -> JournalEntry:
    """Chunk and embed a large text file segment by segment; offsets stay relative to the whole text."""
    import numpy as np

    segments = TextSegments(path, segment_chars=limits.segment_chars)
    key = document_key(source)
    chunks: list[Chunk] = []
    parts: list[np.ndarray] = []
    for part, (offset, text) in enumerate(segments, start=1):
        doc = Document(source=source, title=segments.title or path.stem, text=text)
        first = len(chunks)
        for i, c in enumerate(chunk_document(doc, count_tokens=embedder.count_tokens, settings=chunking)):
            chunks.append(
                dataclasses.replace(c, chunk_id=f"{key}-{first + i:05d}", start=c.start + offset, end=c.end + offset)
            )
        parts.append(embedder.embed_passages([passage_text(c) for c in chunks[first:]]))
        tell(n, f"{source} (part {part}, {len(chunks)} chunks)")
    vectors = np.concatenate(parts) if parts else np.zeros((0, embedder.dim), dtype=np.float32)
    title = segments.title or path.stem
    return JournalEntry(source, segments.sha256, [(source, title, len(chunks))], chunks, vectors)


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold a Ctrl-C that arrives inside the block until the block is done (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def _from_seen_file(source: str, seen: set[str]) -> bool:
    return source in seen or any(source[:i] in seen for i, char in enumerate(source) if char == "#")


def _under_roots(documents: dict[str, object], paths: list[Path]) -> list[str]:
    roots = [Path(p) for p in paths]
    return [s for s in sorted(documents) if any(Path(s) == r or r in Path(s).parents for r in roots)]


def remove(sources: list[str], *, index: Path) -> list[str]:
    """Remove documents by source path, or every document under a folder path; returns the removed sources.

    A path matches whether its name is written in NFC or NFD (macOS) form.
    """
    require_index(index)  # before the lock, which would create the folder
    with writer_lock(index), closing(open_store(index)) as store:
        removed: list[str] = []
        for wanted in sources:
            for source in _matching(store.documents, wanted):
                if store.remove(source):
                    removed.append(source)
        if removed:
            store.save()
    return removed


def _matching(documents: dict[str, object], wanted: str) -> list[str]:
    if wanted in documents:
        return [wanted]
    return [s for s in sorted(documents) if source_matches(wanted, s)]


def source_matches(wanted: str, source: str) -> bool:
    """True when `rag remove wanted` removes source: the same path (NFC or NFD), or a file under that folder."""
    key, name = unicodedata.normalize("NFC", wanted), unicodedata.normalize("NFC", source)
    if name.startswith(key + "#"):  # the records of a JSON lines file
        return True
    return key == name or Path(key) in Path(name).parents


def _chunk_label(config: dict[str, int]) -> str:
    return f"{config.get('max_tokens')}/{config.get('overlap_tokens')} tokens"


def _open_store(
    index: Path, embedder: Embedder, chunk_config: dict[str, int], rebuild: bool, kind: str, options: StoreOptions
) -> Store:
    """The index's own store (the manifest says which), or a new one of the kind asked for."""
    if index_exists(index) and not rebuild:
        built_with = store_kind(index)
        if built_with != kind:
            log.warning(
                "%s keeps its %s store (settings ask for %s): `rag ingest --rebuild --store %s --index %s` moves it",
                index,
                built_with,
                kind,
                kind,
                index,
            )
        store = open_store(index, options)
        store.check_compatible(embedder.model_id, embedder.dim)
        return store
    return new_store(
        index, kind=kind, model_id=embedder.model_id, dim=embedder.dim, chunking=chunk_config, options=options
    )
