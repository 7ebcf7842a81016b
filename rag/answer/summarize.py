"""Summaries that carry the facts: select fact-dense sentences, compress them lightly, cite and check each.

A 1.5B model asked to summarise a report writes what the report is about ("… đã nêu bật những
kết quả khá toàn diện …") and drops what it reports. So the summary is built the other way
round: the sentences (or clauses of long sentences) of the document that state the most facts
not yet stated -- numbers with what they count, dates, names of people and bodies, documents
(Nghị quyết, Chỉ thị, Điều …) -- are chosen in Python, within a length budget and without two
sentences saying the same thing; the model only shortens the long ones, and a shortened
sentence is kept only when every number and name survived and the support check still backs
it. Each sentence cites its own passage, so a topic summary over several documents cites each
fact to its document. Measured in benchmarks/bench_summaries.py (README, "Summaries").
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rag.answer.cite import cite
from rag.checks.claims import claim_terms, names, tokens
from rag.checks.grounding import ANSWERED, GroundingSettings
from rag.checks.support import check_answer, with_marker
from rag.text.chunking import passage_text
from rag.text.vietnamese import fold_diacritics, nfc, passage_sentences, reads_vietnamese, without_cjk
from rag.types import Answer, Chunk, Hit, SentenceSupport, Timings, Usage

if TYPE_CHECKING:
    from rag.answer.generate import Generator
    from rag.answer.prompting import PromptBuilder

WEIGHT_NUMBER, WEIGHT_DOCUMENT, WEIGHT_NAME = 3.0, 3.0, 2.0

# Vietnamese legal and party documents: "Nghị quyết số 35-NQ/TW", "Chỉ thị 05-CT/TW", "Điều 5".
_DOCUMENT = re.compile(
    r"\b(?:Nghị quyết|Nghị định|Chỉ thị|Kết luận|Kế hoạch|Quyết định|Thông tư|Luật|Điều|Khoản|Hiến pháp|Quy chế"
    r"|Quy định)"
    r"(?:\s+số)?\s+(\d[\w/.\-]*|[A-ZĐ][\w/.\-]*)"
)
# A date is one fact, not three numbers: "20/12/2016", "ngày 2 tháng 9 năm 1945", "tháng 3/1947", "năm 1808".
_DATE = re.compile(
    r"\b(?:(?:ngày\s+)?\d{1,2}\s+tháng\s+\d{1,2}(?:\s+năm\s+\d{3,4})?|(?:tháng\s+)\d{1,2}(?:\s+năm\s+|/)\d{3,4}"
    r"|\d{1,2}/\d{1,2}(?:/\d{2,4})?|năm\s+\d{3,4})\b",
    re.IGNORECASE,
)
_ROMAN = re.compile(r"\b[IVXLC]{2,}\b")  # "Đại hội XII", "khóa XV": the congress or term is a fact
# What a report says about itself rather than what it did: no fact, whatever its length.
_PRAISE = (
    "khá toàn diện",
    "nêu bật",
    "ngày càng",
    "tiếp tục được",
    "đánh giá cao",
    "biểu dương",
    "góp phần",
    "nhìn chung",
    "có hiệu quả",
    "thiết thực",
    "kết quả đạt được",
)
_LIST_MARKER = re.compile(r"^(?:\d{1,2}|[IVX]{1,4}|[a-zđ])[.)]\s+")
_HEADING = re.compile(r"^\s*(?:#|=)")
_CLAUSE_BREAK = re.compile(r"[;:]\s+")


@dataclass(frozen=True)
class SummarySettings:
    """Length and dedup limits of a summary; tuned on half of benchmarks/bench_summaries.py."""

    max_sentences: int = 12
    min_sentences: int = 3  # taken by new words when too few sentences state a fact
    share: float = 0.2  # of the document's words at most
    max_words: int = 350
    min_words: int = 60  # a short document still gets a few sentences
    max_overlap: float = 0.6  # no two sentences share more of their content words
    long_sentence_words: int = 40  # longer sentences are cut at ';' and ':' into clauses
    compress_words: int = 25  # longer units are shortened by the model (when compress is on)
    compress: bool = False  # measured: the 1.5B model's shorter sentences lost a fact and cost ~8 s each
    compressed_share: float = 0.65  # the length a shortened unit is budgeted at, of its own
    length_power: float = 0.3  # units are ranked by new facts / words ** length_power
    repeated_fact: float = 6.0  # a fact stated in more units than this counts less (the document's own subject)
    list_item_weight: float = 0.5  # a line without a full stop (a list item) counts as one fact, times this


@dataclass(frozen=True)
class Unit:
    """A sentence or clause of passage [marker], with the facts it states."""

    text: str
    marker: int
    position: int  # order in the passages as given (document order)
    facts: frozenset[str]
    words: int
    praise: int = 0
    lead: bool = False  # the document's first sentence: what the document is
    sentence: bool = True  # ends like a sentence in the document (not a list item or a heading-like line)


@dataclass
class _Run:
    usage: Usage = field(default_factory=Usage)
    first_ms: float | None = None


def fact_keys(text: str) -> set[str]:
    """The facts a sentence states, as comparison keys: numbers, document references, roman numerals, names."""
    dates = [m.group(0) for m in _DATE.finditer(text)]
    keys = {"t:" + "/".join(re.findall(r"\d+", d)) for d in dates}
    keys |= {f"n:{t}" for t in tokens(_DATE.sub(" ", text)) if t.isdigit()}
    keys |= {f"d:{m.group(0).split()[0].lower()}:{m.group(1).lower()}" for m in _DOCUMENT.finditer(text)}
    keys |= {f"r:{m.group(0)}" for m in _ROMAN.finditer(text)}
    # "Phạm Bình Minh, Ủy viên …" opens a sentence: its first word is part of the name here
    keys |= {"p:" + " ".join(name) for name in names(f"x {text}")}
    return keys


def _weight(key: str) -> float:
    return {"n": WEIGHT_NUMBER, "t": WEIGHT_NUMBER, "d": WEIGHT_DOCUMENT}.get(key[0], WEIGHT_NAME)


def content_words(text: str, *, fold: bool = False) -> set[str]:
    """Content syllables (function words left out): what two sentences must share to repeat each other.

    fold: compared without diacritics (a topic typed without them)."""
    words = claim_terms(text).weights
    return {fold_diacritics(t) for t in words} if fold else set(words)


def word_overlap(a: str, b: str) -> float:
    """Share of the shorter sentence's content words that the other one has too, 0..1."""
    wa, wb = content_words(a), content_words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / min(len(wa), len(wb))


