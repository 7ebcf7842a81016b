"""Citation markers: find [n] in an answer, drop those that point at no passage, list the cited ones.

Markers the models write: ``[1]``, ``[1, 2]``, ``[1][2]``, ``[1-2]``, full-width ``【1】``.
They are normalised to ``[n]`` so the UI and JSON see one form.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rag.text.vietnamese import sentence_spans
from rag.types import Chunk, Citation, Hit

_MARKER = re.compile(r" ?[\[【]\s*(\d{1,3}(?:\s*(?:[,;–-]|và)\s*\d{1,3})*)\s*[\]】]")
_OPEN = ("[", "【")
# a run of markers, with or without commas between them: " [1], [5] [7]"
_MARKER_RUN = re.compile(r"\s*\[\d+\](?:\s*[,;]?\s*\[\d+\])*")
_MAX_MARKER_CHARS = 24  # a '[' not closed within this many characters is plain text


@dataclass(frozen=True)
class CitedText:
    text: str
    citations: tuple[Citation, ...]
    invalid_markers: tuple[int, ...]


def chunk_place(chunk: Chunk) -> str:
    """Where a passage is, for people: "trang 2–3 · Chương II › Điều 5 › Khoản 2 · ký tự 10–80"."""
    parts = []
    if chunk.page is not None:
        last = chunk.page_end if chunk.page_end is not None else chunk.page
        parts.append(f"trang {chunk.page}" if last == chunk.page else f"trang {chunk.page}–{last}")
    if chunk.location:
        parts.append(chunk.location)
    parts.append(f"ký tự {chunk.start}–{chunk.end}")
    return " · ".join(parts)


def _numbers(group: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*(?:[,;]|và)\s*", group):
        bounds = re.split(r"\s*[–-]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            lo, hi = int(bounds[0]), int(bounds[1])
            numbers.extend(range(lo, hi + 1) if 0 < hi - lo < 10 else [lo, hi])
        elif part.isdigit():
            numbers.append(int(part))
    return numbers


def _rewrite(match: re.Match[str], n_passages: int, invalid: list[int]) -> str:
    numbers = _numbers(match.group(1))
    valid = [n for n in dict.fromkeys(numbers) if 1 <= n <= n_passages]
    invalid.extend(n for n in numbers if not 1 <= n <= n_passages)
    if not valid:
        return ""
    lead = " " if match.group(0).startswith(" ") else ""
    return lead + "".join(f"[{n}]" for n in valid)


def clean_markers(text: str, n_passages: int) -> tuple[str, list[int]]:
    """Normalise markers to [n], remove numbers outside 1..n_passages; return text and removed numbers."""
    invalid: list[int] = []
    cleaned = _MARKER.sub(lambda m: _rewrite(m, n_passages, invalid), text)
    return cleaned, invalid


def cite(text: str, hits: Sequence[Hit]) -> CitedText:
    """Clean the markers of a finished answer and resolve them to passages, in order of first use."""
    cleaned, invalid = clean_markers(text, len(hits))
    seen: dict[int, None] = {}
    for match in re.finditer(r"\[(\d+)\]", cleaned):
        seen.setdefault(int(match.group(1)), None)
    citations = tuple(Citation(marker=n, chunk=hits[n - 1].chunk) for n in seen)
    return CitedText(cleaned, citations, tuple(dict.fromkeys(invalid)))


class MarkerStream:
    """Cleans markers on the fly: text is held back only while a '[' may still become a marker."""

    def __init__(self, n_passages: int) -> None:
        self._n = n_passages
        self._pending = ""
        self.invalid: list[int] = []

    def feed(self, piece: str) -> Iterator[str]:
        self._pending += piece
        while self._pending:
            cut = _first_open(self._pending)
            if cut < 0:
                out, self._pending = self._pending, ""
                # keep a trailing space: it may belong to a marker " [1]" that follows
                if out.endswith(" "):
                    out, self._pending = out[:-1], " "
                if out:
                    yield out
                return
            if cut > 0:
                head = self._pending[:cut]
                lead = " " if head.endswith(" ") else ""
                head = head[:-1] if lead else head
                if head:
                    yield head
                self._pending = lead + self._pending[cut:]
            close = _first_close(self._pending)
            if close < 0:
                if len(self._pending) > _MAX_MARKER_CHARS:
                    # not a marker after all: release the bracket as text
                    yield self._pending[0]
                    self._pending = self._pending[1:]
                    continue
                return  # wait for more text
            candidate, self._pending = self._pending[: close + 1], self._pending[close + 1 :]
            cleaned, invalid = clean_markers(candidate, self._n)
            self.invalid.extend(invalid)
            if cleaned:
                yield cleaned

    def flush(self) -> Iterator[str]:
        rest, self._pending = self._pending, ""
        if rest:
            cleaned, invalid = clean_markers(rest, self._n)
            self.invalid.extend(invalid)
            if cleaned:
                yield cleaned


def _first_open(text: str) -> int:
    positions = [p for p in (text.find(ch) for ch in _OPEN) if p >= 0]
    return min(positions) if positions else -1


def _first_close(text: str) -> int:
    positions = [p for p in (text.find(ch) for ch in ("]", "】")) if p >= 0]
    return min(positions) if positions else -1


def answer_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """(sentence without markers, markers it carries); markers after the full stop count too."""
    out: list[tuple[str, list[int]]] = []
    for start, end in sentence_spans(answer):
        piece = answer[start:end]
        lead = _MARKER_RUN.match(piece)
        if lead and out:  # "... Đảng. [1] Có ...": a leading marker belongs to the sentence before
            out[-1][1].extend(int(n) for n in re.findall(r"\d+", lead.group(0)))
            piece = piece[lead.end() :]
        markers = [int(n) for n in re.findall(r"\[(\d+)\]", piece)]
        text = _MARKER_RUN.sub("", piece).strip()
        if any(ch.isalnum() for ch in text):
            out.append((text, list(dict.fromkeys(markers))))
        elif out:  # only markers and punctuation ("[1], [5], [16]" closing a summary): the sentence before's
            out[-1][1].extend(markers)
    return [(text, list(dict.fromkeys(markers))) for text, markers in out]
