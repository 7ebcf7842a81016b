"""One analysis of a question against its passages, computed once and read by every check.

The question's claim terms and folding, each passage as the model saw it (title line and text),
its syllable index, its evidence score and its scored sentences: refusal (evidence),
answerability, sentence selection for the prompt, the support check, the extractive answer, the
chat's highlight and ``rag eval`` all read this one object instead of recomputing their own.

Pure Python over claim terms (rag.checks.claims); no model. A question typed without diacritics is
compared with the passages folded (marks stripped, đ→d), like the folded BM25 field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property

from rag.checks.claims import PassageIndex, Terms, adds_nothing, claim_terms, tokens
from rag.checks.instructions import is_instruction
from rag.checks.phrases import expected_type, typed_answer
from rag.text.chunking import passage_text
from rag.text.vietnamese import fold_diacritics, has_diacritics, passage_sentences
from rag.types import Hit

# Sentences shorter than this (headings, titles) are not worth a prompt line on their own.
_MIN_SENTENCE_CHARS = 12


@dataclass(frozen=True)
class Sentence:
    """A sentence of passage [marker]: its text and its character span inside the chunk text."""

    marker: int
    start: int
    end: int
    text: str
    score: float  # weighted share of the question's terms (and term pairs) found in it
    key: float = 0.0  # the same share in the document title and the sentence: does it speak of what is asked?


@dataclass(frozen=True)
class Passage:
    """One retrieved passage, analysed for the question."""

    hit: Hit
    text: str  # as the model saw it: the title line, then the chunk text (rag.text.chunking.passage_text)
    index: PassageIndex  # syllables and syllable pairs of text, for the support check
    evidence: float  # coverage of the question's terms by the chunk text, 0..1
    sentences: tuple[Sentence, ...]  # every sentence of the chunk text, scored against the question
    instructions: int = 0  # sentences left out because they address the model (rag.checks.instructions)


@dataclass(frozen=True)
class Analysis:
    """The question and its passages (marker n = passages[n - 1]), analysed once."""

    question: str
    terms: Terms
    fold: bool  # the question was typed without diacritics: passages are compared folded
    passages: tuple[Passage, ...]
    kind: str | None = None  # what the question asks for: rag.checks.phrases.expected_type

    @property
    def hits(self) -> list[Hit]:
        return [p.hit for p in self.passages]

    @property
    def evidence(self) -> float:
        """Coverage of the question's claim terms (and term pairs) by the best of the passages, 0..1."""
        return max((p.evidence for p in self.passages), default=0.0)

    @property
    def sentences(self) -> list[Sentence]:
        return [s for p in self.passages for s in p.sentences]

    @property
    def indexes(self) -> list[PassageIndex]:
        return [p.index for p in self.passages]

    def restrict(self, hits: Sequence[Hit]) -> Analysis:
        """The analysis of some of these passages (e.g. those that fit in the prompt), renumbered [1]..[n]."""
        by_id = {p.hit.chunk.chunk_id: p for p in self.passages}
        chosen = []
        for marker, hit in enumerate(hits, start=1):
            passage = by_id.get(hit.chunk.chunk_id) or _passage(hit, self.terms, self.fold)
            sentences = tuple(replace(s, marker=marker) for s in passage.sentences)
            chosen.append(replace(passage, hit=hit, sentences=sentences))
        return replace(self, passages=tuple(chosen))

    def context(self) -> str:
        """The question and the passages as the model saw them: words copied from them are not a language drift."""
        return "\n".join([self.question, *(p.text for p in self.passages)])

    def select(self, *, max_chars: int, rank_penalty: float = 0.2, spread: bool = False) -> list[list[Sentence]]:
        """Per passage, its sentences most relevant to the question (in document order), max_chars in all.

        Sentences are taken best first by overlap score minus rank_penalty per passage rank (the
        retriever's order is evidence too); at least one sentence is always taken. On MLQA-vi dev
        (421 questions whose top 4 passages hold the answer) 1,000 characters kept the answer in
        94% of prompts, with rank_penalty 0.2 (0.91 without it, 0.93 at 900 characters). With
        spread, each passage's best sentence that shares a term with the question comes first, in
        passage order, so the model sees every passage (without it most prompts hold one or two).
        """
        sentences = self.sentences
        order = sorted(sentences, key=lambda s: (-(s.score - rank_penalty * (s.marker - 1)), s.marker, s.start))
        if spread:
            firsts = [max(p.sentences, key=lambda s: (s.score, -s.start)) for p in self.passages if p.sentences]
            firsts = [s for s in firsts if s.score > 0] or firsts[:1]
            order = firsts + [s for s in order if all(s is not f for f in firsts)]
        chosen: set[tuple[int, int]] = set()
        used = 0
        for s in order:
            if chosen and used + len(s.text) + 3 > max_chars:
                continue
            chosen.add((s.marker, s.start))
            used += len(s.text) + 3
        return [[s for s in p.sentences if (s.marker, s.start) in chosen] for p in self.passages]

    @cached_property
    def extractive(self) -> Sentence | None:
        """The passage sentence that best covers the question (and adds to it), or None when none overlaps it."""
        answers = [s for s in self.sentences if not adds_nothing(s.text, self.question, fold=self.fold)]
        best = max(answers, key=lambda s: (s.score, -s.marker), default=None)
        return best if best is not None and best.score > 0 else None

    def typed_extractive(self, min_key: float) -> Sentence | None:
        """Like extractive, but only a sentence holding the question's key terms (key >= min_key) and,
        for a question that expects a year, number, person or place, an answer of that type."""
        answers = [
            s
            for s in self.sentences
            if s.key >= min_key
            and typed_answer(self.kind, s.text, self.question) is not None
            and not adds_nothing(s.text, self.question, fold=self.fold)
        ]
        best = max(answers, key=lambda s: (s.score, -s.marker), default=None)
        return best if best is not None and best.score > 0 else None


