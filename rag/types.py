"""Frozen value types passed between the stages of the pipeline."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Heading:
    """A heading the file format marked (Markdown #, HTML <h2>, a DOCX heading style)."""

    start: int  # offset of the heading line in Document.text
    level: int  # 1 = top level
    text: str


@dataclass(frozen=True)
class Document:
    """A loaded source file: NFC text plus where it came from."""

    source: str  # the path as given to `rag ingest` (``file.jsonl#id`` for one record of a JSON lines file)
    title: str
    text: str
    sha256: str = ""  # of the raw file bytes; empty for in-memory documents
    headings: tuple[Heading, ...] = ()
    page_starts: tuple[int, ...] = ()  # PDF: offset in text where page 1, 2, ... begins


@dataclass(frozen=True)
class Chunk:
    """A passage of a document; ``document.text[start:end] == text``."""

    chunk_id: str
    source: str
    title: str
    text: str
    start: int
    end: int
    n_tokens: int = 0
    location: str = ""  # where in the document: "Chương II › Điều 5 › Khoản 2", a heading path, or ""
    page: int | None = None  # PDF: first page of the chunk (1-based)
    page_end: int | None = None  # PDF: last page of the chunk

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunk:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its rank (1-based) and score (higher is better).

    The hybrid retriever also reports the chunk's cosine similarity to the query (``dense``) and
    its best-sentence query coverage (``coverage``): rag.checks.answerability reads them.
    """

    chunk: Chunk
    score: float
    rank: int
    dense: float | None = None
    coverage: float | None = None


@dataclass(frozen=True)
class Citation:
    """A marker ``[n]`` in an answer and the passage it points at."""

    marker: int
    chunk: Chunk


@dataclass(frozen=True)
class Message:
    """One chat message for the generator."""

    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class Timings:
    retrieve_ms: float = 0.0
    first_token_ms: float | None = None
    total_ms: float = 0.0


@dataclass(frozen=True)
class Answer:
    """The result of one question: text, the passages it cites and what was retrieved."""

    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    retrieved: tuple[Hit, ...] = ()
    invalid_markers: tuple[int, ...] = ()
    timings: Timings = field(default_factory=Timings)
    usage: Usage = field(default_factory=Usage)
    sentences: tuple[SentenceSupport, ...] = ()  # per answer sentence: which passage supports it and how
    # "answered" | "extractive" (built from passage sentences) | "unchecked" (no sentence verified, shown as written)
    # | "hedged" (the closest passage sentence, said not to answer directly) | "refused"
    outcome: str = "answered"
    passages: tuple[Hit, ...] = ()  # the passages the model saw: marker [n] is passages[n - 1]
    # refused because: "evidence" (no passage covers the question's key terms), "answerability" (retrieval
    # looks like the index lacks the answer), "model" (the model said so) or "unsupported" (no sentence held)
    refusal_reason: str | None = None
    read_as: str | None = None  # the question as the model read it, when not as typed (marks restored)
    # rag.checks.analysis.Analysis of the question and the passages retrieved for the prompt: what the checks read
    analysis: Any = field(default=None, compare=False, repr=False)
    unchecked: str | None = None  # the model's own answer with the checks off (only when asked for: rag eval)
    short_answer: str | None = None  # the bare fact ("1226"); None when refused or hedged, or with the checks off

    @property
    def refused(self) -> bool:
        return self.outcome == "refused"


@dataclass(frozen=True)
class SentenceSupport:
    """One sentence of an answer after the support check.

    status: "supported" (a cited passage backs it), "reattributed" (its marker was wrong and now
    points at the passage that backs it), "added" (it had no marker; one was added), "extracted"
    (copied from the passage for an extractive answer), "unsupported" (no passage backs it: dropped
    from the answer text).
    """

    text: str
    cited: tuple[int, ...]  # markers the model wrote
    supported_by: int | None  # the marker of the passage that backs it
    score: float  # claim coverage by that passage, 0..1
    status: str
    # the sentence of the supporting passage the check found (offsets in its chunk text): what the chat highlights
    span: tuple[int, int] | None = None
