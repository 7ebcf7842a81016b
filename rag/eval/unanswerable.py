"""The two unanswerable sets of `rag eval`, made from answerable questions without a second index.

`--unanswerable` hides the question's own article (WithoutOwnDocument); `--delete-answer-sentence`
keeps the article but removes every sentence holding a gold answer (WithoutAnswerSentence).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import PurePath
from typing import Any

from rag.eval.metrics import contains_answer
from rag.eval.questions import Question
from rag.text.vietnamese import nfc, passage_sentences
from rag.types import Chunk, Hit


def is_own_document(chunk: Chunk, question: Question) -> bool:
    """The chunk comes from the question's article (same file stem as doc_id, or same title)."""
    if question.doc_id and PurePath(chunk.source).stem == question.doc_id:
        return True
    return bool(question.title) and nfc(chunk.title) == question.title


class _QuestionAware:
    """Wraps a retriever for one question at a time: set ``question`` before each search."""

    def __init__(self, retriever: Any) -> None:
        self._retriever = retriever
        self.question: Question | None = None

    @property
    def store(self) -> Any:
        return self._retriever.store


class WithoutOwnDocument(_QuestionAware):
    """A retriever that never sees the current question's article: what an index lacking it returns.

    Turns answerable questions into unanswerable ones without building a second index
    (`rag eval --unanswerable`); set ``question`` before each search. The article's chunks are
    dropped from the dense and BM25 candidate lists before fusion, so scores are standardised
    over the remaining chunks exactly as in an index without it (only BM25 document
    frequencies still count the article).
    """

    def search(self, query: str, k: int) -> list[Hit]:
        question = self.question
        if question is None:
            return self._retriever.search(query, k)
        return self._retriever.search(query, k, exclude=lambda chunk: is_own_document(chunk, question))


class WithoutAnswerSentence(_QuestionAware):
    """A retriever whose passages from the question's own article lack every sentence holding a gold answer.

    The adversarial unanswerable set (`rag eval --delete-answer-sentence`): the article is still
    retrieved (ranked and scored as with the sentence, so the retrieval signals look answerable)
    and everything else in it is kept, but the sentence that answers is gone. Set ``question``
    before each search.
    """

    def search(self, query: str, k: int) -> list[Hit]:
        hits = self._retriever.search(query, k)
        question = self.question
        if question is None:
            return hits
        return [
            replace(h, chunk=without_answer(h.chunk, question)) if is_own_document(h.chunk, question) else h
            for h in hits
        ]


def without_answer(chunk: Chunk, question: Question) -> Chunk:
    """The chunk without its sentences that contain a gold answer (line breaks kept)."""
    text = chunk.text
    cuts = [(a, b) for a, b in passage_sentences(text) if contains_answer(text[a:b], question.answers)]
    if not cuts:
        return chunk
    kept, position = [], 0
    for a, b in cuts:
        kept.append(text[position:a])
        position = b
    kept.append(text[position:])
    return replace(chunk, text=re.sub(r"[ \t]{2,}", " ", "".join(kept)).strip())
