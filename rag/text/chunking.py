"""Document -> passages sized in model tokens, cut at sentence and paragraph boundaries.

Every chunk keeps character offsets into its document, so ``doc.text[start:end]`` is exactly
the chunk text and a citation can point at the precise passage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from rag.errors import ConfigError
from rag.text.structure import Outline, outline
from rag.text.vietnamese import paragraph_spans, sentence_spans, word_spans
from rag.types import Chunk, Document

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class ChunkSettings:
    """How documents are cut; stored in the index manifest (an existing index keeps its own)."""

    max_tokens: int = 300  # 300/60 beat 200/40 and 400/80 on MLQA-vi dev recall@5 (README, Retrieval)
    overlap_tokens: int = 60

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ConfigError(f"chunk max_tokens={self.max_tokens} is too small: use at least 16")
        if not 0 <= self.overlap_tokens < self.max_tokens // 2:
            raise ConfigError(
                f"chunk overlap_tokens={self.overlap_tokens} must be >= 0 and below half of "
                f"max_tokens={self.max_tokens}"
            )


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    tokens: int
    paragraph: int
    section: int = -1  # index into the document's Outline.sections (-1: before any section)
    heading: bool = False  # part of a section's heading line(s)


def document_key(source: str) -> str:
    """Stable short id of a source path, the prefix of its chunk ids."""
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:12]


def chunk_document(doc: Document, *, count_tokens: TokenCounter, settings: ChunkSettings) -> list[Chunk]:
    """Cut doc into chunks of at most settings.max_tokens tokens (title excluded).

    A chunk never runs across the start of a section (a heading, a Chương or an Điều) once it holds
    body text, and it records its section path as ``location`` and, for PDFs, its pages.
    """
    structure = outline(doc)
    units = _tag(_units(doc.text, count_tokens, settings.max_tokens), structure)
    groups = _pack(units, settings)
    key = document_key(doc.source)
    chunks = []
    for i, group in enumerate(groups):
        start, end = group[0].start, group[-1].end
        text = doc.text[start:end]
        page, page_end = structure.pages(start, end)
        chunks.append(
            Chunk(
                chunk_id=f"{key}-{i:05d}",
                source=doc.source,
                title=doc.title,
                text=text,
                start=start,
                end=end,
                n_tokens=count_tokens(text),
                location=structure.location(start, end),
                page=page,
                page_end=page_end,
            )
        )
    return chunks


def _units(text: str, count_tokens: TokenCounter, max_tokens: int) -> list[_Unit]:
    """Sentences tagged with their paragraph; a sentence over max_tokens is cut where a reader pauses."""
    units: list[_Unit] = []
    for p_index, (p_start, p_end) in enumerate(paragraph_spans(text)):
        for s_start, s_end in sentence_spans(text, p_start, p_end):
            n = count_tokens(text[s_start:s_end])
            if n <= max_tokens:
                units.append(_Unit(s_start, s_end, n, p_index))
            else:
                units.extend(_split_long(text, s_start, s_end, count_tokens, max_tokens, p_index))
    return units


def _tag(units: list[_Unit], structure: Outline) -> list[_Unit]:
    if not structure.sections:
        return units
    return [
        _Unit(
            u.start,
            u.end,
            u.tokens,
            u.paragraph,
            structure.section_index(u.start),
            structure.is_heading(u.start, u.end),
        )
        for u in units
    ]


def _split_long(
    text: str, start: int, end: int, count_tokens: TokenCounter, max_tokens: int, paragraph: int
) -> list[_Unit]:
    """A run-on sentence longer than the budget, cut into pieces of at most max_tokens tokens.

    Each piece ends where a reader would pause, whenever that leaves it at least half the budget:
    after ";" or ":", then after "," or ")" or before "và" / "hoặc" / a dash, outside brackets; else
    at a word outside a bracket and outside a capitalised name ("… thành phố Yên | Bái)" is no cut);
    else at the last word that fits. A single word longer than the budget is cut by characters.
    """
    pieces: list[_Unit] = []
    words = word_spans(text, start, end)
    open_after = _open_brackets(text, start, words)
    i = 0
    while i < len(words):
        w_start, w_end = words[i]
        size = count_tokens(text[w_start:w_end])
        if size > max_tokens:  # one word longer than the budget (a URL)
            cut = _largest_prefix(text, w_start, w_end, count_tokens, max_tokens)
            pieces.append(_Unit(w_start, cut, count_tokens(text[w_start:cut]), paragraph))
            words[i] = (cut, w_end)
            continue
        sizes = [size]  # tokens of the piece ending on words[i], words[i + 1], …
        while i + len(sizes) < len(words):
            grown = count_tokens(text[w_start : words[i + len(sizes)][1]])
            if grown > max_tokens:
                break
            sizes.append(grown)
        last = i + len(sizes) - 1
        if last + 1 < len(words):
            last = _pause(text, words, open_after, i, sizes, max_tokens)
        pieces.append(_Unit(w_start, words[last][1], sizes[last - i], paragraph))
        i = last + 1
    return pieces


_CLAUSE_END = (";", ":")
_PHRASE_END = (",", ")", "]")
_BEFORE = frozenset({"và", "hoặc", "cùng", "–", "—", "-"})


def _open_brackets(text: str, start: int, words: list[tuple[int, int]]) -> list[int]:
    """How many round or square brackets the sentence (from start) leaves open at each word's end."""
    depths, depth, at = [], 0, start
    for _, w_end in words:
        seen = text[at:w_end]
        depth += seen.count("(") + seen.count("[") - seen.count(")") - seen.count("]")
        depths.append(depth)
        at = w_end
    return depths


