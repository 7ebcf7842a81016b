"""Files -> chunks -> vectors -> index, incrementally and resumably.

Unchanged files cost a stat (or a hash), changed ones are re-embedded alone (rag/ingest/files.py).
Every finished file is appended to the resume journal (rag/ingest/journal.py) before the next one
starts, and the index is committed with one atomic save at the end, so a run stopped at any moment
(Ctrl-C, kill -9, power loss) leaves the last complete index on disk and the next run takes the
journaled files instead of embedding them again. Ctrl-C commits the files finished so far.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import LoaderError
from rag.index.base import Store, StoreOptions, closing, index_exists, new_store, open_store, store_kind
from rag.index.files import require_index, writer_lock
from rag.ingest.discovery import discover
from rag.ingest.files import FileIngester, FileLimits
from rag.ingest.journal import ResumeJournal
from rag.ingest.report import IngestProgress, IngestReport, ProgressFn
from rag.text.chunking import ChunkSettings

if TYPE_CHECKING:
    from rag.index.embedding import Embedder

log = logging.getLogger(__name__)

__all__ = ["FileLimits", "IngestProgress", "IngestReport", "ProgressFn", "ingest", "remove", "source_matches"]


def ingest(
    paths: list[Path],
    *,
    index: Path,
    embedder: Embedder,
    chunking: ChunkSettings,
    store: str = "faiss",
    store_options: StoreOptions | None = None,
    limits: FileLimits | None = None,
    rebuild: bool = False,
    prune: bool = False,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Add new and changed files under paths to the index at `index`; never half-writes it.

    store is the kind of a new index (faiss | milvus; an existing one keeps its own), store_options
    how to open it; limits say which files are refused as too large and which are streamed. A file
    that cannot be ingested (unreadable, not text, too large, a broken link...) is listed in
    ``report.failed`` with the reason and the rest go on. Ctrl-C stops after the current file,
    commits the finished ones and returns with ``report.interrupted``.
    """
    started = time.perf_counter()
    report = IngestReport(index=str(index))
    files, problems = discover(paths)
    report.failed.extend((str(p), reason) for p, reason in problems)
    report.files_total = len(files)

    def tell(done: int, current: str) -> None:
        if progress:
            progress(IngestProgress(done, len(files), report.chunks_embedded, current, time.perf_counter() - started))

    chunk_config = {"max_tokens": chunking.max_tokens, "overlap_tokens": chunking.overlap_tokens}
    options = store_options or StoreOptions()
    with writer_lock(index), closing(_open_store(index, embedder, chunk_config, rebuild, store, options)) as target:
        chunking, chunk_config = _kept_chunking(target, chunking, chunk_config, index)
        journal = ResumeJournal(index, model_id=embedder.model_id, dim=embedder.dim, chunking=chunk_config)
        ingest_file = FileIngester(target, journal, embedder, chunking, limits or FileLimits(), report, tell)
        seen, finished = _ingest_files(files, ingest_file, journal, report, tell)
        dirty = rebuild or ingest_file.changed
        if prune and not report.interrupted:
            dirty = _prune(target, paths, seen, report) or dirty
        if dirty or not index_exists(index):
            target.save()
        # Everything this run finished is committed now; keep only journaled files it did not finish.
        journal.keep_only({s for s in journal.sources() - finished if Path(s).exists()})
        tell(len(finished), "")
        report.total_chunks = len(target)
    report.seconds = time.perf_counter() - started
    return report


def _kept_chunking(
    store: Store, chunking: ChunkSettings, asked: dict[str, int], index: Path
) -> tuple[ChunkSettings, dict[str, int]]:
    """The chunking to use and its manifest form: an index keeps the one it was built with (mixing chunk
    sizes would skew BM25 and scores)."""
    if not store.chunking or store.chunking == asked:
        return chunking, asked
    log.warning(
        "%s keeps its chunking %s (settings ask for %s): run `rag ingest --rebuild --index %s` to re-chunk",
        index,
        _chunk_label(store.chunking),
        _chunk_label(asked),
        index,
    )
    kept = dict(store.chunking)
    return ChunkSettings(**kept), kept


def _ingest_files(
    files: list[Path],
    ingest_file: FileIngester,
    journal: ResumeJournal,
    report: IngestReport,
    tell: Callable[[int, str], None],
) -> tuple[set[str], set[str]]:
    """Each file in turn, a failure costing that file only; (files reached, files whose processing ended).

    Ctrl-C ends the loop with ``report.interrupted``; any other escape closes the journal, whose
    lines stay on disk for the next run, and goes on up.
    """
    seen: set[str] = set()
    finished: set[str] = set()
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
        journal.close()
        raise
    return seen, finished


def _prune(store: Store, paths: list[Path], seen: set[str], report: IngestReport) -> bool:
    """Remove the indexed documents under paths whose file this run did not reach; whether any went."""
    removed = False
    for source in _under_roots(store.documents, paths):
        if not _from_seen_file(source, seen) and store.remove(source):
            report.removed.append(source)
            removed = True
    return removed


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
