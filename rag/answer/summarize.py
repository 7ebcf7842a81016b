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

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from rag.answer.cite import cite
from rag.answer.summary_centrality import centrality
from rag.answer.summary_fusion import fuse_lines, fused_text, shortened
from rag.answer.summary_joins import joined_text, pack
from rag.answer.summary_picks import Picks, parts_of, section_of
from rag.answer.summary_salience import with_salience
from rag.answer.summary_settings import SummarySettings
from rag.answer.summary_units import Unit, content_words, fact_keys, sentence_units, word_overlap
from rag.checks.grounding import ANSWERED, GroundingSettings
from rag.checks.support import check_answer, with_marker
from rag.text.chunking import passage_text
from rag.text.vietnamese import comparable, fold_diacritics, has_diacritics
from rag.types import Answer, Chunk, Hit, SentenceSupport, Timings, Usage

if TYPE_CHECKING:
    from rag.answer.generate import Generator
    from rag.answer.prompting import PromptBuilder
    from rag.index.embedding import Embedder

_log = logging.getLogger(__name__)

DEFAULTS = SummarySettings()

__all__ = [
    "Summarizer",
    "SummarySettings",
    "candidate_units",
    "fact_keys",
    "fused_text",
    "select_units",
    "shortened",
    "word_overlap",
]


def candidate_units(chunks: Sequence[Chunk], *, settings: SummarySettings = DEFAULTS) -> list[Unit]:
    """Every sentence of the passages worth a summary line; long sentences as their clauses."""
    units = sentence_units(
        chunks, long_words=settings.long_sentence_words, trim=settings.trim, count_lists=settings.count_lists
    )
    long = {source for source, n in document_words(chunks).items() if n >= settings.salient_min_words}
    return with_salience(units, top=settings.salient_terms, sources=long) if settings.salient_terms and long else units


@dataclass
class _Run:
    usage: Usage = field(default_factory=Usage)
    first_ms: float | None = None


def on_topic(units: Sequence[Unit], topic: str) -> list[Unit]:
    """The units on a topic (compared without diacritics when it is typed without them, else with: "nặng" is not
    "năng"). Those that hold a topic of two words or more as a phrase ("nước nặng", "nhiệt độ sôi"), where any do;
    else those sharing one of its telling words. A word that more than half of the units hold tells nothing ("an",
    "dương", "vương" in the article on An Dương Vương, for "An Dương Vương xây thành"); when every word is that common,
    the rarest one is kept."""
    fold = not has_diacritics(topic)
    wanted = content_words(topic, fold=fold)
    if not wanted or not units:
        return []
    phrase = _comparable(topic, fold)
    if len(phrase.split()) > 1:
        holding = [u for u in units if f" {phrase} " in f" {_comparable(u.text, fold)} "]
        if holding:
            return holding
    words = [content_words(u.text, fold=fold) for u in units]
    share = {w: sum(w in held for held in words) / len(units) for w in wanted}
    telling = {w for w in wanted if share[w] <= 0.5} or {min(wanted, key=lambda w: (share[w], w))}
    return [u for u, held in zip(units, words, strict=True) if held & telling]


def _comparable(text: str, fold: bool) -> str:
    return comparable(fold_diacritics(text) if fold else text)


