"""The naive pipeline every `rag eval` run is compared with: BM25 top 4, one plain prompt, the same model, no checks.

What a first RAG prototype does: the 4 best BM25 passages, whole, under one plain Vietnamese
instruction, and the model's reply as the answer (markers cleaned). No dense retrieval, sentence
selection, refusal, support check or extractive fallback; the same GGUF model and token limit,
so the difference to the assistant is what the pipeline adds. ``benchmarks/naive_baseline.py``
runs it alone.
"""

from __future__ import annotations

from collections.abc import Callable

from rag.answer.cite import cite
from rag.text.chunking import passage_text
from rag.types import Answer, Hit, Message, Timings

PROMPT = (
    "Dựa vào các đoạn văn dưới đây, hãy trả lời câu hỏi bằng tiếng Việt và ghi số đoạn làm căn cứ, ví dụ [1].\n\n"
    "$passages\n\nCâu hỏi: $question\nTrả lời:"
)


class NaiveBaseline:
    """search(question, k) -> hits best first (BM25); generator: any rag.answer.generate.Generator."""

    def __init__(self, search: Callable[[str, int], list[Hit]], generator, *, k: int = 4, max_tokens: int = 384):  # noqa: ANN001
        self._search, self._generator, self._k, self._max_tokens = search, generator, k, max_tokens

    def messages(self, question: str, hits: list[Hit]) -> list[Message]:
        passages = "\n\n".join(f"[{n}] {passage_text(h.chunk)}" for n, h in enumerate(hits, start=1))
        return [Message("user", PROMPT.replace("$passages", passages).replace("$question", question))]

    def ask(self, question: str) -> Answer:
        hits = self._search(question, self._k)
        with self._generator.stream(self.messages(question, hits), max_tokens=self._max_tokens) as completion:
            cited = cite(completion.text().strip(), hits)
        return Answer(
            question,
            cited.text,
            citations=cited.citations,
            retrieved=tuple(hits),
            invalid_markers=cited.invalid_markers,
            timings=Timings(),
            usage=completion.usage,
            passages=tuple(hits),
        )