def candidate_units(chunks: Sequence[Chunk], *, settings: SummarySettings = SummarySettings()) -> list[Unit]:
    """Every sentence of the passages worth a summary line; long sentences as their clauses.

    Headings, title lines, short fragments and repeats (chunks overlap) are left out; CJK
    glosses are removed (a summary must read as Vietnamese).
    """
    units: list[Unit] = []
    seen: set[str] = set()
    lead_taken: set[str] = set()
    for marker, chunk in enumerate(chunks, start=1):
        text = chunk.text
        for start, end in passage_sentences(text):
            sentence = text[start:end]
            if _HEADING.match(sentence) or sentence.strip() == chunk.title.strip():
                continue
            for piece in _pieces(sentence, settings.long_sentence_words):
                piece = without_cjk(_LIST_MARKER.sub("", piece)).strip()
                words = len(piece.split())
                key = " ".join(tokens(piece))
                if words < 6 or key in seen:
                    continue
                seen.add(key)
                ended = piece.endswith((".", "!", "?", "…"))
                lead = chunk.source not in lead_taken and ended and words >= 8
                if lead:
                    lead_taken.add(chunk.source)
                lowered = piece.lower()
                praise = sum(1 for p in _PRAISE if p in lowered)
                facts = frozenset(fact_keys(piece))
                full = sentence.rstrip().endswith((".", "!", "?", "…"))
                units.append(Unit(piece, marker, len(units), facts, words, praise, lead, full))
    return units


def _pieces(sentence: str, long_words: int) -> list[str]:
    """The sentence, or its clauses at ';' and ':' when it is long (each clause made a sentence)."""
    if len(sentence.split()) <= long_words:
        return [sentence]
    parts = [p.strip(" ;:") for p in _CLAUSE_BREAK.split(sentence)]
    merged: list[str] = []
    for part in parts:
        if merged and len(part.split()) < 6:  # "Ca dao:" or a short tail belongs to its neighbour
            merged[-1] = f"{merged[-1]}; {part}"
        elif part:
            merged.append(part)
    out = []
    for part in merged:
        part = part[0].upper() + part[1:]
        out.append(part if part.endswith((".", "!", "?", "…")) else part.rstrip(",") + ".")
    return out


