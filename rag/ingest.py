"""Files -> chunks -> vectors -> index, incrementally: unchanged files cost no embedding work."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rag.chunking import ChunkSettings, chunk_document, passage_text
from rag.errors import IndexMismatchError, LoaderError
from rag.loaders import JSONL_SUFFIXES, discover, file_sha256, load_all
from rag.store import IndexStore, require_index, writer_lock
from rag.vector_index import DEFAULT_ANN_THRESHOLD, DEFAULT_NPROBE

if TYPE_CHECKING:
    from rag.embedding import Embedder

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, str], None]  # (files done, files total, current file)
SAVE_EVERY_SECONDS = 30.0


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks_embedded: int = 0
    seconds: float = 0.0
    total_chunks: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failed": [{"source": s, "reason": r} for s, r in self.failed],
            "chunks_embedded": self.chunks_embedded,
            "total_chunks": self.total_chunks,
            "seconds": round(self.seconds, 3),
        }


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
) -> IngestReport:
    """Add new and changed files under paths to the index at `index`; never half-writes it."""
    started = time.perf_counter()
    report = IngestReport()
    chunk_config = {"max_tokens": chunking.max_tokens, "overlap_tokens": chunking.overlap_tokens}
    files, skipped = discover(paths)
    report.failed.extend((str(p), reason) for p, reason in skipped)

    with writer_lock(index):
        store = _open_store(index, embedder, chunk_config, rebuild)
        store.ann_threshold, store.nprobe = ann_threshold, nprobe
        last_save = time.perf_counter()
        dirty = rebuild
        seen: set[str] = set()
        for n, path in enumerate(files, start=1):
            source = str(path)
            seen.add(source)
            if progress:
                progress(n - 1, len(files), source)
            try:
                stored = _stored_parts(store, path, source)
                if stored and all(store.documents[s].sha256 == file_sha256(path) for s in stored):
                    report.unchanged.append(source)
                    seen.update(stored)
                    continue
                prepared = []
                for doc in load_all(path, source=source):  # a .jsonl file holds one document per line
                    chunks = chunk_document(doc, count_tokens=embedder.count_tokens, settings=chunking)
                    prepared.append((doc, chunks, embedder.embed_passages([passage_text(c) for c in chunks])))
            except (LoaderError, OSError) as e:
                report.failed.append((source, str(e)))
                log.warning("skipped %s: %s", source, e)
                seen.update(stored)  # keep what was indexed before; prune only drops deleted files
                continue
            for stale in set(stored) - {doc.source for doc, _, _ in prepared}:
                store.remove(stale)
            for doc, chunks, vectors in prepared:
                store.add(doc, chunks, vectors)
                seen.add(doc.source)
                report.chunks_embedded += len(chunks)
            (report.updated if stored else report.added).append(source)
            dirty = True
            if time.perf_counter() - last_save > SAVE_EVERY_SECONDS:
                store.save()  # a checkpoint: an interrupted run resumes from here
                last_save, dirty = time.perf_counter(), False
        if prune:
            roots = [Path(p) for p in paths]
            for source in sorted(store.documents):
                under_root = any(Path(source) == r or r in Path(source).parents for r in roots)
                if under_root and source not in seen and store.remove(source):
                    report.removed.append(source)
                    dirty = True
        if dirty or not IndexStore.exists(index):
            store.save()
        if progress:
            progress(len(files), len(files), "")
    report.total_chunks = len(store)
    report.seconds = time.perf_counter() - started
    return report


def remove(sources: list[str], *, index: Path) -> list[str]:
    """Remove documents by source path; returns those that were indexed."""
    require_index(index)  # before the lock, which would create the folder
    with writer_lock(index):
        store = IndexStore.load(index)
        removed = []
        for source in sources:
            # a .jsonl file was indexed as its records, "<file>#<id>"
            parts = (
                [source] if source in store.documents else [s for s in store.documents if s.startswith(source + "#")]
            )
            removed.extend(s for s in parts if store.remove(s))
        if removed:
            store.save()
    return removed


def _stored_parts(store: IndexStore, path: Path, source: str) -> list[str]:
    """Indexed documents that came from this file: itself, or its ``source#id`` records for .jsonl."""
    if path.suffix.lower() in JSONL_SUFFIXES:
        return sorted(s for s in store.documents if s.startswith(source + "#"))
    return [source] if source in store.documents else []


def _open_store(index: Path, embedder: Embedder, chunk_config: dict[str, int], rebuild: bool) -> IndexStore:
    if IndexStore.exists(index) and not rebuild:
        store = IndexStore.load(index)
        store.check_compatible(embedder.model_id)
        if store.chunking != chunk_config:
            raise IndexMismatchError(
                f"index {index} was chunked with {store.chunking}, settings ask for {chunk_config}: "
                f"run `rag ingest --rebuild --index {index}` (or restore the chunk settings)"
            )
        return store
    return IndexStore(index, model_id=embedder.model_id, dim=embedder.dim, chunking=chunk_config)
