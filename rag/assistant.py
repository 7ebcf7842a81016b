"""The question-answering flow: validate -> retrieve -> prompt -> stream -> cite."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from rag.cite import MarkerStream, cite
from rag.errors import QuestionError
from rag.types import Answer, Chunk, Hit, Message, Timings, Usage
from rag.vietnamese import is_vietnamese, nfc

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

    @property
    def retriever(self) -> Retriever:
        return self._retriever

    def stream(
        self,
        question: str,
        *,
        k: int | None = None,
        prompt_k: int | None = None,
        retrieve_only: bool = False,
        max_tokens: int | None = None,
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
        yield from self._generate(
            question, prompt.messages, prompt.hits, started, retrieve_ms, retrieved=hits, max_tokens=max_tokens
        )

    def _generate(
        self,
        question: str,
        messages: list[Message],
        hits: list[Hit],
        started: float,
        retrieve_ms: float,
        retrieved: list[Hit] | None = None,
        max_tokens: int | None = None,
    ) -> Iterator[str | Answer]:
        """Stream the model's reply with markers cleaned on the fly, then yield the cited Answer."""
        assert self._generator is not None
        markers = MarkerStream(len(hits))
        raw: list[str] = []
        first_token_ms: float | None = None
        started_text = False
        limit = max_tokens or self._max_tokens
        pieces = self._generator.stream(messages, max_tokens=limit, temperature=self._temperature)
        with contextlib.closing(pieces):  # stopping early must release the model at once
            for piece in pieces:
                if first_token_ms is None:
                    first_token_ms = (time.perf_counter() - started) * 1000
                raw.append(piece)
                if _SENTENCE_BREAK.search(piece):
                    cut = repetition_cut("".join(raw))
                    if cut is not None:  # a small model looping at temperature 0: stop and drop the repeat
                        raw = ["".join(raw)[:cut]]
                        break
                for text in markers.feed(piece):
                    if not started_text:
                        text = text.lstrip()  # the final answer is stripped too
                        started_text = bool(text)
                    if text:
                        yield text
        yield from markers.flush()
        cited = cite("".join(raw).strip(), hits)
        usage = self._generator.last_usage
        yield Answer(
            question=question,
            text=cited.text,
            citations=cited.citations,
            retrieved=tuple(retrieved if retrieved is not None else hits),
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

    def condense(self, history: Sequence[tuple[str, str]], question: str) -> str:
        """Rewrite a follow-up ("Còn năm 2022 thì sao?") into a standalone question using the chat so far."""
        question = check_question(question, max_chars=self._max_question_chars)
        if not history or self._generator is None or self._builder is None:
            return question
        recent = [(q, _strip_markers(a)[:400]) for q, a in history[-3:]]
        messages = self._builder.condense(recent, question)
        text = "".join(self._generator.stream(messages, max_tokens=80, temperature=0.0)).strip()
        rewritten = text.splitlines()[0].strip() if text else ""
        rewritten = re.sub(r"^(Câu hỏi( viết lại)?\s*:\s*)", "", rewritten, flags=re.IGNORECASE).strip().strip('"“”')
        if not rewritten or not is_vietnamese(rewritten) or len(rewritten) > 4 * len(question) + 200:
            return question
        return rewritten

    def summarize(
        self, chunks: Sequence[Chunk], *, topic: str, max_tokens: int | None = None
    ) -> Iterator[str | Answer]:
        """A cited summary of the given passages (a document's chunks), streamed like an answer.

        Passages are numbered [1]..[n] once; when they do not fit in one prompt they are
        summarised in groups (each citing the global numbers) and the partial summaries combined.
        """
        if self._generator is None or self._builder is None:
            raise QuestionError("summaries need the language model: start the assistant with a generator")
        if not chunks:
            raise QuestionError(f"nothing to summarise for {topic!r}: the document has no indexed passages")
        started = time.perf_counter()
        hits = [Hit(c, 0.0, i) for i, c in enumerate(chunks, start=1)]
        groups = self._summary_groups(list(chunks), topic)
        if len(groups) == 1:
            numbers = groups[0]
            messages = self._builder.summary(topic, [chunks[n - 1] for n in numbers], numbers)
        else:
            partials = []
            for numbers in groups:
                part = self._builder.summary(topic, [chunks[n - 1] for n in numbers], numbers)
                partials.append("".join(self._generator.stream(part, max_tokens=self._max_tokens)).strip())
            messages = self._builder.combine(topic, partials)
        yield from self._generate(f"Tóm tắt: {topic}", messages, hits, started, retrieve_ms=0.0, max_tokens=max_tokens)

    def _summary_groups(self, chunks: list[Chunk], topic: str) -> list[list[int]]:
        assert self._builder is not None and self._generator is not None
        groups: list[list[int]] = [[]]
        for n in range(1, len(chunks) + 1):
            trial = groups[-1] + [n]
            messages = self._builder.summary(topic, [chunks[i - 1] for i in trial], trial)
            if groups[-1] and self._generator.count_prompt_tokens(messages) > self._builder.max_prompt_tokens:
                groups.append([n])
            else:
                groups[-1] = trial
        return groups


def _strip_markers(text: str) -> str:
    return re.sub(r"\s*\[\d+\]", "", text)


_SENTENCE_BREAK = re.compile(r"[.!?…\n]")
_SENTENCE = re.compile(r"[^.!?…\n]+(?:[.!?…]+|\n|$)")


def repetition_cut(text: str, *, min_chars: int = 20) -> int | None:
    """Start of the first complete sentence that repeats an earlier one, or None.

    Markers and spacing are ignored in the comparison; short sentences (< min_chars) may repeat.
    """
    seen: set[str] = set()
    for match in _SENTENCE.finditer(text):
        sentence = match.group(0)
        if not sentence.rstrip(" ").endswith((".", "!", "?", "…", "\n")):
            break  # the last sentence is still being written
        key = " ".join(_strip_markers(sentence).lower().split())
        if len(key) < min_chars:
            continue
        if key in seen:
            return match.start()
        seen.add(key)
    return None
