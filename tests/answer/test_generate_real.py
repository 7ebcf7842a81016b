"""Model tier: the real LLM shared by threads gives each its own text and usage (the rest of what a
Generator promises, closing a stream included, is in test_generator_contract.py)."""

from __future__ import annotations

import threading

import pytest

from rag.answer.completion import LENGTH, STOP
from rag.types import Message

pytestmark = pytest.mark.models

SYSTEM = Message("system", "Bạn là trợ lý. Trả lời bằng tiếng Việt, ngắn gọn.")


def _ask(text: str) -> list[Message]:
    return [SYSTEM, Message("user", text)]


def test_two_threads_get_their_own_text_and_usage(real_generator) -> None:  # noqa: ANN001
    questions = {"hanoi": _ask("Thủ đô của Việt Nam là thành phố nào?"), "count": _ask("Đếm từ một đến mười.")}
    alone = {}
    for name, messages in questions.items():
        completion = real_generator.stream(messages, max_tokens=24)
        alone[name] = (completion.text(), completion.usage, completion.finish_reason)
    together: dict[str, tuple] = {}

    def run(name: str) -> None:
        completion = real_generator.stream(questions[name], max_tokens=24)
        together[name] = (completion.text(), completion.usage, completion.finish_reason)

    threads = [threading.Thread(target=run, args=(name,)) for name in questions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert together == alone  # temperature 0: the same text and the same usage, each its own
    assert alone["hanoi"][2] in (STOP, LENGTH) and "Hà Nội" in alone["hanoi"][0]
    assert alone["count"][1].completion_tokens == 24 and alone["count"][2] == LENGTH


def test_a_greedy_reply_reports_its_log_probability(real_generator) -> None:  # noqa: ANN001
    """The per-passage reading may rank replies by it (rag.answer.reading). The same greedy text comes back
    with nearly the same sum: a prompt found in the KV cache is not re-evaluated in one batch, and the
    float sums differ in the second decimal (-0.861 vs -0.840 measured)."""
    import math

    messages = _ask("Thủ đô của Việt Nam là thành phố nào?")
    first = real_generator.stream(messages, max_tokens=12)
    text = first.text()
    again = real_generator.stream(messages, max_tokens=12)
    assert again.text() == text
    assert first.logprob is not None and math.isfinite(first.logprob)
    # a sum of log-probabilities is <= 0 (12 tokens: above -50), and nearly the same for the same greedy reply
    assert -50.0 < first.logprob <= 0.0
    assert again.logprob == pytest.approx(first.logprob, abs=0.1)