class _Picks:
    """The units chosen so far, the facts they state and the words they use."""

    def __init__(self, units: Sequence[Unit], settings: SummarySettings, budget_words: int) -> None:
        frequency: dict[str, int] = {}
        for unit in units:
            for key in unit.facts:
                frequency[key] = frequency.get(key, 0) + 1
        self.salient = {k: _weight(k) * min(1.0, settings.repeated_fact / n) for k, n in frequency.items()}
        self.settings, self.budget_words = settings, budget_words
        self.chosen: list[Unit] = []
        self.covered: set[str] = set()
        self.used = 0

    def gain(self, unit: Unit) -> float:
        new = [self.salient[k] for k in unit.facts - self.covered]
        if not unit.sentence:  # a list item ("Hồ Chí Minh (từ 2/9/1945 đến …)") is one record: one fact
            return self.settings.list_item_weight * max(new, default=0.0)
        return sum(new) - unit.praise

    def length(self, unit: Unit) -> int:
        """Budgeted words: a unit the model will shorten counts at its expected shorter length."""
        s = self.settings
        if s.compress and unit.words > s.compress_words:
            return max(s.compress_words, round(unit.words * s.compressed_share))
        return unit.words

    def fits(self, unit: Unit) -> bool:
        """Not chosen yet, within the budget, and not repeating a chosen sentence."""
        return (
            unit not in self.chosen
            and self.used + self.length(unit) <= self.budget_words
            and all(word_overlap(unit.text, c.text) < self.settings.max_overlap for c in self.chosen)
        )

    def add(self, unit: Unit) -> None:
        self.chosen.append(unit)
        self.covered |= unit.facts
        self.used += self.length(unit)


def select_units(
    units: Sequence[Unit],
    *,
    budget_words: int,
    settings: SummarySettings = SummarySettings(),
    topic: str = "",
    lead: bool = True,
) -> list[Unit]:
    """The units that state the most facts per word, best first, within the budget; returned in document order.

    A fact already stated (by an earlier pick, from any source) counts for nothing, so the same
    figure from two documents is said once; a fact most units repeat (the document's own
    subject) counts little; praise counts against. topic: only units sharing a content word
    with it (compared without diacritics) are candidates. lead: the document's opening
    sentence goes first (what the document is).
    """
    picks = _Picks(units, settings, budget_words)
    pool = list(units)
    if topic:
        wanted = content_words(topic, fold=True)
        pool = [u for u in pool if content_words(u.text, fold=True) & wanted] or pool
    first = next((u for u in pool if u.lead and picks.fits(u)), None) if lead and not topic else None
    if first is not None:
        picks.add(first)
    while len(picks.chosen) < settings.max_sentences:
        fits = [u for u in pool if picks.gain(u) > 0 and picks.fits(u)]
        if not fits and len(picks.chosen) < settings.min_sentences:
            # a text without figures or names still gets a few sentences: those adding the most new words
            said = set().union(*(content_words(c.text) for c in picks.chosen))
            fits = sorted(
                (u for u in pool if picks.fits(u)), key=lambda u: (-len(content_words(u.text) - said), u.position)
            )
            fits = fits[:1]
        if not fits:
            break
        power = settings.length_power
        picks.add(max(fits, key=lambda u: (picks.gain(u) / picks.length(u) ** power, -u.position)))
    return sorted(picks.chosen, key=lambda u: u.position)


def budget(chunks: Sequence[Chunk], settings: SummarySettings, max_tokens: int | None = None) -> int:
    """Words the summary may use: a share of the document, within [min_words, max_words] (and max_tokens)."""
    words = sum(len(c.text.split()) for c in {c.chunk_id: c for c in chunks}.values())
    limit = max(settings.min_words, min(settings.max_words, int(settings.share * words)))
    if max_tokens:
        limit = min(limit, int(max_tokens / 1.5))  # about 1.5 model tokens per Vietnamese syllable
    return limit


