"""Where a passage sits in its document: headings and Vietnamese legal units become sections.

Sections start at headings the format marked (``Document.headings``) and at lines that open a
legal unit: "Phần thứ nhất", "Chương II", "Mục 1", "Điều 5.". Numbered lines ("1. ...") directly
under an Điều are its clauses (khoản). Chunking never lets a chunk run across a section start;
the clauses only refine the location ("Chương II › Điều 5 › Khoản 2–3").
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from rag.types import Document

SEPARATOR = " › "
_LEGAL_RANKS = {"phần": 10, "chương": 11, "mục": 12, "điều": 13}
_LEGAL = re.compile(r"(phần|chương|mục|điều)\s+(thứ\s+[^\W\d_]+|\d+[a-zđ]?|[IVXLC]+)\b", re.IGNORECASE)
_CLAUSE = re.compile(r"(?:khoản\s+)?(\d{1,3})\s*[.:]\s+\S", re.IGNORECASE)
_MARKDOWN_PREFIX = re.compile(r"#{1,6}\s+")
_LINE = re.compile(r"[^\n]*")


@dataclass(frozen=True)
class Section:
    start: int  # offset of the section's first line
    heading_end: int  # end of its heading line(s); the body follows
    path: tuple[str, ...]  # labels from the outermost section down to this one
    is_article: bool  # an Điều: its numbered lines are clauses


@dataclass(frozen=True)
class Outline:
    """The sections of a document and the clauses inside its articles."""

    sections: tuple[Section, ...]
    clauses: tuple[tuple[int, str], ...]  # (line start, clause number), in text order
    page_starts: tuple[int, ...] = ()
    title_end: int = 0  # end of the capitalised title lines before the first section ("NGHỊ ĐỊNH")
    _starts: list[int] = field(init=False, repr=False, compare=False, default_factory=list)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_starts", [s.start for s in self.sections])

    def section_index(self, offset: int) -> int:
        """Index of the section holding offset; -1 before the first section."""
        return bisect.bisect_right(self._starts, offset) - 1

    def is_heading(self, start: int, end: int) -> bool:
        """True when text[start:end] lies inside a section's heading line(s)."""
        i = self.section_index(start)
        return end <= self.title_end if i < 0 else end <= self.sections[i].heading_end

    def location(self, start: int, end: int) -> str:
        """The label of text[start:end] (a chunk inside one section): path, plus clauses when partial."""
        i = self.section_index(max(start, end - 1))
        if i < 0:
            return ""
        section = self.sections[i]
        labels = list(section.path)
        if section.is_article:
            next_start = self.sections[i + 1].start if i + 1 < len(self.sections) else None
            own = [c for c in self.clauses if c[0] >= section.start and (next_start is None or c[0] < next_start)]
            covered = [
                c for j, c in enumerate(own) if start <= c[0] < end or (c[0] <= start and _before(own, j, start))
            ]
            if covered and len(covered) < len(own):
                first, last = covered[0][1], covered[-1][1]
                labels.append(f"Khoản {first}" if first == last else f"Khoản {first}–{last}")
        return SEPARATOR.join(labels)

    def pages(self, start: int, end: int) -> tuple[int | None, int | None]:
        """First and last page (1-based) of text[start:end]; (None, None) when the document has no pages."""
        if not self.page_starts:
            return None, None
        first = bisect.bisect_right(self.page_starts, start)
        last = bisect.bisect_right(self.page_starts, max(start, end - 1))
        return max(first, 1), max(last, 1)


def _before(clauses: list[tuple[int, str]], j: int, offset: int) -> bool:
    """True when clause j is the last one starting at or before offset."""
    return j + 1 == len(clauses) or clauses[j + 1][0] > offset


def outline(doc: Document) -> Outline:
    """Sections from doc.headings and from legal-unit lines; the document title is left out of paths."""
    marked = {h.start: h for h in doc.headings}
    sections: list[Section] = []
    clauses: list[tuple[int, str]] = []
    stack: list[tuple[int, str]] = []  # (rank, label)
    title = " ".join(doc.title.split()).casefold()
    text = doc.text
    lines = [(m.start(), m.end()) for m in _LINE.finditer(text) if m.end() > m.start()]
    skip_until = -1
    for n, (start, end) in enumerate(lines):
        if start < skip_until:
            continue
        line = text[start:end].strip()
        legal = _legal_unit(_MARKDOWN_PREFIX.sub("", line, count=1))
        if legal is not None:
            rank, label = legal
            heading_end = end
            if rank < _LEGAL_RANKS["điều"] and n + 1 < len(lines):
                # "Chương I" is often followed by its name in capitals on the next line
                nxt_start, nxt_end = lines[n + 1]
                nxt = text[nxt_start:nxt_end].strip()
                if nxt and nxt.isupper() and _legal_unit(nxt) is None:
                    heading_end = skip_until = nxt_end
        elif start in marked:
            rank, label = marked[start].level, " ".join(marked[start].text.split())
            heading_end = end
        else:
            if stack and stack[-1][0] == _LEGAL_RANKS["điều"]:
                clause = _CLAUSE.match(line)
                if clause:
                    clauses.append((start, clause.group(1)))
            continue
        while stack and stack[-1][0] >= rank:
            stack.pop()
        stack.append((rank, label))
        path = tuple(lab for _, lab in stack if lab.casefold() != title)
        sections.append(Section(start, heading_end, path, rank == _LEGAL_RANKS["điều"]))
    title_end = 0
    for start, end in lines:
        line = text[start:end].strip()
        if not sections or start >= sections[0].start or (line and not line.isupper()):
            break
        title_end = end
    return Outline(tuple(sections), tuple(clauses), doc.page_starts, title_end)


def _legal_unit(line: str) -> tuple[int, str] | None:
    """(rank, short label) when line opens a legal unit: "Điều 5." -> (13, "Điều 5")."""
    m = _LEGAL.match(line)
    if not m:
        return None
    keyword, number = m.group(1).lower(), m.group(2)
    if number.isalpha() and not number.isupper():
        return None  # "Mục tiêu", "Phần lớn": a word, not a roman numeral
    if number.lower().startswith("thứ"):
        number = " ".join(number.lower().split())
    rest = line[m.end() :].lstrip()
    if keyword == "điều":
        if rest and rest[0] not in ".:":
            return None  # "Điều 5 của Luật này ..." is a sentence, not the article's heading
    elif rest and rest[0] not in ".:-–" and not rest[0].isupper():
        return None
    return _LEGAL_RANKS[keyword], f"{keyword.capitalize()} {number}"
