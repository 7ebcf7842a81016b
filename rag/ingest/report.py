"""What an ingest reports: progress while it runs (IngestProgress) and what it did (IngestReport)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


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
