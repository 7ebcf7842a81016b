"""The resume journal: files an unfinished ingest has already embedded, so a crash loses no work.

``<index>/ingest-journal.jsonl`` is append-only: a header line naming the embedder and chunking,
then one line per finished file (source, sha256, its documents, chunks and their vectors), written and
fsynced as soon as the file is embedded. Appending costs only the new file's work, however
large the index. The index itself (manifest and data files) is untouched until the run commits
with one atomic save, so the index on disk is always the last complete state; the next ingest
takes each journaled file whose content hash still matches instead of embedding it again. A line
cut short by a kill is ignored. After a commit the journal is deleted.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.types import Chunk

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

JOURNAL = "ingest-journal.jsonl"
JOURNAL_VERSION = 1


@dataclass(frozen=True)
class JournalEntry:
    """One finished file: what the store needs to add it without embedding it again.

    A file may hold several documents (a JSON lines file): ``documents`` lists (source, title,
    number of chunks) in order, and ``chunks``/``vectors`` are theirs, concatenated.
    """

    source: str
    sha256: str
    documents: list[tuple[str, str, int]]
    chunks: list[Chunk]
    vectors: np.ndarray
    size: int | None = None
    mtime_ns: int | None = None

    def documents_with_vectors(self) -> Iterator[tuple[str, str, list[Chunk], np.ndarray]]:
        start = 0
        for source, title, n in self.documents:
            yield source, title, self.chunks[start : start + n], self.vectors[start : start + n]
            start += n


class ResumeJournal:
    """Append finished files; look them up by (source, sha256) on the next run."""

    def __init__(self, index: Path, *, model_id: str, dim: int, chunking: dict[str, int]) -> None:
        self.path = Path(index) / JOURNAL
        self._header = {"journal": JOURNAL_VERSION, "model_id": model_id, "dim": dim, "chunking": chunking}
        self._dim = dim
        self._offsets: dict[str, tuple[str, int]] = {}  # source -> (sha256, byte offset of its line)
        self._handle: Any = None
        self._read_existing()

    def __len__(self) -> int:
        return len(self._offsets)

    def take(self, source: str, sha256: str) -> JournalEntry | None:
        """The journaled chunks and vectors of source if its content hash is still sha256."""
        import numpy as np

        found = self._offsets.get(source)
        if found is None or found[0] != sha256:
            return None
        with self.path.open("rb") as handle:
            handle.seek(found[1])
            data = json.loads(handle.readline())
        vectors = np.frombuffer(base64.b64decode(data["vectors"]), dtype="<f4").reshape(-1, self._dim)
        return JournalEntry(
            source=source,
            sha256=sha256,
            documents=[(d[0], d[1], int(d[2])) for d in data["documents"]],
            chunks=[Chunk.from_dict(c) for c in data["chunks"]],
            vectors=vectors.astype(np.float32),
            size=data.get("size"),
            mtime_ns=data.get("mtime_ns"),
        )

    def append(self, entry: JournalEntry) -> None:
        """Write one finished file durably (flush + fsync) before the ingest moves on."""
        import numpy as np

        if self._handle is None:
            fresh = not self.path.exists()
            self._handle = self.path.open("ab")
            if fresh:
                self._write({"header": self._header})
        vectors = np.ascontiguousarray(entry.vectors, dtype="<f4")
        record = {
            "source": entry.source,
            "sha256": entry.sha256,
            "documents": entry.documents,
            "size": entry.size,
            "mtime_ns": entry.mtime_ns,
            "chunks": [c.to_dict() for c in entry.chunks],
            "vectors": base64.b64encode(vectors.tobytes()).decode("ascii"),
        }
        offset = self._write(record)
        self._offsets[entry.source] = (entry.sha256, offset)

    def sources(self) -> set[str]:
        return set(self._offsets)

    def keep_only(self, sources: set[str]) -> None:
        """Rewrite the journal with just these sources' lines (atomically), or delete it if none remain."""
        self.close()
        keep = sorted((offset, s) for s, (_, offset) in self._offsets.items() if s in sources)
        if not keep:
            self.discard()
            return
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        offsets: dict[str, tuple[str, int]] = {}
        with self.path.open("rb") as src, tmp.open("wb") as dst:
            dst.write(src.readline())
            for offset, source in keep:
                src.seek(offset)
                offsets[source] = (self._offsets[source][0], dst.tell())
                dst.write(src.readline())
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, self.path)
        self._offsets = offsets

    def discard(self) -> None:
        """Delete the journal: its files are in the saved index now (or must not be reused)."""
        self.close()
        self.path.unlink(missing_ok=True)
        self._offsets.clear()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _write(self, data: dict[str, Any]) -> int:
        line = json.dumps(data, ensure_ascii=False).encode("utf-8") + b"\n"
        offset = self._handle.tell()
        self._handle.write(line)
        self._handle.flush()
        os.fsync(self._handle.fileno())
        return offset

    def _read_existing(self) -> None:
        if not self.path.is_file():
            return
        offsets: dict[str, tuple[str, int]] = {}
        with self.path.open("rb") as handle:
            header_line = handle.readline()
            try:
                header = json.loads(header_line).get("header") if header_line.endswith(b"\n") else None
            except (ValueError, AttributeError):
                header = None
            if header != self._header:
                log.warning("discarding %s: written for another embedder or chunking (%s)", self.path, header)
                self.path.unlink()
                return
            good_end = handle.tell()
            while line := handle.readline():
                try:
                    if not line.endswith(b"\n"):
                        raise ValueError("no line end")
                    data = json.loads(line)
                    offsets[data["source"]] = (data["sha256"], good_end)
                except (ValueError, KeyError, TypeError):
                    # only the last line can be cut short (a kill while appending): drop it
                    log.info("ignoring an incomplete line at byte %d of %s", good_end, self.path)
                    break
                good_end += len(line)
        if good_end < self.path.stat().st_size:
            os.truncate(self.path, good_end)  # the next append starts on a fresh line
        self._offsets = offsets
        if offsets:
            log.info("resuming: %d finished files in %s", len(offsets), self.path)