def shortened(original: str, rewritten: str) -> str | None:
    """The model's shorter form of a sentence, when it keeps every fact of it; else None."""
    text = nfc(rewritten).strip().splitlines()[0].strip() if rewritten.strip() else ""
    text = re.sub(r"^(?:Câu (?:rút gọn|viết lại)\s*:\s*)", "", text, flags=re.IGNORECASE).strip().strip('"“”')
    text = re.sub(r"\s*\[\d+\]", "", text).strip()
    if len(text.split()) < 5 or len(text.split()) > 0.85 * len(original.split()):
        return None
    if not text.endswith((".", "!", "?", "…")):
        text += "."
    kept = fact_keys(text)
    if not fact_keys(original) <= kept or not reads_vietnamese(text, context=original):
        return None
    return text[0].upper() + text[1:]


class Summarizer:
    """Builds a cited summary of passages (a document's chunks, or the passages on a topic)."""

    def __init__(
        self,
        generator: Generator | None,
        builder: PromptBuilder | None,
        *,
        grounding: GroundingSettings | None = None,
        settings: SummarySettings = SummarySettings(),
    ) -> None:
        self._generator = generator
        self._builder = builder
        self._grounding = grounding
        self._settings = settings

    def stream(
        self, chunks: Sequence[Chunk], *, topic: str, asked: str, on_topic: bool = False, max_tokens: int | None = None
    ) -> Iterator[str | Answer]:
        """Yield the summary sentence by sentence (each already checked), then the Answer.

        on_topic: keep the units on topic only and skip the opening sentence (a topic summary, whose
        passages come from several documents, or a document summary narrowed to a topic). The
        streamed text is the final text.
        """
        started = time.perf_counter()
        hits = [Hit(c, 0.0, i) for i, c in enumerate(chunks, start=1)]
        units = candidate_units(chunks, settings=self._settings)
        chosen = select_units(
            units,
            budget_words=budget(chunks, self._settings, max_tokens),
            settings=self._settings,
            topic=topic if on_topic else "",
        )
        run = _Run()
        checks: list[SentenceSupport] = []
        parts: list[str] = []
        for unit in chosen:
            text = self._compressed(unit, hits[unit.marker - 1], run) or unit.text
            check = self._check(text, unit.marker, hits)
            if check.status == "unsupported" and text != unit.text:  # the shorter form lost its backing
                text = unit.text
                check = self._check(text, unit.marker, hits)
            if check.status == "unsupported":
                checks.append(check)
                continue
            checks.append(check)
            sentence = with_marker(text, check.supported_by)
            if run.first_ms is None:
                run.first_ms = _ms(started)
            yield sentence if not parts else " " + sentence
            parts.append(sentence)
        summary = " ".join(parts)
        cited = cite(summary, hits)
        yield Answer(
            question=f"Tóm tắt: {asked}",
            text=cited.text,
            citations=cited.citations,
            retrieved=tuple(hits),
            invalid_markers=cited.invalid_markers,
            timings=Timings(0.0, run.first_ms, _ms(started)),
            usage=run.usage,
            sentences=tuple(checks),
            outcome=ANSWERED,
            passages=tuple(hits),
        )

    def _check(self, text: str, marker: int, hits: Sequence[Hit]) -> SentenceSupport:
        """The support check of one summary sentence citing passage [marker] (rag.checks.support)."""
        if self._grounding is None:
            return SentenceSupport(text, (marker,), marker, 1.0, "supported")
        passages = [passage_text(h.chunk) for h in hits]
        cited = f"{text[:-1]} [{marker}]{text[-1]}" if text[-1:] in ".!?…" else f"{text} [{marker}]"
        checks = check_answer(cited, passages, threshold=self._grounding.support_threshold)
        return next((c for c in checks if c.status == "unsupported"), checks[0])

    def _compressed(self, unit: Unit, hit: Hit, run: _Run) -> str | None:
        """The model's shorter form of a long unit, or None (short unit, no model, or a fact lost)."""
        if not self._settings.compress or self._generator is None or self._builder is None:
            return None
        if unit.words <= self._settings.compress_words:
            return None
        messages = self._builder.compress(unit.text, title=hit.chunk.title)
        limit = int(unit.words * 1.6) + 8
        completion = self._generator.stream(messages, max_tokens=limit, temperature=0.0)
        reply = completion.text()
        usage = completion.usage
        total = run.usage
        run.usage = Usage(total.prompt_tokens + usage.prompt_tokens, total.completion_tokens + usage.completion_tokens)
        return shortened(unit.text, reply)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
