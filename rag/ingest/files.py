"""One file at a time into the store: unchanged files skipped by stat or hash, changed ones chunked,
embedded (large text files segment by segment) and journaled before the store changes."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import LoaderError
from rag.index.base import Store
from rag.ingest.journal import JournalEntry, ResumeJournal
from rag.ingest.report import IngestReport
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
class FileLimits:
    """Which files are refused as too large (None: none) and which are streamed in segments of segment_chars."""

    max_file_bytes: int | None = None
    stream_over_bytes: int = STREAM_OVER_BYTES
    segment_chars: int = DEFAULT_SEGMENT_CHARS


class FileIngester:
    """Brings one file at a time up to date in the store, journaling each finished file."""

    def __init__(
        self,
        store: Store,
        journal: ResumeJournal,
        embedder: Embedder,
        chunking: ChunkSettings,
        limits: FileLimits,
        report: IngestReport,
        tell: Callable[[int, str], None],
    ) -> None:
        self.store, self.journal, self.embedder, self.chunking = store, journal, embedder, chunking
        self.limits, self.report, self.tell = limits, report, tell
        self.changed = False  # whether the store differs from the saved index
        self._documents_of_file = documents_by_file(store.documents)

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


def documents_by_file(documents: dict[str, object]) -> dict[str, list[str]]:
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
    limits: FileLimits,
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