def select_units(
    units: Sequence[Unit],
    *,
    budget_words: int,
    settings: SummarySettings = DEFAULTS,
    topic: str = "",
    lead: bool = True,
    pick_order: bool = False,
    central: Mapping[int, float] | None = None,
) -> list[Unit]:
    """The units that state the most facts per word, best first, within the budget; returned in document order.

    A fact already stated (by an earlier pick, from any source) counts for nothing, so the same
    figure from two documents is said once; a fact most units repeat (the document's own
    subject) counts little; praise counts against. topic: only units sharing a content word
    with it (compared without diacritics) are candidates, and the lead of a sectioned document
    gains settings.lead_bonus only without one. lead: the document's opening sentence goes first
    (what the document is). central: each unit's centrality in its document (by position, 0..1),
    scaling its gain by settings.centrality_weight.
    """
    picks = Picks(units, settings, budget_words, whole=not topic, central=central)
    pool = list(units)
    if topic:
        pool = on_topic(pool, topic) or pool
    first = next((u for u in pool if u.lead and picks.fits(u)), None) if lead and not topic else None
    if first is not None:
        picks.add(first)
    part, parts = parts_of(units, 0 if topic else settings.part_words)
    quota = -(-settings.max_sentences // parts)  # a long document: each part gets its share of the sentences
    taken = [0] * parts
    for unit in picks.chosen:
        taken[part[unit.position]] += 1
    while True:  # until no unit fits (fits counts the sentence cap)
        fits = [u for u in pool if picks.gain(u) > 0 and picks.fits(u)]
        fits = [u for u in fits if taken[part[u.position]] < quota] or fits
        if settings.sections:  # a heading not yet visited first
            visited = {section_of(c, settings.sections) for c in picks.chosen}
            fits = [u for u in fits if section_of(u, settings.sections) not in visited] or fits
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
        best = max(fits, key=lambda u: (picks.gain(u) / picks.length(u) ** power, -u.position))
        picks.add(best)
        taken[part[best.position]] += 1
    return list(picks.chosen) if pick_order else sorted(picks.chosen, key=lambda u: u.position)


def budget(chunks: Sequence[Chunk], settings: SummarySettings, max_tokens: int | None = None) -> int:
    """Words the summary may use: a share of the document, within [min_words, max_words] (and max_tokens)."""
    words = sum(document_words(chunks).values())
    limit = max(settings.min_words, min(settings.max_words, int(settings.share * words)))
    if max_tokens:
        limit = min(limit, int(max_tokens / 1.5))  # about 1.5 model tokens per Vietnamese syllable
    return limit


def document_words(chunks: Sequence[Chunk]) -> dict[str, int]:
    """Each document's words in the chunks: the text two overlapping chunks share is counted once."""
    words: dict[str, int] = {}
    ends: dict[str, int] = {}
    for chunk in sorted({c.chunk_id: c for c in chunks}.values(), key=lambda c: (c.source, c.start)):
        seen = ends.get(chunk.source, chunk.start)
        words[chunk.source] = words.get(chunk.source, 0) + len(chunk.text[max(0, seen - chunk.start) :].split())
        ends[chunk.source] = max(seen, chunk.end)
    return words


class Summarizer:
    """Builds a cited summary of passages (a document's chunks, or the passages on a topic)."""

    def __init__(
        self,
        generator: Generator | None,
        builder: PromptBuilder | None,
        *,
        grounding: GroundingSettings | None = None,
        settings: SummarySettings = DEFAULTS,
        embedder: Embedder | None = None,
    ) -> None:
        self._generator = generator
        self._embedder = embedder  # for settings.centrality_weight; without one, no centrality
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
        settings = self._settings
        if self._fusing:  # more units than the cap, joined in pairs below
            settings = replace(settings, max_sentences=settings.fuse_pool, max_words=settings.fuse_max_words)
        chosen = select_units(
            units,
            budget_words=budget(chunks, settings, max_tokens),
            settings=settings,
            topic=topic if on_topic else "",
            pick_order=True,
            central={} if on_topic else self._central(units, chunks),
        )
        rank = {u.position: i for i, u in enumerate(chosen)}  # the order they were picked: best first
        chosen = sorted(chosen, key=lambda u: u.position)
        run = _Run()
        checks: list[SentenceSupport] = []
        parts: list[str] = []
        if self._fusing:
            lines = [((text, unit),) for text, unit in self._fused(chosen, rank, hits, run)]
        else:
            lines = [tuple((u.text, u) for u in line) for line in pack(chosen, max_words=self._settings.join_words)]
        for line in lines:
            sentence = self._line(line, hits, run, checks)
            if sentence is None:
                continue
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

    def _line(
        self, line: Sequence[tuple[str, Unit]], hits: Sequence[Hit], run: _Run, checks: list[SentenceSupport]
    ) -> str | None:
        """One summary line, cited: its units checked each against its own passage, the unsupported dropped."""
        kept: list[tuple[str, int | None]] = []
        for text, unit in line:
            if len(line) == 1 and not self._fusing:
                text = self._compressed(unit, hits[unit.marker - 1], run) or unit.text
            check = self._check(text, unit.marker, hits)
            if check.status == "unsupported" and text != unit.text:  # the shorter form lost its backing
                text = unit.text
                check = self._check(text, unit.marker, hits)
            checks.append(check)
            if check.status != "unsupported":
                kept.append((text, check.supported_by))
        if not kept:
            return None
        return with_marker(*kept[0]) if len(kept) == 1 else joined_text(kept)

    def _central(self, units: Sequence[Unit], chunks: Sequence[Chunk]) -> dict[int, float]:
        """Each unit's centrality in its document (the documents of centrality_min_words or more), when on."""
        s = self._settings
        if not s.centrality_weight or self._embedder is None:
            return {}
        long = {source for source, n in document_words(chunks).items() if n >= s.centrality_min_words}
        kind, threshold = s.centrality, s.centrality_threshold
        return centrality(units, self._embedder, kind=kind, threshold=threshold, sources=long) if long else {}

    @property
    def _fusing(self) -> bool:
        return self._settings.fuse and self._generator is not None and self._builder is not None

    def _fused(
        self, chosen: Sequence[Unit], rank: dict[int, int], hits: Sequence[Hit], run: _Run
    ) -> list[tuple[str, Unit]]:
        """The chosen units as at most max_sentences lines, pairs joined by the model (summary_fusion)."""

        def join(first: Unit, second: Unit) -> str | None:
            text = self._join(first, second, hits[first.marker - 1], run)
            kept = text is not None and self._check(text, first.marker, hits).status != "unsupported"
            _log.debug("join %r + %r -> %r (%s)", first.text, second.text, text, "kept" if kept else "refused")
            return text if kept else None

        s = self._settings
        return fuse_lines(chosen, rank, join, max_sentences=s.max_sentences, max_words=s.fuse_words)

    def _join(self, first: Unit, second: Unit, hit: Hit, run: _Run) -> str | None:
        """The model's one sentence stating both units, when fused_text accepts it; else None."""
        assert self._generator is not None and self._builder is not None
        messages = self._builder.compress(f"{first.text} {second.text}", title=hit.chunk.title)
        completion = self._generator.stream(messages, max_tokens=2 * (first.words + second.words) + 16, temperature=0.0)
        reply = completion.text()
        _log.debug("joined by the model: %r", reply)
        usage, total = completion.usage, run.usage
        run.usage = Usage(total.prompt_tokens + usage.prompt_tokens, total.completion_tokens + usage.completion_tokens)
        return fused_text(first.text, second.text, reply, passage=hit.chunk.text)

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
