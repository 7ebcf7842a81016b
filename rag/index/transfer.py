"""Copy an index into another folder and store (FAISS <-> Milvus) with its chunks and vectors, embedding nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from rag.errors import ConfigError
from rag.index.base import StoreOptions, closing, index_exists, new_store, open_store
from rag.index.files import writer_lock
from rag.types import Document

log = logging.getLogger(__name__)


def copy_index(
    source: Path,
    target: Path,
    *,
    kind: str,
    options: StoreOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write every document of the index at source into a new index at target; returns its chunk count.

    Documents keep their records (hash, size, mtime), so a later ingest into target skips unchanged files.
    """
    if Path(source).resolve() == Path(target).resolve():
        raise ConfigError(f"copy {source} onto itself: give another folder as the target")
    if index_exists(target):
        raise ConfigError(f"{target} already holds an index: remove it or choose another folder")
    with closing(open_store(source)) as src, writer_lock(target):
        with closing(
            new_store(target, kind=kind, model_id=src.model_id, dim=src.dim, chunking=src.chunking, options=options)
        ) as dst:
            # in the order of their first chunk, so chunk ids (and ties in rankings) keep their order
            sources = sorted(src.documents, key=lambda s: min(src.documents[s].ids, default=-1))
            for n, name in enumerate(sources, start=1):
                record = src.documents[name]
                doc = Document(source=name, title=record.title, text="", sha256=record.sha256)
                dst.add(doc, src.chunks_of(name), src.vectors_of(name), size=record.size, mtime_ns=record.mtime_ns)
                if progress:
                    progress(n, len(sources))
            dst.save()
            return len(dst)