def _pause(
    text: str, words: list[tuple[int, int]], open_after: list[int], first: int, sizes: list[int], max_tokens: int
) -> int:
    """The word (index from first) a piece of a run-on sentence should end on (see _split_long); sizes[j] is the
    piece's tokens when it ends on words[first + j]."""
    best: dict[int, int] = {}
    last = first + len(sizes) - 1
    for k in range(last, first - 1, -1):
        if k < last and sizes[k - first] < max_tokens // 2:
            break
        word = text[words[k][0] : words[k][1]]
        after = text[words[k + 1][0] : words[k + 1][1]]
        inside = open_after[k] > 0
        name = word[-1:].isalpha() and word[:1].isupper() and after[:1].isupper()
        if not inside and word.endswith(_CLAUSE_END):
            rank = 0
        elif not inside and (word.endswith(_PHRASE_END) or after.lower() in _BEFORE):
            rank = 1
        elif not inside and not name:
            rank = 2
        elif not name:
            rank = 3
        else:
            continue
        best.setdefault(rank, k)
    return best[min(best)] if best else last


def _largest_prefix(text: str, start: int, end: int, count_tokens: TokenCounter, max_tokens: int) -> int:
    lo, hi = start + 1, end
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count_tokens(text[start:mid]) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _pack(units: list[_Unit], settings: ChunkSettings) -> list[list[_Unit]]:
    """Greedy packing; prefer paragraph ends, carry sentence overlap inside a paragraph."""
    budget = settings.max_tokens
    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    used = 0
    paragraph_tokens: dict[int, int] = {}
    for unit in units:
        paragraph_tokens[unit.paragraph] = paragraph_tokens.get(unit.paragraph, 0) + unit.tokens
    for unit in units:
        if current:
            new_paragraph = unit.paragraph != current[-1].paragraph
            # A new section closes the chunk unless all it holds so far are headings ("Chương I" above "Điều 1").
            new_section = unit.section != current[-1].section and not all(u.heading for u in current)
            full = new_section or used + unit.tokens > budget
            # Close early at a paragraph end when the next paragraph would not fit anyway.
            early = new_paragraph and used >= budget // 2 and used + paragraph_tokens[unit.paragraph] > budget
            if full or early:
                groups.append(current)
                current = [] if new_paragraph else _overlap(current, settings.overlap_tokens)
                used = sum(u.tokens for u in current)
                while current and used + unit.tokens > budget:
                    used -= current.pop(0).tokens
        current.append(unit)
        used += unit.tokens
    if current:
        groups.append(current)
    return groups


def _overlap(group: list[_Unit], overlap_tokens: int) -> list[_Unit]:
    """Trailing sentences of a finished chunk (never all of it) that fit in overlap_tokens."""
    tail: list[_Unit] = []
    total = 0
    for unit in reversed(group[1:]):
        if total + unit.tokens > overlap_tokens or unit.paragraph != group[-1].paragraph:
            break
        tail.insert(0, unit)
        total += unit.tokens
    return tail


def passage_text(chunk: Chunk) -> str:
    """The text embedded for a chunk: its document title first, unless the chunk already starts with it."""
    if not chunk.title or chunk.text.startswith(chunk.title):
        return chunk.text
    return f"{chunk.title}\n{chunk.text}"