def analyze(question: str, hits: Sequence[Hit]) -> Analysis:
    """Analyse the question against the passages (best first); marker n is hits[n - 1]."""
    terms, fold = claim_terms(question), not has_diacritics(question)
    passages = tuple(_passage(h, terms, fold, marker) for marker, h in enumerate(hits, start=1))
    return Analysis(question, terms, fold, passages, expected_type(question))


def _passage(hit: Hit, terms: Terms, fold: bool, marker: int = 0) -> Passage:
    text, title = hit.chunk.text, hit.chunk.title
    sentences = []
    content, instructions = text, 0
    for start, end in passage_sentences(text):
        sentence = text[start:end]
        if is_instruction(sentence):
            # addressed to the model (an injection): never prompt text, never support, never an answer
            content = content[:start] + " " * (end - start) + content[end:]
            instructions += 1
            continue
        score = overlap(terms, sentence, fold) if len(sentence) >= _MIN_SENTENCE_CHARS else 0.0
        key = overlap(terms, f"{title}\n{sentence}" if title else sentence, fold)
        sentences.append(Sentence(marker, start, end, sentence, score, key))
    seen = passage_text(hit.chunk if content == text else replace(hit.chunk, text=" ".join(content.split())))
    evidence = overlap(terms, content, fold)
    return Passage(hit, seen, PassageIndex.of(seen), evidence, tuple(sentences), instructions)


def overlap(terms: Terms, sentence: str, fold: bool = False) -> float:
    """Like claims.coverage, but a missing question number only lowers the score (questions rarely hold the answer).

    fold: compare without diacritics (the question was typed without them).
    """
    if not terms:
        return 0.0
    keys = tokens(fold_diacritics(sentence) if fold else sentence)
    unigrams, pairs = set(keys), set(zip(keys, keys[1:], strict=False))
    total = sum(terms.weights.values())
    found = sum(w for t, w in terms.weights.items() if t in unigrams) / total
    if not terms.bigrams:
        return found
    return (found + sum(1 for b in terms.bigrams if b in pairs) / len(terms.bigrams)) / 2


def excerpt(sentences: Sequence[Sentence]) -> str:
    """The selected sentences of one passage as prompt text; '…' marks where text was left out."""
    parts: list[str] = []
    previous_end: int | None = None
    for s in sentences:
        if previous_end is not None and s.start > previous_end + 2:
            parts.append("…")
        parts.append(s.text)
        previous_end = s.end
    return " ".join(parts)
