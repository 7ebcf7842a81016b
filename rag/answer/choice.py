"""Answer spans chosen by the model's likelihood (issue 15.4): score typed passage spans against the free reply.

Constrained greedy copying (rag.answer.copying) commits to the model's first word and then follows
whatever passage text starts with it. Here the model's reply is kept as a template instead: its bare
fact ("1225" in "Nhà Trần được thành lập năm 1225 [1].") is swapped for each answer-type span of the
prompt's passage sentences that hold the question's key terms (years for "năm nào", numbers for
"bao nhiêu", names for "ai" / "ở đâu"), with that passage's marker, and the model scores every
version as its reply to the same prompt. A candidate replaces the free reply only when its summed
token log-probability beats the free reply's by the margin. Pure Python: the generator scores.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.answer.copying import FENCED, prompt_passages
from rag.answer.settings import AnswerSettings
from rag.checks.analysis import Analysis, Sentence
from rag.checks.claims import names
from rag.checks.grounding import ANSWERED, GroundingSettings, ground, is_refusal
from rag.checks.phrases import bare_fact, folded_keys, surface
from rag.errors import ConfigError
from rag.text.vietnamese import fold_diacritics, nfc
from rag.types import Message

log = logging.getLogger(__name__)
_MARKER = re.compile(r"\s*\[\d{1,3}\]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# a number counted in these ("200 năm", "118 lần", "1.610 phút") is a quantity, not a year
_UNIT = re.compile(r"\s+(năm|tuổi|lần|ngày|tháng|tuần|giờ|phút|giây|người|km|mét|m|kg|tấn|%)(?!\w)", re.IGNORECASE)


class Scorer(Protocol):
    def score(self, messages: Sequence[Message], replies: Sequence[str]) -> list[tuple[float, int]]: ...


@dataclass(frozen=True)
class Choice:
    """The reply to keep, and what was scored: (reply, summed log-probability, tokens), the free reply first."""

    raw: str
    scored: tuple[tuple[str, float, int], ...]


def require_scorer(generator: object, mode: str) -> None:
    """ConfigError naming the fix where span_choice is on and the generator cannot score replies (HTTP servers)."""
    if mode != "free" and not callable(getattr(generator, "score", None)):
        model = getattr(generator, "model_id", type(generator).__name__)
        raise ConfigError(
            f"span_choice = {mode} needs the in-process llama.cpp generator, which scores replies "
            f"({model} cannot): set span_choice = free"
        )


def typed_spans(kind: str | None, sentence: str, question: str) -> list[str]:
    """Every part of sentence that could answer a question of this kind, in order, none the question holds."""
    asked = set(folded_keys(question))
    sentence = nfc(sentence)
    spans: list[str] = []
    if kind in ("year", "number"):
        for match in _NUMBER.finditer(sentence):
            key = folded_keys(match.group(0))[0]
            if key in asked or (kind == "year" and not (3 <= len(key) <= 4 and int(key) <= 2100)):
                continue
            if kind == "year" and _UNIT.match(sentence, match.end()):
                continue
            spans.append(match.group(0))
    elif kind in ("person", "place"):
        for name in names(sentence):
            if not all(fold_diacritics(k) in asked for k in name):
                spans.append(surface(sentence, name))
    return list(dict.fromkeys(spans))


def _in_prompt(sentence: Sentence, shown_texts: dict[int, str]) -> bool:
    return nfc(sentence.text).strip() in shown_texts.get(sentence.marker, "")


def candidate_spans(analysis: Analysis, shown_texts: dict[int, str], *, limit: int = 8) -> list[tuple[str, int]]:
    """(span, marker) from the prompt's sentences that hold the question's key terms, best covering first.

    shown_texts: marker -> the passage text as the prompt showed it (only sentences the model saw count)."""
    sentences = [s for s in analysis.sentences if s.key > 0 and _in_prompt(s, shown_texts)]
    sentences.sort(key=lambda s: (-s.key, -s.score, s.marker, s.start))
    seen: set[tuple[str, ...]] = set()
    found: list[tuple[str, int]] = []
    for sentence in sentences:
        for span in typed_spans(analysis.kind, sentence.text, analysis.question):
            key = tuple(folded_keys(span))
            if key and key not in seen:
                seen.add(key)
                found.append((span, sentence.marker))
    return found[:limit]


def reply_with(free: str, fact: str | None, span: str, marker: int) -> str:
    """The free reply with its fact replaced by span and its markers by [marker]; "span [marker]." without a fact."""
    if fact and fact in free:
        text = free.replace(fact, span, 1)
        text, count = _MARKER.subn(f" [{marker}]", text)
        return text if count else f"{text.rstrip('.!?… ')} [{marker}]."
    return f"{span} [{marker}]."


def choose_span(
    scorer: Scorer,
    messages: Sequence[Message],
    free: str,
    analysis: Analysis,
    shown_texts: dict[int, str],
    *,
    margin: float = 0.0,
    limit: int = 8,
    prior: float = 0.0,
) -> Choice:
    """The free reply, or the candidate whose log-probability beats it by more than margin (the best one).

    prior: weight of each reply's log-probability without the passages, subtracted (what the passages add,
    not what the model would say anyway: a round number, a famous name)."""
    if not free.strip() or is_refusal(free) or analysis.kind is None:
        return Choice(free, ())
    fact = bare_fact(free, analysis.question)
    own = tuple(folded_keys(fact or ""))
    replies = [
        reply_with(free, fact, span, marker)
        for span, marker in candidate_spans(analysis, shown_texts, limit=limit)
        if tuple(folded_keys(span)) != own
    ]
    replies = [r for r in dict.fromkeys(replies) if r != free]
    if not replies:
        return Choice(free, ())
    scores = scorer.score(messages, [free, *replies])
    if prior:
        alone = [*messages[:-1], Message(messages[-1].role, FENCED.sub("", messages[-1].content).strip())]
        base = scorer.score(alone, [free, *replies])
        scores = [(total - prior * other, n) for (total, n), (other, _) in zip(scores, base, strict=True)]
    scored = tuple((reply, total, n) for reply, (total, n) in zip([free, *replies], scores, strict=True))
    best = max(scored[1:], key=lambda item: item[1])
    return Choice(best[0] if best[1] > scored[0][1] + margin else free, scored)


def span_reply(
    scorer: Scorer,
    messages: Sequence[Message],
    raw: str,
    shown: Analysis,
    settings: AnswerSettings,
    grounding: GroundingSettings | None,
) -> str:
    """The reply the checks get under settings.span_choice: raw itself ("free"; "unsupported" where the checks
    keep it), or the likeliest version of it with a typed span of the prompt's passages (choose_span)."""
    mode = settings.span_choice
    if mode == "free" or (mode == "unsupported" and grounding and ground(shown, raw, grounding).outcome == ANSWERED):
        return raw
    texts = {p.number: p.text for p in prompt_passages(messages[-1].content)}
    choice = choose_span(
        scorer,
        messages,
        raw,
        shown,
        texts,
        margin=settings.span_margin,
        limit=settings.span_candidates,
        prior=settings.span_prior,
    )
    if choice.scored:
        log.info("span choice %r from %r", choice.raw, [(r, round(t, 3), n) for r, t, n in choice.scored])
    return choice.raw
