"""rag eval --replies: a greedy reply is generated once, then replayed with its usage and log-probability."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from rag.answer.completion import STOP, CallState, Completion
from rag.eval.replay import RecordedGenerator
from rag.types import Message, Usage


class CountingGenerator:
    """Answers every prompt with its own word count, and a log-probability of -0.5 per word."""

    model_id = "counting"

    def __init__(self) -> None:
        self.calls = 0

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content.split()) for m in messages)

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 384, temperature: float = 0.0) -> Completion:
        self.calls += 1
        words = self.count_prompt_tokens(messages)

        def pieces(state: CallState) -> Iterator[str]:
            for n, piece in enumerate(["Có ", f"{words} ", "từ."], start=1):
                state.usage, state.logprob = Usage(words, n), -0.5 * n
                yield piece
            state.finish_reason = STOP

        return Completion(pieces)


def test_a_recorded_reply_replays_its_text_usage_and_log_probability(tmp_path: Path) -> None:
    path, inner = tmp_path / "replies.jsonl", CountingGenerator()
    messages = [Message("user", "Hà Nội là thủ đô")]
    with RecordedGenerator(inner, path).stream(messages) as first:
        assert first.text() == "Có 5 từ."
    assert (first.usage, first.logprob) == (Usage(5, 3), -1.5)
    assert json.loads(path.read_text(encoding="utf-8"))["logprob"] == -1.5
    again = RecordedGenerator(inner, path)
    with again.stream(messages) as second:
        assert second.text() == "Có 5 từ."
    assert (second.usage, second.logprob, inner.calls, again.replayed) == (Usage(5, 3), -1.5, 1, 1)


def test_a_recording_without_log_probabilities_replays_none(tmp_path: Path) -> None:
    path, inner = tmp_path / "replies.jsonl", CountingGenerator()
    messages = [Message("user", "Huế")]
    key = RecordedGenerator(inner, path).key(messages, 384, 0.0)
    record = {"key": key, "pieces": ["Huế."], "finish_reason": "stop", "prompt_tokens": 1, "completion_tokens": 1}
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")  # as recorded before log-probabilities were kept
    with RecordedGenerator(inner, path).stream(messages) as replayed:
        assert replayed.text() == "Huế."
    assert (replayed.logprob, inner.calls) == (None, 0)
