"""The question-answering flow: validate -> retrieve -> prompt -> stream -> cite."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from rag.cite import MarkerStream, cite
from rag.errors import QuestionError
from rag.types import Answer, Hit, Timings, Usage
from rag.vietnamese import nfc

if TYPE_CHECKING:
    from rag.generate import Generator
    from rag.prompting import PromptBuilder


def check_question(question: str, *, max_chars: int) -> str:
    """NFC, trimmed question; QuestionError when empty or too long."""
    question = nfc(question or "").strip()
    if not question:
        raise QuestionError('the question is empty: type a question, e.g. rag ask "Ai là tác giả?"')
    if len(question) > max_chars:
        raise QuestionError(
            f"the question has {len(question)} characters, the limit is {max_chars}: "
            "shorten it (or raise max_question_chars)"
        )
    return question


class Retriever(Protocol):
    def search(self, query: str, k: int) -> list[Hit]: ...


class Assistant:
    """Answers a Vietnamese question from the index, citing passages as [n]."""

    def __init__(
        self,
        retriever: Retriever,
        generator: Generator | None,
        builder: PromptBuilder | None,
        *,
        k: int = 4,
        max_tokens: int = 384,
        temperature: float = 0.0,
        max_question_chars: int = 2000,
    ) -> None:
        self._retriever = retriever
        self._generator = generator
        self._builder = builder
        self._k = k
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._max_question_chars = max_question_chars

    def stream(
        self, question: str, *, k: int | None = None, prompt_k: int | None = None, retrieve_only: bool = False
    ) -> Iterator[str | Answer]:
        """Yield answer text pieces as they are generated, then the final Answer.

        k passages are retrieved (and reported); the first prompt_k (default all k) go to the model.
        """
        started = time.perf_counter()
        question = check_question(question, max_chars=self._max_question_chars)
        hits = self._retriever.search(question, k or self._k)
        retrieve_ms = (time.perf_counter() - started) * 1000
        if retrieve_only or self._generator is None or self._builder is None:
            yield Answer(question, "", retrieved=tuple(hits), timings=Timings(retrieve_ms, None, retrieve_ms))
            return
        prompt = self._builder.build(
            question, hits[:prompt_k] if prompt_k else hits, self._generator.count_prompt_tokens
        )
        markers = MarkerStream(len(prompt.hits))
        raw: list[str] = []
        first_token_ms: float | None = None
        started_text = False
        for piece in self._generator.stream(
            prompt.messages, max_tokens=self._max_tokens, temperature=self._temperature
        ):
            if first_token_ms is None:
                first_token_ms = (time.perf_counter() - started) * 1000
            raw.append(piece)
            for text in markers.feed(piece):
                if not started_text:
                    text = text.lstrip()  # the final answer is stripped too
                    started_text = bool(text)
                if text:
                    yield text
        yield from markers.flush()
        cited = cite("".join(raw).strip(), prompt.hits)
        usage = self._generator.last_usage
        yield Answer(
            question=question,
            text=cited.text,
            citations=cited.citations,
            retrieved=tuple(hits),
            invalid_markers=cited.invalid_markers,
            timings=Timings(retrieve_ms, first_token_ms, (time.perf_counter() - started) * 1000),
            usage=Usage(usage.prompt_tokens, usage.completion_tokens),
        )

    def ask(
        self, question: str, *, k: int | None = None, prompt_k: int | None = None, retrieve_only: bool = False
    ) -> Answer:
        """Non-streaming form of stream()."""
        for event in self.stream(question, k=k, prompt_k=prompt_k, retrieve_only=retrieve_only):
            if isinstance(event, Answer):
                return event
        raise RuntimeError("assistant stream ended without an answer")  # unreachable by construction
